//! Load benchmark of `/otp/send`: the real application (port 0, temporary SQLite file) mails
//! through a local SMTP sink while 16 concurrent connections send OTPs for a few seconds.
//!
//! `cargo bench --bench otp_load` (env: `OTP_BENCH_SECS`, default 5; `OTP_BENCH_CONCURRENCY`,
//! default 16). Two scenarios: an SMTP server that accepts everything, and one that never
//! answers (every request must end at `otp.deadline_ms` with `otpSent: false`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/api/smtp_sink.rs"]
mod smtp_sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use onboarding_adapter::configuration::{Credential, LogFormat, LogSettings, Settings, SmtpTls};
use onboarding_adapter::startup::Application;
use onboarding_adapter::storage::customers::{self, NewCustomer};
use sea_orm::TransactionTrait;
use secrecy::SecretString;
use smtp_sink::{Mode, SmtpSink};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
const CUSTOMERS: usize = 2000;

struct Scenario {
    name: &'static str,
    mode: Mode,
    deadline_ms: u64,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Logs are produced (JSON, info) as in production, and thrown away.
    onboarding_adapter::telemetry::init(
        &LogSettings {
            format: LogFormat::Json,
            level: "info".into(),
        },
        std::io::sink,
    )
    .expect("telemetry");
    let seconds = env_or("OTP_BENCH_SECS", 5);
    let concurrency = env_or("OTP_BENCH_CONCURRENCY", 16) as usize;
    for scenario in [
        Scenario {
            name: "SMTP sink accepting",
            mode: Mode::Accept,
            deadline_ms: 3000,
        },
        Scenario {
            name: "SMTP server never answering",
            mode: Mode::Silent,
            deadline_ms: 1000,
        },
    ] {
        runtime.block_on(run(&scenario, Duration::from_secs(seconds), concurrency));
    }
}

async fn run(scenario: &Scenario, duration: Duration, concurrency: usize) {
    let sink = SmtpSink::start(scenario.mode).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.workers = Some(2);
    settings.demo = Some(false);
    settings.auth.credentials = vec![Credential {
        username: USER.into(),
        password: SecretString::from(PASSWORD.to_owned()),
    }];
    settings.database.url = Some(SecretString::from(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.sqlite").display()
    )));
    settings.mail.smtp_host = Some("127.0.0.1".into());
    settings.mail.smtp_port = Some(sink.port);
    settings.mail.smtp_tls = SmtpTls::Plain;
    settings.otp.deadline_ms = scenario.deadline_ms;
    // Distinct processes per request keep the process cap out of the way; the user cap is
    // raised so that it is counted (as in production) but never reached.
    settings.otp.max_per_user = 1_000_000;

    let app = Application::build(settings.clone()).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());

    let db = onboarding_adapter::storage::connect(&settings)
        .await
        .expect("db");
    let tx = db.begin().await.expect("tx");
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("time");
    for i in 0..CUSTOMERS {
        let customer = NewCustomer {
            user_id: format!("B-{i}"),
            email: Some(format!("bench.user{i}@example.com")),
            language: Some(if i % 2 == 0 { "cs" } else { "en" }.into()),
            ..Default::default()
        };
        customers::upsert(&tx, &customer, now)
            .await
            .expect("customer");
    }
    tx.commit().await.expect("commit");

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let counter = Arc::new(AtomicU64::new(0));
    let warm_up = Duration::from_secs(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, base, counter) = (client.clone(), base.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut sent, mut not_sent, mut errors) = (0u64, 0u64, 0u64);
            while started.elapsed() < warm_up + duration {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({
                    "processId": format!("bench-{n}"), "processType": "onboarding",
                    "userId": format!("B-{}", n as usize % CUSTOMERS), "language": "cs",
                    "otpCode": format!("{:08}", n % 100_000_000), "otpType": "ACTIVATION",
                    "resend": false,
                });
                let t = Instant::now();
                let response = client
                    .post(format!("{base}/otp/send"))
                    .basic_auth(USER, Some(PASSWORD))
                    .json(&body)
                    .send()
                    .await;
                let answer = match response {
                    Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                let elapsed = t.elapsed();
                if t.duration_since(started) < warm_up {
                    continue;
                }
                latencies.push(elapsed);
                match answer.as_ref().and_then(|a| a["otpSent"].as_bool()) {
                    Some(true) => sent += 1,
                    Some(false) => not_sent += 1,
                    None => errors += 1,
                }
            }
            (latencies, sent, not_sent, errors)
        }));
    }
    let mut latencies = Vec::new();
    let (mut sent, mut not_sent, mut errors) = (0, 0, 0);
    for task in tasks {
        let (l, s, n, e) = task.await.expect("task");
        latencies.extend(l);
        sent += s;
        not_sent += n;
        errors += e;
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(i.min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let total = latencies.len();
    println!(
        "otp_load [{}] deadline {} ms, {} connections, {} s: {} requests, {:.0} req/s; \
         p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; otpSent true {}, false {}, errors {}; \
         SMTP sink received {} messages over {} connections",
        scenario.name,
        scenario.deadline_ms,
        concurrency,
        duration.as_secs(),
        total,
        total as f64 / duration.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        sent,
        not_sent,
        errors,
        sink.messages().len(),
        sink.connections(),
    );
    handle.stop(true).await;
}
