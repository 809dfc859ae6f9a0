//! Hostile bodies against the real service binary (child process, SQLite file, default
//! limits): for each, how long until the answer and how much the service's peak resident
//! memory grew (VmHWM after minus VmRSS before), against the body limit of the route.
//!
//! 1. a 32 MiB `/client/evaluate` of about 1.7 million tiny documents;
//! 2. a 32 MiB `/process/event` whose `eventData` is an array of about 16 million zeros;
//! 3. a `/process/event` nesting 100 000 levels deep.
//!
//! Each scenario runs `BENCH_ROUNDS` (3) times on a fresh service.
//!
//! `cargo bench --bench hostile_input`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ChildService, PASSWORD, USER, env_or, free_port, memory, print_table, reset_peak};

const BINARY: &str = env!("CARGO_BIN_EXE_onboarding-adapter");
const LIMIT: usize = 32 * 1024 * 1024;

fn million_documents() -> Vec<u8> {
    let head = r#"{"processId":"p-1","processType":"onboarding","identityVerificationId":"iv-1","userId":"C-1001","status":"SUCCESS","documentCheckResult":{"documents":["#;
    let doc = r#"{"type":"ID_CARD"},"#;
    let mut body = head.as_bytes().to_vec();
    while body.len() + doc.len() + 32 < LIMIT {
        body.extend_from_slice(doc.as_bytes());
    }
    body.extend_from_slice(br#"{"type":"ID_CARD"}]}}"#);
    body
}

fn zeros_event() -> Vec<u8> {
    let head = br#"{"processId":"p-2","type":"PROCESS_FINISHED","eventData":{"x":["#;
    let mut body = head.to_vec();
    while body.len() + 2 + 8 < LIMIT {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}}");
    body
}

fn deep_event() -> Vec<u8> {
    let depth = 100_000;
    let mut body = br#"{"processId":"p-3","type":"PROCESS_FINISHED","eventData":"#.to_vec();
    body.extend(std::iter::repeat_n(b'[', depth));
    body.extend(std::iter::repeat_n(b']', depth));
    body.push(b'}');
    body
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let scenarios: [(&str, &str, Vec<u8>); 3] = [
        (
            "evaluate, 1.7 M tiny documents",
            "/client/evaluate",
            million_documents(),
        ),
        (
            "event, 16 M array elements",
            "/process/event",
            zeros_event(),
        ),
        ("event, 100 000 levels deep", "/process/event", deep_event()),
    ];
    let mut rows = Vec::new();
    for (name, path, body) in &scenarios {
        for round in 0..rounds {
            let db = format!(
                "sqlite://{}?mode=rwc",
                dir.path()
                    .join(format!("h-{}-{round}.sqlite", path.len()))
                    .display()
            );
            let log = dir.path().join("service.log");
            let mut service = ChildService::start(Path::new(BINARY), &db, free_port(), &log, &[]);
            assert!(
                runtime.block_on(service.wait_ready(&client, Duration::from_secs(30))),
                "service ready"
            );
            let pid = service.pid();
            let before = memory(pid, "VmRSS:");
            reset_peak(pid);
            let started = Instant::now();
            let request = client
                .post(format!("{}{path}", service.base))
                .basic_auth(USER, Some(PASSWORD))
                .header("Content-Type", "application/json")
                .body(body.clone());
            let answer = runtime.block_on(async { request.send().await });
            let elapsed = started.elapsed();
            let status =
                answer.map_or_else(|e| format!("no answer: {e}"), |r| r.status().to_string());
            let growth = memory(pid, "VmHWM:").saturating_sub(before);
            #[allow(clippy::cast_precision_loss)]
            rows.push(vec![
                (*name).to_owned(),
                format!("{:.1}", body.len() as f64 / 1024.0 / 1024.0),
                status,
                format!("{:.0}", elapsed.as_secs_f64() * 1000.0),
                format!("{:.1}", growth as f64 / 1024.0 / 1024.0),
                format!("{:.2}", growth as f64 / LIMIT as f64),
            ]);
        }
    }
    print_table(
        &[
            "scenario",
            "body MiB",
            "answer",
            "ms",
            "peak RSS growth MiB",
            "growth / 32 MiB limit",
        ],
        &rows,
    );
}
