use onboarding_adapter::configuration::{Credential, Settings};
use onboarding_adapter::routes::CALLBACK_PATHS;
use onboarding_adapter::startup::authenticator;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{PASSWORD, USER, assert_error_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_callback_refuses_missing_or_wrong_credentials_with_401_and_a_challenge() {
    // 27 wrong logins from one address: more than the login throttle lets through.
    let app = spawn_app_with(|s| s.throttle.max_failures_per_address = 1000).await;
    let wrong: [(Option<(&str, &str)>, &str); 4] = [
        (None, "no credentials"),
        (Some((USER, "wrong-password")), "wrong password"),
        (Some(("someone-else", PASSWORD)), "unknown user"),
        (Some(("", "")), "empty credentials"),
    ];
    for path in CALLBACK_PATHS {
        for (credentials, case) in &wrong {
            let mut request = app
                .client
                .post(app.url(path))
                .json(&json!({"processId": "p"}));
            if let Some((u, p)) = credentials {
                request = request.basic_auth(u, Some(p));
            }
            let response = request.send().await.expect("sent");
            assert_eq!(response.status().as_u16(), 401, "{path}: {case}");
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            assert!(
                challenge.starts_with("Basic realm=\"onboarding-adapter\""),
                "{path}: {case}: {challenge}"
            );
            let body: serde_json::Value = response.json().await.expect("json body");
            assert_error_body(&body, "ERROR_UNAUTHORIZED");
        }
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_is_a_401_not_a_400() {
    let app = spawn_app().await;
    for header in [
        "Basic",
        "Basic !!!not-base64",
        "Bearer abc",
        "Basic dXNlcm5hbWU=",
    ] {
        let response = app
            .client
            .post(app.url("/user/lookup"))
            .header("Authorization", header)
            .json(&json!({"processId": "p"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 401, "{header}");
    }
}

#[tokio::test]
async fn several_configured_credentials_are_all_accepted_for_rotation() {
    let app = spawn_app_with(|s| {
        s.auth.credentials.push(Credential {
            username: "next".into(),
            password: SecretString::from("next-secret-0123".to_owned()),
        });
    })
    .await;
    for (user, password) in [(USER, PASSWORD), ("next", "next-secret-0123")] {
        let response = app
            .client
            .post(app.url("/consent/text"))
            .basic_auth(user, Some(password))
            .json(&json!({"processId": "p", "consentType": "GDPR", "language": "en"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{user}");
    }
}

#[tokio::test]
async fn authentication_can_only_be_switched_off_explicitly() {
    let app = spawn_app_with(|s| {
        s.auth.enabled = false;
        s.auth.credentials.clear();
    })
    .await;
    let response = app
        .client
        .post(app.url("/consent/text"))
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn without_credentials_the_service_refuses_to_start_unless_demo_mode_on_loopback() {
    let mut s = Settings::default();
    assert!(s.auth.credentials.is_empty());
    assert!(authenticator(&s).expect("demo on loopback").is_some());

    s.server.host = "0.0.0.0".parse().expect("ip");
    let err = authenticator(&s).expect_err("exposed without credentials");
    assert!(err.to_string().contains("refusing to serve"), "{err}");

    s.server.host = "127.0.0.1".parse().expect("ip");
    s.demo = Some(false);
    assert!(
        authenticator(&s).is_err(),
        "demo mode off needs credentials"
    );
}

#[tokio::test]
async fn health_and_metrics_need_no_credentials() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/ready", "/metrics"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}
