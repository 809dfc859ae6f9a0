use serde_json::json;

use crate::helpers::{captured_logs, spawn_app, spawn_app_with};

#[tokio::test]
async fn correlation_ids_are_echoed_or_generated_and_stored_with_the_records() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/consent/storage"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .header("X-Correlation-Id", "corr-abc-123")
        .header("X-Request-Id", "req-xyz-789")
        .json(&json!({"processId": "p", "consentType": "GDPR", "approved": true}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-correlation-id"], "corr-abc-123");
    assert_eq!(response.headers()["x-request-id"], "req-xyz-789");
    let row = &app
        .rows("SELECT correlation_id, request_id FROM consent_decision")
        .await[0];
    assert_eq!(
        row.try_get::<String>("", "correlation_id").expect("col"),
        "corr-abc-123"
    );
    assert_eq!(
        row.try_get::<String>("", "request_id").expect("col"),
        "req-xyz-789"
    );
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|l| l.contains("consent decision stored") && l.contains("corr-abc-123"))
        .expect("the handler's log line carries the correlation id");
    assert!(line.contains("req-xyz-789"), "{line}");

    let generated = app
        .post(
            "/consent/text",
            &json!({"processId": "p", "consentType": "GDPR"}),
        )
        .await;
    let id = generated.headers()["x-correlation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn unsafe_incoming_correlation_ids_are_replaced() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/consent/text"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .header("X-Correlation-Id", "x\" injected {json}")
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    let id = response.headers()["x-correlation-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn correlation_header_names_are_configurable() {
    let app = spawn_app_with(|s| s.correlation.correlation_header = "X-Trace".into()).await;
    let response = app
        .client
        .post(app.url("/consent/text"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .header("X-Trace", "t-1")
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-trace"], "t-1");
}

#[tokio::test]
async fn health_reports_up_and_metrics_count_requests_per_route_and_status() {
    let app = spawn_app().await;
    let live: serde_json::Value = app
        .client
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(live, json!({"status": "UP"}));
    let ready = app
        .client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 200);
    app.post(
        "/consent/text",
        &json!({"processId": "p", "consentType": "GDPR"}),
    )
    .await;
    app.post(
        "/consent/text",
        &json!({"processId": "p", "consentType": "NOPE"}),
    )
    .await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .contains(r#"http_requests_total{method="POST",route="/consent/text",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"http_requests_total{method="POST",route="/consent/text",status="404"} 1"#)
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

#[test]
fn environment_overrides_keep_strings_as_strings_and_parse_lists() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_onboarding-adapter"))
        .arg("config")
        .env("ADAPTER_LOOKUP__PROSPECT_PREFIX", "007")
        .env("ADAPTER_SERVER__PORT", "9090")
        .env("ADAPTER_DEMO", "false")
        .env("ADAPTER_LOOKUP__KEYS", r#"["email", "birthDate"]"#)
        .env(
            "ADAPTER_AUTH__CREDENTIALS",
            r#"[{username="a",password="0123456789012"}]"#,
        )
        .env("DATABASE_URL", "postgres://u:very-secret@db/x")
        .output()
        .expect("runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{shown} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "lookup.prospect_prefix = \"007\"",
        "server.port = 9090",
        "demo = false",
        "lookup.keys = [\"email\",\"birthDate\"]",
        "database.url = \"[REDACTED]\"",
    ] {
        assert!(shown.contains(expected), "missing {expected} in\n{shown}");
    }
    assert!(
        !shown.contains("very-secret") && !shown.contains("0123456789012"),
        "{shown}"
    );
}

/// SQLite's driver ping never touches the file: readiness takes the write lock instead, so a
/// database locked by another process is reported (and recovers without a restart).
#[tokio::test]
async fn readiness_fails_while_another_process_holds_the_sqlite_write_lock() {
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        return; // SQLite only
    }
    let app = spawn_app_with(|s| s.database.sqlite_busy_timeout_ms = 300).await;
    let ready = |app: &crate::helpers::TestApp| {
        let request = app
            .client
            .get(format!("{}/health/ready", app.address))
            .send();
        async move {
            let r = request.await.expect("sent");
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.expect("json"))
        }
    };
    assert_eq!(ready(&app).await.0, 200);

    let mut options = sea_orm::ConnectOptions::new(app.settings.database_url());
    options.max_connections(1).min_connections(1);
    let holder = sea_orm::Database::connect(options).await.expect("holder");
    use sea_orm::ConnectionTrait;
    holder
        .execute_unprepared("BEGIN EXCLUSIVE")
        .await
        .expect("lock");
    let started = std::time::Instant::now();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    crate::helpers::assert_error_body(&body, "ERROR_GENERIC");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // A callback that writes answers 503 with the error body too.
    let (status, body) = app
        .post_json(
            "/consent/storage",
            &json!({"processId": "p", "consentType": "GDPR", "approved": true}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    crate::helpers::assert_error_body(&body, "ERROR_GENERIC");

    holder.execute_unprepared("ROLLBACK").await.expect("unlock");
    let _ = holder.close().await;
    assert_eq!(ready(&app).await.0, 200);
    let (status, _) = app
        .post_json(
            "/consent/storage",
            &json!({"processId": "p", "consentType": "GDPR", "approved": true}),
        )
        .await;
    assert_eq!(status, 204);
}
