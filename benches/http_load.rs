#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

//! `cargo bench --bench http_load`: every callback of the real service under concurrent
//! load on loopback (SQLite), beside a bare actix-web JSON handler as the baseline.
//! Prints a table; not part of the tests' pass/fail.
//!
//! Settings: `BENCH_SECONDS` (default 5), `BENCH_CONCURRENCY` (default 64),
//! `BENCH_DB_CONNECTIONS`, `BENCH_ONLY` (comma-separated scenario names),
//! `BENCH_DATABASE_URL` (a PostgreSQL or MySQL server instead of a SQLite file).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    LoadReport, create_database, drop_database, env_or, run, spawn_baseline, spawn_service,
};
use serde_json::json;

fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("tempdir");
    let connections: u32 = env_or("BENCH_DB_CONNECTIONS", 0);
    // `BENCH_ONLY=/consent/text,/user/lookup`: only the scenarios whose name contains one
    // of these (the baseline always runs).
    let only: String = env_or("BENCH_ONLY", String::new());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(common::LOAD_THREADS)
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // `BENCH_DATABASE_URL=postgres://…/db`: a fresh database on that server, not SQLite.
    let admin_url = std::env::var("BENCH_DATABASE_URL").ok();
    let made = admin_url.as_deref().map(|url| {
        runtime
            .block_on(create_database(url, "oa_bench"))
            .expect("BENCH_DATABASE_URL must be reachable")
    });
    let database = made.as_ref().map_or_else(
        || {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.sqlite").display()
            )
        },
        |(url, _)| url.clone(),
    );
    let backend = database.split(':').next().unwrap_or_default().to_owned();
    let service = spawn_service(database, move |s| {
        if connections > 0 {
            s.database.max_connections = connections;
        }
    });
    let baseline = spawn_baseline();
    type Body = Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>;
    // Every callback, each request as the Onboarding Server would send it; ids that must be
    // distinct (consent decisions, evaluations, event ids) are distinct per request.
    let scenarios: Vec<(&str, &str, u16, Body)> = vec![
        (
            "/user/lookup",
            "/user/lookup",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-{}", i % 1000), "processType": "onboarding",
                "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}})
            }),
        ),
        (
            "/otp/send",
            "/otp/send",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "language": "cs", "otpCode": "48213907", "otpType": "ACTIVATION", "resend": false})
            }),
        ),
        (
            "/consent/text",
            "/consent/text",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "consentType": "GDPR", "language": "cs"})
            }),
        ),
        (
            // Auth, JSON, correlation, logging and metrics, but no database work: the
            // service's own floor, to tell framework cost from storage cost.
            "no database (404 unknown consent)",
            "/consent/text",
            404,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "consentType": "NO_SUCH_TYPE", "language": "cs"})
            }),
        ),
        (
            "/consent/storage",
            "/consent/storage",
            204,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "consentType": "GDPR", "approved": i % 7 != 0})
            }),
        ),
        (
            "/client/evaluate",
            "/client/evaluate",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding",
                "identityVerificationId": format!("iv-e-{i}"), "userId": "C-1001",
                "verificationId": "ver-1", "provider": "microblink", "status": "SUCCESS",
                "documentCheckResult": {"person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"},
                    "documents": [{"type": "ID_CARD", "country": "CZE", "status": "SUCCESS", "score": 10,
                        "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                                 "documentNumber": "123456789", "dateOfExpiry": "2030-01-15"},
                        "images": [], "rawData": "{\"verification\":{}}"}]}})
            }),
        ),
        (
            "/client/approve",
            "/client/approve",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "identityVerificationId": format!("iv-a-{i}"), "provider": "iproov",
                "status": "SUCCESS", "score": 10, "presenceCheckResult": {"frame": null}})
            }),
        ),
        (
            "/process/event",
            "/process/event",
            200,
            Arc::new(|i| {
                json!({"id": format!("e-{i}"), "timestamp": "2026-07-01T14:30:00Z", "type": "PROCESS_FINISHED",
                "processId": format!("p-{i}"), "processType": "onboarding", "userId": "C-1001",
                "externalUserId": null, "identityVerificationId": format!("iv-{i}"),
                "eventData": {"process": {"status": "FINISHED", "errorDetail": null,
                    "deviceData": {"locale": "EN", "ipAddress": "192.0.2.10", "httpUserAgent": "app/2.2"}}}})
            }),
        ),
    ];
    let reports = runtime.block_on(async {
        let mut reports = vec![
            run(
                "baseline: bare actix JSON",
                &format!("{baseline}/echo"),
                false,
                concurrency,
                duration,
                200,
                Arc::new(|i| json!({"processId": format!("p-{i}"), "consentType": "GDPR", "language": "cs"})),
            )
            .await,
        ];
        for (name, path, expect, body) in scenarios {
            if !only.is_empty() && !only.split(',').any(|o| name.contains(o)) {
                continue;
            }
            reports.push(
                run(name, &format!("{service}{path}"), true, concurrency, duration, expect, body).await,
            );
        }
        reports
    });

    println!(
        "\n{concurrency} connections, {seconds} s per scenario, database: {backend}, loopback\n"
    );
    println!("{}", LoadReport::header());
    for r in &reports {
        println!("{}", r.row());
    }
    let base = reports[0].throughput;
    println!();
    for r in &reports[1..] {
        println!(
            "throughput ratio {} / baseline = {:.2}",
            r.name,
            r.throughput / base
        );
    }
    if let (Some(admin_url), Some((_, name))) = (&admin_url, &made) {
        runtime.block_on(drop_database(admin_url, name));
    }
}
