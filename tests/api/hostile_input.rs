//! Bodies written to exhaust the service: refused fast with the error body, nothing stored
//! (issue 21: shape limits). Their time and memory are measured by `benches/hostile_input`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_body, spawn_app, spawn_app_with};

fn evaluate_with(documents: Value) -> Value {
    json!({
        "processId": "p-hostile", "processType": "onboarding", "identityVerificationId": "iv-hostile",
        "userId": "C-1001", "verificationId": "v", "provider": "zenid", "status": "SUCCESS",
        "documentCheckResult": {"person": null, "documents": documents}
    })
}

async fn refused(app: &TestApp, path: &str, body: String) -> String {
    let response = app
        .post_raw(path, body.into_bytes(), "application/json")
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(status, 400, "{body}");
    assert_error_body(&body, "ERROR_GENERIC")
}

#[tokio::test]
async fn a_32_mib_evaluate_of_a_million_tiny_documents_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let head = r#"{"processId":"p-1","processType":"onboarding","identityVerificationId":"iv-1","userId":"C-1001","status":"SUCCESS","documentCheckResult":{"documents":["#;
    let doc = r#"{"type":"ID_CARD"},"#;
    let count = (32 * 1024 * 1024 - head.len() - 64) / doc.len();
    let mut body = String::with_capacity(32 * 1024 * 1024);
    body.push_str(head);
    for _ in 0..count {
        body.push_str(doc);
    }
    body.push_str(r#"{"type":"ID_CARD"}]}}"#);
    assert!(count > 1_000_000, "{count}");
    let message = refused(&app, "/client/evaluate", body).await;
    assert!(
        message.contains("20000 array and object elements"),
        "{message}"
    );
    assert_eq!(app.count("decision").await, 0);
    assert_eq!(app.count("process").await, 0);
}

#[tokio::test]
async fn deep_nesting_and_element_floods_are_refused_on_every_callback() {
    let app = spawn_app().await;
    let deep = format!(
        r#"{{"processId":"p","type":"PROCESS_FINISHED","eventData":{}{}}}"#,
        r#"{"a":"#.repeat(40),
        "}".repeat(40)
    );
    let message = refused(&app, "/process/event", deep).await;
    assert!(message.contains("deeper than 32 levels"), "{message}");
    let flood = format!(
        r#"{{"processId":"p","identification":{{"clientNumber":"1","x":[{}0]}}}}"#,
        "0,".repeat(25_000)
    );
    refused(&app, "/user/lookup", flood).await;
    assert_eq!(app.count("process_event").await, 0);
    assert_eq!(app.count("process").await, 0);
}

#[tokio::test]
async fn documents_images_texts_and_raw_data_over_their_limits_are_refused_naming_the_limit() {
    let app = spawn_app_with(|s| {
        s.limits.max_documents = 3;
        s.limits.max_images_per_document = 2;
        s.limits.max_text_chars = 50;
        s.limits.raw_data_bytes = 1000;
    })
    .await;
    let doc = json!({"type": "ID_CARD", "status": "SUCCESS"});
    let cases = [
        (
            evaluate_with(json!([doc, doc, doc, doc])),
            "more than 3 documents",
        ),
        (
            evaluate_with(
                json!([{"type": "ID_CARD", "images": [{"type": "FACE"}, {"type": "FACE"}, {"type": "FACE"}]}]),
            ),
            "more than 2 images",
        ),
        (
            evaluate_with(json!([{"type": "ID_CARD", "data": {"surname": "N".repeat(51)}}])),
            "longer than 50 characters",
        ),
        (
            evaluate_with(json!([{"type": "ID_CARD", "rawData": "x".repeat(1001)}])),
            "rawData` is longer than 1000 bytes",
        ),
    ];
    for (body, expected) in cases {
        let message = refused(&app, "/client/evaluate", body.to_string()).await;
        assert!(message.contains(expected), "{message} / {expected}");
    }
    assert_eq!(app.count("decision").await, 0);
    // At the limits: accepted.
    let (status, answer) = app
        .post_json(
            "/client/evaluate",
            evaluate_with(json!([doc, doc, {"type": "PASSPORT", "rawData": "x".repeat(1000),
                "data": {"surname": "N".repeat(50)}, "images": [{"type": "FACE"}, {"type": "DOCUMENT_FRONT_SIDE"}]}])),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn large_bodies_take_turns_and_all_are_answered() {
    let app = spawn_app_with(|s| s.limits.max_concurrent_large_bodies = 1).await;
    let raw = "r".repeat(600 * 1024);
    let calls = (0..4).map(|i| {
        let body = json!({
            "processId": format!("p-large-{i}"), "processType": "onboarding",
            "identityVerificationId": format!("iv-large-{i}"), "userId": "C-1001",
            "status": "SUCCESS",
            "documentCheckResult": {"person": null, "documents": [{"type": "ID_CARD", "rawData": raw}]}
        });
        let app = &app;
        async move { app.post_json("/client/evaluate", body).await.0 }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert_eq!(statuses, vec![200; 4]);
    assert_eq!(app.count("decision").await, 4);
}
