//! `spawn_app()`: the real server on port 0 with a fresh database, and a client for it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use onboarding_adapter::configuration::{
    Credential, LogFormat, LogSettings, Role, Settings, StaffUser,
};
use onboarding_adapter::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use secrecy::SecretString;
use serde_json::Value;

pub const USER: &str = "test-onboarding-server";
pub const PASSWORD: &str = "test-password-1";
pub const REVIEWER: (&str, &str) = ("test-reviewer", "reviewer-password-1");
pub const ADMIN: (&str, &str) = ("test-admin", "admin-password-1");

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

/// Everything the service logged in this test process (all tests share it).
pub fn captured_logs() -> String {
    let buffer = log_buffer().lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&buffer).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let writer = BufferWriter(log_buffer().clone());
        let settings = LogSettings {
            format: LogFormat::Json,
            level: "debug".into(),
        };
        let _ = onboarding_adapter::telemetry::init(&settings, move || writer.clone());
    });
}

/// Settings of a test server: port 0, test credentials, no demo data.
pub fn test_settings() -> Settings {
    let mut s = Settings::default();
    s.server.port = 0;
    s.server.workers = Some(2);
    s.demo = Some(false);
    s.auth.credentials = vec![Credential {
        username: USER.into(),
        password: SecretString::from(PASSWORD.to_owned()),
    }];
    s.backoffice.users = vec![
        StaffUser {
            username: REVIEWER.0.into(),
            password: SecretString::from(REVIEWER.1.to_owned()),
            role: Role::Reviewer,
        },
        StaffUser {
            username: ADMIN.0.into(),
            password: SecretString::from(ADMIN.1.to_owned()),
            role: Role::Admin,
        },
    ];
    s
}

/// A fresh database URL: an SQLite file in `dir`, or a new database on the server named by
/// `TEST_DATABASE_URL` (`postgres://…/db` or `mysql://…/db`).
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        return format!("sqlite://{}?mode=rwc", dir.join("test.sqlite").display());
    };
    let name = format!("oa_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url.as_str())
        .await
        .expect("TEST_DATABASE_URL must be reachable");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("URL with a database name");
    format!("{base}/{name}")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_clock(configure, Arc::new(onboarding_adapter::clock::SystemClock)).await
}

pub async fn spawn_app_with_clock(
    configure: impl FnOnce(&mut Settings),
    clock: onboarding_adapter::clock::SharedClock,
) -> TestApp {
    spawn_app_with_engines(configure, clock, Vec::new()).await
}

/// A server with compiled decision engines beside the policy file.
pub async fn spawn_app_with_engines(
    configure: impl FnOnce(&mut Settings),
    clock: onboarding_adapter::clock::SharedClock,
    engines: Vec<Arc<dyn onboarding_adapter::domain::policy::DecisionEngine>>,
) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings();
    settings.database.url = Some(SecretString::from(fresh_database_url(dir.path()).await));
    configure(&mut settings);
    let app = Application::build_with_engines(settings.clone(), clock, engines)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let db = onboarding_adapter::storage::connect(&settings)
        .await
        .expect("test connection");
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        settings,
        handle,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.address, self.settings.server.base_path, path)
    }

    /// POST JSON with the test credentials.
    pub async fn post(&self, path: &str, body: impl serde::Serialize) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// POST and return status and parsed JSON body (Null when empty).
    pub async fn post_json(&self, path: &str, body: impl serde::Serialize) -> (u16, Value) {
        let response = self.post(path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, json)
    }

    /// POST raw bytes with the given content type (authenticated).
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .basic_auth(USER, Some(PASSWORD))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Rows of a table, for assertions on what was stored.
    pub async fn rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let backend = self.db.get_database_backend();
        self.db
            .query_all_raw(sea_orm::Statement::from_string(backend, sql.to_owned()))
            .await
            .expect("query")
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.count_where(table, "1 = 1").await
    }

    /// Rows of `table` that meet the SQL `condition`.
    pub async fn count_where(&self, table: &str, condition: &str) -> i64 {
        let rows = self
            .rows(&format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE {condition}"
            ))
            .await;
        rows.first()
            .map(|r| r.try_get::<i64>("", "n").expect("count"))
            .unwrap_or(0)
    }

    pub async fn seed_demo_customers(&self) {
        onboarding_adapter::demo::seed(&self.db, chrono::Utc::now())
            .await
            .expect("seed");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop the server without waiting; the tempdir goes with the struct.
        drop(handle.stop(false));
    }
}

/// Asserts the error body shape and returns its message.
pub fn assert_error_body(body: &Value, code: &str) -> String {
    assert_eq!(body["errorCode"], code, "error body: {body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "only errorCode and message: {body}"
    );
    message.to_owned()
}

impl TestApp {
    /// A back-office request as `who` (username, password).
    pub async fn admin_get(&self, who: (&str, &str), path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/admin{path}", self.address))
            .basic_auth(who.0, Some(who.1))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin_post(&self, who: (&str, &str), path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/admin{path}", self.address))
            .basic_auth(who.0, Some(who.1))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `sql` (a single-value COUNT query aliased `n`) until it returns `expected`.
    pub async fn wait_for_count(
        &self,
        sql: &str,
        expected: i64,
        within: std::time::Duration,
    ) -> i64 {
        let deadline = std::time::Instant::now() + within;
        loop {
            let n = self
                .rows(sql)
                .await
                .first()
                .map(|r| r.try_get::<i64>("", "n").expect("n"))
                .unwrap_or(0);
            if n == expected || std::time::Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
