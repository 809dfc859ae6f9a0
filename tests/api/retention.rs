//! Retention: the purge redacts personal data past its retention date and keeps what the
//! audit needs; data inside retention and data of an open review case stay; prospects
//! created under the legacy key are still found (and re-keyed); files are owner-only.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, TimeZone, Utc};
use onboarding_adapter::clock::ManualClock;
use onboarding_adapter::configuration::{EvidenceStorage, Settings, UnknownUser};
use onboarding_adapter::domain::identification::{LookupKey, LookupQuery};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, REVIEWER, TestApp, spawn_app_with_clock};

/// Decisions are made on 2026-11-23 (ages and expiry are computed against it).
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
    ))
}

fn jpeg_bytes(len: usize, fill: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.resize(len, fill);
    b
}

/// An evaluate call of the demo registry's JAN NOVÁK with one image: OK for a Czech ID
/// card, WAIT (a review case) for a foreign one.
fn evaluate(iv: &str, country: &str, image_fill: u8) -> Value {
    json!({
        "processId": format!("p-{iv}"), "processType": "onboarding", "identityVerificationId": iv,
        "userId": "C-1001", "verificationId": "ver-1", "provider": "microblink", "status": "SUCCESS",
        "documentCheckResult": {
            "person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"},
            "documents": [{"type": "ID_CARD", "country": country, "status": "SUCCESS", "score": 10,
                "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                    "documentNumber": "123456789", "dateOfIssue": "2020-01-15",
                    "dateOfExpiry": "2030-01-15", "sex": "M", "nationality": "CZE"},
                "images": [{"type": "DOCUMENT_FRONT_SIDE",
                    "data": STANDARD.encode(jpeg_bytes(400, image_fill))}],
                "rawData": {"mrz": "IDCZE123456789<<<<"}}]}
    })
}

/// Evidence in a folder; no worker (nothing purges or expires by itself meanwhile).
async fn app_with(clock: Arc<ManualClock>, folder: &std::path::Path) -> TestApp {
    let folder = folder.to_owned();
    let app = spawn_app_with_clock(
        move |s: &mut Settings| {
            s.delivery.worker_enabled = false;
            s.decision.evidence = EvidenceStorage::Folder;
            s.decision.evidence_dir = Some(folder);
        },
        clock,
    )
    .await;
    app.seed_demo_customers().await;
    app
}

async fn purge(app: &TestApp) -> Value {
    let (status, body) = app.admin_post(ADMIN, "/retention/purge", json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn one(app: &TestApp, sql: &str) -> sea_orm::QueryResult {
    app.rows(sql).await.into_iter().next().expect("one row")
}

#[tokio::test]
async fn the_purge_redacts_personal_data_past_retention_and_keeps_the_decision_and_its_hashes() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("evidence");
    let app = app_with(clock.clone(), &folder).await;
    let (_, answer) = app
        .post_json("/client/evaluate", evaluate("old", "CZE", 1))
        .await;
    assert_eq!(answer["result"], "OK", "{answer}");
    let event = json!({"id": "e-old", "timestamp": "2026-11-23T10:00:00Z",
        "type": "PROCESS_STATE_CHANGED", "processId": "p-old", "processType": "onboarding",
        "userId": "C-1001", "externalUserId": null, "identityVerificationId": "old",
        "eventData": {"process": {"status": "FINISHED", "errorDetail": null}}});
    let (status, _) = app.post_json("/process/event", &event).await;
    assert_eq!(status, 200);
    let before = one(&app, "SELECT outcome, result_reason, reason_codes, input_digest, rule_trace FROM decision WHERE identity_verification_id = 'old'").await;
    let digest: String = before.try_get("", "input_digest").unwrap();
    let image = one(
        &app,
        "SELECT sha256, file_name FROM evidence WHERE identity_verification_id = 'old'",
    )
    .await;
    let sha: String = image.try_get("", "sha256").unwrap();
    let old_file = folder.join(image.try_get::<String>("", "file_name").unwrap());
    assert!(old_file.is_file());

    // 91 days later, a new decision (inside retention) beside the old one.
    clock.advance(Duration::days(91));
    let (_, answer) = app
        .post_json("/client/evaluate", evaluate("new", "CZE", 2))
        .await;
    assert_eq!(answer["result"], "OK", "{answer}");

    let report = purge(&app).await;
    assert_eq!(report["decisions"], 1, "{report}");
    assert_eq!(report["evidence"], 1, "{report}");
    assert_eq!(report["evidenceFiles"], 1, "{report}");
    assert_eq!(report["events"], 1, "{report}");

    let old = one(&app, "SELECT outcome, result_reason, reason_codes, input_digest, rule_trace, input_summary, facts, purged_at FROM decision WHERE identity_verification_id = 'old'").await;
    for kept in ["outcome", "result_reason", "input_digest"] {
        assert_eq!(
            old.try_get::<String>("", kept).unwrap(),
            before.try_get::<String>("", kept).unwrap(),
            "{kept} is kept"
        );
    }
    for kept in ["reason_codes", "rule_trace"] {
        assert_eq!(
            old.try_get::<Value>("", kept).unwrap(),
            before.try_get::<Value>("", kept).unwrap(),
            "{kept} is kept"
        );
    }
    let summary: Value = old.try_get("", "input_summary").unwrap();
    assert_eq!(summary, json!({"redacted": "retention"}));
    assert!(!summary.to_string().contains("NOVAK"));
    assert_eq!(old.try_get::<Option<Value>>("", "facts").unwrap(), None);
    assert_eq!(digest.len(), 64);

    let evidence = one(&app, "SELECT sha256, size_bytes, media_type, data, file_name FROM evidence WHERE identity_verification_id = 'old'").await;
    assert_eq!(evidence.try_get::<String>("", "sha256").unwrap(), sha);
    assert_eq!(evidence.try_get::<i64>("", "size_bytes").unwrap(), 400);
    assert_eq!(
        evidence.try_get::<String>("", "media_type").unwrap(),
        "image/jpeg"
    );
    assert_eq!(
        evidence.try_get::<Option<Vec<u8>>>("", "data").unwrap(),
        None
    );
    assert_eq!(
        evidence.try_get::<Option<String>>("", "file_name").unwrap(),
        None
    );
    assert!(!old_file.exists(), "the image file is deleted");

    let stored = one(
        &app,
        "SELECT event_type, payload FROM process_event WHERE event_id = 'e-old'",
    )
    .await;
    assert_eq!(
        stored.try_get::<String>("", "event_type").unwrap(),
        "PROCESS_STATE_CHANGED"
    );
    assert_eq!(
        stored.try_get::<Value>("", "payload").unwrap(),
        json!({"redacted": "retention"})
    );

    // Inside retention: untouched.
    let new = one(
        &app,
        "SELECT input_summary, facts FROM decision WHERE identity_verification_id = 'new'",
    )
    .await;
    assert!(
        new.try_get::<Value>("", "input_summary")
            .unwrap()
            .to_string()
            .contains("ID_CARD")
    );
    assert!(new.try_get::<Option<Value>>("", "facts").unwrap().is_some());
    let new_file = one(
        &app,
        "SELECT file_name FROM evidence WHERE identity_verification_id = 'new'",
    )
    .await;
    assert!(
        folder
            .join(new_file.try_get::<String>("", "file_name").unwrap())
            .is_file()
    );

    // Idempotent; the runs are audited with their counts.
    let again = purge(&app).await;
    assert!(
        again.as_object().unwrap().values().all(|n| n == 0),
        "nothing left to do: {again}"
    );
    assert_eq!(
        app.count_where("audit_log", "action = 'retention.purge'")
            .await,
        2
    );
}

#[tokio::test]
async fn an_open_review_case_keeps_its_evidence_until_resolved_plus_retention() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(clock.clone(), &dir.path().join("evidence")).await;
    let (_, answer) = app
        .post_json("/client/evaluate", evaluate("rev", "USA", 3))
        .await;
    assert_eq!(answer["result"], "WAIT", "{answer}");
    let (_, page) = app.admin_get(REVIEWER, "/cases?status=OPEN").await;
    let case = page["items"][0]["id"].as_i64().expect("a case");

    clock.advance(Duration::days(200));
    let report = purge(&app).await;
    assert_eq!(
        (report["decisions"].clone(), report["evidence"].clone()),
        (json!(0), json!(0)),
        "{report}"
    );
    let (status, _) = app
        .admin_get(REVIEWER, &format!("/cases/{case}/images"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.count_where("evidence", "purged_at IS NULL AND file_name IS NOT NULL")
            .await,
        1
    );

    // Resolved now: kept for the retention period from the resolution, then purged.
    let (status, body) = app
        .admin_post(
            REVIEWER,
            &format!("/cases/{case}/resolve"),
            json!({"result": "OK", "reasonCode": "CHECKED", "note": "checked by hand"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    clock.advance(Duration::days(89));
    assert_eq!(purge(&app).await["evidence"], 0);
    clock.advance(Duration::days(2));
    let report = purge(&app).await;
    assert_eq!(
        (report["decisions"].clone(), report["evidence"].clone()),
        (json!(1), json!(1)),
        "{report}"
    );
    let (_, images) = app
        .admin_get(REVIEWER, &format!("/cases/{case}/images"))
        .await;
    let image = images["items"][0]["id"].as_i64().expect("the row stays");
    let (status, body) = app
        .admin_get(REVIEWER, &format!("/cases/{case}/images/{image}"))
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_prospect_created_under_the_legacy_key_is_found_and_re_keyed() {
    let key = "a-test-hmac-key-of-at-least-32-characters";
    let app = spawn_app_with_clock(
        move |s: &mut Settings| {
            s.lookup.unknown_user = UnknownUser::Prospect;
            s.privacy.hmac_key = Some(SecretString::from(key.to_owned()));
        },
        clock(),
    )
    .await;
    let identification = json!({"clientNumber": "999", "birthDate": "2000-01-01"});
    let query = LookupQuery::from_identification(
        &[LookupKey::ClientNumber, LookupKey::BirthDate],
        identification.as_object().unwrap(),
    )
    .unwrap();
    let legacy = query.legacy_digest();
    entity::prospect::ActiveModel {
        lookup_key: Set(legacy.clone()),
        user_id: Set("P-legacy".into()),
        process_id: Set("p-0".into()),
        created_at: Set(Utc::now()),
        correlation_id: Set("c".into()),
        request_id: Set("r".into()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();

    let lookup =
        json!({"processId": "p-1", "processType": "onboarding", "identification": identification});
    let (status, body) = app.post_json("/user/lookup", &lookup).await;
    assert_eq!(
        (status, &body["userId"]),
        (200, &json!("P-legacy")),
        "{body}"
    );
    let row = one(&app, "SELECT lookup_key FROM prospect").await;
    let stored: String = row.try_get("", "lookup_key").unwrap();
    assert_ne!(stored, legacy, "no longer the plain SHA-256");
    assert_eq!(stored, query.keyed_digest(key.as_bytes()));
    // Found again under the new key; still one prospect.
    let (_, again) = app.post_json("/user/lookup", &lookup).await;
    assert_eq!(again["userId"], "P-legacy");
    assert_eq!(app.count("prospect").await, 1);
}

#[tokio::test]
async fn prospects_past_retention_are_deleted_and_newer_ones_kept() {
    let clock = clock();
    let app = spawn_app_with_clock(
        |s: &mut Settings| {
            s.lookup.unknown_user = UnknownUser::Prospect;
            s.delivery.worker_enabled = false;
            s.retention.batch_size = 1;
        },
        clock.clone(),
    )
    .await;
    for n in ["1", "2"] {
        let lookup = json!({"processId": format!("p-{n}"), "processType": "onboarding",
            "identification": {"clientNumber": n, "birthDate": "2000-01-01"}});
        assert_eq!(app.post_json("/user/lookup", &lookup).await.0, 200);
    }
    clock.advance(Duration::days(366));
    let lookup = json!({"processId": "p-3", "processType": "onboarding",
        "identification": {"clientNumber": "3", "birthDate": "2000-01-01"}});
    assert_eq!(app.post_json("/user/lookup", &lookup).await.0, 200);

    // Batches of one row: the run goes on until a batch comes back short.
    assert_eq!(purge(&app).await["prospects"], 2);
    assert_eq!(app.count("prospect").await, 1);
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_evidence_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("private").join("evidence");
    let app = app_with(clock(), &folder).await;
    let (_, answer) = app
        .post_json("/client/evaluate", evaluate("perm", "CZE", 4))
        .await;
    assert_eq!(answer["result"], "OK", "{answer}");

    let row = one(&app, "SELECT file_name FROM evidence").await;
    let file = folder.join(row.try_get::<String>("", "file_name").unwrap());
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&folder), 0o700);
    if std::env::var_os("TEST_DATABASE_URL").is_none() {
        use secrecy::ExposeSecret;
        let url = app
            .settings
            .database
            .url
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        let path = url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{path}{suffix}"));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
