//! `/client/evaluate` end to end against the real service binary (child process, demo
//! policy, evidence kept in the database; a SQLite file, or with `BENCH_DATABASE_URL` a
//! fresh database on that PostgreSQL or MySQL server for each run):
//!
//! 1. without images, at `BENCH_CONCURRENCY` (64) connections for `BENCH_SECONDS` (5);
//! 2. with three 2 MiB JPEG images (base64, ~8 MiB bodies), `BENCH_IMAGE_REQUESTS` (40)
//!    requests on 1 and on 4 connections, and the service's peak memory growth: VmHWM
//!    (peak RSS) of the service process after the run minus its VmRSS before, against the
//!    request size.
//!
//! The service runs `BENCH_SERVICE_WORKERS` (2) actix workers.
//!
//! `cargo bench --bench evaluate_load`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{
    ChildService, LoadReport, PASSWORD, USER, env_or, free_port, memory, reset_peak, run,
};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_onboarding-adapter");

fn evaluate_body(iv: &str, images: &[serde_json::Value]) -> serde_json::Value {
    json!({"processId": format!("p-{iv}"), "processType": "onboarding",
        "identityVerificationId": iv, "userId": "C-1001",
        "verificationId": "ver-1", "provider": "microblink", "status": "SUCCESS",
        "documentCheckResult": {"person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"},
            "documents": [{"type": "ID_CARD", "country": "CZE", "status": "SUCCESS", "score": 10,
                "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                         "documentNumber": "123456789", "dateOfIssue": "2020-01-15", "dateOfExpiry": "2030-01-15"},
                "images": images, "rawData": "{\"verification\":{}}"}]}})
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        // `BENCH_IMAGE_REQUESTS=0`: no image run.
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `requests` evaluate calls with images over `connections` connections; latencies.
async fn image_run(
    client: &reqwest::Client,
    base: &str,
    template: &Arc<String>,
    requests: usize,
    connections: usize,
    tag: &str,
) -> (Vec<Duration>, usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, template, next) = (client.clone(), template.clone(), next.clone());
        let url = format!("{base}/client/evaluate");
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let body = template.replace("IV-PLACEHOLDER", &format!("iv-{tag}-{i}"));
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .basic_auth(USER, Some(PASSWORD))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let answer: serde_json::Value = r.json().await.unwrap_or_default();
                        status == 200 && answer["result"] == "OK"
                    }
                    Err(_) => false,
                };
                latencies.push(started.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        all.extend(l);
        errors += e;
    }
    all.sort();
    (all, errors)
}

/// The service on a fresh database: a SQLite file in `dir`, or a new database on the
/// `BENCH_DATABASE_URL` server (dropped when the service is).
fn start(
    dir: &Path,
    name: &str,
    client: &reqwest::Client,
    rt: &tokio::runtime::Runtime,
) -> Service {
    let server = std::env::var("BENCH_DATABASE_URL").ok();
    let (db, made) = match &server {
        Some(admin) => {
            let (url, made) = rt
                .block_on(common::create_database(admin, "oa_eval"))
                .expect("BENCH_DATABASE_URL must be reachable");
            (url, Some((admin.clone(), made)))
        }
        None => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{name}.sqlite")).display()
            ),
            None,
        ),
    };
    let log = dir.join(format!("{name}.log"));
    let workers: String = env_or("BENCH_SERVICE_WORKERS", "2".to_owned());
    let mut service = ChildService::start(
        Path::new(BINARY),
        &db,
        free_port(),
        &log,
        &[
            ("ADAPTER_LIMITS__EVALUATE_BODY_BYTES", "33554432"),
            ("ADAPTER_SERVER__WORKERS", &workers),
        ],
    );
    rt.block_on(async {
        assert!(
            service.wait_ready(client, Duration::from_secs(60)).await,
            "service did not start; see {}",
            log.display()
        );
    });
    Service {
        child: service,
        made,
    }
}

/// A service and the database made for it.
struct Service {
    child: ChildService,
    made: Option<(String, String)>,
}

impl std::ops::Deref for Service {
    type Target = ChildService;
    fn deref(&self) -> &ChildService {
        &self.child
    }
}

impl std::ops::DerefMut for Service {
    fn deref_mut(&mut self) -> &mut ChildService {
        &mut self.child
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.child.kill9();
        if let Some((admin, name)) = self.made.take() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(common::drop_database(&admin, &name));
        }
    }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64);
    let image_requests: usize = env_or("BENCH_IMAGE_REQUESTS", 40);
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(common::LOAD_THREADS)
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    // 1. Without images.
    let service = start(dir.path(), "plain", &client, &runtime);
    let plain = runtime.block_on(run(
        "/client/evaluate (no images)",
        &format!("{}/client/evaluate", service.base),
        true,
        concurrency,
        Duration::from_secs(seconds),
        200,
        Arc::new(|i| evaluate_body(&format!("iv-plain-{i}"), &[])),
    ));
    drop(service);

    // 2. Three 2 MiB JPEG images; a fresh service per run, so the allocator's retained
    // memory from earlier runs does not hide the peak.
    let image_bytes = 2 * 1024 * 1024;
    let image = |fill: u8| {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
        b.resize(image_bytes, fill);
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let images = vec![
        json!({"type": "DOCUMENT_FRONT_SIDE", "data": image(1)}),
        json!({"type": "DOCUMENT_BACK_SIDE", "data": image(2)}),
        json!({"type": "FACE", "data": image(3)}),
    ];
    let template = Arc::new(evaluate_body("IV-PLACEHOLDER", &images).to_string());
    drop(images);
    let payload = template.len() as u64;
    let mut rows = Vec::new();
    for connections in [1_usize, 4] {
        let service = start(
            dir.path(),
            &format!("images-{connections}"),
            &client,
            &runtime,
        );
        let pid = service.pid();
        let base = service.base.clone();
        runtime.block_on(async {
            // Warm-up without images: connections, pools, caches.
            for i in 0..20 {
                let _ = client
                    .post(format!("{base}/client/evaluate"))
                    .basic_auth(USER, Some(PASSWORD))
                    .json(&evaluate_body(&format!("iv-warm-{i}"), &[]))
                    .send()
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let before = memory(pid, "VmRSS:");
            reset_peak(pid);
            let started = Instant::now();
            let (latencies, errors) = image_run(
                &client,
                &base,
                &template,
                image_requests,
                connections,
                &format!("c{connections}"),
            )
            .await;
            let elapsed = started.elapsed();
            let peak = memory(pid, "VmHWM:");
            rows.push((connections, latencies, errors, elapsed, before, peak));
        });
        drop(service);
    }

    let backend = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .and_then(|url| url.split(':').next().map(str::to_owned))
        .unwrap_or_else(|| "sqlite".to_owned());
    println!(
        "\n/client/evaluate end to end, service binary as a child process, {backend}, demo policy\n"
    );
    println!("{}", LoadReport::header());
    println!("{}", plain.row());
    println!(
        "\nwith three 2 MiB JPEG images (request body {:.1} MiB), evidence in the database:\n",
        payload as f64 / 1048576.0
    );
    println!(
        "| connections | requests | errors | p50 ms | p99 ms | max ms | req/s | RSS before MiB | peak RSS MiB | peak growth MiB | growth / body / connection |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (connections, latencies, errors, elapsed, before, peak) in rows {
        let growth = peak.saturating_sub(before);
        println!(
            "| {connections} | {} | {errors} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            latencies.len(),
            percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            before as f64 / 1048576.0,
            peak as f64 / 1048576.0,
            growth as f64 / 1048576.0,
            growth as f64 / payload as f64 / connections as f64,
        );
    }
}
