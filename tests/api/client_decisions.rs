use serde_json::{Value, json};

use crate::helpers::{assert_error_body, spawn_app};

fn evaluate_2x(iv: &str, documents: Value, person: Value) -> Value {
    json!({
        "processId": "p-1", "processType": "onboarding", "identityVerificationId": iv,
        "userId": "C-1001", "verificationId": "ver-77", "provider": "microblink", "status": "SUCCESS",
        "documentCheckResult": {"person": person, "documents": documents}
    })
}

fn id_card(raw_data: Value, doc_type: &str) -> Value {
    json!({"type": doc_type, "country": "CZE", "status": "SUCCESS", "score": 10,
        "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                 "documentNumber": "123456789", "dateOfIssue": "2020-01-15", "dateOfExpiry": "2030-01-15",
                 "sex": "M", "nationality": "CZE", "placeOfBirth": null, "personalNumber": null, "authority": null},
        "images": [{"type": "FACE", "data": "/9j/4AAQSkZJRgABAQ=="}],
        "rawData": raw_data})
}

#[tokio::test]
async fn evaluate_accepts_every_2x_variant_and_answers_the_documented_default() {
    let app = spawn_app().await;
    let person = json!({"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"});
    let variants = [
        (
            "raw string",
            evaluate_2x(
                "iv-1",
                json!([id_card(json!("{\"verification\":{}}"), "ID_CARD")]),
                person.clone(),
            ),
        ),
        (
            "raw object",
            evaluate_2x(
                "iv-2",
                json!([id_card(json!({"verification": {}}), "PASSPORT")]),
                person.clone(),
            ),
        ),
        (
            "licence spelling",
            evaluate_2x(
                "iv-3",
                json!([id_card(json!(null), "DRIVING_LICENCE")]),
                person.clone(),
            ),
        ),
        (
            "license spelling",
            evaluate_2x(
                "iv-4",
                json!([id_card(json!(null), "DRIVING_LICENSE")]),
                person.clone(),
            ),
        ),
        (
            "no extracted data",
            evaluate_2x(
                "iv-5",
                json!([{"type": "ID_CARD", "status": "SUCCESS", "images": []}]),
                json!(null),
            ),
        ),
    ];
    for (case, body) in &variants {
        let (status, answer) = app.post_json("/client/evaluate", body).await;
        assert_eq!(status, 200, "{case}: {answer}");
        assert_eq!(
            answer,
            json!({"result": "WAIT", "resultReason": "MANUAL_REVIEW"}),
            "{case}"
        );
    }
    assert_eq!(app.count("decision").await, 5);
    let rows = app
        .rows("SELECT input_summary FROM decision WHERE identity_verification_id = 'iv-1'")
        .await;
    let summary: Value = rows[0].try_get("", "input_summary").expect("col");
    let image = &summary["documentCheckResult"]["documents"][0]["images"][0]["data"];
    assert_eq!(
        image["base64Length"], 20,
        "images are stored as size + digest: {summary}"
    );
    assert!(!summary.to_string().contains("/9j/4AAQ"));
}

#[tokio::test]
async fn a_1x_evaluate_never_gets_wait_which_it_cannot_read() {
    let app = spawn_app().await;
    let body = json!({"processId": "p", "identityVerificationId": "iv", "userId": "u",
        "verificationId": "v", "provider": "zenid", "extractedData": ["a", "b"]});
    let (status, answer) = app.post_json("/client/evaluate", &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"result": "NOK", "resultReason": "WAIT_UNSUPPORTED_BY_CALLER"})
    );
}

#[tokio::test]
async fn approve_answers_with_a_non_null_reason_and_stores_the_frame_digest_only() {
    let app = spawn_app().await;
    let body = json!({"processId": "p", "processType": "onboarding", "userId": "C-1001",
        "identityVerificationId": "iv-9", "provider": "iproov", "status": "SUCCESS", "score": 10,
        "presenceCheckResult": {"frame": "iVBORw0KGgo="}});
    let (status, answer) = app.post_json("/client/approve", &body).await;
    assert_eq!(status, 200);
    assert!(answer["resultReason"].is_string(), "{answer}");
    assert_eq!(answer["result"], "WAIT");
    let rows = app
        .rows("SELECT decision_point, outcome, result_reason, input_summary, status FROM decision")
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]
            .try_get::<String>("", "decision_point")
            .expect("col"),
        "approve"
    );
    assert_eq!(
        rows[0]
            .try_get::<Option<String>>("", "status")
            .expect("col"),
        Some("SUCCESS".into())
    );
    let summary: Value = rows[0].try_get("", "input_summary").expect("col");
    assert!(
        summary["presenceCheckResult"]["frame"]["sha256"].is_string(),
        "{summary}"
    );
}

#[tokio::test]
async fn an_identical_repeated_call_returns_the_stored_decision_without_a_second_record() {
    let app = spawn_app().await;
    let body = evaluate_2x(
        "iv-r",
        json!([{"type": "ID_CARD", "status": "SUCCESS", "images": []}]),
        json!(null),
    );
    let first = app.post_json("/client/evaluate", &body).await;
    let again = app.post_json("/client/evaluate", &body).await;
    assert_eq!(first, again);
    assert_eq!(app.count("decision").await, 1);
    let mut other = body.clone();
    other["identityVerificationId"] = json!("iv-new");
    app.post_json("/client/evaluate", &other).await;
    assert_eq!(
        app.count("decision").await,
        2,
        "a new identity verification is decided afresh"
    );
}

#[tokio::test]
async fn the_documentation_draft_aliases_answer_like_the_code_paths() {
    let app = spawn_app().await;
    let body = evaluate_2x("iv-a", json!([]), json!(null));
    let (status, answer) = app.post_json("/client/evaluation", &body).await;
    assert_eq!((status, answer["result"].clone()), (200, json!("WAIT")));
    let approve = json!({"processId": "p", "userId": "u", "identityVerificationId": "iv-b", "status": "SUCCESS"});
    let (status, _) = app.post_json("/client/approval", &approve).await;
    assert_eq!(status, 200);
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
