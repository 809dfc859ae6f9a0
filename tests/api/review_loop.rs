use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use onboarding_adapter::clock::ManualClock;
use onboarding_adapter::configuration::Settings;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, PASSWORD, REVIEWER, TestApp, USER, spawn_app_with, spawn_app_with_clock,
};
use crate::onboarding_peer::{OAUTH_CLIENT, OAUTH_SECRET, PEER_PASSWORD, PEER_USER, Peer, Reply};

fn wire(s: &mut Settings, peer: &Peer) {
    s.onboarding_server.url = Some(peer.url.clone());
    s.onboarding_server.username = Some(PEER_USER.into());
    s.onboarding_server.password = Some(SecretString::from(PEER_PASSWORD.to_owned()));
    s.onboarding_server.timeout_ms = 1000;
    s.delivery.poll_interval_ms = 20;
    s.delivery.initial_backoff_ms = 20;
    s.delivery.max_backoff_ms = 100;
}

fn evaluate(iv: &str) -> Value {
    json!({"processId": format!("p-{iv}"), "processType": "onboarding", "identityVerificationId": iv,
        "userId": "C-1001", "verificationId": "v", "provider": "mock", "status": "SUCCESS",
        "documentCheckResult": {"person": null, "documents": [{"type": "ID_CARD", "status": "SUCCESS", "images": []}]}})
}

async fn open_case(app: &TestApp, iv: &str) -> i64 {
    let (status, answer) = app.post_json("/client/evaluate", evaluate(iv)).await;
    assert_eq!(
        (status, answer["result"].clone()),
        (200, json!("WAIT")),
        "{answer}"
    );
    let (_, page) = app
        .admin_get(REVIEWER, "/cases?status=OPEN&pageSize=200")
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["identityVerificationId"] == iv)
        .and_then(|c| c["id"].as_i64())
        .expect("the WAIT opened a case")
}

async fn resolve(app: &TestApp, case: i64, result: &str, reason: &str) -> Value {
    let (status, body) = app
        .admin_post(
            REVIEWER,
            &format!("/cases/{case}/resolve"),
            json!({"result": result, "reasonCode": reason, "note": "checked by hand"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn delivery_status(app: &TestApp, case: i64, expected: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, detail) = app.admin_get(REVIEWER, &format!("/cases/{case}")).await;
        if detail["delivery"]["status"] == expected || std::time::Instant::now() > deadline {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn wait_then_resolution_delivers_exactly_one_callback_with_basic_auth() {
    let peer = Peer::start();
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-1").await;
    let resolved = resolve(&app, case, "NOK", "DOCUMENT_SUSPICIOUS").await;
    assert_eq!(resolved["status"], "RESOLVED");
    assert_eq!(resolved["resolvedBy"], REVIEWER.0);

    let detail = delivery_status(&app, case, "DELIVERED").await;
    assert_eq!(detail["delivery"]["status"], "DELIVERED", "{detail}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = peer.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].path, "/api/private/client/evaluate");
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PEER_USER}:{PEER_PASSWORD}"))
    );
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(expected_auth.as_str())
    );
    assert_eq!(
        calls[0].body,
        json!({"processId": "p-iv-1", "userId": "C-1001", "identityVerificationId": "iv-1",
            "evaluationResult": "NOK", "resultReason": "DOCUMENT_SUSPICIOUS"})
    );
    // A re-call of evaluate now gets the resolution, and no second case is opened.
    let (_, again) = app.post_json("/client/evaluate", evaluate("iv-1")).await;
    assert_eq!(
        again,
        json!({"result": "NOK", "resultReason": "DOCUMENT_SUSPICIOUS"})
    );
    assert_eq!(app.count("review_case").await, 1);
}

#[tokio::test]
async fn approve_resolutions_use_the_approve_path_and_field() {
    let peer = Peer::start();
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let body = json!({"processId": "p-a", "processType": "onboarding", "userId": "C-1", "identityVerificationId": "iv-a",
        "provider": "iproov", "status": "SUCCESS", "score": 3, "presenceCheckResult": {"frame": null}});
    assert_eq!(
        app.post_json("/client/approve", body).await.1,
        json!({"result": "WAIT", "resultReason": "LOW_PRESENCE_SCORE"})
    );
    let (_, page) = app
        .admin_get(REVIEWER, "/cases?decisionPoint=approve")
        .await;
    let case = page["items"][0]["id"].as_i64().expect("case");
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let calls = peer.wait_for_calls(1, Duration::from_secs(5)).await;
    assert_eq!(calls[0].path, "/api/private/client/approve");
    assert_eq!(calls[0].body["approvalResult"], "OK");
    assert!(calls[0].body.get("evaluationResult").is_none());
}

#[tokio::test]
async fn a_repeated_wait_while_the_case_is_open_stays_wait_without_a_second_case() {
    let app = spawn_app_with(|_| {}).await;
    let answers = futures_util::future::join_all(
        (0..8).map(|_| app.post_json("/client/evaluate", evaluate("iv-c"))),
    )
    .await;
    for (status, answer) in &answers {
        assert_eq!(
            (*status, answer["result"].clone()),
            (200, json!("WAIT")),
            "{answer}"
        );
    }
    assert_eq!(app.count("review_case").await, 1);
    assert_eq!(app.count("decision").await, 1);
}

#[tokio::test]
async fn a_peer_answering_503_twice_then_ok_gets_the_callback_delivered_once() {
    let peer = Peer::start();
    peer.script([
        Reply::status(503, json!({"error": "busy"})),
        Reply::status(503, json!({"error": "busy"})),
    ]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-2").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "DELIVERED").await;
    assert_eq!(detail["delivery"]["attempts"], 3, "{detail}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        peer.calls().len(),
        3,
        "two refused attempts and one delivery"
    );
}

#[tokio::test]
async fn a_nok_answer_is_terminal_and_recorded_without_retries() {
    let peer = Peer::start();
    peer.script([Reply::status(
        200,
        json!({"result": "NOK",
        "resultReason": "Acknowledgement failed. Process not found or in invalid state."}),
    )]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-3").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "REJECTED").await;
    assert_eq!(detail["delivery"]["status"], "REJECTED", "{detail}");
    assert_eq!(
        detail["delivery"]["responseReason"],
        "Acknowledgement failed. Process not found or in invalid state."
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer.calls().len(), 1);
}

#[tokio::test]
async fn a_timed_out_attempt_that_was_applied_is_recognised_on_the_retry() {
    let peer = Peer::start();
    peer.script([
        Reply::ok().delayed(Duration::from_millis(1500)),
        Reply::status(200, json!({"result": "NOK",
            "resultReason": "Acknowledgement validation failed. Identity verification is not in IN_PROGRESS state."})),
    ]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-4").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "DELIVERED_EARLIER").await;
    assert_eq!(
        detail["delivery"]["status"], "DELIVERED_EARLIER",
        "{detail}"
    );
    assert_eq!(peer.calls().len(), 2);
}

/// The Onboarding Server's `ErrorResponse`, as its exception handler writes it.
fn error_response(code: &str, message: &str) -> Value {
    json!({"status": "ERROR", "responseObject": {"code": code, "message": message}})
}

#[tokio::test]
async fn an_uncertain_delivery_refused_for_the_phase_is_delivered_earlier_without_alert() {
    let peer = Peer::start();
    peer.script([
        // Applied, but the answer comes after the adapter's 1 s timeout.
        Reply::ok().delayed(Duration::from_millis(1500)),
        Reply::status(
            400,
            error_response(
                "ERROR_GENERIC",
                "Identity verification is not in CLIENT_EVALUATION phase.",
            ),
        ),
    ]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-phase").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "DELIVERED_EARLIER").await;
    let delivery = &detail["delivery"];
    assert_eq!(delivery["status"], "DELIVERED_EARLIER", "{detail}");
    assert_eq!(delivery["outcomeClass"], "ALREADY_APPLIED");
    assert_eq!(delivery["alert"], false);
    assert_eq!(
        delivery["responseReason"],
        "ERROR_GENERIC: Identity verification is not in CLIENT_EVALUATION phase."
    );
    assert_eq!(delivery["lastHttpStatus"], 400);
    assert_eq!(peer.calls().len(), 2);
}

#[tokio::test]
async fn a_plain_400_is_rejected_with_an_alert_and_the_servers_text() {
    let peer = Peer::start();
    peer.script([Reply::status(
        400,
        error_response("INVALID_REQUEST", "Invalid request"),
    )]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-400").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "REJECTED").await;
    let delivery = &detail["delivery"];
    assert_eq!(delivery["status"], "REJECTED", "{detail}");
    assert_eq!(delivery["outcomeClass"], "REJECTED");
    assert_eq!(delivery["alert"], true);
    assert_eq!(
        delivery["responseReason"],
        "INVALID_REQUEST: Invalid request"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer.calls().len(), 1, "a rejection is not retried");
    // The same phase refusal without an uncertain attempt before it is a rejection too:
    // the result was never taken.
    let peer2 = Peer::start();
    peer2.script([Reply::status(
        400,
        error_response(
            "ERROR_GENERIC",
            "Identity verification is not in CLIENT_EVALUATION phase.",
        ),
    )]);
    let app2 = spawn_app_with(|s| wire(s, &peer2)).await;
    let case2 = open_case(&app2, "iv-400b").await;
    resolve(&app2, case2, "OK", "MANUALLY_APPROVED").await;
    let detail2 = delivery_status(&app2, case2, "REJECTED").await;
    assert_eq!(detail2["delivery"]["alert"], true, "{detail2}");
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_no_sooner_than_asked() {
    let peer = Peer::start();
    peer.script([Reply::status(503, json!({"error": "maintenance"})).retry_after(3)]);
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-retry-after").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let calls = peer.wait_for_calls(1, Duration::from_secs(5)).await;
    assert_eq!(calls.len(), 1);
    let first = std::time::Instant::now();
    let detail = delivery_status(&app, case, "DELIVERED").await;
    assert_eq!(detail["delivery"]["status"], "DELIVERED", "{detail}");
    // MariaDB keeps whole seconds: the retry is due 2-3 s after the first attempt.
    assert!(
        first.elapsed() >= Duration::from_millis(1800),
        "the back-off alone is 20-100 ms; the retry waited for Retry-After: {:?}",
        first.elapsed()
    );
    assert_eq!(detail["delivery"]["attempts"], 2);
}

fn wire_oauth(s: &mut Settings, peer: &Peer) {
    wire(s, peer);
    s.onboarding_server.username = None;
    s.onboarding_server.password = None;
    s.onboarding_server.oauth2 = Some(onboarding_adapter::configuration::OAuth2Settings {
        token_url: format!("{}/oauth/token", peer.url),
        client_id: OAUTH_CLIENT.into(),
        client_secret: SecretString::from(OAUTH_SECRET.to_owned()),
        scope: Some("onboarding:callback".into()),
        audience: None,
        client_auth: onboarding_adapter::configuration::OAuth2ClientAuth::Basic,
    });
}

#[tokio::test]
async fn resolutions_are_delivered_with_oauth_tokens_that_expire_after_two_seconds() {
    let peer = Peer::start();
    peer.require_oauth(Duration::from_secs(2));
    let app = spawn_app_with(|s| wire_oauth(s, &peer)).await;
    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(open_case(&app, &format!("iv-oauth-{i}")).await);
    }
    for (i, case) in cases.iter().enumerate() {
        if i > 0 {
            // Past the lifetime of the token the previous delivery used.
            tokio::time::sleep(Duration::from_millis(2200)).await;
        }
        resolve(&app, *case, "OK", "MANUALLY_APPROVED").await;
        let detail = delivery_status(&app, *case, "DELIVERED").await;
        assert_eq!(detail["delivery"]["status"], "DELIVERED", "{detail}");
        assert_eq!(detail["delivery"]["attempts"], 1, "never a failed attempt");
    }
    let calls = peer.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer token-"))),
        "{calls:?}"
    );
    let (token_requests, _) = peer.oauth_counts();
    assert!(
        token_requests >= 3,
        "a new token for each delivery after the last expired: {token_requests}"
    );
    assert!(
        !crate::helpers::captured_logs().contains(OAUTH_SECRET),
        "the client secret never reaches a log line"
    );
}

#[tokio::test]
async fn a_token_the_server_refuses_is_replaced_once_and_the_call_sent_again() {
    let peer = Peer::start();
    peer.require_oauth(Duration::from_secs(60));
    let app = spawn_app_with(|s| wire_oauth(s, &peer)).await;
    let first = open_case(&app, "iv-revoke-1").await;
    resolve(&app, first, "OK", "MANUALLY_APPROVED").await;
    delivery_status(&app, first, "DELIVERED").await;
    // The identity provider revokes every token; the adapter's cached one is now refused.
    peer.revoke_tokens();
    let second = open_case(&app, "iv-revoke-2").await;
    resolve(&app, second, "NOK", "FRAUD_SUSPECTED").await;
    let detail = delivery_status(&app, second, "DELIVERED").await;
    assert_eq!(detail["delivery"]["status"], "DELIVERED", "{detail}");
    assert_eq!(
        detail["delivery"]["attempts"], 1,
        "the same attempt, sent again"
    );
    assert_eq!(peer.oauth_counts(), (2, 1), "one refusal, one new token");
}

#[tokio::test]
async fn a_client_the_identity_provider_refuses_fails_with_an_auth_alert() {
    let peer = Peer::start();
    peer.require_oauth(Duration::from_secs(60));
    let app = spawn_app_with(|s| {
        wire_oauth(s, &peer);
        if let Some(o) = &mut s.onboarding_server.oauth2 {
            o.client_secret = SecretString::from("wrong-secret".to_owned());
        }
    })
    .await;
    let case = open_case(&app, "iv-bad-client").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    let detail = delivery_status(&app, case, "FAILED").await;
    let delivery = &detail["delivery"];
    assert_eq!(delivery["status"], "FAILED", "{detail}");
    assert_eq!(delivery["outcomeClass"], "AUTH_FAILED");
    assert_eq!(delivery["alert"], true);
    assert!(peer.calls().is_empty(), "nothing sent without a token");
    assert!(!crate::helpers::captured_logs().contains("wrong-secret"));
}

#[tokio::test]
async fn a_static_header_authenticates_the_delivery_instead_of_basic_auth() {
    let peer = Peer::start();
    let app = spawn_app_with(|s| {
        wire(s, &peer);
        s.onboarding_server.username = None;
        s.onboarding_server.password = None;
        s.onboarding_server.header = Some(onboarding_adapter::configuration::StaticHeader {
            name: "X-Api-Key".into(),
            value: SecretString::from("gateway-key-1234567890".to_owned()),
        });
    })
    .await;
    let case = open_case(&app, "iv-header").await;
    resolve(&app, case, "OK", "MANUALLY_APPROVED").await;
    delivery_status(&app, case, "DELIVERED").await;
    let calls = peer.calls();
    assert_eq!(calls[0].api_key.as_deref(), Some("gateway-key-1234567890"));
    assert_eq!(calls[0].authorization, None);
}

#[tokio::test]
async fn the_delivery_carries_the_trace_of_the_resolving_request() {
    let peer = Peer::start();
    let app = spawn_app_with(|s| wire(s, &peer)).await;
    let case = open_case(&app, "iv-trace").await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .post(format!("{}/admin/cases/{case}/resolve", app.address))
        .basic_auth(REVIEWER.0, Some(REVIEWER.1))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"result": "OK", "reasonCode": "MANUALLY_APPROVED"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    delivery_status(&app, case, "DELIVERED").await;
    let calls = peer.calls();
    let traceparent = calls[0].traceparent.as_deref().expect("a traceparent");
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{traceparent}");
    assert_eq!((fields[0], fields[1], fields[3]), ("00", trace_id, "01"));
    assert_ne!(fields[2], "00f067aa0ba902b7", "a child: a new parent id");
    assert!(
        crate::helpers::captured_logs().contains(trace_id),
        "the trace id is logged"
    );
}

#[tokio::test]
async fn a_peer_down_past_the_horizon_leaves_a_failed_message_an_admin_can_retry() {
    let app = spawn_app_with(|s| {
        s.onboarding_server.url = Some("http://127.0.0.1:9".into());
        s.onboarding_server.connect_timeout_ms = 200;
        s.delivery.poll_interval_ms = 20;
        s.delivery.initial_backoff_ms = 20;
        s.delivery.max_backoff_ms = 50;
        s.delivery.horizon_secs = 1;
    })
    .await;
    let case = open_case(&app, "iv-5").await;
    resolve(&app, case, "NOK", "FRAUD_SUSPECTED").await;
    let detail = delivery_status(&app, case, "FAILED").await;
    assert_eq!(detail["delivery"]["status"], "FAILED", "{detail}");
    assert!(
        detail["delivery"]["lastError"]
            .as_str()
            .expect("error")
            .contains("gave up"),
        "{detail}"
    );
    let (status, failed) = app.admin_get(ADMIN, "/outbox?status=FAILED").await;
    assert_eq!(status, 200);
    assert_eq!(failed["total"], 1);
    let id = failed["items"][0]["id"].as_i64().expect("id");
    let (status, retried) = app
        .admin_post(ADMIN, &format!("/outbox/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 200, "{retried}");
    assert!(matches!(
        retried["status"].as_str(),
        Some("PENDING" | "SENDING" | "FAILED")
    ));
    let (status, _) = app
        .admin_post(ADMIN, &format!("/outbox/{id}/retry"), json!({}))
        .await;
    assert!(matches!(status, 200 | 409));
}

#[tokio::test]
async fn open_cases_past_the_deadline_are_resolved_by_the_expiry_policy_and_delivered() {
    let peer = Peer::start();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_app_with_clock(|s| wire(s, &peer), clock.clone()).await;
    let case = open_case(&app, "iv-6").await;
    let (_, detail) = app.admin_get(REVIEWER, &format!("/cases/{case}")).await;
    assert_eq!(detail["status"], "OPEN");
    clock.advance(chrono::Duration::minutes(39));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        app.admin_get(REVIEWER, &format!("/cases/{case}")).await.1["status"],
        "OPEN"
    );
    clock.advance(chrono::Duration::minutes(2));
    let detail = delivery_status(&app, case, "DELIVERED").await;
    assert_eq!(detail["status"], "EXPIRED", "{detail}");
    assert_eq!(detail["resolution"], "NOK");
    assert_eq!(detail["resolutionReason"], "REVIEW_DEADLINE_EXCEEDED");
    let calls = peer.wait_for_calls(1, Duration::from_secs(5)).await;
    assert_eq!(calls[0].body["evaluationResult"], "NOK");
    assert_eq!(calls[0].body["resultReason"], "REVIEW_DEADLINE_EXCEEDED");
    let (status, _) = app
        .admin_post(
            REVIEWER,
            &format!("/cases/{case}/resolve"),
            json!({"result": "OK", "reasonCode": "LATE"}),
        )
        .await;
    assert_eq!(status, 409, "an expired case cannot be resolved again");
}

#[tokio::test]
async fn back_office_auth_keeps_roles_and_callback_credentials_apart() {
    let app = spawn_app_with(|_| {}).await;
    let case = open_case(&app, "iv-7").await;
    let anonymous = app
        .client
        .get(format!("{}/admin/cases", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("backoffice")
    );
    assert_eq!(
        app.admin_get((USER, PASSWORD), "/cases").await.0,
        401,
        "callback credentials do not open the back-office"
    );
    assert_eq!(app.admin_get((REVIEWER.0, "wrong"), "/cases").await.0, 401);
    assert_eq!(
        app.admin_get(REVIEWER, "/outbox").await.0,
        403,
        "reviewers cannot see the outbox"
    );
    assert_eq!(app.admin_get(REVIEWER, "/audit").await.0, 403);
    assert_eq!(app.admin_get(ADMIN, "/outbox").await.0, 200);
    assert_eq!(
        app.admin_get(ADMIN, &format!("/cases/{case}")).await.0,
        200,
        "admins can do what reviewers do"
    );
    // Staff credentials do not open the callbacks either.
    let response = app
        .client
        .post(app.url("/client/evaluate"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&evaluate("iv-8"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);

    let (status, bad) = app
        .admin_post(
            REVIEWER,
            &format!("/cases/{case}/resolve"),
            json!({"result": "MAYBE", "reasonCode": "X"}),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let (status, _) = app
        .admin_post(
            REVIEWER,
            &format!("/cases/{case}/resolve"),
            json!({"result": "OK", "reasonCode": "not a code"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.admin_get(REVIEWER, "/cases/999999").await.0, 404);
    assert_eq!(app.admin_get(REVIEWER, "/cases/abc").await.0, 404);
    assert_eq!(app.admin_get(REVIEWER, "/cases?pageSize=0").await.0, 400);

    let (_, audit) = app.admin_get(ADMIN, "/audit?pageSize=200").await;
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_owned(),
                e["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        actions.contains(&(REVIEWER.0.to_owned(), "case.list".to_owned())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(ADMIN.0.to_owned(), "case.read".to_owned())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(ADMIN.0.to_owned(), "outbox.list".to_owned())),
        "{actions:?}"
    );
}

/// PostgreSQL only: two instances on one database and one slow peer deliver every
/// resolution exactly once.
#[tokio::test]
async fn two_instances_on_postgres_deliver_every_resolution_exactly_once() {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    if !url.starts_with("postgres") {
        return;
    }
    let peer = Peer::start();
    peer.set_default_delay(Duration::from_millis(50));
    let first = spawn_app_with(|s| wire(s, &peer)).await;
    let shared_url = first.settings.database_url();
    let second = spawn_app_with(|s| {
        wire(s, &peer);
        s.database.url = Some(SecretString::from(shared_url));
    })
    .await;
    let n = 30;
    let mut cases = Vec::new();
    for i in 0..n {
        let app = if i % 2 == 0 { &first } else { &second };
        cases.push(open_case(app, &format!("iv-pg-{i}")).await);
    }
    let resolutions = cases.iter().enumerate().map(|(i, case)| {
        let app = if i % 2 == 0 { &second } else { &first };
        resolve(app, *case, "OK", "MANUALLY_APPROVED")
    });
    futures_util::future::join_all(resolutions).await;
    let delivered = first
        .wait_for_count(
            "SELECT COUNT(*) AS n FROM outbox_message WHERE status = 'DELIVERED'",
            n,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(delivered, n);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = peer.calls();
    let distinct: std::collections::HashSet<String> = calls
        .iter()
        .map(|c| {
            c.body["identityVerificationId"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    println!(
        "two instances: {} resolutions, {} peer calls, {} distinct",
        n,
        calls.len(),
        distinct.len()
    );
    assert_eq!(
        calls.len(),
        n as usize,
        "each resolution delivered exactly once"
    );
    assert_eq!(distinct.len(), n as usize);
}
