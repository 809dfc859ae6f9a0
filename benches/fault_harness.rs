#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

//! `cargo bench --bench fault_harness`: the service binary as a child process under faults.
//! Prints tables; not part of the tests' pass/fail.
//!
//! 1. **kill -9 under load**: concurrent `/consent/storage` (a distinct `processId` per
//!    request) and `/client/evaluate` (a distinct `identityVerificationId`), SIGKILL of the
//!    server mid-load, restart on the same database, then every request that got a 2xx must
//!    be in the database (`FAULT_KILL_ROUNDS` rounds, default 3).
//! 2. **database unavailable**: SQLite — another process holds the write lock
//!    (`BEGIN EXCLUSIVE`); PostgreSQL — the database refuses connections and the service's
//!    sessions are terminated. `/health/ready` and every callback must answer 503 with the
//!    error body, and recover without a restart once the database is back.
//!
//! Both run on SQLite, and on PostgreSQL when `FAULT_POSTGRES_URL` (a server and an
//! existing database; default `postgres://postgres@127.0.0.1:5432/test`) is reachable
//! (`FAULT_POSTGRES=off` skips it). Other settings: `FAULT_CONCURRENCY` (default 32).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    ChildService, PASSWORD, USER, create_database, drop_database, env_or, free_port, print_table,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_onboarding-adapter");

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

/// A database the service can be pointed at, and how to reach it for checks.
struct Backend {
    name: &'static str,
    url: String,
    /// PostgreSQL: the admin URL and the database name (dropped at the end).
    postgres: Option<(String, String)>,
}

impl Backend {
    fn sqlite(dir: &Path, file: &str) -> Self {
        Self {
            name: "SQLite",
            url: format!("sqlite://{}?mode=rwc", dir.join(file).display()),
            postgres: None,
        }
    }

    async fn postgres(admin_url: &str) -> Option<Self> {
        let (url, name) = create_database(admin_url, "oa_fault").await?;
        Some(Self {
            name: "PostgreSQL",
            url,
            postgres: Some((admin_url.to_owned(), name)),
        })
    }

    async fn drop_database(&self) {
        if let Some((admin_url, name)) = &self.postgres {
            drop_database(admin_url, name).await;
        }
    }
}

async fn column_set(db: &DatabaseConnection, sql: &str) -> HashSet<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get::<String>("", "v").expect("column v"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. kill -9 under load

#[derive(Default)]
struct Acks {
    consent: Mutex<Vec<String>>,
    evaluate: Mutex<Vec<String>>,
    sent: AtomicUsize,
    /// Failed answers while the server was up (expected: none).
    failed_alive: AtomicUsize,
    /// Failed after the kill: in flight at the kill, or refused while it was down.
    failed_killed: AtomicUsize,
    killed: AtomicBool,
}

async fn kill_round(
    backend: &Backend,
    dir: &Path,
    round: usize,
    concurrency: usize,
) -> (Vec<Vec<String>>, Vec<String>) {
    let port = free_port();
    let log = dir.join(format!("kill-{}-{round}.log", backend.name));
    let http = client();
    let mut service = ChildService::start(Path::new(BINARY), &backend.url, port, &log, &[]);
    assert!(
        service.wait_ready(&http, Duration::from_secs(60)).await,
        "service did not start; see {}",
        log.display()
    );
    let first_pid = service.pid();

    let acks = Arc::new(Acks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (acks, stop, counter, http, base) = (
            acks.clone(),
            stop.clone(),
            counter.clone(),
            http.clone(),
            service.base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let (path, body, id, expect) = if i % 2 == 0 {
                    let id = format!("kill-r{round}-p-{i}");
                    let body = json!({"processId": id, "processType": "onboarding",
                        "userId": "C-1001", "consentType": "GDPR", "approved": true});
                    ("/consent/storage", body, id, 204)
                } else {
                    let id = format!("kill-r{round}-iv-{i}");
                    let body = json!({"processId": format!("kill-r{round}-p-{i}"), "processType": "onboarding",
                        "identityVerificationId": id, "userId": "C-1001", "verificationId": "ver-1",
                        "provider": "mock", "status": "SUCCESS",
                        "documentCheckResult": {"person": null,
                            "documents": [{"type": "ID_CARD", "status": "SUCCESS", "images": []}]}});
                    ("/client/evaluate", body, id, 200)
                };
                acks.sent.fetch_add(1, Ordering::Relaxed);
                let response = http
                    .post(format!("{base}{path}"))
                    .basic_auth(USER, Some(PASSWORD))
                    .json(&body)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == expect => {
                        let list = if expect == 204 {
                            &acks.consent
                        } else {
                            &acks.evaluate
                        };
                        list.lock().unwrap().push(id);
                    }
                    Ok(_) | Err(_) => {
                        if acks.killed.load(Ordering::Relaxed) {
                            acks.failed_killed.fetch_add(1, Ordering::Relaxed);
                        } else {
                            acks.failed_alive.fetch_add(1, Ordering::Relaxed);
                        }
                        // Refused while the server is down: do not spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }));
    }
    // Kill at a different moment each round.
    tokio::time::sleep(Duration::from_millis(700 + 450 * round as u64)).await;
    let sent_before_kill = acks.sent.load(Ordering::Relaxed);
    acks.killed.store(true, Ordering::Relaxed);
    service.kill9();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }

    // Restart on the same database (and port), then check what was acknowledged.
    let mut restarted = ChildService::start(Path::new(BINARY), &backend.url, port, &log, &[]);
    let up = restarted.wait_ready(&http, Duration::from_secs(60)).await;
    let restart_ms = killed_at.elapsed().as_millis();
    assert!(up, "service did not restart; see {}", log.display());
    assert_ne!(restarted.pid(), first_pid);
    let after = http
        .post(format!("{}/consent/storage", restarted.base))
        .basic_auth(USER, Some(PASSWORD))
        .json(
            &json!({"processId": format!("kill-r{round}-after"), "userId": "C-1001",
            "consentType": "GDPR", "approved": true}),
        )
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);

    let db = Database::connect(backend.url.as_str())
        .await
        .expect("check connection");
    let stored_consent = column_set(
        &db,
        &format!(
            "SELECT process_id AS v FROM consent_decision WHERE process_id LIKE 'kill-r{round}-p-%'"
        ),
    )
    .await;
    let stored_eval = column_set(
        &db,
        &format!(
            "SELECT identity_verification_id AS v FROM decision WHERE identity_verification_id LIKE 'kill-r{round}-iv-%'"
        ),
    )
    .await;
    let _ = db.close().await;
    drop(restarted);

    let mut rows = Vec::new();
    for (kind, acked, stored) in [
        (
            "/consent/storage",
            acks.consent.lock().unwrap().clone(),
            stored_consent,
        ),
        (
            "/client/evaluate",
            acks.evaluate.lock().unwrap().clone(),
            stored_eval,
        ),
    ] {
        let acked_set: HashSet<String> = acked.iter().cloned().collect();
        let missing = acked_set.difference(&stored).count();
        let unacked_stored = stored.difference(&acked_set).count();
        rows.push(vec![
            backend.name.to_owned(),
            format!("{}", round + 1),
            kind.to_owned(),
            acked.len().to_string(),
            stored.len().to_string(),
            missing.to_string(),
            unacked_stored.to_string(),
            if missing == 0 { "yes" } else { "NO" }.to_owned(),
        ]);
    }
    let summary = vec![
        backend.name.to_owned(),
        format!("{}", round + 1),
        sent_before_kill.to_string(),
        acks.failed_alive.load(Ordering::Relaxed).to_string(),
        acks.failed_killed.load(Ordering::Relaxed).to_string(),
        restart_ms.to_string(),
        if after == 204 { "yes" } else { "NO" }.to_owned(),
    ];
    (rows, summary)
}

// ---------------------------------------------------------------------------------------
// 2. database unavailable

/// One request per callback (and readiness): status, latency, error-body shape.
async fn probe_all(
    http: &reqwest::Client,
    base: &str,
    tag: &str,
) -> Vec<(String, u16, u128, bool)> {
    let calls: Vec<(&str, Value)> = vec![
        (
            "/user/lookup",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding",
            "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}}),
        ),
        (
            "/otp/send",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding", "userId": "C-1001",
            "language": "en", "otpCode": "48213907", "otpType": "ACTIVATION", "resend": false}),
        ),
        (
            "/consent/text",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding", "userId": "C-1001",
            "consentType": "GDPR", "language": "en"}),
        ),
        (
            "/consent/storage",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding", "userId": "C-1001",
            "consentType": "GDPR", "approved": true}),
        ),
        (
            "/client/evaluate",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding",
            "identityVerificationId": format!("{tag}-iv"), "userId": "C-1001", "status": "SUCCESS",
            "documentCheckResult": {"person": null, "documents": [{"type": "ID_CARD", "status": "SUCCESS", "images": []}]}}),
        ),
        (
            "/client/approve",
            json!({"processId": format!("{tag}-p"), "processType": "onboarding", "userId": "C-1001",
            "identityVerificationId": format!("{tag}-iv"), "provider": "mock", "status": "SUCCESS", "score": 10}),
        ),
        (
            "/process/event",
            json!({"id": format!("{tag}-e"), "type": "PROCESS_FINISHED", "processId": format!("{tag}-p"),
            "processType": "onboarding", "userId": "C-1001", "eventData": {"process": {"status": "FINISHED"}}}),
        ),
    ];
    let mut out = Vec::new();
    let started = Instant::now();
    let ready = http.get(format!("{base}/health/ready")).send().await;
    let ms = started.elapsed().as_millis();
    out.push(match ready {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                "/health/ready".to_owned(),
                status,
                ms,
                error_shape(status, &body),
            )
        }
        Err(_) => ("/health/ready".to_owned(), 0, ms, false),
    });
    for (path, body) in calls {
        let started = Instant::now();
        let response = http
            .post(format!("{base}{path}"))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
            .await;
        let ms = started.elapsed().as_millis();
        out.push(match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                (path.to_owned(), status, ms, error_shape(status, &body))
            }
            Err(_) => (path.to_owned(), 0, ms, false),
        });
    }
    out
}

/// For an error status: the body is exactly `{"errorCode", "message"}`. For 2xx: true.
fn error_shape(status: u16, body: &Value) -> bool {
    if status < 400 {
        return true;
    }
    body.as_object().is_some_and(|o| {
        o.len() == 2
            && matches!(
                o.get("errorCode").and_then(Value::as_str),
                Some("ERROR_GENERIC" | "ERROR_UNAUTHORIZED")
            )
            && o.get("message").and_then(Value::as_str).is_some()
    })
}

/// Makes the database unavailable to the service and back.
enum Fault {
    /// Another connection holds `BEGIN EXCLUSIVE` on the SQLite file.
    SqliteLock(Option<DatabaseConnection>, String),
    /// `ALLOW_CONNECTIONS false` and the service's sessions terminated.
    PostgresRefuse(String, String),
}

impl Fault {
    async fn inject(&mut self) {
        match self {
            Self::SqliteLock(holder, url) => {
                // One connection, so BEGIN and the later ROLLBACK run on the same one.
                let mut options = sea_orm::ConnectOptions::new(url.clone());
                options.max_connections(1).min_connections(1);
                let db = Database::connect(options).await.expect("lock holder");
                db.execute_unprepared("BEGIN EXCLUSIVE")
                    .await
                    .expect("exclusive lock");
                *holder = Some(db);
            }
            Self::PostgresRefuse(admin_url, name) => {
                let admin = Database::connect(admin_url.as_str()).await.expect("admin");
                admin
                    .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
                    .await
                    .expect("refuse connections");
                admin
                    .execute_unprepared(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    ))
                    .await
                    .expect("terminate sessions");
                let _ = admin.close().await;
            }
        }
    }

    async fn heal(&mut self) {
        match self {
            Self::SqliteLock(holder, _) => {
                if let Some(db) = holder.take() {
                    let _ = db.execute_unprepared("ROLLBACK").await;
                    let _ = db.close().await;
                }
            }
            Self::PostgresRefuse(admin_url, name) => {
                let admin = Database::connect(admin_url.as_str()).await.expect("admin");
                admin
                    .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                    .await
                    .expect("allow connections");
                let _ = admin.close().await;
            }
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::SqliteLock(..) => "another process holds BEGIN EXCLUSIVE on the file",
            Self::PostgresRefuse(..) => {
                "ALTER DATABASE … ALLOW_CONNECTIONS false + pg_terminate_backend"
            }
        }
    }
}

async fn unavailable(backend: &Backend, dir: &Path) -> Vec<Vec<String>> {
    let port = free_port();
    let log = dir.join(format!("unavailable-{}.log", backend.name));
    let http = client();
    // Shorter waits than the defaults, so a fault shows within a couple of seconds.
    let extra = [
        ("ADAPTER_DATABASE__SQLITE_BUSY_TIMEOUT_MS", "2000"),
        ("ADAPTER_DATABASE__ACQUIRE_TIMEOUT_SECS", "2"),
        ("ADAPTER_DATABASE__CONNECT_TIMEOUT_SECS", "2"),
    ];
    let mut service = ChildService::start(Path::new(BINARY), &backend.url, port, &log, &extra);
    assert!(
        service.wait_ready(&http, Duration::from_secs(60)).await,
        "service did not start; see {}",
        log.display()
    );
    let pid = service.pid();
    let mut fault = match &backend.postgres {
        None => Fault::SqliteLock(None, backend.url.clone()),
        Some((admin, name)) => Fault::PostgresRefuse(admin.clone(), name.clone()),
    };
    let mut rows = Vec::new();
    let mut record = |phase: &str, results: Vec<(String, u16, u128, bool)>| {
        for (path, status, ms, shape) in results {
            rows.push(vec![
                backend.name.to_owned(),
                phase.to_owned(),
                path,
                if status == 0 {
                    "no answer".to_owned()
                } else {
                    status.to_string()
                },
                ms.to_string(),
                if shape { "yes" } else { "NO" }.to_owned(),
            ]);
        }
    };
    record("before", probe_all(&http, &service.base, "u-before").await);
    fault.inject().await;
    record(
        "database down",
        probe_all(&http, &service.base, "u-down").await,
    );
    let healed_at = Instant::now();
    fault.heal().await;
    let recovered = service.wait_ready(&http, Duration::from_secs(30)).await;
    let recovery_ms = healed_at.elapsed().as_millis();
    record(
        "after recovery",
        probe_all(&http, &service.base, "u-after").await,
    );
    rows.push(vec![
        backend.name.to_owned(),
        format!("fault: {}", fault.describe()),
        format!(
            "ready again {} ms after the fault ended; same process: {}",
            recovery_ms,
            recovered && service.pid() == pid
        ),
        String::new(),
        String::new(),
        String::new(),
    ]);
    rows
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let concurrency: usize = env_or("FAULT_CONCURRENCY", 32);
    let rounds: usize = env_or("FAULT_KILL_ROUNDS", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let keep: PathBuf = dir.path().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(common::LOAD_THREADS)
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut backends = vec![Backend::sqlite(&keep, "kill.sqlite")];
        let pg_url = std::env::var("FAULT_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pg = if std::env::var("FAULT_POSTGRES").as_deref() == Ok("off") {
            None
        } else {
            Backend::postgres(&pg_url).await
        };
        match &pg {
            Some(_) => println!("PostgreSQL: {}", pg_url.split('@').next_back().unwrap_or("")),
            None => println!("PostgreSQL: not reachable or switched off; SQLite only"),
        }
        backends.extend(pg);

        let mut kill_rows = Vec::new();
        let mut kill_summary = Vec::new();
        for backend in &backends {
            for round in 0..rounds {
                let (rows, summary) = kill_round(backend, &keep, round, concurrency).await;
                kill_rows.extend(rows);
                kill_summary.push(summary);
            }
        }
        println!(
            "\n## kill -9 during load ({concurrency} connections: /consent/storage and /client/evaluate, distinct ids)\n"
        );
        print_table(
            &[
                "database",
                "round",
                "requests before the kill",
                "failed before the kill",
                "failed after the kill (in flight, refused)",
                "kill to ready again (ms)",
                "2xx after restart",
            ],
            &kill_summary,
        );
        println!();
        print_table(
            &[
                "database",
                "round",
                "callback",
                "2xx answers",
                "rows stored",
                "2xx but not stored",
                "stored without a 2xx (in flight)",
                "every 2xx stored",
            ],
            &kill_rows,
        );

        let mut down_rows = Vec::new();
        let sqlite_down = Backend::sqlite(&keep, "unavailable.sqlite");
        down_rows.extend(unavailable(&sqlite_down, &keep).await);
        if let Some(pg) = backends.iter().find(|b| b.postgres.is_some()) {
            down_rows.extend(unavailable(pg, &keep).await);
        }
        println!("\n## database unavailable, then back (no restart)\n");
        print_table(
            &[
                "database",
                "phase",
                "endpoint",
                "status",
                "ms",
                "error body {errorCode,message}",
            ],
            &down_rows,
        );
        for backend in &backends {
            backend.drop_database().await;
        }
    });
}
