use serde_json::json;

use crate::helpers::{assert_error_body, spawn_app};

#[tokio::test]
async fn the_consent_text_is_served_per_language_with_fallback_and_the_version_is_recorded() {
    let app = spawn_app().await;
    let ask = |language: serde_json::Value| {
        app.post_json(
            "/consent/text",
            json!({"processId": "p-1", "processType": "onboarding", "userId": "C-1001", "consentType": "GDPR", "language": language}),
        )
    };
    let (status, cs) = ask(json!("cs")).await;
    assert_eq!(status, 200);
    assert!(
        cs["consentText"]
            .as_str()
            .expect("text")
            .contains("Souhlas se zpracováním")
    );
    let (_, en) = ask(json!("en")).await;
    assert!(
        en["consentText"]
            .as_str()
            .expect("text")
            .contains("Consent to the processing")
    );
    let (_, de) = ask(json!("de")).await;
    assert_eq!(de, en, "unknown language falls back to en");
    let (_, none) = ask(json!(null)).await;
    assert_eq!(none, en);

    let rows = app
        .rows("SELECT language_requested, language_served, text_version, correlation_id FROM consent_text_served ORDER BY id")
        .await;
    assert_eq!(rows.len(), 4);
    let served: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "language_served").expect("col"))
        .collect();
    assert_eq!(served, ["cs", "en", "en", "en"]);
    let v0: String = rows[0].try_get("", "text_version").expect("col");
    let v1: String = rows[1].try_get("", "text_version").expect("col");
    assert_eq!(v0.len(), 64);
    assert_ne!(v0, v1);
}

#[tokio::test]
async fn an_unknown_consent_type_is_a_404_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/consent/text",
            &json!({"processId": "p", "consentType": "MARKETING", "language": "en"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        assert_error_body(&body, "ERROR_GENERIC"),
        "unknown consentType"
    );
    let (status, _) = app
        .post_json(
            "/consent/storage",
            &json!({"processId": "p", "userId": "u", "consentType": "MARKETING", "approved": true}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.count("consent_text_served").await, 0);
    assert_eq!(app.count("consent_decision").await, 0);
}

#[tokio::test]
async fn consent_decisions_are_appended_with_the_text_version_that_was_served() {
    let app = spawn_app().await;
    app.post_json(
        "/consent/text",
        &json!({"processId": "p-2", "consentType": "GDPR", "language": "cs"}),
    )
    .await;
    let store = |approved: bool| {
        app.post(
            "/consent/storage",
            json!({"processId": "p-2", "processType": "onboarding", "userId": "C-1", "consentType": "gdpr", "approved": approved}),
        )
    };
    let response = store(false).await;
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.text().await.expect("body").is_empty());
    assert_eq!(store(true).await.status().as_u16(), 204);

    let served: String = app
        .rows("SELECT text_version FROM consent_text_served")
        .await[0]
        .try_get("", "text_version")
        .expect("col");
    let rows = app
        .rows("SELECT consent_type, approved, text_version, correlation_id, request_id FROM consent_decision ORDER BY id")
        .await;
    assert_eq!(rows.len(), 2, "history is kept");
    for (row, approved) in rows.iter().zip([false, true]) {
        assert_eq!(
            row.try_get::<String>("", "consent_type").expect("col"),
            "GDPR"
        );
        assert_eq!(row.try_get::<bool>("", "approved").expect("col"), approved);
        assert_eq!(
            row.try_get::<Option<String>>("", "text_version")
                .expect("col"),
            Some(served.clone())
        );
        assert_eq!(
            row.try_get::<String>("", "correlation_id")
                .expect("col")
                .len(),
            36
        );
    }
}

#[tokio::test]
async fn the_2022_client_storage_call_with_null_ids_is_still_recorded() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/consent/storage",
            &json!({"processId": null, "userId": null, "consentType": "GDPR", "approved": true}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(app.count("consent_decision").await, 1);
}
