//! `/otp/send` against a real SMTP server (the in-process sink of `smtp_sink.rs`).

use std::time::{Duration, Instant};

use entity::{otp_delivery, process_contact};
use mail_parser::MessageParser;
use onboarding_adapter::configuration::{AddressFallback, Settings, SmtpTls, UnknownUser};
use onboarding_adapter::storage::customers::{self, NewCustomer};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, USER, captured_logs, spawn_app, spawn_app_with};
use crate::smtp_sink::{Mode, Received, SmtpSink, TestCa, TlsMode};

/// A test app mailing through `sink` in plain SMTP, with a short deadline.
async fn spawn_with_sink(sink: &SmtpSink, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let port = sink.port;
    spawn_app_with(move |s| {
        s.mail.smtp_host = Some("127.0.0.1".into());
        s.mail.smtp_port = Some(port);
        s.mail.smtp_tls = SmtpTls::Plain;
        s.mail.from_address = "otp@bank.test".into();
        s.mail.from_name = Some("Test Bank".into());
        s.mail.reply_to = Some("help@bank.test".into());
        s.mail.smtp_connect_timeout_ms = 1500;
        s.otp.deadline_ms = 2000;
        configure(s);
    })
    .await
}

fn otp(
    process: &str,
    user: &str,
    language: Value,
    code: &str,
    otp_type: &str,
    resend: bool,
) -> Value {
    json!({"processId": process, "processType": "onboarding", "userId": user, "language": language,
        "otpCode": code, "otpType": otp_type, "resend": resend})
}

async fn send(app: &TestApp, body: &Value) -> Value {
    let (status, answer) = app.post_json("/otp/send", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn deliveries(app: &TestApp) -> Vec<otp_delivery::Model> {
    otp_delivery::Entity::find()
        .order_by_asc(otp_delivery::Column::Id)
        .all(&app.db)
        .await
        .expect("deliveries")
}

fn parsed(received: &Received) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(&received.data)
        .expect("a parsable message")
}

fn not_sent() -> Value {
    json!({"otpSent": false})
}

fn sent() -> Value {
    json!({"otpSent": true})
}

#[tokio::test]
async fn without_a_delivery_channel_otp_sent_is_false_and_the_attempt_is_recorded_without_the_code()
{
    let app = spawn_app().await;
    let code = "58104736";
    let body = otp("p", "C-1001", json!("cs"), code, "USER_VERIFICATION", true);
    assert_eq!(send(&app, &body).await, not_sent());
    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].otp_type, "USER_VERIFICATION");
    assert_eq!(rows[0].outcome, "NOT_CONFIGURED");
    assert!(rows[0].resend);
    assert!(!format!("{rows:?}").contains(code));
    assert!(!captured_logs().contains(code));
}

#[tokio::test]
async fn the_code_is_mailed_to_the_registry_address_in_the_requested_language_with_tracing_headers()
{
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;

    let response = app
        .client
        .post(app.url("/otp/send"))
        .basic_auth(USER, Some(PASSWORD))
        .header("X-Correlation-Id", "corr-otp-4711")
        .json(&otp(
            "p-1",
            "C-1001",
            json!("cs"),
            "48213907",
            "USER_VERIFICATION",
            false,
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.expect("json"), sent());

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, vec!["jan.novak@example.com"]);
    assert_eq!(messages[0].mail_from, "otp@bank.test");
    let mail = parsed(&messages[0]);
    assert_eq!(mail.subject(), Some("Kód pro ověření totožnosti"));
    let from = mail.from().and_then(|f| f.first()).expect("From");
    assert_eq!(
        (from.name(), from.address()),
        (Some("Test Bank"), Some("otp@bank.test"))
    );
    let reply_to = mail.reply_to().and_then(|r| r.first()).expect("Reply-To");
    assert_eq!(reply_to.address(), Some("help@bank.test"));
    let to = mail.to().and_then(|t| t.first()).expect("To");
    assert_eq!(to.address(), Some("jan.novak@example.com"));
    let text = mail.body_text(0).expect("text part");
    let html = mail.body_html(0).expect("html part");
    assert!(
        text.contains("48213907") && text.contains("Platnost kódu: 5 min"),
        "{text}"
    );
    assert!(
        html.contains("48213907") && html.contains(r#"<html lang="cs">"#),
        "{html}"
    );
    assert_eq!(
        mail.header("X-Correlation-Id").and_then(|h| h.as_text()),
        Some("corr-otp-4711")
    );
    assert_eq!(
        mail.header("Auto-Submitted").and_then(|h| h.as_text()),
        Some("auto-generated")
    );
    let message_id = mail.message_id().expect("Message-ID").to_owned();
    assert!(message_id.ends_with("@bank.test"), "{message_id}");

    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.outcome, "SENT");
    assert_eq!(row.smtp_code, Some(250));
    assert_eq!(row.destination_masked.as_deref(), Some("j***@example.com"));
    assert_eq!(row.destination_source.as_deref(), Some("REGISTRY"));
    assert_eq!(row.mail_language.as_deref(), Some("cs"));
    assert_eq!(
        row.message_id.as_deref(),
        Some(format!("<{message_id}>").as_str())
    );
    assert_eq!(row.correlation_id, "corr-otp-4711");
    assert_eq!(
        (row.error_class.as_deref(), row.detail.as_deref()),
        (None, None)
    );
    assert!(row.smtp_ms.is_some() && row.duration_ms >= row.smtp_ms.unwrap_or_default());
}

#[tokio::test]
async fn an_unsupported_language_falls_back_to_the_customers_then_the_configured_language() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;
    for (user, language, otp_type, subject) in [
        (
            "C-1001",
            json!("de"),
            "ACTIVATION",
            "Aktivační kód mobilního bankovnictví",
        ),
        (
            "C-1003",
            json!("de"),
            "ACTIVATION",
            "Your mobile banking activation code",
        ),
        (
            "C-1003",
            Value::Null,
            "USER_VERIFICATION",
            "Your identity verification code",
        ),
        (
            "C-1003",
            json!("CS-cz"),
            "ACTIVATION",
            "Aktivační kód mobilního bankovnictví",
        ),
    ] {
        let process = format!("p-{user}-{language}");
        assert_eq!(
            send(
                &app,
                &otp(&process, user, language.clone(), "111222", otp_type, false)
            )
            .await,
            sent()
        );
        let messages = sink.messages();
        let last = messages.last().expect("a message");
        assert_eq!(
            parsed(last).subject(),
            Some(subject),
            "{user} {language} {otp_type}"
        );
    }
}

#[tokio::test]
async fn pooled_connections_are_reused_across_sends() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;
    for i in 0..3 {
        let body = otp(
            &format!("p-{i}"),
            "C-1003",
            json!("en"),
            "90909090",
            "ACTIVATION",
            false,
        );
        assert_eq!(send(&app, &body).await, sent());
    }
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(
        sink.connections(),
        1,
        "one SMTP connection for three messages"
    );
}

#[tokio::test]
async fn a_resend_is_delivered_and_recorded_as_a_resend() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;
    assert_eq!(
        send(
            &app,
            &otp(
                "p-r",
                "C-1002",
                json!("cs"),
                "10000001",
                "ACTIVATION",
                false
            )
        )
        .await,
        sent()
    );
    assert_eq!(
        send(
            &app,
            &otp("p-r", "C-1002", json!("cs"), "10000002", "ACTIVATION", true)
        )
        .await,
        sent()
    );
    let rows = deliveries(&app).await;
    assert_eq!(
        rows.iter().map(|r| r.resend).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert!(rows.iter().all(|r| r.outcome == "SENT"));
    let messages = sink.messages();
    assert!(
        parsed(&messages[1])
            .body_text(0)
            .expect("text")
            .contains("10000002")
    );
}

#[tokio::test]
async fn an_smtp_server_that_is_down_answers_false_at_once_and_records_a_connection_failure() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let app = spawn_app_with(|s| {
        s.mail.smtp_host = Some("127.0.0.1".into());
        s.mail.smtp_port = Some(closed_port);
        s.mail.smtp_tls = SmtpTls::Plain;
    })
    .await;
    app.seed_demo_customers().await;
    let started = Instant::now();
    let answer = send(
        &app,
        &otp(
            "p-down",
            "C-1001",
            json!("cs"),
            "20202020",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let row = &deliveries(&app).await[0];
    assert_eq!(row.outcome, "FAILED");
    assert_eq!(row.error_class.as_deref(), Some("CONNECTION"));
    assert_eq!(
        row.detail.as_deref(),
        Some("network error: connection refused")
    );
    assert_eq!(row.smtp_code, None);
}

#[tokio::test]
async fn an_smtp_server_that_never_answers_is_abandoned_at_the_deadline() {
    let sink = SmtpSink::start(Mode::Silent).await;
    let app = spawn_with_sink(&sink, |s| {
        s.otp.deadline_ms = 600;
        s.mail.smtp_connect_timeout_ms = 10_000;
    })
    .await;
    app.seed_demo_customers().await;
    let started = Instant::now();
    let answer = send(
        &app,
        &otp(
            "p-silent",
            "C-1001",
            json!("cs"),
            "30303030",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(answer, not_sent());
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_millis(1100),
        "answered after {elapsed:?} with a 600 ms deadline"
    );
    let row = &deliveries(&app).await[0];
    assert_eq!(row.outcome, "TIMEOUT");
    assert_eq!(row.error_class.as_deref(), Some("TIMEOUT"));
    assert!(
        row.duration_ms >= 550 && row.duration_ms < 1000,
        "{}",
        row.duration_ms
    );
}

#[tokio::test]
async fn an_smtp_server_that_stalls_after_the_message_is_abandoned_at_the_deadline() {
    let stalling = SmtpSink::start(Mode::StallAtData).await;
    let app = spawn_with_sink(&stalling, |s| {
        s.otp.deadline_ms = 500;
        s.mail.smtp_connect_timeout_ms = 10_000;
    })
    .await;
    app.seed_demo_customers().await;
    let started = Instant::now();
    let answer = send(
        &app,
        &otp(
            "p-stall",
            "C-1001",
            json!("cs"),
            "40404040",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(deliveries(&app).await[0].outcome, "TIMEOUT");
    assert!(stalling.messages().is_empty());
}

#[tokio::test]
async fn an_smtp_server_that_accepts_only_after_the_deadline_counts_as_not_sent() {
    let sink = SmtpSink::start(Mode::SlowAccept(Duration::from_secs(5))).await;
    let app = spawn_with_sink(&sink, |s| s.otp.deadline_ms = 700).await;
    app.seed_demo_customers().await;
    let started = Instant::now();
    let answer = send(
        &app,
        &otp(
            "p-slow",
            "C-1001",
            json!("cs"),
            "50505050",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    let row = &deliveries(&app).await[0];
    assert_eq!(
        (row.outcome.as_str(), row.error_class.as_deref()),
        ("TIMEOUT", Some("TIMEOUT"))
    );
    assert_eq!(
        row.detail.as_deref(),
        Some("no acceptance within the deadline")
    );
}

#[tokio::test]
async fn a_recipient_the_smtp_server_does_not_know_is_rejected_and_recorded_without_the_address() {
    let sink = SmtpSink::start(Mode::RejectRecipient).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;
    let answer = send(
        &app,
        &otp(
            "p-550",
            "C-1002",
            json!("cs"),
            "60606060",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    let row = &deliveries(&app).await[0];
    assert_eq!(row.outcome, "REJECTED");
    assert_eq!(row.smtp_code, Some(550));
    assert_eq!(row.error_class.as_deref(), Some("SMTP_PERMANENT"));
    // The server's text repeated the address; only the codes are kept.
    assert_eq!(row.detail.as_deref(), Some("550 5.1.1"));
    assert_eq!(row.destination_masked.as_deref(), Some("j***@example.com"));
}

#[tokio::test]
async fn a_5xx_or_4xx_reply_to_the_message_is_recorded_with_its_code() {
    for (mode, outcome, code, class, detail) in [
        (
            Mode::RejectData,
            "REJECTED",
            554,
            "SMTP_PERMANENT",
            "554 5.7.1",
        ),
        (
            Mode::TransientData,
            "FAILED",
            451,
            "SMTP_TRANSIENT",
            "451 4.3.0",
        ),
    ] {
        let sink = SmtpSink::start(mode).await;
        let app = spawn_with_sink(&sink, |_| {}).await;
        app.seed_demo_customers().await;
        let answer = send(
            &app,
            &otp(
                "p-data",
                "C-1003",
                json!("en"),
                "70707070",
                "ACTIVATION",
                false,
            ),
        )
        .await;
        assert_eq!(answer, not_sent(), "{mode:?}");
        let row = &deliveries(&app).await[0];
        assert_eq!(
            (
                row.outcome.as_str(),
                row.smtp_code,
                row.error_class.as_deref(),
                row.detail.as_deref()
            ),
            (outcome, Some(code), Some(class), Some(detail)),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn tls_modes_against_a_server_without_tls_fail_cleanly() {
    for (tls, detail) in [
        (
            SmtpTls::Tls,
            "TLS failure: received corrupt message of type InvalidContentType",
        ),
        (SmtpTls::Starttls, "the server does not offer STARTTLS"),
    ] {
        let sink = SmtpSink::start(Mode::Accept).await;
        let app = spawn_with_sink(&sink, |s| s.mail.smtp_tls = tls).await;
        app.seed_demo_customers().await;
        let answer = send(
            &app,
            &otp(
                "p-tls",
                "C-1003",
                json!("en"),
                "80808080",
                "ACTIVATION",
                false,
            ),
        )
        .await;
        assert_eq!(answer, not_sent(), "{tls:?}");
        let row = &deliveries(&app).await[0];
        assert_eq!(row.outcome, "FAILED", "{tls:?}");
        assert_eq!(row.error_class.as_deref(), Some("TLS"), "{tls:?}");
        assert_eq!(row.detail.as_deref(), Some(detail), "{tls:?}");
        assert!(sink.messages().is_empty());
    }
}

#[tokio::test]
async fn over_the_process_cap_nothing_is_sent_and_the_reason_is_recorded() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.otp.max_per_process = 2;
        s.otp.cap_window_secs = 600;
    })
    .await;
    app.seed_demo_customers().await;
    let answers = [
        send(
            &app,
            &otp(
                "p-cap",
                "C-1001",
                json!("cs"),
                "11110001",
                "ACTIVATION",
                false,
            ),
        )
        .await,
        send(
            &app,
            &otp(
                "p-cap",
                "C-1001",
                json!("cs"),
                "11110002",
                "ACTIVATION",
                true,
            ),
        )
        .await,
        send(
            &app,
            &otp(
                "p-cap",
                "C-1001",
                json!("cs"),
                "11110003",
                "ACTIVATION",
                true,
            ),
        )
        .await,
    ];
    assert_eq!(answers, [sent(), sent(), not_sent()]);
    assert_eq!(sink.messages().len(), 2);
    let rows = deliveries(&app).await;
    assert_eq!(rows[2].outcome, "CAPPED");
    assert_eq!(
        rows[2].detail.as_deref(),
        Some("process cap: at most 2 sends per 600 s")
    );
    assert_eq!(rows[2].message_id, None);
    // Another process of the same user is not affected by this process's cap.
    assert_eq!(
        send(
            &app,
            &otp(
                "p-other",
                "C-1001",
                json!("cs"),
                "11110004",
                "ACTIVATION",
                false
            )
        )
        .await,
        sent()
    );
}

#[tokio::test]
async fn over_the_user_cap_across_processes_nothing_is_sent() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.otp.max_per_user = 2;
    })
    .await;
    app.seed_demo_customers().await;
    for (i, expected) in [sent(), sent(), not_sent()].into_iter().enumerate() {
        let body = otp(
            &format!("p-u{i}"),
            "C-1003",
            json!("en"),
            "22220000",
            "ACTIVATION",
            false,
        );
        assert_eq!(send(&app, &body).await, expected, "send {i}");
    }
    let rows = deliveries(&app).await;
    assert_eq!(rows[2].outcome, "CAPPED");
    assert_eq!(
        rows[2].detail.as_deref(),
        Some("user cap: at most 2 sends per 600 s")
    );
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn concurrent_sends_never_exceed_the_cap() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| s.otp.max_per_process = 3).await;
    app.seed_demo_customers().await;
    let body = otp(
        "p-burst",
        "C-1003",
        json!("en"),
        "33330000",
        "ACTIVATION",
        true,
    );
    let answers = futures_util::future::join_all((0..10).map(|_| send(&app, &body))).await;
    let sent_count = answers.iter().filter(|a| **a == sent()).count();
    // Each request reserves, then counts every reservation: simultaneous requests may all
    // see each other and all stop (fail closed), but together they never pass the cap.
    assert!(sent_count <= 3, "{sent_count} sent");
    assert_eq!(sink.messages().len(), sent_count);
    let capped = deliveries(&app)
        .await
        .iter()
        .filter(|r| r.outcome == "CAPPED")
        .count();
    assert_eq!(capped, 10 - sent_count);
}

#[tokio::test]
async fn an_unknown_user_gets_no_mail_and_the_reason_is_recorded() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    app.seed_demo_customers().await;
    let answer = send(
        &app,
        &otp(
            "p-x",
            "C-9999",
            json!("en"),
            "44440000",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    let row = &deliveries(&app).await[0];
    assert_eq!(row.outcome, "UNKNOWN_USER");
    assert_eq!(row.destination_masked, None);
    assert!(sink.messages().is_empty() && sink.connections() == 0);
}

async fn add_customer(app: &TestApp, user_id: &str, email: Option<&str>, active: bool) {
    let customer = NewCustomer {
        user_id: user_id.into(),
        client_number: Some(format!("{user_id}-number")),
        birth_date: Some("1980-01-01".into()),
        email: email.map(str::to_owned),
        language: Some("en".into()),
        active: Some(active),
        ..Default::default()
    };
    customers::upsert(&app.db, &customer, chrono::Utc::now())
        .await
        .expect("customer");
}

#[tokio::test]
async fn a_customer_without_a_usable_address_gets_no_mail_and_the_reason_is_recorded() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |_| {}).await;
    add_customer(&app, "C-NOMAIL", None, true).await;
    add_customer(&app, "C-BADMAIL", Some("not-an-address"), true).await;
    add_customer(&app, "C-GONE", Some("gone@example.com"), false).await;
    for (user, outcome, detail) in [
        (
            "C-NOMAIL",
            "NO_ADDRESS",
            "no e-mail address in the customer registry",
        ),
        (
            "C-BADMAIL",
            "NO_ADDRESS",
            "registry e-mail address is not valid",
        ),
        (
            "C-GONE",
            "INACTIVE_USER",
            "customer is deactivated in the registry",
        ),
    ] {
        let answer = send(
            &app,
            &otp(
                &format!("p-{user}"),
                user,
                json!("en"),
                "55550000",
                "ACTIVATION",
                false,
            ),
        )
        .await;
        assert_eq!(answer, not_sent(), "{user}");
        let rows = deliveries(&app).await;
        let row = rows.last().expect("row");
        assert_eq!(
            (row.outcome.as_str(), row.detail.as_deref()),
            (outcome, Some(detail)),
            "{user}"
        );
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_prospect_gets_the_code_at_the_address_its_lookup_identification_carried() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.lookup.unknown_user = UnknownUser::Prospect;
        s.otp.fallback_domains = vec!["example.org".into()];
    })
    .await;
    let (status, lookup) = app
        .post_json(
            "/user/lookup",
            &json!({"processId": "p-prospect", "identification":
                {"clientNumber": "777", "birthDate": "1999-09-09", "email": " New.Client@Example.org "}}),
        )
        .await;
    assert_eq!(status, 200, "{lookup}");
    let user_id = lookup["userId"].as_str().expect("prospect id").to_owned();
    let answer = send(
        &app,
        &otp(
            "p-prospect",
            &user_id,
            json!("en"),
            "66660000",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, sent());
    assert_eq!(sink.messages()[0].rcpt_to, vec!["new.client@example.org"]);
    let row = &deliveries(&app).await[0];
    assert_eq!(row.destination_source.as_deref(), Some("IDENTIFICATION"));
    assert_eq!(row.destination_masked.as_deref(), Some("n***@example.org"));

    // The address belongs to that process: another process of the same prospect has none.
    let answer = send(
        &app,
        &otp(
            "p-elsewhere",
            &user_id,
            json!("en"),
            "66660001",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    assert_eq!(deliveries(&app).await[1].outcome, "UNKNOWN_USER");
}

#[tokio::test]
async fn a_registry_customer_never_gets_the_code_at_an_identification_address_unless_configured() {
    for (fallback, expected) in [
        (AddressFallback::UnknownUsers, not_sent()),
        (AddressFallback::MissingAddress, sent()),
    ] {
        let sink = SmtpSink::start(Mode::Accept).await;
        let app = spawn_with_sink(&sink, |s| {
            s.otp.address_fallback = fallback;
            s.otp.fallback_domains = vec!["*".into()];
        })
        .await;
        add_customer(&app, "C-NOMAIL", None, true).await;
        let (status, _) = app
            .post_json(
                "/user/lookup",
                &json!({"processId": "p-f", "identification":
                    {"clientNumber": "C-NOMAIL-number", "birthDate": "1980-01-01", "email": "typed@example.net"}}),
            )
            .await;
        assert_eq!(status, 200);
        let answer = send(
            &app,
            &otp(
                "p-f",
                "C-NOMAIL",
                json!("en"),
                "77770000",
                "ACTIVATION",
                false,
            ),
        )
        .await;
        assert_eq!(answer, expected, "{fallback:?}");
        let contacts = process_contact::Entity::find()
            .all(&app.db)
            .await
            .expect("contacts");
        assert_eq!(
            contacts.len(),
            usize::from(fallback == AddressFallback::MissingAddress),
            "{fallback:?}"
        );
    }
}

#[tokio::test]
async fn the_code_and_the_full_address_never_appear_in_logs_or_stored_rows() {
    let code = format!(
        "{}",
        10_000_000 + (uuid::Uuid::new_v4().as_u128() % 89_999_999)
    );
    let address = format!("secret.{}@example.com", uuid::Uuid::new_v4().simple());
    for mode in [
        Mode::Accept,
        Mode::RejectRecipient,
        Mode::RejectData,
        Mode::Silent,
    ] {
        let sink = SmtpSink::start(mode).await;
        let app = spawn_with_sink(&sink, |s| s.otp.deadline_ms = 400).await;
        add_customer(&app, "C-SECRET", Some(&address), true).await;
        for resend in [false, true] {
            let body = otp(
                "p-secret",
                "C-SECRET",
                json!("en"),
                &code,
                "USER_VERIFICATION",
                resend,
            );
            send(&app, &body).await;
        }
        if mode == Mode::Accept {
            let messages = sink.messages();
            assert!(
                parsed(&messages[0])
                    .body_text(0)
                    .expect("text")
                    .contains(&code)
            );
        }
        let rows = deliveries(&app).await;
        assert_eq!(rows.len(), 2, "{mode:?}");
        let dump = format!("{rows:?}");
        assert!(!dump.contains(&code), "{mode:?}: code stored: {dump}");
        assert!(!dump.contains(&address), "{mode:?}: address stored: {dump}");
    }
    let logs = captured_logs();
    assert!(logs.contains("s***@example.com"), "deliveries were logged");
    assert!(!logs.contains(&code), "the code appears in the logs");
    assert!(
        !logs.contains(&address),
        "the full address appears in the logs"
    );
}

#[tokio::test]
async fn a_broken_mail_template_folder_stops_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let en = dir.path().join("en");
    std::fs::create_dir(&en).expect("mkdir");
    for stem in ["activation", "user_verification"] {
        std::fs::write(en.join(format!("{stem}.subject")), "Code\n").expect("write");
        std::fs::write(
            en.join(format!("{stem}.txt")),
            "{{code}} {{validity_minutes}}",
        )
        .expect("write");
        std::fs::write(
            en.join(format!("{stem}.html")),
            "{{code}} {{validity_minutes}}",
        )
        .expect("write");
    }
    std::fs::write(
        en.join("activation.html"),
        "<p>{{code}} valid {{validity_minute}}</p>",
    )
    .expect("write");
    let mut settings = crate::helpers::test_settings();
    settings.mail.templates_dir = Some(dir.path().to_owned());
    let err = onboarding_adapter::startup::Application::build(settings)
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .expect("the start fails");
    assert!(err.contains("mail templates:"), "{err}");
    assert!(
        err.contains("activation.html uses the unknown placeholder `{{validity_minute}}`"),
        "{err}"
    );
}

#[test]
fn smtp_auth_without_tls_and_half_configured_credentials_are_refused() {
    let mut settings = Settings::default();
    settings.mail.smtp_host = Some("smtp.bank.test".into());
    settings.mail.smtp_username = Some("adapter".into());
    let err = settings
        .validate()
        .expect_err("password missing")
        .to_string();
    assert!(
        err.contains("mail.smtp_username and mail.smtp_password must be set together"),
        "{err}"
    );
    settings.mail.smtp_password = Some("pw".to_owned().into());
    settings.mail.smtp_tls = SmtpTls::Plain;
    let err = settings.validate().expect_err("plain auth").to_string();
    assert!(err.contains("unencrypted"), "{err}");
    settings.mail.smtp_tls = SmtpTls::Starttls;
    assert!(settings.validate().is_ok());
    assert!(!settings.redacted_toml().contains("pw\""));
}

#[tokio::test]
async fn implicit_tls_and_starttls_deliver_with_smtp_auth_to_a_server_of_a_private_ca() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("bank-ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
    for tls in [TlsMode::Implicit, TlsMode::StartTls] {
        let sink = SmtpSink::start_with(
            Mode::Accept,
            Some((tls, &ca)),
            Some(("adapter", "s3cret-pw")),
        )
        .await;
        let ca_file = ca_file.clone();
        let app = spawn_with_sink(&sink, move |s| {
            s.mail.smtp_host = Some("localhost".into());
            s.mail.smtp_tls = match tls {
                TlsMode::Implicit => SmtpTls::Tls,
                TlsMode::StartTls => SmtpTls::Starttls,
            };
            s.mail.smtp_ca_file = Some(ca_file);
            s.mail.smtp_username = Some("adapter".into());
            s.mail.smtp_password = Some("s3cret-pw".to_owned().into());
        })
        .await;
        app.seed_demo_customers().await;
        let answer = send(
            &app,
            &otp(
                "p-tls-ok",
                "C-1003",
                json!("en"),
                "12121212",
                "ACTIVATION",
                false,
            ),
        )
        .await;
        assert_eq!(answer, sent(), "{tls:?}: {:?}", deliveries(&app).await);
        let messages = sink.messages();
        assert_eq!(messages.len(), 1, "{tls:?}");
        assert!(messages[0].tls, "{tls:?}: the message travelled encrypted");
        assert_eq!(messages[0].auth_user.as_deref(), Some("adapter"), "{tls:?}");
        assert!(!captured_logs().contains("s3cret-pw"));
    }
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let ca = TestCa::new();
    let sink = SmtpSink::start_with(Mode::Accept, Some((TlsMode::Implicit, &ca)), None).await;
    let app = spawn_with_sink(&sink, |s| {
        s.mail.smtp_host = Some("localhost".into());
        s.mail.smtp_tls = SmtpTls::Tls;
    })
    .await;
    app.seed_demo_customers().await;
    let answer = send(
        &app,
        &otp(
            "p-untrusted",
            "C-1003",
            json!("en"),
            "13131313",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    let row = &deliveries(&app).await[0];
    assert_eq!(row.error_class.as_deref(), Some("TLS"));
    assert_eq!(
        row.detail.as_deref(),
        Some("TLS failure: invalid peer certificate: UnknownIssuer")
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn concurrent_sends_share_at_most_the_configured_number_of_smtp_connections() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.mail.smtp_pool_max_size = 2;
        s.otp.max_per_user = 0;
        s.otp.max_per_destination = 0;
    })
    .await;
    app.seed_demo_customers().await;
    let bodies: Vec<Value> = (0..12)
        .map(|i| {
            otp(
                &format!("p-pool-{i}"),
                "C-1003",
                json!("en"),
                "14141414",
                "ACTIVATION",
                false,
            )
        })
        .collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|b| send(&app, b))).await;
    assert!(answers.iter().all(|a| *a == sent()), "{answers:?}");
    assert_eq!(sink.messages().len(), 12);
    assert!(
        sink.connections() <= 2,
        "{} SMTP connections",
        sink.connections()
    );
}

/// A prospect of its own (a new identification) for `process`, typing `email`.
async fn prospect(app: &TestApp, process: &str, email: &str) -> String {
    let (status, lookup) = app
        .post_json(
            "/user/lookup",
            &json!({"processId": process, "identification":
                {"clientNumber": format!("n-{process}"), "birthDate": "1999-09-09", "email": email}}),
        )
        .await;
    assert_eq!(status, 200, "{lookup}");
    lookup["userId"].as_str().expect("prospect id").to_owned()
}

#[tokio::test]
async fn one_address_typed_by_many_prospects_is_mailed_only_up_to_its_cap() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.lookup.unknown_user = UnknownUser::Prospect;
        s.otp.fallback_domains = vec!["*".into()];
        s.otp.max_per_destination = 3;
    })
    .await;
    // Seven processes, seven prospects, one victim's address (spelled differently).
    let mut answers = Vec::new();
    for i in 0..7 {
        let process = format!("p-victim-{i}");
        let email = if i % 2 == 0 {
            "victim@example.com"
        } else {
            " Victim@EXAMPLE.com"
        };
        let user = prospect(&app, &process, email).await;
        answers.push(
            send(
                &app,
                &otp(
                    &process,
                    &user,
                    json!("en"),
                    "12340000",
                    "ACTIVATION",
                    false,
                ),
            )
            .await,
        );
    }
    assert_eq!(
        answers.iter().filter(|a| **a == sent()).count(),
        3,
        "{answers:?}"
    );
    assert_eq!(sink.messages().len(), 3);
    let rows = deliveries(&app).await;
    let capped: Vec<_> = rows.iter().filter(|r| r.outcome == "CAPPED").collect();
    assert_eq!(capped.len(), 4);
    assert!(capped.iter().all(|r| {
        r.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("destination cap"))
    }));
    // One key for the address however it was spelled; never the address itself.
    let key = rows[0].destination_key.clone().expect("a destination key");
    assert!(
        rows.iter()
            .all(|r| r.destination_key.as_deref() == Some(key.as_str()))
    );
    assert_eq!(key.len(), 64);
    assert!(!key.contains("victim"));
}

#[tokio::test]
async fn a_typed_address_outside_the_allowed_domains_is_never_mailed() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| {
        s.lookup.unknown_user = UnknownUser::Prospect;
        s.otp.fallback_domains = vec!["bank.example".into()];
    })
    .await;
    let outsider = prospect(&app, "p-out", "someone@elsewhere.example").await;
    let answer = send(
        &app,
        &otp(
            "p-out",
            &outsider,
            json!("en"),
            "12340001",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
    let insider = prospect(&app, "p-in", "new.client@mail.bank.example").await;
    let answer = send(
        &app,
        &otp(
            "p-in",
            &insider,
            json!("en"),
            "12340002",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, sent());
    let rows = deliveries(&app).await;
    assert_eq!(rows[0].outcome, "NO_ADDRESS");
    assert_eq!(
        rows[0].detail.as_deref(),
        Some("fallback address not at a domain of otp.fallback_domains")
    );
    assert_eq!(sink.messages().len(), 1);
    // By default (no domains listed) a typed address is never mailed.
    let closed = spawn_with_sink(&sink, |s| s.lookup.unknown_user = UnknownUser::Prospect).await;
    let user = prospect(&closed, "p-closed", "new.client@mail.bank.example").await;
    let answer = send(
        &closed,
        &otp(
            "p-closed",
            &user,
            json!("en"),
            "12340003",
            "ACTIVATION",
            false,
        ),
    )
    .await;
    assert_eq!(answer, not_sent());
}

#[tokio::test]
async fn the_global_cap_bounds_every_send_of_the_window() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let app = spawn_with_sink(&sink, |s| s.otp.max_global = 2).await;
    app.seed_demo_customers().await;
    let mut answers = Vec::new();
    for (i, user) in ["C-1001", "C-1002", "C-1001"].iter().enumerate() {
        answers.push(
            send(
                &app,
                &otp(
                    &format!("p-g{i}"),
                    user,
                    json!("en"),
                    "12340010",
                    "ACTIVATION",
                    false,
                ),
            )
            .await,
        );
    }
    assert_eq!(answers, vec![sent(), sent(), not_sent()]);
    let last = deliveries(&app).await.pop().expect("row");
    assert_eq!(last.outcome, "CAPPED");
    assert_eq!(
        last.detail.as_deref(),
        Some("global cap: at most 2 sends per 600 s")
    );
}
