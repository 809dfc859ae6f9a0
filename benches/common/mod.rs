//! Load generation shared by the HTTP benchmarks: a real server (or a bare actix-web
//! handler as the baseline) in its own thread, and N concurrent keep-alive clients.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use onboarding_adapter::configuration::{Credential, Settings};
use onboarding_adapter::startup::Application;
use secrecy::SecretString;

pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench-password";

/// Latency and throughput of one run.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub throughput: f64,
    /// CPU time the server spent per request, in µs (see `server_cpu_ns`); `None` where
    /// it could not be read.
    pub server_cpu_us: Option<f64>,
}

/// The name of the load generator's threads: their CPU time is not the server's.
pub const LOAD_THREADS: &str = "load-gen";

/// The server's process when it is a [`ChildService`] (the last one started).
static CHILD_SERVER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// CPU time so far of the server, in ns (`/proc/<pid>/task/*/schedstat`; 0 where that is
/// not available): the threads of the [`ChildService`] process when one was started, else
/// this process's threads other than the load generator's.
fn server_cpu_ns() -> u64 {
    let child = CHILD_SERVER.load(std::sync::atomic::Ordering::Relaxed);
    let process = if child == 0 {
        "self".to_owned()
    } else {
        child.to_string()
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{process}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| !comm.trim_end().starts_with(LOAD_THREADS))
        })
        .filter_map(|task| {
            std::fs::read_to_string(task.path().join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

impl LoadReport {
    pub fn header() -> String {
        format!(
            "| {:<28} | {:>8} | {:>6} | {:>9} | {:>9} | {:>9} | {:>10} | {:>10} |\n|{}|{}|{}|{}|{}|{}|{}|{}|",
            "scenario",
            "requests",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "req/s",
            "CPU µs/req",
            "-".repeat(30),
            "-".repeat(10),
            "-".repeat(8),
            "-".repeat(11),
            "-".repeat(11),
            "-".repeat(11),
            "-".repeat(12),
            "-".repeat(12)
        )
    }

    pub fn row(&self) -> String {
        format!(
            "| {:<28} | {:>8} | {:>6} | {:>9.3} | {:>9.3} | {:>9.3} | {:>10.0} | {:>10} |",
            self.name,
            self.requests,
            self.errors,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.throughput,
            self.server_cpu_us
                .map_or_else(|| "-".to_owned(), |us| format!("{us:.1}"))
        )
    }
}

/// A setting from the environment, or `default` when unset or unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A fresh `<prefix>_<uuid>` database on the PostgreSQL or MySQL server of `admin_url`
/// (`postgres://…/db`): its URL and its name, or `None` when the server cannot be reached.
pub async fn create_database(admin_url: &str, prefix: &str) -> Option<(String, String)> {
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(admin_url).await.ok()?;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let created = admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await;
    let _ = admin.close().await;
    created.ok()?;
    let (base, _) = admin_url.rsplit_once('/')?;
    Some((format!("{base}/{name}"), name))
}

/// Drops a database made by [`create_database`] (best effort). On PostgreSQL, connections
/// are allowed again first (a fault may have forbidden them) and any left are terminated.
pub async fn drop_database(admin_url: &str, name: &str) {
    use sea_orm::ConnectionTrait;
    let Ok(admin) = sea_orm::Database::connect(admin_url).await else {
        return;
    };
    if admin_url.starts_with("postgres") {
        let _ = admin
            .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .await;
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    } else {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await;
    }
    let _ = admin.close().await;
}

/// Starts the real service on port 0 against `db` in its own thread; returns its base
/// URL. Logs go to a sink through the real JSON formatter.
pub fn spawn_service(db: String, configure: impl FnOnce(&mut Settings) + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let mut s = Settings::default();
            s.server.port = 0;
            // Real credentials rule demo mode out; the demo customers are seeded below.
            s.demo = Some(false);
            s.database.url = Some(SecretString::from(db));
            s.auth.credentials = vec![Credential {
                username: USER.into(),
                password: SecretString::from(PASSWORD.to_owned()),
            }];
            configure(&mut s);
            let _ = onboarding_adapter::telemetry::init(&s.log, std::io::sink);
            let seed_settings = s.clone();
            let app = Application::build(s).await.expect("service starts");
            let db = onboarding_adapter::storage::connect(&seed_settings)
                .await
                .expect("seed connection");
            onboarding_adapter::demo::seed(&db, chrono::Utc::now())
                .await
                .expect("demo customers");
            tx.send(format!("http://127.0.0.1:{}", app.port()))
                .expect("send");
            app.run_until_stopped().await.expect("runs");
        });
    });
    rx.recv().expect("service address")
}

/// A bare actix-web JSON handler (no auth, no database, no middleware): the baseline.
pub fn spawn_baseline() -> String {
    use actix_web::{App, HttpServer, web};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().route(
                    "/echo",
                    web::post().to(|body: web::Json<serde_json::Value>| async move {
                        web::Json(serde_json::json!({"ok": true, "n": body.as_object().map_or(0, |o| o.len())}))
                    }),
                )
            })
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(format!("http://127.0.0.1:{}", server.addrs()[0].port())).expect("send");
            server.run().await.expect("runs");
        });
    });
    rx.recv().expect("baseline address")
}

/// The PostgreSQL ceiling: a bare actix-web handler (no auth, no middleware) that stores
/// each request in one transaction of one INSERT (`BEGIN; INSERT INTO ceiling …; COMMIT`)
/// through a sqlx pool of 16 connections (the service's default pool size), in the table
/// `ceiling` it creates in `database_url` (a fresh database). What a PostgreSQL-backed
/// handler that must commit what it received can do at best on that server. Answers `/store`.
pub fn spawn_pg_ceiling(database_url: String) -> String {
    use actix_web::{App, HttpServer, web};
    use sea_orm::sqlx::{self, postgres::PgPoolOptions};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect(&database_url)
                .await
                .expect("ceiling database");
            sqlx::query(
                "CREATE TABLE ceiling (process_id text PRIMARY KEY, consent_type text NOT NULL, \
                 language text, received_at timestamptz NOT NULL DEFAULT now())",
            )
            .execute(&pool)
            .await
            .expect("ceiling table");
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(pool.clone()))
                    .route("/store", web::post().to(ceiling_store))
            })
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(format!("http://127.0.0.1:{}", server.addrs()[0].port()))
                .expect("send");
            server.run().await.expect("runs");
        });
    });
    rx.recv().expect("ceiling address")
}

/// The ceiling's handler: one transaction, one INSERT (a duplicate `processId` fails it).
async fn ceiling_store(
    pool: actix_web::web::Data<sea_orm::sqlx::PgPool>,
    body: actix_web::web::Json<serde_json::Value>,
) -> actix_web::HttpResponse {
    use sea_orm::sqlx;
    let stored = async {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO ceiling (process_id, consent_type, language) VALUES ($1, $2, $3)")
            .bind(body["processId"].as_str())
            .bind(body["consentType"].as_str().unwrap_or_default())
            .bind(body["language"].as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await;
    ceiling_answer(stored)
}

/// The SQLite ceiling: a bare actix-web handler storing each request in one write
/// transaction of one INSERT (`BEGIN IMMEDIATE; INSERT INTO ceiling …; COMMIT`) on one sqlx
/// SQLite connection kept for writes, WAL and `synchronous = FULL`, as the service writes
/// (`storage::Database`). What a SQLite-backed handler that must commit what it received
/// can do at best through sqlx. `path` is a new file. Answers `/store`.
pub fn spawn_sqlite_ceiling(path: std::path::PathBuf) -> String {
    use actix_web::{App, HttpServer, web};
    use sea_orm::sqlx::{
        self,
        sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .expect("ceiling database");
            sqlx::query(
                "CREATE TABLE ceiling (process_id text PRIMARY KEY, consent_type text NOT NULL, \
                 language text, received_at text NOT NULL DEFAULT CURRENT_TIMESTAMP)",
            )
            .execute(&pool)
            .await
            .expect("ceiling table");
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(pool.clone()))
                    .route("/store", web::post().to(sqlite_ceiling_store))
            })
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(format!("http://127.0.0.1:{}", server.addrs()[0].port()))
                .expect("send");
            server.run().await.expect("runs");
        });
    });
    rx.recv().expect("ceiling address")
}

async fn sqlite_ceiling_store(
    pool: actix_web::web::Data<sea_orm::sqlx::SqlitePool>,
    body: actix_web::web::Json<serde_json::Value>,
) -> actix_web::HttpResponse {
    use sea_orm::sqlx;
    let stored = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO ceiling (process_id, consent_type, language) VALUES (?, ?, ?)")
            .bind(body["processId"].as_str())
            .bind(body["consentType"].as_str().unwrap_or_default())
            .bind(body["language"].as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await;
    ceiling_answer(stored)
}

/// A ceiling's answer: 200 when the row was committed.
fn ceiling_answer(stored: Result<(), sea_orm::sqlx::Error>) -> actix_web::HttpResponse {
    match stored {
        Ok(()) => actix_web::HttpResponse::Ok().json(serde_json::json!({"stored": true})),
        Err(_) => actix_web::HttpResponse::InternalServerError().finish(),
    }
}

/// Drives `url` with `concurrency` clients for `duration` (after a short warm-up); `body`
/// gives the JSON of request `i`, where `i` counts every request of the warm-up and the run
/// (never twice the same). A response is an error unless its status is `expect`.
///
/// Each client is one keep-alive HTTP/1.1 connection driven by hyper directly (no pool,
/// no per-request URL parsing): the generator shares the two cores with the server, so
/// the less it spends per request the more the figures say about the server.
pub async fn run(
    name: &str,
    url: &str,
    auth: bool,
    concurrency: usize,
    duration: Duration,
    expect: u16,
    body: Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>,
) -> LoadReport {
    let target = Target::parse(url, auth);
    // One request counter for the warm-up and the run: every request of the run gets an
    // index (and so ids) of its own.
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Warm-up: open the connections and fill caches.
    let warm = Instant::now() + Duration::from_millis(500);
    drive(&target, concurrency, warm, expect, body.clone(), &counter).await;
    let started = Instant::now();
    let cpu_before = server_cpu_ns();
    let (mut latencies, errors) = drive(
        &target,
        concurrency,
        started + duration,
        expect,
        body,
        &counter,
    )
    .await;
    let elapsed = started.elapsed();
    let cpu = server_cpu_ns().saturating_sub(cpu_before);
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    LoadReport {
        name: name.into(),
        requests: latencies.len(),
        errors,
        p50: pick(0.50),
        p99: pick(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        throughput: latencies.len() as f64 / elapsed.as_secs_f64(),
        server_cpu_us: (cpu > 0 && !latencies.is_empty())
            .then(|| cpu as f64 / 1000.0 / latencies.len() as f64),
    }
}

/// Where the clients connect and what they send with every request.
#[derive(Clone)]
struct Target {
    address: String,
    host: http::HeaderValue,
    path: http::Uri,
    authorization: Option<http::HeaderValue>,
}

impl Target {
    fn parse(url: &str, auth: bool) -> Self {
        let uri: http::Uri = url.parse().expect("bench URL");
        let authority = uri.authority().expect("URL with host and port").clone();
        let authorization = auth.then(|| {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            http::HeaderValue::from_str(&format!("Basic {token}")).expect("header")
        });
        Self {
            address: authority.as_str().to_owned(),
            host: http::HeaderValue::from_str(authority.as_str()).expect("host"),
            path: uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .parse()
                .expect("path"),
            authorization,
        }
    }

    async fn connect(
        &self,
    ) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        sender
    }

    fn request(
        &self,
        json: &serde_json::Value,
    ) -> http::Request<http_body_util::Full<bytes::Bytes>> {
        let body = serde_json::to_vec(json).expect("json");
        let mut request = http::Request::post(self.path.clone())
            .header(http::header::HOST, self.host.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .expect("request");
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, authorization.clone());
        }
        request
    }
}

async fn drive(
    target: &Target,
    concurrency: usize,
    until: Instant,
    expect: u16,
    body: Arc<dyn Fn(usize) -> serde_json::Value + Send + Sync>,
    counter: &Arc<std::sync::atomic::AtomicUsize>,
) -> (Vec<Duration>, usize) {
    use http_body_util::BodyExt as _;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (target, body, counter) = (target.clone(), body.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut sender = target.connect().await;
            while Instant::now() < until {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let request = target.request(&body(i));
                if sender.ready().await.is_err() {
                    // The server closed the connection (e.g. after an error answer).
                    sender = target.connect().await;
                }
                let t = Instant::now();
                match sender.send_request(request).await {
                    Ok(r) if r.status().as_u16() == expect => {
                        if r.into_body().collect().await.is_ok() {
                            latencies.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Ok(r) => {
                        let _ = r.into_body().collect().await;
                        errors += 1;
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.expect("task");
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

/// A free TCP port on loopback (the kernel picks it; the caller binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The service binary as a child process (for faults a thread cannot suffer: kill -9).
/// Killed when dropped.
pub struct ChildService {
    child: std::process::Child,
    pub base: String,
}

impl ChildService {
    /// Starts `binary serve` on `port` against `database_url`, logging to `log`, with the
    /// bench credentials, demo customers and `extra` environment; does not wait.
    pub fn start(
        binary: &std::path::Path,
        database_url: &str,
        port: u16,
        log: &std::path::Path,
        extra: &[(&str, &str)],
    ) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        // Real credentials rule demo mode out: the demo customers are imported first.
        let customers = log.with_extension("customers.json");
        let rows: Vec<serde_json::Value> = onboarding_adapter::demo::customers()
            .iter()
            .map(|c| {
                serde_json::json!({
                    "userId": c.user_id, "clientNumber": c.client_number,
                    "birthDate": c.birth_date, "givenNames": c.given_names,
                    "surname": c.surname, "email": c.email, "language": c.language,
                    "active": c.active,
                })
            })
            .collect();
        std::fs::write(&customers, serde_json::to_vec(&rows).expect("json")).expect("customers");
        let imported = std::process::Command::new(binary)
            .arg("import-customers")
            .arg(&customers)
            .env("ADAPTER_DEMO", "false")
            .env("DATABASE_URL", database_url)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("import runs");
        assert!(imported.success(), "demo customers imported");
        let mut command = std::process::Command::new(binary);
        command
            .arg("serve")
            .env("ADAPTER_SERVER__HOST", "127.0.0.1")
            .env("ADAPTER_SERVER__PORT", port.to_string())
            .env("ADAPTER_SERVER__WORKERS", "2")
            .env("ADAPTER_DEMO", "false")
            .env("DATABASE_URL", database_url)
            .env(
                "ADAPTER_AUTH__CREDENTIALS",
                format!("[{{username=\"{USER}\",password=\"{PASSWORD}\"}}]"),
            )
            .env("ADAPTER_LOG__LEVEL", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        for (name, value) in extra {
            command.env(name, value);
        }
        let child = command.spawn().expect("service binary starts");
        CHILD_SERVER.store(child.id(), std::sync::atomic::Ordering::Relaxed);
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/health/ready` until it answers 200; false after `within`.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(r) = client
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                && r.status().as_u16() == 200
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGKILL (no graceful shutdown, no flush) and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildService {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `VmRSS` / `VmHWM` of a process, in bytes.
pub fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("memory field")
}

/// Resets a process's VmHWM to its current RSS (Linux ≥ 4.0).
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// Prints a Markdown table.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect();
        format!("|{}|", cells.join("|"))
    };
    println!(
        "{}",
        line(headers.iter().map(|h| (*h).to_owned()).collect())
    );
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        println!("{}", line(row.clone()));
    }
}
