#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

//! `cargo bench --bench http_load`: every callback of the real service under concurrent
//! load on loopback, beside a bare actix-web JSON handler (the baseline) and, on
//! PostgreSQL and SQLite, the database ceiling. Prints a table, and each callback's req/s as a
//! ratio to those; not part of the tests' pass/fail.
//!
//! - **Database**: a SQLite file in a temporary folder; or, with `BENCH_DATABASE_URL`
//!   (`postgres://postgres@127.0.0.1:5432/test`, `mysql://root@127.0.0.1:3306/test`: a
//!   server and an existing database to connect to first), a fresh database made on that
//!   server for the run and dropped after it.
//! - **Baseline**: a bare actix-web JSON handler (no auth, no middleware, no database).
//! - **PostgreSQL ceiling** (PostgreSQL only): a bare actix-web + sqlx handler doing one
//!   transaction with one INSERT per request (`BEGIN; INSERT INTO ceiling …; COMMIT`,
//!   a pool of 16 connections) in a second fresh database on the same server
//!   (`common::spawn_pg_ceiling`): the most a handler that commits what it receives can
//!   do there.
//! - **SQLite ceiling** (SQLite only): the same handler on one sqlx SQLite connection kept
//!   for writes, `BEGIN IMMEDIATE; INSERT; COMMIT`, WAL, `synchronous = FULL`, as the
//!   service writes (`common::spawn_sqlite_ceiling`), on a file of its own.
//! - **Requests**: as the Onboarding Server sends them. Every request has a `processId` of
//!   its own (the Onboarding Server never repeats one across onboardings), and so do the
//!   consent decisions, events and `/client/evaluate` calls: each evaluate is a new
//!   decision (its own `identityVerificationId`), without images.
//!
//! Settings: `BENCH_SECONDS` (default 5 per scenario), `BENCH_CONCURRENCY` (default 64
//! connections), `BENCH_DB_CONNECTIONS` (the service's pool size; default its setting,
//! 16), `BENCH_ONLY` (comma-separated parts of scenario names; the baseline and the
//! ceiling always run), `BENCH_DATABASE_URL` (above).
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench http_load`

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    LoadReport, create_database, drop_database, env_or, print_table, run, spawn_baseline,
    spawn_pg_ceiling, spawn_service, spawn_sqlite_ceiling,
};
use serde_json::json;

/// The name of the database ceiling's row (PostgreSQL or SQLite).
const CEILING: &str = "ceiling: DB tx, 1 INSERT";

fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("tempdir");
    let connections: u32 = env_or("BENCH_DB_CONNECTIONS", 0);
    // `BENCH_ONLY=/consent/text,/user/lookup`: only the scenarios whose name contains one
    // of these (the baseline and the ceiling always run).
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
    // On PostgreSQL, the ceiling in a database of its own on the same server.
    let ceiling_database = admin_url
        .as_deref()
        .filter(|url| url.starts_with("postgres"))
        .map(|url| {
            runtime
                .block_on(create_database(url, "oa_ceiling"))
                .expect("BENCH_DATABASE_URL must be reachable")
        });
    // On SQLite, the ceiling on a file of its own beside the service's.
    let ceiling = match (&ceiling_database, backend.as_str()) {
        (Some((url, _)), _) => Some(spawn_pg_ceiling(url.clone())),
        (None, "sqlite") => Some(spawn_sqlite_ceiling(dir.path().join("ceiling.sqlite"))),
        _ => None,
    };
    type Body = Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>;
    // Every callback, each request as the Onboarding Server would send it: request `i` of
    // each scenario has a process of its own (the scenario's name in its id: no process is
    // shared between scenarios), and its own evaluation, approval and event ids.
    let scenarios: Vec<(&str, &str, u16, Body)> = vec![
        (
            "/user/lookup",
            "/user/lookup",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-lookup-{i}"), "processType": "onboarding",
                "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}})
            }),
        ),
        (
            "/otp/send",
            "/otp/send",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-otp-{i}"), "processType": "onboarding", "userId": "C-1001",
                "language": "cs", "otpCode": "48213907", "otpType": "ACTIVATION", "resend": false})
            }),
        ),
        (
            "/consent/text",
            "/consent/text",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-text-{i}"), "processType": "onboarding", "userId": "C-1001",
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
                json!({"processId": format!("p-text404-{i}"), "processType": "onboarding", "userId": "C-1001",
                "consentType": "NO_SUCH_TYPE", "language": "cs"})
            }),
        ),
        (
            "/consent/storage",
            "/consent/storage",
            204,
            Arc::new(|i| {
                json!({"processId": format!("p-storage-{i}"), "processType": "onboarding", "userId": "C-1001",
                "consentType": "GDPR", "approved": i % 7 != 0})
            }),
        ),
        (
            "/client/evaluate",
            "/client/evaluate",
            200,
            Arc::new(|i| {
                json!({"processId": format!("p-evaluate-{i}"), "processType": "onboarding",
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
                json!({"processId": format!("p-approve-{i}"), "processType": "onboarding", "userId": "C-1001",
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
                "processId": format!("p-event-{i}"), "processType": "onboarding", "userId": "C-1001",
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
                Arc::new(|i| json!({"processId": format!("p-baseline-{i}"), "consentType": "GDPR", "language": "cs"})),
            )
            .await,
        ];
        if let Some(ceiling) = &ceiling {
            reports.push(
                run(
                    CEILING,
                    &format!("{ceiling}/store"),
                    false,
                    concurrency,
                    duration,
                    200,
                    Arc::new(|i| json!({"processId": format!("p-ceiling-{i}"), "consentType": "GDPR", "language": "cs"})),
                )
                .await,
            );
        }
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
    // Each callback's req/s against the baseline and, on PostgreSQL, the ceiling.
    let base = reports[0].throughput;
    let ceiling_throughput = reports
        .iter()
        .find(|r| r.name == CEILING)
        .map(|r| r.throughput);
    let rows: Vec<Vec<String>> = reports[1..]
        .iter()
        .filter(|r| r.name != CEILING)
        .map(|r| {
            vec![
                r.name.clone(),
                format!("{:.0}", r.throughput),
                format!("{:.3}", r.throughput / base),
                ceiling_throughput
                    .map_or_else(|| "-".to_owned(), |c| format!("{:.3}", r.throughput / c)),
            ]
        })
        .collect();
    println!();
    print_table(
        &[
            "scenario",
            "req/s",
            "ratio to baseline",
            "ratio to DB ceiling",
        ],
        &rows,
    );
    if let Some(admin_url) = &admin_url {
        for (_, name) in made.iter().chain(&ceiling_database) {
            runtime.block_on(drop_database(admin_url, name));
        }
    }
}
