use serde_json::json;

use crate::helpers::{assert_error_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_or_mistyped_bodies_are_400s_with_the_error_body_and_change_nothing() {
    let app = spawn_app().await;
    let cases: [(&str, &[u8], &str); 8] = [
        (
            "/consent/storage",
            b"{\"processId\": \"p\",",
            "malformed JSON",
        ),
        ("/consent/storage", b"", "request body is empty"),
        (
            "/consent/storage",
            b"[]",
            "request body must be a JSON object",
        ),
        (
            "/consent/storage",
            b"{\"consentType\":\"GDPR\",\"approved\":\"yes\"}",
            "field `approved`",
        ),
        (
            "/consent/storage",
            b"{\"consentType\":\"GDPR\"}",
            "missing required field `approved`",
        ),
        (
            "/consent/storage",
            b"{\"consentType\":\"GDPR\",\"approved\":true} trailing",
            "trailing",
        ),
        (
            "/process/event",
            b"{\"type\":\"X\"}",
            "missing required field `processId`",
        ),
        (
            "/user/lookup",
            b"{\"processId\":\"\"}",
            "field `processId` must not be blank",
        ),
    ];
    for (path, body, expected) in cases {
        let response = app.post_raw(path, body.to_vec(), "application/json").await;
        assert_eq!(
            response.status().as_u16(),
            400,
            "{path} {}",
            String::from_utf8_lossy(body)
        );
        let answer: serde_json::Value = response.json().await.expect("json");
        let message = assert_error_body(&answer, "ERROR_GENERIC");
        assert!(
            message.contains(expected),
            "{message} should contain {expected}"
        );
    }
    assert_eq!(app.count("consent_decision").await, 0);
    assert_eq!(app.count("process_event").await, 0);
}

#[tokio::test]
async fn an_otp_code_sent_with_a_wrong_type_is_not_echoed_in_the_error() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/otp/send",
            &json!({"processId": "p", "userId": "u", "otpCode": 73019468, "otpType": "ACTIVATION"}),
        )
        .await;
    assert_eq!(status, 400);
    let message = assert_error_body(&body, "ERROR_GENERIC");
    assert!(!message.contains("73019468"), "{message}");
    assert!(!crate::helpers::captured_logs().contains("73019468"));
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415_with_the_error_body() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let response = app
            .post_raw(
                "/consent/text",
                b"{\"processId\":\"p\",\"consentType\":\"GDPR\"}".to_vec(),
                content_type,
            )
            .await;
        assert_eq!(response.status().as_u16(), 415, "{content_type}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_error_body(&body, "ERROR_GENERIC");
    }
    let ok = app
        .post_raw(
            "/consent/text",
            b"{\"processId\":\"p\",\"consentType\":\"GDPR\"}".to_vec(),
            "application/json; charset=UTF-8",
        )
        .await;
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_over_the_route_limit_is_a_413_and_the_limits_are_per_route() {
    let app = spawn_app_with(|s| {
        s.limits.default_body_bytes = 1024;
        s.limits.evaluate_body_bytes = 64 * 1024;
    })
    .await;
    let big = "x".repeat(4096);
    let body = json!({"processId": "p", "consentType": "GDPR", "approved": true, "pad": big});
    let (status, answer) = app.post_json("/consent/storage", &body).await;
    assert_eq!(status, 413);
    assert!(assert_error_body(&answer, "ERROR_GENERIC").contains("1024"));
    let evaluate = json!({"processId": "p", "processType": "onboarding", "identityVerificationId": "iv", "userId": "u", "pad": big});
    assert_eq!(app.post_json("/client/evaluate", &evaluate).await.0, 200);
    // Chunked upload without Content-Length is cut at the limit too.
    let stream =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let response = app
        .client
        .post(app.url("/consent/storage"))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(app.count("consent_decision").await, 0);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_are_405_with_the_error_body() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::POST, "/user/unknown", 404),
        (reqwest::Method::GET, "/nothing/here", 404),
        (reqwest::Method::GET, "/user/lookup", 405),
        (reqwest::Method::PUT, "/client/evaluate", 405),
        (reqwest::Method::DELETE, "/process/event", 405),
    ];
    for (method, path, expected) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), expected, "{method} {path}");
        if expected == 405 {
            assert_eq!(
                response
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok()),
                Some("POST")
            );
        }
        let body: serde_json::Value = response.json().await.expect("json");
        assert_error_body(&body, "ERROR_GENERIC");
    }
}

#[tokio::test]
async fn callbacks_are_served_under_the_configured_base_path_only() {
    let app = spawn_app_with(|s| s.server.base_path = "/api/v1".into()).await;
    let body = json!({"processId": "p", "consentType": "GDPR"});
    assert_eq!(app.post_json("/consent/text", &body).await.0, 200);
    let response = app
        .client
        .post(format!("{}/consent/text", app.address))
        .basic_auth(crate::helpers::USER, Some(crate::helpers::PASSWORD))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 404);
}

/// SQLite only: an exclusive lock held by another connection makes the database
/// unavailable to the service; it answers 503 and recovers without a restart.
#[tokio::test]
async fn a_locked_database_gives_503_with_the_error_body_and_recovers_without_restart() {
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        return;
    }
    let app = spawn_app_with(|s| s.database.sqlite_busy_timeout_ms = 100).await;
    let body = json!({"processId": "p", "consentType": "GDPR", "approved": true});
    let blocker = onboarding_adapter::storage::connect(&app.settings)
        .await
        .expect("connect");
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = blocker.begin().await.expect("begin");
    txn.execute_unprepared("INSERT INTO customer (user_id, active, created_at, updated_at) VALUES ('lock', 1, '2026-01-01', '2026-01-01')")
        .await
        .expect("write lock");
    let (status, answer) = app.post_json("/consent/storage", &body).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        assert_error_body(&answer, "ERROR_GENERIC"),
        "service temporarily unavailable"
    );
    txn.rollback().await.expect("rollback");
    let response = app.post("/consent/storage", &body).await;
    assert_eq!(response.status().as_u16(), 204);
}

#[tokio::test]
async fn a_documented_path_with_another_method_is_405_before_authentication() {
    let app = spawn_app().await;
    // (method, path from the host root, Allow expected); no credentials are sent.
    let cases = [
        (reqwest::Method::TRACE, "/health/live", "GET"),
        (reqwest::Method::POST, "/health/ready", "GET"),
        (reqwest::Method::DELETE, "/metrics", "GET"),
        (reqwest::Method::GET, "/user/lookup", "POST"),
        (reqwest::Method::OPTIONS, "/client/approve", "POST"),
        (reqwest::Method::PUT, "/admin/cases/7", "GET"),
        (reqwest::Method::GET, "/admin/cases/7/resolve", "POST"),
    ];
    for (method, path, allow) in cases {
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        let body: serde_json::Value = response.json().await.expect("json");
        assert_error_body(&body, "ERROR_GENERIC");
    }
    // Undocumented paths stay 404 (behind authentication for the callback scope).
    let response = app
        .client
        .get(format!("{}/admin/cases/7/nothing", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn nested_objects_sent_as_arrays_and_non_object_event_data_are_400s() {
    let app = spawn_app().await;
    let cases = [
        (
            "/client/evaluate",
            json!({"processId": "p", "identityVerificationId": "iv", "userId": "u",
                "documentCheckResult": {"documents": [{"type": "ID_CARD", "images": [[null, null]]}]}}),
            "documentCheckResult.documents[0].images[0]",
        ),
        (
            "/client/evaluate",
            json!({"processId": "p", "identityVerificationId": "iv", "userId": "u",
                "documentCheckResult": [null, []]}),
            "documentCheckResult",
        ),
        (
            "/client/approve",
            json!({"processId": "p", "identityVerificationId": "iv", "userId": "u",
                "presenceCheckResult": ["frame"]}),
            "presenceCheckResult",
        ),
        (
            "/process/event",
            json!({"processId": "p", "type": "PROCESS_FINISHED", "eventData": [null, null]}),
            "eventData",
        ),
    ];
    for (path, body, field) in cases {
        let (status, answer) = app.post_json(path, &body).await;
        assert_eq!(status, 400, "{path} {body}");
        let message = assert_error_body(&answer, "ERROR_GENERIC");
        assert!(
            message.contains(&format!("field `{field}`")) && message.contains("expected"),
            "{path}: {message}"
        );
    }
    assert_eq!(app.count("decision").await, 0);
    assert_eq!(app.count("process_event").await, 0);
}

#[tokio::test]
async fn ids_of_only_spaces_tabs_or_newlines_are_blank() {
    let app = spawn_app().await;
    for blank in ["", " ", "\t\r\n "] {
        let body = json!({"processId": blank, "consentType": "GDPR"});
        let (status, answer) = app.post_json("/consent/text", &body).await;
        assert_eq!(status, 400, "{blank:?}");
        assert_eq!(
            assert_error_body(&answer, "ERROR_GENERIC"),
            "field `processId` must not be blank"
        );
    }
    // Anything else is an id (the OpenAPI pattern `[^ \t\r\n]` says the same).
    let body = json!({"processId": "\u{a0}", "consentType": "GDPR"});
    assert_eq!(app.post_json("/consent/text", &body).await.0, 200);
}

/// A large body (read off the async worker) whose client goes away half-way: nothing is
/// stored, and the service goes on serving.
#[tokio::test]
async fn a_large_body_cut_off_midway_stores_nothing_and_the_service_goes_on() {
    use base64::Engine;
    use tokio::io::AsyncWriteExt;

    let app = spawn_app().await;
    let image = base64::engine::general_purpose::STANDARD.encode(vec![0xFF; 600 * 1024]);
    let body = json!({"processId": "p", "processType": "onboarding",
        "identityVerificationId": "iv-cut", "userId": "u",
        "documentCheckResult": {"documents": [{"type": "ID_CARD", "images": [{"type": "FACE", "data": image}]}]}})
    .to_string();
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        crate::helpers::USER,
        crate::helpers::PASSWORD
    ));
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.url("/client/evaluate")
            .trim_start_matches(&app.address)
            .to_owned(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .expect("half the body");
    stream.flush().await.expect("flush");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let whole = app
        .post_raw("/client/evaluate", body.into_bytes(), "application/json")
        .await;
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(app.count("decision").await, 1, "only the complete call");
}
