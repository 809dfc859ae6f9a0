#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

//! `cargo bench --bench pg_statements`: what each callback costs the PostgreSQL server,
//! per request: transactions committed and rolled back, SQL statements executed, and
//! round trips. Counts, not timings: a debug build gives the same figures as a release
//! one. Prints a table; not part of the tests' pass/fail.
//!
//! - **Service**: the real application in this process (`common::spawn_service`), demo
//!   customers and policy, the outbox worker off (`delivery.worker_enabled = false`: no
//!   polling statements between the requests), on a fresh database made for the run on
//!   the server of `BENCH_DATABASE_URL` and dropped after it.
//! - **Requests**: `BENCH_REQUESTS` onboardings, sent one after another on one connection,
//!   callback by callback: all the `/consent/text` calls, then all the `/user/lookup` calls
//!   (a demo customer), `/consent/storage`, `/client/evaluate` (a new decision: the
//!   verification's first call, without images), the identical `/client/evaluate` again
//!   (answered from the stored decision), `/client/approve`, `/process/event`. Onboarding
//!   `k` uses one `processId` and one `identityVerificationId` in all its callbacks, as
//!   the Onboarding Server does. Ten onboardings go through every callback first (warm-up:
//!   pool connections opened, statements prepared), uncounted.
//! - **Transactions**: `xact_commit` and `xact_rollback` of the service's database in
//!   `pg_stat_database` (every autocommitted statement is a transaction of its own there),
//!   read from a second database. A backend reports these counters only from time to time:
//!   at most once a second while busy, and 10 s after it went idle (PostgreSQL 15's
//!   `PGSTAT_IDLE_INTERVAL`); `pg_stat_force_next_flush()` flushes only the backend that
//!   calls it. So after each callback's requests the bench waits `BENCH_STATS_WAIT_SECS`
//!   (11) and then reads the counters (`pg_stat_clear_snapshot()` first) until two reads a
//!   second apart agree.
//! - **Statements**: the service reaches PostgreSQL through a counting proxy on loopback
//!   (TLS refused there, so it can read the protocol) that counts the messages the
//!   service sends: a simple `Query` (`BEGIN`, `COMMIT`, unprepared SQL) or an `Execute`
//!   of a prepared statement is one statement executed; every `Sync` or `Query` waits for
//!   the server's `ReadyForQuery`, one round trip (sqlx pings a connection with a lone
//!   `Sync` when it is taken from the pool and again when it is given back, the latter
//!   after the caller let go of it); a `Parse` is a statement prepared (once per pool
//!   connection and statement: a connection the pool opens mid-run prepares again, and
//!   its `Parse … Sync` is a transaction of its own in `pg_stat_database`, as are
//!   autovacuum's in that database). When the server has `pg_stat_statements` loaded
//!   (`shared_preload_libraries`), the bench also reports the sum of its `calls` for the
//!   database: the same statements, counted by the server.
//!
//! Settings: `BENCH_DATABASE_URL` (a PostgreSQL server and an existing database to connect
//! to first, `postgres://user[:password]@host:port/db`; default
//! `postgres://postgres@127.0.0.1:5432/test`), `BENCH_REQUESTS` (default 200),
//! `BENCH_STATS_WAIT_SECS` (default 11).
//!
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench pg_statements`

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{PASSWORD, USER, create_database, drop_database, env_or, print_table, spawn_service};
use sea_orm::sqlx::{self, Connection, PgConnection};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One callback's requests: its name, path, and the body of onboarding `k`'s call.
struct Callback {
    name: &'static str,
    path: &'static str,
    body: fn(&str) -> Value,
}

/// The callbacks in the order they are sent; `id` names the onboarding (`m-17`).
const CALLBACKS: [Callback; 7] = [
    Callback {
        name: "/consent/text",
        path: "/consent/text",
        body: |id| {
            json!({"processId": format!("p-{id}"), "processType": "onboarding", "userId": "C-1001",
            "consentType": "GDPR", "language": "cs"})
        },
    },
    Callback {
        name: "/user/lookup",
        path: "/user/lookup",
        body: |id| {
            json!({"processId": format!("p-{id}"), "processType": "onboarding",
            "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}})
        },
    },
    Callback {
        name: "/consent/storage",
        path: "/consent/storage",
        body: |id| {
            json!({"processId": format!("p-{id}"), "processType": "onboarding", "userId": "C-1001",
            "consentType": "GDPR", "approved": true})
        },
    },
    Callback {
        name: "/client/evaluate (new)",
        path: "/client/evaluate",
        body: evaluate,
    },
    Callback {
        name: "/client/evaluate (identical repeat)",
        path: "/client/evaluate",
        body: evaluate,
    },
    Callback {
        name: "/client/approve",
        path: "/client/approve",
        body: |id| {
            json!({"processId": format!("p-{id}"), "processType": "onboarding", "userId": "C-1001",
            "identityVerificationId": format!("iv-{id}"), "provider": "iproov",
            "status": "SUCCESS", "score": 10, "presenceCheckResult": {"frame": null}})
        },
    },
    Callback {
        name: "/process/event",
        path: "/process/event",
        body: |id| {
            json!({"id": format!("e-{id}"), "timestamp": "2026-07-01T14:30:00Z", "type": "PROCESS_FINISHED",
            "processId": format!("p-{id}"), "processType": "onboarding", "userId": "C-1001",
            "externalUserId": null, "identityVerificationId": format!("iv-{id}"),
            "eventData": {"process": {"status": "FINISHED", "errorDetail": null,
                "deviceData": {"locale": "EN", "ipAddress": "192.0.2.10", "httpUserAgent": "app/2.2"}}}})
        },
    },
];

/// `/client/evaluate` of onboarding `id`, as `http_load` sends it (no images).
fn evaluate(id: &str) -> Value {
    json!({"processId": format!("p-{id}"), "processType": "onboarding",
    "identityVerificationId": format!("iv-{id}"), "userId": "C-1001",
    "verificationId": "ver-1", "provider": "microblink", "status": "SUCCESS",
    "documentCheckResult": {"person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"},
        "documents": [{"type": "ID_CARD", "country": "CZE", "status": "SUCCESS", "score": 10,
            "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                     "documentNumber": "123456789", "dateOfExpiry": "2030-01-15"},
            "images": [], "rawData": "{\"verification\":{}}"}]}})
}

/// The frontend messages the service sent through the proxy, by type.
#[derive(Default)]
struct Wire {
    /// `Q`: a simple query (one statement as sqlx and sea-orm send them).
    queries: AtomicU64,
    /// `E`: an execution of a prepared statement.
    executes: AtomicU64,
    /// `P`: a statement prepared.
    parses: AtomicU64,
    /// `S`: the end of an extended-protocol exchange, answered by `ReadyForQuery`.
    syncs: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    commits: i64,
    rollbacks: i64,
    statements: u64,
    round_trips: u64,
    parses: u64,
    /// Sum of `pg_stat_statements.calls`, where the extension is loaded.
    server_statements: Option<i64>,
}

fn main() {
    let admin_url: String = env_or(
        "BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    );
    let requests: usize = env_or("BENCH_REQUESTS", 200);
    let stats_wait = Duration::from_secs(env_or("BENCH_STATS_WAIT_SECS", 11));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (database_url, database) = runtime
        .block_on(create_database(&admin_url, "oa_statements"))
        .expect("BENCH_DATABASE_URL must be reachable");
    // The counters are read from a database of their own, so that reading them adds
    // nothing to the service's.
    let (monitor_url, monitor_database) = runtime
        .block_on(create_database(&admin_url, "oa_statements_monitor"))
        .expect("monitor database");

    let wire = Arc::new(Wire::default());
    let (upstream, proxied_url) = through_proxy(&database_url, &runtime, wire.clone());
    let service = spawn_service(proxied_url, |s| {
        s.delivery.worker_enabled = false;
    });

    let (server_version, rows, answers) = runtime.block_on(async {
        let mut monitor = PgConnection::connect(&monitor_url)
            .await
            .expect("monitor connection");
        let server_version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut monitor)
            .await
            .expect("server version");
        let statements_extension = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&mut monitor)
            .await
            .is_ok()
            && sqlx::query("SELECT 1 FROM pg_stat_statements LIMIT 1")
                .execute(&mut monitor)
                .await
                .is_ok();
        let client = reqwest::Client::new();

        for k in 0..10 {
            for callback in &CALLBACKS {
                send(&client, &service, callback, &format!("w-{k}")).await;
            }
        }
        let mut before = settle(
            &mut monitor,
            &database,
            &wire,
            statements_extension,
            stats_wait,
        )
        .await;
        let mut rows = Vec::new();
        let mut answers = Vec::new();
        for callback in &CALLBACKS {
            let mut seen = BTreeMap::<String, usize>::new();
            for k in 0..requests {
                *seen
                    .entry(send(&client, &service, callback, &format!("m-{k}")).await)
                    .or_default() += 1;
            }
            let after = settle(
                &mut monitor,
                &database,
                &wire,
                statements_extension,
                stats_wait,
            )
            .await;
            let per = |n: f64| format!("{:.2}", n / requests as f64);
            rows.push(vec![
                callback.name.to_owned(),
                per((after.commits - before.commits) as f64),
                per((after.rollbacks - before.rollbacks) as f64),
                per((after.statements - before.statements) as f64),
                after
                    .server_statements
                    .zip(before.server_statements)
                    .map_or_else(|| "n/a".to_owned(), |(a, b)| per((a - b) as f64)),
                per((after.round_trips - before.round_trips) as f64),
                per((after.parses - before.parses) as f64),
            ]);
            answers.push(format!(
                "{}: {}",
                callback.name,
                seen.iter()
                    .map(|(answer, n)| format!("{answer} ×{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            before = after;
        }
        (server_version, rows, answers)
    });

    println!(
        "\nPostgreSQL {server_version} at {upstream}, {requests} requests per callback, one at a time; per request:\n"
    );
    print_table(
        &[
            "callback",
            "transactions committed",
            "rolled back",
            "statements (wire)",
            "statements (pg_stat_statements)",
            "round trips",
            "statements prepared",
        ],
        &rows,
    );
    println!("\nAnswers:");
    for answer in answers {
        println!("- {answer}");
    }
    runtime.block_on(drop_database(&admin_url, &database));
    runtime.block_on(drop_database(&admin_url, &monitor_database));
}

/// Sends onboarding `id`'s call of `callback`; its answer as `200 OK` (status and, for a
/// decision, its `result`).
async fn send(client: &reqwest::Client, service: &str, callback: &Callback, id: &str) -> String {
    let response = client
        .post(format!("{service}{}", callback.path))
        .basic_auth(USER, Some(PASSWORD))
        .json(&(callback.body)(id))
        .send()
        .await
        .expect("service answers");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or_default();
    match answer["result"].as_str() {
        Some(result) => format!("{status} {result}"),
        None => status.to_string(),
    }
}

/// The counters once the server's statistics have caught up (see the header).
async fn settle(
    monitor: &mut PgConnection,
    database: &str,
    wire: &Wire,
    statements_extension: bool,
    wait: Duration,
) -> Counts {
    tokio::time::sleep(wait).await;
    let mut last = read(monitor, database, wire, statements_extension).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = read(monitor, database, wire, statements_extension).await;
        if now == last {
            return now;
        }
        last = now;
    }
}

async fn read(
    monitor: &mut PgConnection,
    database: &str,
    wire: &Wire,
    statements_extension: bool,
) -> Counts {
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *monitor)
        .await
        .expect("clear snapshot");
    let (commits, rollbacks): (i64, i64) = sqlx::query_as(
        "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1",
    )
    .bind(database)
    .fetch_one(&mut *monitor)
    .await
    .expect("pg_stat_database");
    let server_statements = if statements_extension {
        let calls: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(s.calls), 0)::bigint FROM pg_stat_statements s \
             JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
        )
        .bind(database)
        .fetch_one(&mut *monitor)
        .await
        .expect("pg_stat_statements");
        Some(calls)
    } else {
        None
    };
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    Counts {
        commits,
        rollbacks,
        statements: load(&wire.queries) + load(&wire.executes),
        round_trips: load(&wire.queries) + load(&wire.syncs),
        parses: load(&wire.parses),
        server_statements,
    }
}

/// Starts the counting proxy in front of the server of `database_url`
/// (`postgres://user@host:port/db`); the server's address and the URL of the same
/// database through the proxy.
fn through_proxy(
    database_url: &str,
    runtime: &tokio::runtime::Runtime,
    wire: Arc<Wire>,
) -> (String, String) {
    let (scheme, rest) = database_url.split_once("://").expect("URL with ://");
    let (authority, path) = rest.split_once('/').expect("URL with a database");
    let (user, host) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(user, host)| (user, host));
    let upstream = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("proxy listens");
    let port = listener.local_addr().expect("proxy address").port();
    let target = upstream.clone();
    runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (target, wire) = (target.clone(), wire.clone());
            tokio::spawn(async move {
                let _ = relay(client, &target, &wire).await;
            });
        }
    });
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    (
        upstream,
        format!("{scheme}://{user}127.0.0.1:{port}/{path}"),
    )
}

/// One connection through the proxy: the startup (declining TLS and GSS encryption, so
/// that the rest can be read), then every message of the client counted and passed on;
/// the server's side is copied back unread.
async fn relay(mut client: TcpStream, upstream: &str, wire: &Wire) -> std::io::Result<()> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSSENC_REQUEST: u32 = 80_877_104;
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidData);
    // Startup messages have no type byte: a length, then a code.
    let startup = loop {
        let length = client.read_u32().await?;
        let mut rest = vec![0; (length as usize).checked_sub(4).ok_or_else(invalid)?];
        client.read_exact(&mut rest).await?;
        let code = rest.get(..4).ok_or_else(invalid)?;
        let code = u32::from_be_bytes([code[0], code[1], code[2], code[3]]);
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            client.write_all(b"N").await?;
            continue;
        }
        let mut message = length.to_be_bytes().to_vec();
        message.extend(rest);
        break message;
    };
    let server = TcpStream::connect(upstream).await?;
    server.set_nodelay(true)?;
    client.set_nodelay(true)?;
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    to_server.write_all(&startup).await?;
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    // Then typed messages: a type byte, a length (itself included), the content.
    loop {
        let kind = from_client.read_u8().await?;
        let length = from_client.read_u32().await?;
        if length < 4 {
            return Err(invalid());
        }
        let mut message = Vec::with_capacity(length as usize + 1);
        message.push(kind);
        message.extend(length.to_be_bytes());
        message.resize(length as usize + 1, 0);
        from_client.read_exact(&mut message[5..]).await?;
        let counter = match kind {
            b'Q' => Some(&wire.queries),
            b'E' => Some(&wire.executes),
            b'P' => Some(&wire.parses),
            b'S' => Some(&wire.syncs),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        to_server.write_all(&message).await?;
    }
}
