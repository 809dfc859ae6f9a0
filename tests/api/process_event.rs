use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn envelope(id: &str, event_type: &str, event_data: Value) -> Value {
    json!({"id": id, "timestamp": "2026-07-01T14:30:00Z", "type": event_type,
        "processId": "p-1", "processType": "onboarding", "userId": "C-1001",
        "externalUserId": null, "identityVerificationId": "iv-1", "eventData": event_data})
}

#[tokio::test]
async fn every_2_2_event_type_is_stored_and_acknowledged_with_an_empty_object() {
    let app = spawn_app().await;
    let events = [
        envelope(
            "e-1",
            "DOCUMENT_VERIFICATION_FINISHED",
            json!({"documentVerification": {
            "documentVerificationId": "dv", "documentId": "d", "status": "ACCEPTED", "provider": "zenid", "score": 0,
            "documentVerificationResult": {"type": "ID_CARD", "country": "CZE", "data": {"surname": "NOVAK"},
                "images": [{"type": "FACE_IMAGE", "data": "AAAA"}], "rawData": {"x": 1}}}}),
        ),
        envelope(
            "e-2",
            "FINAL_DOCUMENT_VERIFICATION_FINISHED",
            json!({"finalDocumentVerification": {
            "documentVerificationId": "dv", "status": "ACCEPTED", "provider": "zenid", "documentIds": ["d"]}}),
        ),
        envelope(
            "e-3",
            "PRESENCE_CHECK_FINISHED",
            json!({"presenceCheck": {"status": "ACCEPTED", "provider": "iproov",
            "score": 10, "presenceCheckResult": null}}),
        ),
        envelope(
            "e-4",
            "PROCESS_FINISHED",
            json!({"process": {"status": "FINISHED", "errorDetail": null,
            "deviceData": {"locale": "EN", "ipAddress": "192.0.2.1", "httpUserAgent": "app", "fdsData": {}}}}),
        ),
    ];
    for event in &events {
        let (status, body) = app.post_json("/process/event", event).await;
        assert_eq!((status, body), (200, json!({})), "{}", event["type"]);
    }
    let rows = app
        .rows("SELECT event_id, event_type, occurred_at, payload FROM process_event ORDER BY id")
        .await;
    assert_eq!(rows.len(), 4);
    let payload: Value = rows[0].try_get("", "payload").expect("col");
    assert_eq!(
        payload["eventData"]["documentVerification"]["documentVerificationResult"]["rawData"],
        json!({"x": 1})
    );
    assert_eq!(
        rows[3]
            .try_get::<Option<String>>("", "occurred_at")
            .expect("col"),
        Some("2026-07-01T14:30:00Z".into())
    );
}

#[tokio::test]
async fn a_repeated_event_id_is_acknowledged_and_stored_once() {
    let app = spawn_app().await;
    let event = envelope(
        "dup-1",
        "PRESENCE_CHECK_FINISHED",
        json!({"presenceCheck": {"status": "REJECTED"}}),
    );
    for _ in 0..3 {
        let (status, _) = app.post_json("/process/event", &event).await;
        assert_eq!(status, 200);
    }
    let concurrent =
        futures_util::future::join_all((0..6).map(|_| app.post_json("/process/event", &event)))
            .await;
    assert!(concurrent.iter().all(|(s, _)| *s == 200));
    assert_eq!(app.count("process_event").await, 1);
}

/// Small and large events (a document event with its image; stored by a different kind of
/// write unit) sent concurrently and repeatedly: each id is stored once, with its payload.
#[tokio::test]
async fn small_and_large_events_repeated_concurrently_are_each_stored_once() {
    let app = spawn_app().await;
    let image = "A".repeat(200 * 1024);
    let events: Vec<Value> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                envelope(
                    &format!("large-{i}"),
                    "DOCUMENT_VERIFICATION_FINISHED",
                    json!({"documentVerification": {"status": "ACCEPTED",
                        "documentVerificationResult": {"images": [{"type": "FACE_IMAGE", "data": image}]}}}),
                )
            } else {
                envelope(
                    &format!("small-{i}"),
                    "PRESENCE_CHECK_FINISHED",
                    json!({"presenceCheck": {"status": "ACCEPTED"}}),
                )
            }
        })
        .collect();
    let sends = events
        .iter()
        .chain(events.iter())
        .chain(events.iter())
        .map(|e| app.post_json("/process/event", e));
    let answers = futures_util::future::join_all(sends).await;
    assert!(
        answers.iter().all(|a| a == &(200, json!({}))),
        "{answers:?}"
    );
    let rows = app
        .rows("SELECT event_id, payload FROM process_event ORDER BY event_id")
        .await;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get::<Option<String>>("", "event_id")
                .unwrap()
                .unwrap()
        })
        .collect();
    let mut expected: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let large: Value = rows[0].try_get("", "payload").unwrap();
    assert_eq!(
        large["eventData"]["documentVerification"]["documentVerificationResult"]["images"][0]
            ["data"]
            .as_str()
            .map(str::len),
        Some(200 * 1024)
    );
    assert_eq!(app.count("process").await, 1);
}

#[tokio::test]
async fn a_1x_finished_event_with_flat_data_is_stored_every_time() {
    let app = spawn_app().await;
    let event = json!({"processId": "p-1", "identityVerificationId": "iv", "userId": "u", "type": "FINISHED",
        "data": {"language": "cs", "httpUserAgent": "app", "clientIPAddress": "192.0.2.1", "requestId": "r", "fdsKey": "v"}});
    for _ in 0..2 {
        assert_eq!(app.post_json("/process/event", &event).await.0, 200);
    }
    assert_eq!(
        app.count("process_event").await,
        2,
        "no id: nothing to de-duplicate on"
    );
    let payload: Value = app.rows("SELECT payload FROM process_event").await[0]
        .try_get("", "payload")
        .expect("col");
    assert_eq!(payload["data"]["fdsKey"], "v");
}

#[tokio::test]
async fn unknown_event_types_and_unknown_fields_are_kept_as_sent() {
    let app = spawn_app().await;
    let event = json!({"id": "x-1", "type": "SOMETHING_NEW", "processId": "p", "futureField": {"a": [1, 2]}, "externalId": "ext"});
    assert_eq!(app.post_json("/process/event", &event).await.0, 200);
    let rows = app
        .rows("SELECT event_type, external_user_id, payload FROM process_event")
        .await;
    assert_eq!(
        rows[0].try_get::<String>("", "event_type").expect("col"),
        "SOMETHING_NEW"
    );
    assert_eq!(
        rows[0]
            .try_get::<Option<String>>("", "external_user_id")
            .expect("col"),
        Some("ext".into())
    );
    let payload: Value = rows[0].try_get("", "payload").expect("col");
    assert_eq!(payload["futureField"], json!({"a": [1, 2]}));
}
