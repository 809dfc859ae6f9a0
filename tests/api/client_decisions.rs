//! `/client/evaluate` and `/client/approve` decided by the built-in demo policy (and by
//! configured policy files and compiled engines), with the stored record and evidence.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use futures_util::future::BoxFuture;
use onboarding_adapter::clock::FixedClock;
use onboarding_adapter::configuration::{EvidenceStorage, Outcome};
use onboarding_adapter::domain::policy::{DecisionEngine, DecisionPoint, RuleResult, RuleStatus};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, REVIEWER, TestApp, assert_error_body, spawn_app, spawn_app_with_clock,
    spawn_app_with_engines,
};

/// Decisions are made "today" = 2026-11-23 (ages and expiry are computed against it).
fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
    ))
}

async fn app() -> TestApp {
    let app = spawn_app_with_clock(|_| {}, clock()).await;
    app.seed_demo_customers().await;
    app
}

fn jpeg_bytes(len: usize, fill: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.resize(len, fill);
    b
}

fn png_bytes(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.resize(len, 0x42);
    b
}

fn evaluate_2x(iv: &str, documents: Value, person: Value) -> Value {
    json!({
        "processId": "p-1", "processType": "onboarding", "identityVerificationId": iv,
        "userId": "C-1001", "verificationId": "ver-77", "provider": "microblink", "status": "SUCCESS",
        "documentCheckResult": {"person": person, "documents": documents}
    })
}

/// C-1001 of the demo registry is JAN NOVÁK, born 1985-03-02.
fn id_card(raw_data: Value, doc_type: &str) -> Value {
    json!({"type": doc_type, "country": "CZE", "status": "SUCCESS", "score": 10,
        "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                 "documentNumber": "123456789", "dateOfIssue": "2020-01-15", "dateOfExpiry": "2030-01-15",
                 "sex": "M", "nationality": "CZE", "placeOfBirth": null, "personalNumber": null, "authority": null},
        "images": [{"type": "FACE", "data": STANDARD.encode(jpeg_bytes(300, 1))}],
        "rawData": raw_data})
}

fn person() -> Value {
    json!({"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"})
}

async fn decision_row(app: &TestApp, iv: &str) -> sea_orm::QueryResult {
    let mut rows = app
        .rows(&format!(
            "SELECT id, outcome, result_reason, policy_version, rule_trace, facts, reason_codes, \
             input_summary, input_digest FROM decision WHERE identity_verification_id = '{iv}'"
        ))
        .await;
    assert_eq!(rows.len(), 1, "one decision for {iv}");
    rows.remove(0)
}

#[tokio::test]
async fn evaluate_accepts_every_2x_variant_and_decides_by_the_demo_policy() {
    let app = app().await;
    let variants = [
        (
            "raw string",
            evaluate_2x(
                "iv-1",
                json!([id_card(json!("{\"verification\":{}}"), "ID_CARD")]),
                person(),
            ),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            "raw object",
            evaluate_2x(
                "iv-2",
                json!([id_card(json!({"verification": {}}), "PASSPORT")]),
                person(),
            ),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            "licence spelling, person from the document",
            evaluate_2x(
                "iv-3",
                json!([id_card(json!(null), "DRIVING_LICENCE")]),
                json!(null),
            ),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            "license spelling",
            evaluate_2x(
                "iv-4",
                json!([id_card(json!(null), "DRIVING_LICENSE")]),
                person(),
            ),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            "no extracted data (the Onboarding Server's default)",
            evaluate_2x(
                "iv-5",
                json!([{"type": "ID_CARD", "status": "SUCCESS", "images": []}]),
                json!(null),
            ),
            json!({"result": "WAIT", "resultReason": "MISSING_EXTRACTED_DATA"}),
        ),
    ];
    for (case, body, expected) in &variants {
        let (status, answer) = app.post_json("/client/evaluate", body).await;
        assert_eq!(status, 200, "{case}: {answer}");
        assert_eq!(&answer, expected, "{case}");
    }
    assert_eq!(app.count("decision").await, 5);
    assert_eq!(
        app.count("review_case").await,
        1,
        "only the WAIT opens a case"
    );

    let row = decision_row(&app, "iv-1").await;
    let facts: Value = row.try_get("", "facts").unwrap();
    assert_eq!(facts["hasExtractedData"], json!(true));
    assert_eq!(facts["age"], json!(41));
    assert_eq!(facts["registry"]["mismatch"], json!(false));
    assert_eq!(
        facts["registry"]["surnameMatch"],
        json!(true),
        "NOVAK = NOVÁK"
    );
    assert_eq!(
        facts["documents"][0]["rawData"],
        json!({"verification": {}})
    );
    assert_eq!(facts["faceImagePresent"], json!(true));
    let version: String = row.try_get("", "policy_version").unwrap();
    assert_eq!(version.len(), 64, "policy version is a SHA-256: {version}");
    let trace: Value = row.try_get("", "rule_trace").unwrap();
    let trace = trace.as_array().expect("trace is a list");
    assert!(trace.len() >= 5, "every rule is traced: {trace:?}");
    assert!(
        trace.iter().all(|r| r["result"] == "not_matched"),
        "{trace:?}"
    );
    let summary: Value = row.try_get("", "input_summary").unwrap();
    let image = &summary["documentCheckResult"]["documents"][0]["images"][0]["data"];
    assert_eq!(
        image["bytes"], 300,
        "images are stored as size + digest: {summary}"
    );
    assert_eq!(image["format"], "JPEG");
    assert!(
        !summary.to_string().contains("/9j/"),
        "no base64 in the summary"
    );
    let digest: String = row.try_get("", "input_digest").unwrap();
    assert_eq!(digest.len(), 64);

    let wait = decision_row(&app, "iv-5").await;
    let codes: Value = wait.try_get("", "reason_codes").unwrap();
    assert_eq!(codes, json!(["MISSING_EXTRACTED_DATA"]));
    // Four OK decisions carried one valid image each: kept as evidence.
    assert_eq!(app.count("evidence").await, 4);
    let stored = app
        .rows("SELECT data, sha256, media_type, image_type, source FROM evidence WHERE identity_verification_id = 'iv-1'")
        .await;
    let data: Vec<u8> = stored[0].try_get("", "data").unwrap();
    assert_eq!(data, jpeg_bytes(300, 1));
    assert_eq!(
        stored[0].try_get::<String>("", "media_type").unwrap(),
        "image/jpeg"
    );
    assert_eq!(
        stored[0].try_get::<String>("", "source").unwrap(),
        "documents[0].images[0]"
    );
}

/// Each built-in rule, driven through HTTP.
#[tokio::test]
async fn the_demo_policy_rules_answer_their_reason_codes() {
    let app = app().await;
    let with = |iv: &str, patch: &dyn Fn(&mut Value)| {
        let mut body = evaluate_2x(iv, json!([id_card(json!(null), "ID_CARD")]), person());
        patch(&mut body);
        body
    };
    let doc = "/documentCheckResult/documents/0";
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "expired document",
            with("r-1", &|b| {
                *b.pointer_mut(&format!("{doc}/data/dateOfExpiry")).unwrap() = json!("2026-11-22");
            }),
            json!({"result": "NOK", "resultReason": "DOCUMENT_EXPIRED"}),
        ),
        (
            "under 18 (unknown user: no registry check)",
            with("r-2", &|b| {
                b["userId"] = json!("C-9999");
                b["documentCheckResult"]["person"]["dateOfBirth"] = json!("2008-11-24");
                *b.pointer_mut(&format!("{doc}/data/dateOfBirth")).unwrap() = json!("2008-11-24");
            }),
            json!({"result": "NOK", "resultReason": "UNDERAGE"}),
        ),
        (
            "registry mismatch",
            with("r-3", &|b| {
                b["documentCheckResult"]["person"]["surname"] = json!("DVORAK");
            }),
            json!({"result": "NOK", "resultReason": "REGISTRY_MISMATCH"}),
        ),
        (
            "issued in the future",
            with("r-4", &|b| {
                *b.pointer_mut(&format!("{doc}/data/dateOfIssue")).unwrap() = json!("2026-12-01");
            }),
            json!({"result": "NOK", "resultReason": "DOCUMENT_ISSUE_DATE_IN_FUTURE"}),
        ),
        (
            "undecodable image",
            with("r-5", &|b| {
                *b.pointer_mut(&format!("{doc}/images/0/data")).unwrap() = json!("not-an-image%%");
            }),
            json!({"result": "WAIT", "resultReason": "IMAGES_INVALID"}),
        ),
        (
            "country outside the whitelist",
            with("r-6", &|b| {
                *b.pointer_mut(&format!("{doc}/country")).unwrap() = json!("USA");
            }),
            json!({"result": "WAIT", "resultReason": "DOCUMENT_COUNTRY_NOT_ALLOWED"}),
        ),
        (
            "document that names no issuing country",
            with("r-6b", &|b| {
                *b.pointer_mut(&format!("{doc}/country")).unwrap() = json!(null);
            }),
            json!({"result": "WAIT", "resultReason": "DOCUMENT_COUNTRY_UNKNOWN"}),
        ),
        (
            "blank issuing country",
            with("r-6c", &|b| {
                *b.pointer_mut(&format!("{doc}/country")).unwrap() = json!(" ");
            }),
            json!({"result": "WAIT", "resultReason": "DOCUMENT_COUNTRY_UNKNOWN"}),
        ),
        (
            "low document score",
            with("r-7", &|b| {
                *b.pointer_mut(&format!("{doc}/score")).unwrap() = json!(2);
            }),
            json!({"result": "WAIT", "resultReason": "LOW_DOCUMENT_SCORE"}),
        ),
        (
            "two NOK rules: both codes, rule order",
            with("r-8", &|b| {
                *b.pointer_mut(&format!("{doc}/data/dateOfExpiry")).unwrap() = json!("2020-01-01");
                b["documentCheckResult"]["person"]["surname"] = json!("DVORAK");
                *b.pointer_mut(&format!("{doc}/country")).unwrap() = json!("USA");
            }),
            json!({"result": "NOK", "resultReason": "DOCUMENT_EXPIRED,REGISTRY_MISMATCH"}),
        ),
    ];
    for (case, body, expected) in cases {
        let (status, answer) = app.post_json("/client/evaluate", &body).await;
        assert_eq!((status, &answer), (200, &expected), "{case}");
    }
    // The invalid image is a fact, never stored as evidence.
    let rows = app
        .rows("SELECT COUNT(*) AS n FROM evidence WHERE identity_verification_id = 'r-5'")
        .await;
    assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 0);
}

/// `id_card`'s document (JAN NOVAK, born 1985-03-02, CZE) of type `doc_type`, with the
/// given `data` fields replaced.
fn document_with(doc_type: &str, data: Value) -> Value {
    let mut doc = id_card(json!(null), doc_type);
    for (key, value) in data.as_object().expect("data fields") {
        doc["data"][key] = value.clone();
    }
    doc
}

/// Identity consistency: documents that disagree with each other or with the `person`
/// record never pass, and the reason names the field.
#[tokio::test]
async fn documents_that_disagree_with_each_other_or_with_person_are_never_ok_and_the_reason_names_the_field()
 {
    let app = app().await;
    let id = || document_with("ID_CARD", json!({}));
    // C-1001 is in the registry (JAN NOVÁK, 1985-03-02); C-9999 is not.
    let cases: Vec<(&str, &str, Value, Value, &str)> = vec![
        (
            "surname: ID card and passport",
            "C-1001",
            json!([
                id(),
                document_with(
                    "PASSPORT",
                    json!({"surname": "DVORAK", "documentNumber": "P1"})
                )
            ]),
            person(),
            "IDENTITY_SURNAME_MISMATCH",
        ),
        (
            "given names: ID card and driving licence",
            "C-1001",
            json!([
                id(),
                document_with("DRIVING_LICENSE", json!({"givenNames": "PETR"}))
            ]),
            person(),
            "IDENTITY_GIVEN_NAMES_MISMATCH",
        ),
        (
            "birth date: an ID card born 2015, a person record born 1985",
            "C-9999",
            json!([document_with(
                "ID_CARD",
                json!({"dateOfBirth": "2015-03-02"})
            )]),
            person(),
            "IDENTITY_BIRTH_DATE_MISMATCH",
        ),
        (
            "birth date: ID card and passport",
            "C-9999",
            json!([
                id(),
                document_with("PASSPORT", json!({"dateOfBirth": "1985-03-20"}))
            ]),
            person(),
            "IDENTITY_BIRTH_DATE_MISMATCH",
        ),
        (
            "given names: the person record and the document",
            "C-9999",
            json!([id()]),
            json!({"surname": "NOVAK", "givenNames": "PETR", "dateOfBirth": "1985-03-02"}),
            "IDENTITY_GIVEN_NAMES_MISMATCH",
        ),
        (
            "nationality: ID card and passport",
            "C-1001",
            json!([
                id(),
                document_with("PASSPORT", json!({"nationality": "SVK"}))
            ]),
            person(),
            "IDENTITY_NATIONALITY_MISMATCH",
        ),
        (
            "document number: two entries of one ID card",
            "C-1001",
            json!([
                id(),
                document_with("ID_CARD", json!({"documentNumber": "987654321"}))
            ]),
            person(),
            "IDENTITY_DOCUMENT_NUMBER_MISMATCH",
        ),
        (
            "two fields at once",
            "C-9999",
            json!([
                id(),
                document_with(
                    "PASSPORT",
                    json!({"surname": "DVORAK", "nationality": "SVK"})
                )
            ]),
            person(),
            "IDENTITY_SURNAME_MISMATCH,IDENTITY_NATIONALITY_MISMATCH",
        ),
    ];
    for (i, (case, user, documents, person, reason)) in cases.iter().enumerate() {
        let mut body = evaluate_2x(&format!("id-{i}"), documents.clone(), person.clone());
        body["userId"] = json!(user);
        let (status, answer) = app.post_json("/client/evaluate", &body).await;
        assert_eq!(status, 200, "{case}: {answer}");
        assert_ne!(answer["result"], "OK", "{case}: never OK");
        assert_eq!(
            answer,
            json!({"result": "WAIT", "resultReason": reason}),
            "{case}"
        );
    }
    assert_eq!(
        app.count("review_case").await,
        i64::try_from(cases.len()).unwrap(),
        "each disagreement is reviewed"
    );

    // The stored facts say which field differs between which sources.
    let facts: Value = decision_row(&app, "id-2")
        .await
        .try_get("", "facts")
        .unwrap();
    let birth = &facts["identity"]["birthDate"];
    assert_eq!(facts["identity"]["mismatches"], json!(["birthDate"]));
    assert_eq!(birth["status"], "disagree");
    assert_eq!(birth["person"], "disagree");
    assert_eq!(
        birth["registry"], "unknown",
        "C-9999 is not in the registry"
    );
    assert_eq!(birth["conflicts"], json!([["documents[0]", "person"]]));
    let facts: Value = decision_row(&app, "id-0")
        .await
        .try_get("", "facts")
        .unwrap();
    assert_eq!(
        facts["identity"]["surname"]["conflicts"],
        json!([
            ["documents[0]", "documents[1]"],
            ["documents[1]", "person"],
            ["documents[1]", "registry"]
        ])
    );
    assert_eq!(
        facts["identity"]["documentNumber"]["status"], "unknown",
        "an ID card and a passport carry different numbers"
    );
}

#[tokio::test]
async fn agreeing_documents_that_differ_in_case_diacritics_spacing_or_name_order_answer_ok() {
    let app = app().await;
    // C-1001: JAN NOVÁK in the registry. An ID card sent as two entries (front and back:
    // one number), a passport with its own number.
    let registered = evaluate_2x(
        "same-1",
        json!([
            document_with(
                "ID_CARD",
                json!({"surname": "Novák", "givenNames": "Jan",
                "documentNumber": "123 456 789", "nationality": "cze"})
            ),
            document_with(
                "ID_CARD",
                json!({"surname": "NOVAK", "givenNames": " JAN ",
                "dateOfBirth": "1985-03-02T00:00:00Z", "documentNumber": "123456789"})
            ),
            document_with(
                "PASSPORT",
                json!({"surname": "novák", "givenNames": "jan",
                "documentNumber": "P1234567"})
            ),
        ]),
        json!({"surname": "  Novák ", "givenNames": "jan", "dateOfBirth": "1985-03-02"}),
    );
    // Not in the registry: two given names in either order, a double surname spelled with
    // and without its hyphen and diacritics.
    let mut unregistered = evaluate_2x(
        "same-2",
        json!([
            document_with(
                "ID_CARD",
                json!({"surname": "Nováková-Dvořáková", "givenNames": "Jana Marie"})
            ),
            document_with(
                "PASSPORT",
                json!({"surname": "NOVAKOVA DVORAKOVA", "givenNames": "MARIE JANA",
                "documentNumber": "P7654321"})
            ),
        ]),
        json!({"surname": "NOVAKOVA-DVORAKOVA", "givenNames": "Marie  Jana", "dateOfBirth": "1985-03-02"}),
    );
    unregistered["userId"] = json!("C-9999");
    for body in [&registered, &unregistered] {
        let (status, answer) = app.post_json("/client/evaluate", body).await;
        assert_eq!(
            (status, answer),
            (200, json!({"result": "OK", "resultReason": ""})),
            "{}",
            body["identityVerificationId"]
        );
    }
    let facts: Value = decision_row(&app, "same-1")
        .await
        .try_get("", "facts")
        .unwrap();
    let identity = &facts["identity"];
    assert_eq!(identity["mismatches"], json!([]), "{identity}");
    for field in ["surname", "givenNames", "birthDate"] {
        assert_eq!(identity[field]["status"], "agree", "{field}");
        assert_eq!(identity[field]["registry"], "agree", "{field}");
    }
    assert_eq!(
        identity["documentNumber"]["documents"], "agree",
        "the two ID card entries"
    );
    assert_eq!(identity["nationality"]["status"], "agree");
    let facts: Value = decision_row(&app, "same-2")
        .await
        .try_get("", "facts")
        .unwrap();
    assert_eq!(facts["identity"]["givenNames"]["status"], "agree");
    assert_eq!(facts["identity"]["surname"]["status"], "agree");
}

#[tokio::test]
async fn a_birth_date_other_than_the_registrys_is_refused() {
    let app = app().await;
    // The person record and the ID card agree with each other, not with the registry.
    let both = evaluate_2x(
        "reg-1",
        json!([document_with(
            "ID_CARD",
            json!({"dateOfBirth": "1985-03-03"})
        )]),
        json!({"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-03"}),
    );
    // The person record agrees with the registry; a second document does not.
    let second = evaluate_2x(
        "reg-2",
        json!([
            document_with("ID_CARD", json!({})),
            document_with(
                "PASSPORT",
                json!({"dateOfBirth": "1985-03-20", "documentNumber": "P1"})
            ),
        ]),
        person(),
    );
    let (_, answer) = app.post_json("/client/evaluate", &both).await;
    assert_eq!(
        answer,
        json!({"result": "NOK", "resultReason": "REGISTRY_MISMATCH,REGISTRY_BIRTH_DATE_MISMATCH"})
    );
    let (_, answer) = app.post_json("/client/evaluate", &second).await;
    assert_eq!(
        answer,
        json!({"result": "NOK", "resultReason": "REGISTRY_BIRTH_DATE_MISMATCH"})
    );
    assert_eq!(app.count("review_case").await, 0, "refused, not reviewed");
    let facts: Value = decision_row(&app, "reg-2")
        .await
        .try_get("", "facts")
        .unwrap();
    assert_eq!(
        facts["registry"]["mismatch"],
        json!(false),
        "the person record matches"
    );
    assert_eq!(facts["identity"]["birthDate"]["registry"], "disagree");
    assert_eq!(
        facts["identity"]["birthDate"]["conflicts"],
        json!([
            ["documents[0]", "documents[1]"],
            ["documents[1]", "person"],
            ["documents[1]", "registry"]
        ])
    );
}

#[tokio::test]
async fn a_1x_evaluate_never_gets_wait_which_it_cannot_read() {
    let app = app().await;
    let body = json!({"processId": "p", "identityVerificationId": "iv", "userId": "C-1001",
        "verificationId": "v", "provider": "zenid", "extractedData": ["a", "b"]});
    let (status, answer) = app.post_json("/client/evaluate", &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"result": "NOK", "resultReason": "WAIT_UNSUPPORTED_BY_CALLER"})
    );
    assert_eq!(app.count("review_case").await, 0, "nobody could close it");
    let row = decision_row(&app, "iv").await;
    assert_eq!(row.try_get::<String>("", "outcome").unwrap(), "NOK");
    let trace: Value = row.try_get("", "rule_trace").unwrap();
    assert!(
        trace
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reason"] == "MISSING_EXTRACTED_DATA" && r["result"] == "matched"),
        "the trace keeps why the policy wanted WAIT: {trace}"
    );
}

fn approve(iv: &str, status: &str, frame: Value) -> Value {
    json!({"processId": "p", "processType": "onboarding", "userId": "C-1001",
        "identityVerificationId": iv, "provider": "iproov", "status": status, "score": 10,
        "presenceCheckResult": {"frame": frame}})
}

#[tokio::test]
async fn approve_decides_on_presence_check_and_keeps_the_selfie_as_evidence() {
    let app = app().await;
    let selfie = png_bytes(500);
    let cases = [
        (
            approve("a-1", "SUCCESS", json!(STANDARD.encode(&selfie))),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            approve("a-2", "SUCCESS", json!(null)),
            json!({"result": "OK", "resultReason": ""}),
        ),
        (
            approve("a-3", "FAILURE", json!(null)),
            json!({"result": "NOK", "resultReason": "PRESENCE_CHECK_FAILED"}),
        ),
        (
            approve(
                "a-4",
                "SUCCESS",
                json!("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"),
            ),
            json!({"result": "WAIT", "resultReason": "SELFIE_INVALID"}),
        ),
    ];
    for (body, expected) in &cases {
        let (status, answer) = app.post_json("/client/approve", body).await;
        assert_eq!((status, &answer), (200, expected), "{body}");
    }
    let low = json!({"processId": "p", "processType": "onboarding", "userId": "C-1001",
        "identityVerificationId": "a-5", "provider": "iproov", "status": "SUCCESS", "score": 3});
    let (_, answer) = app.post_json("/client/approve", &low).await;
    assert_eq!(
        answer,
        json!({"result": "WAIT", "resultReason": "LOW_PRESENCE_SCORE"})
    );

    let rows = app
        .rows("SELECT data, image_type, media_type, decision_point FROM evidence")
        .await;
    assert_eq!(rows.len(), 1, "only the valid selfie is evidence");
    assert_eq!(rows[0].try_get::<Vec<u8>>("", "data").unwrap(), selfie);
    assert_eq!(
        rows[0].try_get::<Option<String>>("", "image_type").unwrap(),
        Some("SELFIE".into())
    );
    let row = decision_row(&app, "a-1").await;
    let summary: Value = row.try_get("", "input_summary").unwrap();
    assert_eq!(summary["presenceCheckResult"]["frame"]["bytes"], 500);
    let facts: Value = row.try_get("", "facts").unwrap();
    assert_eq!(facts["presence"]["frameFormat"], "PNG");
}

#[tokio::test]
async fn an_identical_repeated_call_returns_the_stored_decision_without_a_second_record() {
    let app = app().await;
    let body = evaluate_2x("iv-r", json!([id_card(json!(null), "ID_CARD")]), person());
    let first = app.post_json("/client/evaluate", &body).await;
    let again = app.post_json("/client/evaluate", &body).await;
    assert_eq!(first, again);
    assert_eq!(app.count("decision").await, 1);
    assert_eq!(
        app.count("evidence").await,
        1,
        "evidence is not stored twice"
    );
    let mut other = body.clone();
    other["identityVerificationId"] = json!("iv-new");
    app.post_json("/client/evaluate", &other).await;
    assert_eq!(
        app.count("decision").await,
        2,
        "a new identity verification is decided afresh"
    );
    // Concurrent identical calls: one decision, one evidence row.
    let mut third = body.clone();
    third["identityVerificationId"] = json!("iv-c");
    let answers =
        futures_util::future::join_all((0..6).map(|_| app.post_json("/client/evaluate", &third)))
            .await;
    assert!(answers.iter().all(|a| a == &first), "{answers:?}");
    assert_eq!(app.count("decision").await, 3);
    assert_eq!(app.count("evidence").await, 3);
    // The same without images.
    let mut plain = body.clone();
    plain["identityVerificationId"] = json!("iv-plain");
    plain["documentCheckResult"]["documents"][0]["images"] = json!([]);
    let answers =
        futures_util::future::join_all((0..6).map(|_| app.post_json("/client/evaluate", &plain)))
            .await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 200);
    assert_eq!(app.count("decision").await, 4);
    assert_eq!(app.count("evidence").await, 3);
    assert_eq!(
        app.rows("SELECT process_id FROM process").await.len(),
        1,
        "the process is recorded once"
    );
}

/// Bodies above 256 KiB are read on the blocking pool, their images decoded as the JSON is
/// read: what is stored must be the very bytes sent, however the base64 was spelled.
#[tokio::test]
async fn large_image_bodies_are_stored_byte_for_byte_whatever_the_base64_spelling() {
    let app = app().await;
    let front = jpeg_bytes(600 * 1024, 7);
    let face = png_bytes(300 * 1024);
    let plain = STANDARD.encode(&front);
    // The same image as a data URL, with JSON-escaped slashes and MIME line breaks.
    let wrapped: Vec<&str> = plain
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let spelled = format!("data:image/jpeg;base64,{}", wrapped.join("\\r\\n")).replace('/', "\\/");
    let body = |iv: &str, front_text: &str| {
        let mut doc = id_card(json!(null), "ID_CARD");
        doc["images"] = json!([
            {"type": "DOCUMENT_FRONT_SIDE", "data": "FRONT"},
            {"type": "FACE", "data": STANDARD.encode(&face)}
        ]);
        serde_json::to_string(&evaluate_2x(iv, json!([doc]), person()))
            .unwrap()
            .replace("\"FRONT\"", &format!("\"{front_text}\""))
            .into_bytes()
    };
    let first = body("iv-big", &plain);
    assert!(first.len() > 1024 * 1024, "{}", first.len());
    let response = app
        .post_raw("/client/evaluate", first, "application/json")
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer, json!({"result": "OK", "resultReason": ""}));
    let rows = app
        .rows("SELECT data, source FROM evidence ORDER BY source")
        .await;
    let stored: Vec<(String, Vec<u8>)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "source").unwrap(),
                r.try_get("", "data").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stored,
        vec![
            ("documents[0].images[0]".to_owned(), front.clone()),
            ("documents[0].images[1]".to_owned(), face.clone())
        ]
    );
    let row = decision_row(&app, "iv-big").await;
    let summary: Value = row.try_get("", "input_summary").unwrap();
    let images = &summary["documentCheckResult"]["documents"][0]["images"];
    assert_eq!(images[0]["data"]["bytes"], 600 * 1024);
    assert_eq!(images[1]["data"]["format"], "PNG");
    assert!(
        !summary.to_string().contains(&plain[..64]),
        "no image text in the summary"
    );

    // The same call with the image spelled differently is the same call: the stored
    // decision answers and nothing more is stored.
    let again = app
        .post_raw(
            "/client/evaluate",
            body("iv-big", &spelled),
            "application/json",
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.count("decision").await, 1);
    assert_eq!(app.count("evidence").await, 2);

    // Sent chunked (no Content-Length), a large body is read the same way.
    let pieces: Vec<Vec<u8>> = body("iv-chunked", &plain)
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    let stream = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    let chunked = app
        .client
        .post(app.url("/client/evaluate"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 200);
    assert_eq!(app.count("decision").await, 2);
    assert_eq!(app.count("evidence").await, 4);

    // A large body with a wrong field type is a 400 naming the field; nothing is stored.
    let mut bad: Value = serde_json::from_slice(&body("iv-bad", &plain)).unwrap();
    bad["documentCheckResult"]["documents"][0]["score"] = json!("high");
    let (status, answer) = app.post_json("/client/evaluate", &bad).await;
    assert_error_body(&answer, "ERROR_GENERIC");
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("documentCheckResult.documents[0].score"),
        "{answer}"
    );
    assert_eq!(app.count("decision").await, 2);
    assert_eq!(app.count("evidence").await, 4);
}

#[tokio::test]
async fn the_documentation_draft_aliases_answer_like_the_code_paths() {
    let app = app().await;
    let body = evaluate_2x("iv-a", json!([]), json!(null));
    let (status, answer) = app.post_json("/client/evaluation", &body).await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"result": "WAIT", "resultReason": "MISSING_EXTRACTED_DATA"})
        )
    );
    let approve = json!({"processId": "p", "userId": "u", "identityVerificationId": "iv-b", "status": "SUCCESS"});
    let (status, answer) = app.post_json("/client/approval", &approve).await;
    assert_eq!((status, answer["result"].clone()), (200, json!("OK")));
}

#[tokio::test]
async fn missing_ids_and_unknown_document_types_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            "/client/evaluate",
            json!({"processId": "p", "userId": "u"}),
            "identityVerificationId",
        ),
        (
            "/client/evaluate",
            json!({"processId": "p", "identityVerificationId": "iv", "userId": "  "}),
            "userId",
        ),
        (
            "/client/approve",
            json!({"processId": "p", "identityVerificationId": "iv"}),
            "userId",
        ),
        (
            "/client/evaluate",
            evaluate_2x(
                "iv",
                json!([{"type": "RESIDENCE_PERMIT", "status": "SUCCESS"}]),
                json!(null),
            ),
            "documentCheckResult.documents[0].type",
        ),
        (
            "/client/approve",
            json!({"processId": "p", "userId": "u", "identityVerificationId": "iv", "status": "MAYBE"}),
            "status",
        ),
    ];
    for (path, body, field) in cases {
        let (status, answer) = app.post_json(path, &body).await;
        assert_eq!(status, 400, "{path} {body}");
        let message = assert_error_body(&answer, "ERROR_GENERIC");
        assert!(message.contains(field), "{message} should name {field}");
    }
    assert_eq!(app.count("decision").await, 0);
}

const STRICT_POLICY: &str = r#"
name = "strict-test"
[defaults]
outcome = "OK"
error_reason = "POLICY_RULE_ERROR"

[[evaluate]]
id = "needs-age"
description = "Refers to a fact that is null without extracted data: fails, so WAIT"
when = "age < 100"
outcome = "OK"
reason = "AGE_KNOWN"

[[approve]]
id = "score-ten"
when = "score < 10.0"
outcome = "NOK"
reason = "SCORE_NOT_TEN"
"#;

#[tokio::test]
async fn a_configured_policy_file_decides_and_a_failing_rule_means_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, STRICT_POLICY).unwrap();
    let file = path.clone();
    let app = spawn_app_with_clock(move |s| s.decision.policy_file = Some(file), clock()).await;
    let no_data = evaluate_2x(
        "f-1",
        json!([{"type": "ID_CARD", "status": "SUCCESS", "images": []}]),
        json!(null),
    );
    let (_, answer) = app.post_json("/client/evaluate", &no_data).await;
    assert_eq!(
        answer,
        json!({"result": "WAIT", "resultReason": "POLICY_RULE_ERROR"}),
        "a rule that cannot be evaluated is never a silent pass"
    );
    let row = decision_row(&app, "f-1").await;
    let trace: Value = row.try_get("", "rule_trace").unwrap();
    assert_eq!(trace[0]["rule"], "needs-age");
    assert_eq!(trace[0]["result"], "error");
    assert!(trace[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let (_, answer) = app
        .post_json(
            "/client/approve",
            json!({"processId": "p", "processType": "onboarding", "userId": "u",
                "identityVerificationId": "f-2", "status": "SUCCESS", "score": 9}),
        )
        .await;
    assert_eq!(
        answer,
        json!({"result": "NOK", "resultReason": "SCORE_NOT_TEN"})
    );
}

#[tokio::test]
async fn a_broken_policy_file_stops_start_up_naming_the_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        STRICT_POLICY.replace("when = \"score < 10.0\"", "when = \"score <<< \""),
    )
    .unwrap();
    let mut settings = crate::helpers::test_settings();
    settings.database.url = Some(crate::helpers::fresh_database_url(dir.path()).await.into());
    settings.decision.policy_file = Some(path.clone());
    let err = onboarding_adapter::startup::Application::build(settings)
        .await
        .err()
        .expect("a broken policy must stop start-up");
    let message = format!("{err:#}");
    assert!(message.contains("broken.toml"), "{message}");
    assert!(message.contains("score-ten"), "{message}");
}

/// A compiled engine beside the policy file (the documented extension point).
struct Screening;

impl DecisionEngine for Screening {
    fn name(&self) -> &str {
        "sanctions-screening"
    }

    fn evaluate<'a>(
        &'a self,
        _point: DecisionPoint,
        _process_type: Option<&'a str>,
        facts: &'a Value,
    ) -> BoxFuture<'a, Vec<RuleResult>> {
        Box::pin(async move {
            let listed = facts["userId"] == "C-1003";
            vec![RuleResult {
                rule: "sanctions-list".into(),
                engine: String::new(),
                result: if listed {
                    RuleStatus::Matched
                } else {
                    RuleStatus::NotMatched
                },
                outcome: Outcome::Nok,
                reason: "SANCTIONS_HIT".into(),
                message: "the customer is on a sanctions list".into(),
            }]
        })
    }
}

#[tokio::test]
async fn a_compiled_engine_adds_its_rules_to_the_lattice() {
    let app = spawn_app_with_engines(|_| {}, clock(), vec![Arc::new(Screening)]).await;
    let body = |iv: &str, user: &str| {
        json!({"processId": "p", "processType": "onboarding", "userId": user,
            "identityVerificationId": iv, "status": "SUCCESS", "score": 10})
    };
    let (_, clean) = app
        .post_json("/client/approve", body("s-1", "C-1001"))
        .await;
    assert_eq!(clean, json!({"result": "OK", "resultReason": ""}));
    let (_, hit) = app
        .post_json("/client/approve", body("s-2", "C-1003"))
        .await;
    assert_eq!(
        hit,
        json!({"result": "NOK", "resultReason": "SANCTIONS_HIT"})
    );
    let row = decision_row(&app, "s-2").await;
    let trace: Value = row.try_get("", "rule_trace").unwrap();
    let last = trace.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["engine"], "sanctions-screening");
    assert_eq!(last["result"], "matched");
}

#[tokio::test]
async fn reviewers_see_the_images_of_a_case_and_every_read_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("evidence");
    let configured = folder.clone();
    let app = spawn_app_with_clock(
        move |s| {
            s.decision.evidence = EvidenceStorage::Folder;
            s.decision.evidence_dir = Some(configured);
        },
        clock(),
    )
    .await;
    app.seed_demo_customers().await;
    let image = jpeg_bytes(400, 7);
    let mut body = evaluate_2x("v-1", json!([id_card(json!(null), "ID_CARD")]), person());
    body["documentCheckResult"]["documents"][0]["country"] = json!("USA");
    body["documentCheckResult"]["documents"][0]["images"] = json!([
        {"type": "DOCUMENT_FRONT_SIDE", "data": STANDARD.encode(&image)},
        {"type": "FACE_IMAGE", "data": "%%%"},
    ]);
    let (_, answer) = app.post_json("/client/evaluate", &body).await;
    assert_eq!(answer["result"], "WAIT", "{answer}");
    let (_, page) = app.admin_get(REVIEWER, "/cases?status=OPEN").await;
    let case_id = page["items"][0]["id"].as_i64().expect("a case");

    let (status, list) = app
        .admin_get(REVIEWER, &format!("/cases/{case_id}/images"))
        .await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the valid image was kept: {list}");
    assert_eq!(items[0]["imageType"], "DOCUMENT_FRONT_SIDE");
    assert_eq!(items[0]["sizeBytes"], 400);
    let image_id = items[0]["id"].as_i64().unwrap();
    let sha = items[0]["sha256"].as_str().unwrap().to_owned();
    assert!(
        folder.join(format!("{sha}.jpg")).is_file(),
        "stored in the folder"
    );
    let rows = app.rows("SELECT data FROM evidence").await;
    assert_eq!(
        rows[0].try_get::<Option<Vec<u8>>>("", "data").unwrap(),
        None
    );

    let response = app
        .client
        .get(format!(
            "{}/admin/cases/{case_id}/images/{image_id}",
            app.address
        ))
        .basic_auth(REVIEWER.0, Some(REVIEWER.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.bytes().await.unwrap().to_vec(), image);

    let (status, _) = app
        .admin_get(
            REVIEWER,
            &format!("/cases/{case_id}/images/{}", image_id + 1000),
        )
        .await;
    assert_eq!(status, 404);
    // An image of another verification is not served through this case.
    let mut other = body.clone();
    other["identityVerificationId"] = json!("v-2");
    let (_, answer) = app.post_json("/client/evaluate", &other).await;
    assert_eq!(answer["result"], "WAIT", "{answer}");
    let (_, page) = app.admin_get(REVIEWER, "/cases?status=OPEN").await;
    let other_case = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .find(|id| *id != case_id)
        .expect("a second case");
    let (_, list) = app
        .admin_get(REVIEWER, &format!("/cases/{other_case}/images"))
        .await;
    let other_image = list["items"][0]["id"].as_i64().expect("its image");
    assert_ne!(other_image, image_id);
    let (status, _) = app
        .admin_get(REVIEWER, &format!("/cases/{case_id}/images/{other_image}"))
        .await;
    assert_eq!(status, 404);
    let (_, audit) = app.admin_get(ADMIN, "/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(actions.contains(&"case.image.read"), "{actions:?}");
    assert!(actions.contains(&"case.images.list"), "{actions:?}");
    // The case shows the facts the policy read.
    let (_, case) = app.admin_get(REVIEWER, &format!("/cases/{case_id}")).await;
    assert_eq!(case["facts"]["imagesValid"], json!(false));
    assert_eq!(
        case["waitReason"],
        "IMAGES_INVALID,DOCUMENT_COUNTRY_NOT_ALLOWED"
    );
    // They and the rule trace are the decision's, not a copy kept in the case row.
    let rows = app
        .rows(&format!(
            "SELECT d.rule_trace AS trace, d.facts AS facts, c.facts AS case_facts \
             FROM review_case c JOIN decision d ON d.id = c.decision_id WHERE c.id = {case_id}"
        ))
        .await;
    let trace: Value = rows[0].try_get("", "trace").unwrap();
    let facts: Value = rows[0].try_get("", "facts").unwrap();
    let case_facts: Value = rows[0].try_get("", "case_facts").unwrap();
    assert_eq!(case_facts, Value::Null);
    assert_eq!(case["ruleTrace"], trace);
    assert_eq!(case["facts"], facts);
    let matched: Vec<&str> = trace
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "matched")
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(!matched.is_empty(), "{trace}");
}

#[tokio::test]
async fn a_reload_swaps_the_policy_only_when_the_new_file_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, STRICT_POLICY).unwrap();
    let file = path.clone();
    let app = spawn_app_with_clock(move |s| s.decision.policy_file = Some(file), clock()).await;
    let (status, before) = app.admin_get(REVIEWER, "/policy").await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["name"], "strict-test");
    assert_eq!(before["approveRules"], json!(["score-ten"]));
    let version = before["version"].as_str().unwrap().to_owned();

    let approve_9 = |iv: &str| {
        json!({"processId": "p", "processType": "onboarding", "userId": "u",
            "identityVerificationId": iv, "status": "SUCCESS", "score": 9})
    };
    // A broken file: refused, the old policy stays in force.
    std::fs::write(
        &path,
        STRICT_POLICY.replace("outcome = \"NOK\"", "outcome = \"MAYBE\""),
    )
    .unwrap();
    let (status, refused) = app.admin_post(ADMIN, "/policy/reload", json!({})).await;
    assert_eq!(status, 409, "{refused}");
    let message = assert_error_body(&refused, "ERROR_GENERIC");
    assert!(message.contains("policy.toml"), "{message}");
    let (_, answer) = app.post_json("/client/approve", approve_9("l-1")).await;
    assert_eq!(
        answer["resultReason"], "SCORE_NOT_TEN",
        "old policy still decides"
    );
    // Reviewers cannot reload.
    let (status, _) = app.admin_post(REVIEWER, "/policy/reload", json!({})).await;
    assert_eq!(status, 403);

    // A valid change: swapped in, decisions carry the new version.
    std::fs::write(&path, STRICT_POLICY.replace("score < 10.0", "score < 5.0")).unwrap();
    let (status, after) = app.admin_post(ADMIN, "/policy/reload", json!({})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["previousVersion"], json!(version));
    assert_ne!(after["version"], json!(version));
    let (_, answer) = app.post_json("/client/approve", approve_9("l-2")).await;
    assert_eq!(answer, json!({"result": "OK", "resultReason": ""}));
    let row = decision_row(&app, "l-2").await;
    assert_eq!(
        json!(row.try_get::<String>("", "policy_version").unwrap()),
        after["version"]
    );
}
