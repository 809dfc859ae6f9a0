//! Security hardening, tried as an attacker would against the real server: the published
//! demo credentials, unbounded metrics, password guessing, cross-site back-office requests.

use std::net::IpAddr;

use futures_util::StreamExt;
use onboarding_adapter::configuration::{
    Credential, DEMO_ADMIN, DEMO_PASSWORD, DEMO_REVIEWER, DEMO_USERNAME, Settings,
};
use onboarding_adapter::startup::Application;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, PASSWORD, USER, assert_error_body, captured_logs, spawn_app, spawn_app_with,
};

/// A client whose connections come from `source` (any address of 127.0.0.0/8 works on
/// Linux's loopback).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

// --- Demo mode -------------------------------------------------------------------------

#[tokio::test]
async fn the_demo_users_and_customers_are_refused_once_real_credentials_are_configured() {
    // The test settings configure callback credentials and back-office users; demo is left
    // unset, as an operator who never heard of it would.
    let app = spawn_app_with(|s| s.demo = None).await;
    for demo in [DEMO_ADMIN, DEMO_REVIEWER] {
        let (status, body) = app.admin_get(demo, "/cases").await;
        assert_eq!(status, 401, "demo user {} must be refused", demo.0);
        assert_error_body(&body, "ERROR_UNAUTHORIZED");
    }
    let (status, _) = app.admin_get(ADMIN, "/cases").await;
    assert_eq!(status, 200, "the configured admin works");
    let response = app
        .client
        .post(app.url("/consent/text"))
        .basic_auth(DEMO_USERNAME, Some(DEMO_PASSWORD))
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401, "demo callback credentials");
    assert_eq!(app.count("customer").await, 0, "no demo customers seeded");
}

#[tokio::test]
async fn the_readme_run_without_configuration_is_the_working_demo() {
    let app = spawn_app_with(|s| {
        let database = s.database.url.take();
        *s = Settings::default();
        s.server.port = 0;
        s.database.url = database;
    })
    .await;
    let (status, _) = app.admin_get(DEMO_ADMIN, "/cases").await;
    assert_eq!(status, 200, "demo admin on a loopback demo");
    let response = app
        .client
        .post(app.url("/consent/text"))
        .basic_auth(DEMO_USERNAME, Some(DEMO_PASSWORD))
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(app.count("customer").await, 3, "demo customers seeded");
}

#[tokio::test]
async fn mixed_demo_and_real_configurations_refuse_to_start() {
    let callback = || Credential {
        username: USER.into(),
        password: SecretString::from(PASSWORD.to_owned()),
    };
    type Change = Box<dyn Fn(&mut Settings)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "demo explicitly on with real credentials",
            Box::new(move |s| {
                s.demo = Some(true);
                s.auth.credentials = vec![callback()];
            }),
            "demo = true cannot be combined with auth.credentials",
        ),
        (
            "real callback credentials, no back-office users, loopback",
            Box::new(move |s| s.auth.credentials = vec![callback()]),
            "backoffice.users is empty",
        ),
        (
            "authentication off on a public listener",
            Box::new(|s| {
                s.demo = Some(false);
                s.auth.enabled = false;
                s.server.host = "0.0.0.0".parse().expect("ip");
            }),
            "auth.enabled = false is only accepted on a loopback",
        ),
        (
            "a short configured password",
            Box::new(|s| {
                s.demo = Some(false);
                s.auth.credentials = vec![Credential {
                    username: "os".into(),
                    password: SecretString::from("short-pw".to_owned()),
                }];
            }),
            "shorter than 12 characters",
        ),
    ];
    for (case, configure, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Settings::default();
        s.server.port = 0;
        s.database.url = Some(SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.sqlite").display()
        )));
        configure(&mut s);
        let err = match Application::build(s).await {
            Ok(_) => panic!("{case}: started"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expected), "{case}: {err}");
        assert!(!err.contains("short-pw"), "{case}: no password in {err}");
    }
}

// --- Metrics ---------------------------------------------------------------------------

#[tokio::test]
async fn twenty_thousand_made_up_methods_and_paths_leave_the_metrics_small() {
    let app = spawn_app().await;
    let client = &app.client;
    let address = &app.address;
    let statuses: Vec<u16> = futures_util::stream::iter(0..20_000u32)
        .map(|i| async move {
            let method = reqwest::Method::from_bytes(format!("X{i}Y").as_bytes()).expect("method");
            let path = if i % 2 == 0 {
                format!("/probe/{i}")
            } else {
                "/health/live".to_owned()
            };
            client
                .request(method, format!("{address}{path}"))
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let distinct: std::collections::BTreeSet<_> = statuses.iter().collect();
    assert!(
        statuses.iter().all(|s| [401, 404, 405].contains(s)),
        "refused: {distinct:?}"
    );
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
        metrics.len() < 100 * 1024,
        "/metrics is {} bytes after 20,000 odd methods",
        metrics.len()
    );
    let other: u64 = metrics
        .lines()
        .filter(|l| l.contains("http_requests_total{") && l.contains(r#"method="other""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        other, 20_000,
        "every odd method counted as other: {metrics}"
    );
    assert!(
        !metrics.contains("X1Y") && !metrics.contains("/probe/"),
        "no label from the request"
    );
}

// --- Login throttling ------------------------------------------------------------------

#[tokio::test]
async fn fifty_wrong_callback_passwords_get_throttled_but_not_the_caller_elsewhere() {
    let app = spawn_app().await;
    let attacker = client_from("127.0.0.1");
    let guess = |client: &reqwest::Client, password: &str| {
        client
            .post(app.url("/consent/text"))
            .basic_auth(USER, Some(password))
            .json(&json!({"processId": "p", "consentType": "GDPR"}))
            .send()
    };
    let mut statuses = Vec::new();
    let mut throttled = None;
    for i in 0..50 {
        let response = guess(&attacker, &format!("guess-{i}-wrong"))
            .await
            .expect("sent");
        statuses.push(response.status().as_u16());
        if response.status().as_u16() == 429 {
            throttled = Some(response);
        }
    }
    let limit = app.settings.throttle.max_failures_per_address as usize;
    assert!(statuses[..limit].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    let throttled = throttled.expect("a 429");
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0 && retry_after <= app.settings.throttle.block_secs);
    let (_, body) = status_and_body(throttled).await;
    let message = assert_error_body(&body, "ERROR_GENERIC");
    assert!(message.contains("too many failed logins"), "{message}");

    let response = guess(&attacker, PASSWORD).await.expect("sent");
    assert_eq!(
        response.status().as_u16(),
        429,
        "the guessing address is refused even with the right password"
    );
    let response = guess(&client_from("127.0.0.2"), PASSWORD)
        .await
        .expect("sent");
    assert_eq!(
        response.status().as_u16(),
        200,
        "the right password from another address still works"
    );

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
        metrics.contains(r#"login_throttled_total{realm="callbacks",reason="address"} 41"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            r#"login_failures_total{{realm="callbacks"}} {limit}"#
        )),
        "{metrics}"
    );
    let logs = captured_logs();
    assert!(logs.contains("login throttled: too many failed logins from one address"));
    assert!(
        !logs.contains("guess-1-wrong"),
        "never a password in the logs"
    );
}

#[tokio::test]
async fn fifty_wrong_back_office_passwords_get_throttled_but_not_the_admin_elsewhere() {
    let app = spawn_app().await;
    let attacker = client_from("127.0.0.1");
    let admin_get = |client: &reqwest::Client, password: &str| {
        client
            .get(format!("{}/admin/cases", app.address))
            .basic_auth(ADMIN.0, Some(password))
            .send()
    };
    let mut last = 0;
    for i in 0..50 {
        last = admin_get(&attacker, &format!("guess-{i}"))
            .await
            .expect("sent")
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
    let response = admin_get(&client_from("127.0.0.3"), ADMIN.1)
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let response = app
        .client
        .post(app.url("/consent/text"))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"processId": "p", "consentType": "GDPR"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status().as_u16(),
        200,
        "the callbacks have their own throttle"
    );
}

#[tokio::test]
async fn a_user_name_guessed_from_many_addresses_keeps_working_from_its_known_address() {
    let app = spawn_app_with(|s| {
        s.throttle.max_failures_per_address = 3;
        s.throttle.max_failures_per_user = 6;
    })
    .await;
    let lookup = |client: reqwest::Client, password: String| {
        let url = app.url("/consent/text");
        async move {
            client
                .post(url)
                .basic_auth(USER, Some(password))
                .json(&json!({"processId": "p", "consentType": "GDPR"}))
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };
    let onboarding_server = client_from("127.0.0.2");
    assert_eq!(
        lookup(onboarding_server.clone(), PASSWORD.into()).await,
        200
    );
    for i in 0..6 {
        let attacker = client_from(&format!("127.0.1.{}", i + 1));
        assert_eq!(lookup(attacker, format!("guess-{i}")).await, 401);
    }
    assert_eq!(
        lookup(client_from("127.0.2.1"), PASSWORD.into()).await,
        429,
        "a first login from a new address waits while the name is under attack"
    );
    assert_eq!(
        lookup(onboarding_server, PASSWORD.into()).await,
        200,
        "the Onboarding Server's known address is never locked out"
    );
}

// --- CSRF ------------------------------------------------------------------------------

#[tokio::test]
async fn body_less_back_office_posts_need_json_and_the_same_origin() {
    let app = spawn_app().await;
    let post = |path: &str| {
        app.client
            .post(format!("{}/admin{path}", app.address))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
    };
    let refused: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (post("/policy/reload"), 415, "no content type"),
        (
            post("/policy/reload").header("Content-Type", "text/plain"),
            415,
            "a simple cross-site form type",
        ),
        (
            post("/outbox/1/retry")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("a=1"),
            415,
            "an HTML form",
        ),
        (
            post("/policy/reload")
                .header("Content-Type", "application/json")
                .header("Origin", "https://evil.example"),
            403,
            "another origin",
        ),
        (
            post("/outbox/1/retry")
                .header("Content-Type", "application/json")
                .header("Sec-Fetch-Site", "cross-site"),
            403,
            "a cross-site fetch",
        ),
    ];
    for (request, expected, case) in refused {
        let (status, body) = status_and_body(request.send().await.expect("sent")).await;
        assert_eq!(status, expected, "{case}");
        assert_error_body(&body, "ERROR_GENERIC");
    }
    assert_eq!(
        app.count_where("audit_log", "action = 'policy.reload'")
            .await,
        0,
        "nothing refused reached the handler"
    );

    let same_origin = format!(
        "http://127.0.0.1:{}",
        app.address.rsplit(':').next().unwrap_or("")
    );
    let response = post("/policy/reload")
        .header("Content-Type", "application/json")
        .header("Origin", same_origin)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status().as_u16(),
        409,
        "accepted by the guard (no policy file to reload)"
    );
    let response = post("/outbox/999/retry")
        .header("Content-Type", "application/json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 404, "accepted by the guard");
}

#[tokio::test]
async fn an_action_without_input_takes_an_empty_body_or_an_empty_object_and_nothing_else() {
    let app = spawn_app().await;
    let purge = |body: &'static str| {
        app.client
            .post(format!("{}/admin/retention/purge", app.address))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    for body in ["", "{}", " { } "] {
        let response = purge(body).await.expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{body:?}");
    }
    for body in [
        "[null, null]",
        "null",
        "7",
        r#""x""#,
        "{",
        r#"{"ignored": true}"#,
    ] {
        let (status, answer) = status_and_body(purge(body).await.expect("sent")).await;
        assert_eq!(status, 400, "{body:?}");
        assert_error_body(&answer, "ERROR_GENERIC");
    }
    assert_eq!(
        app.count_where("audit_log", "action = 'retention.purge'")
            .await,
        3,
        "only the accepted runs are audited"
    );
}
