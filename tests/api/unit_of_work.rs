//! One transaction per request, on every backend: when any write of a request fails,
//! nothing of the request is stored, and the identical repeat (once the fault is gone)
//! starts from a clean state. Faults are injected with a trigger that refuses inserts into
//! one table, so the failing statement is the last of its transaction.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::{Value, json};

use crate::helpers::{REVIEWER, TestApp, spawn_app};

/// A trigger refusing every insert into `table`, in the test database's dialect.
async fn refuse_inserts(app: &TestApp, table: &str) {
    let statements: Vec<String> = match app.db.get_database_backend() {
        DatabaseBackend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )],
        DatabaseBackend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
            ),
        ],
        _ => vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected fault'"
        )],
    };
    for sql in statements {
        app.db.execute_unprepared(&sql).await.expect("trigger");
    }
}

async fn allow_inserts(app: &TestApp, table: &str) {
    let sql = match app.db.get_database_backend() {
        DatabaseBackend::Postgres => format!("DROP TRIGGER refuse_{table} ON {table}"),
        _ => format!("DROP TRIGGER refuse_{table}"),
    };
    app.db.execute_unprepared(&sql).await.expect("drop trigger");
}

/// An evaluate call the demo policy sends to review (no extracted data: WAIT).
fn waiting_evaluate(iv: &str) -> Value {
    json!({"processId": format!("p-{iv}"), "processType": "onboarding",
        "identityVerificationId": iv, "userId": "C-1001", "verificationId": "v",
        "provider": "mock", "status": "SUCCESS",
        "documentCheckResult": {"person": null,
            "documents": [{"type": "ID_CARD", "status": "SUCCESS", "images": []}]}})
}

#[tokio::test]
async fn a_wait_whose_review_case_cannot_be_opened_stores_nothing() {
    let app = spawn_app().await;
    refuse_inserts(&app, "review_case").await;

    let (status, body) = app
        .post_json("/client/evaluate", waiting_evaluate("iv-uow"))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["errorCode"], "ERROR_GENERIC");
    let of_call = "identity_verification_id = 'iv-uow'";
    assert_eq!(app.count_where("decision", of_call).await, 0);
    assert_eq!(
        app.count_where("process", "process_id = 'p-iv-uow'").await,
        0
    );
    assert_eq!(app.count("review_case").await, 0);

    allow_inserts(&app, "review_case").await;
    let (status, body) = app
        .post_json("/client/evaluate", waiting_evaluate("iv-uow"))
        .await;
    assert_eq!((status, &body["result"]), (200, &json!("WAIT")), "{body}");
    // The identical repeat answers from the stored decision and opens no second case.
    let (status, again) = app
        .post_json("/client/evaluate", waiting_evaluate("iv-uow"))
        .await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(app.count_where("decision", of_call).await, 1);
    assert_eq!(app.count_where("review_case", of_call).await, 1);
}

#[tokio::test]
async fn a_resolution_whose_callback_cannot_be_queued_changes_nothing() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/client/evaluate", waiting_evaluate("iv-res"))
        .await;
    assert_eq!((status, &body["result"]), (200, &json!("WAIT")), "{body}");
    let (_, page) = app.admin_get(REVIEWER, "/cases?status=OPEN").await;
    let case = page["items"][0]["id"].as_i64().expect("an open case");
    let audit_before = app.count("audit_log").await;
    refuse_inserts(&app, "outbox_message").await;

    let resolve = json!({"result": "OK", "reasonCode": "CHECKED", "note": "by hand"});
    let path = format!("/cases/{case}/resolve");
    let (status, body) = app.admin_post(REVIEWER, &path, resolve.clone()).await;
    assert_eq!(status, 500, "{body}");
    let (_, detail) = app.admin_get(REVIEWER, &format!("/cases/{case}")).await;
    assert_eq!(detail["status"], "OPEN", "{detail}");
    assert_eq!(app.count("outbox_message").await, 0);
    // Only the reads since (the page and the case) were audited: no resolution entry.
    let resolutions = app
        .count_where("audit_log", "action = 'case.resolve'")
        .await;
    assert_eq!(resolutions, 0);
    assert!(app.count("audit_log").await > audit_before);

    allow_inserts(&app, "outbox_message").await;
    let (status, body) = app.admin_post(REVIEWER, &path, resolve.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "RESOLVED");
    assert_eq!(app.count("outbox_message").await, 1);
    let resolutions = app
        .count_where("audit_log", "action = 'case.resolve'")
        .await;
    assert_eq!(resolutions, 1);
    // A second resolution is refused and queues nothing more.
    let (status, _) = app.admin_post(REVIEWER, &path, resolve).await;
    assert_eq!(status, 409);
    assert_eq!(app.count("outbox_message").await, 1);
}

/// PostgreSQL's count of committed transactions of `database`, once the service's
/// backends have reported theirs, read from another database's connection so that the
/// reading adds nothing. An idle backend reports its counters within 10 s; on a loaded
/// machine later, so the count is read until two readings 3 s apart agree (at most 60 s).
async fn settled_commits(admin: &sea_orm::DatabaseConnection, database: &str) -> i64 {
    let read = || async {
        admin
            .execute_unprepared("SELECT pg_stat_clear_snapshot()")
            .await
            .expect("clear snapshot");
        let row = admin
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                [database.into()],
            ))
            .await
            .expect("pg_stat_database")
            .expect("a row for the database");
        row.try_get::<i64>("", "xact_commit").expect("xact_commit")
    };
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = read().await;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let now = read().await;
        if now == last || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// On PostgreSQL each callback below commits exactly one transaction (the outbox worker,
/// which polls, is off).
#[tokio::test]
async fn each_callback_commits_one_transaction_on_postgresql() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    if !admin_url.starts_with("postgres") {
        return;
    }
    let app = crate::helpers::spawn_app_with(|s| s.delivery.worker_enabled = false).await;
    app.seed_demo_customers().await;
    let database = app
        .settings
        .database_url()
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .expect("admin connection");
    const CALLS: i64 = 10;
    type Body = fn(i64) -> Value;
    let calls: [(&str, Body); 4] = [
        ("/consent/text", |i| {
            json!({"processId": format!("p-text-{i}"), "processType": "onboarding",
                "userId": "C-1001", "consentType": "GDPR", "language": "en"})
        }),
        ("/user/lookup", |i| {
            json!({"processId": format!("p-look-{i}"), "processType": "onboarding",
                "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}})
        }),
        ("/consent/storage", |i| {
            json!({"processId": format!("p-store-{i}"), "processType": "onboarding",
                "userId": "C-1001", "consentType": "GDPR", "approved": true})
        }),
        ("/client/evaluate", |i| {
            waiting_evaluate(&format!("iv-tx-{i}"))
        }),
    ];
    // A first call of each kind (the pool may open a connection for it), not counted.
    for (path, body) in calls {
        let response = app.post(path, body(CALLS)).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let mut before = settled_commits(&admin, &database).await;
    for (path, body) in calls {
        for i in 0..CALLS {
            let response = app.post(path, body(i)).await;
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
        }
        let after = settled_commits(&admin, &database).await;
        assert_eq!(
            after - before,
            CALLS,
            "{path}: transactions of {CALLS} calls"
        );
        before = after;
    }
}
