//! Golden Onboarding Server payloads: every file under `tests/golden/<callback>/` is a
//! request as a given Onboarding Server version sends it (`contract.md`), replayed against
//! the real server (fresh database, demo customers, the built-in demo policy) with its
//! expected answer.
//!
//! A fixture:
//!
//! ```json
//! { "description": "…", "source": "contract.md §…",
//!   "setup":   [ {"path": "/…", "body": {…}} ],          // optional, sent first (any 2xx)
//!   "request": {"path": "/…", "body": {…}},
//!   "expect":  {"status": 200,
//!               "body": {…}            // exact JSON (null: empty body), or
//!               "bodyShape": {…},      // the same with matchers, see below
//!               "stored": {"table": 1} // optional: rows the request adds to each table
//!   } }
//! ```
//!
//! Matchers (in `bodyShape`; for values that depend on the decision policy or on state):
//! a string `"$string"`, `"$nonEmptyString"`, `"$boolean"`, `"$number"`, `"$object"`,
//! `"$array"` or `"$any"` matches any value of that type; `{"$oneOf": [a, b, …]}` matches a
//! value equal to one of the listed ones. An object matches an object with exactly its keys;
//! an array matches an array of the same length, element by element; anything else matches
//! an equal value. Error answers also have their `{"errorCode", "message"}` checked.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::helpers::{PASSWORD, TestApp, USER, spawn_app};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// The callbacks and their fixture folders (each must exist and hold fixtures).
const FOLDERS: &[(&str, &str)] = &[
    ("user-lookup", "/user/lookup"),
    ("otp-send", "/otp/send"),
    ("consent-text", "/consent/text"),
    ("consent-storage", "/consent/storage"),
    ("client-evaluate", "/client/evaluate"),
    ("client-approve", "/client/approve"),
    ("process-event", "/process/event"),
];

fn fixtures(folder: &str) -> Vec<(PathBuf, Value)> {
    let dir = Path::new(GOLDEN).join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("fixture readable");
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            (path, value)
        })
        .collect()
}

/// Sends one call as the Onboarding Server does: POST, JSON, Basic auth, fresh
/// correlation and request ids. Returns status, body (Null when empty) and whether the
/// ids were echoed.
async fn send(app: &TestApp, call: &Value) -> Result<(u16, Value, Option<String>), String> {
    let path = call["path"].as_str().ok_or("call without a `path`")?;
    let body = call.get("body").ok_or("call without a `body`")?;
    let correlation = uuid::Uuid::new_v4().to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .client
        .post(app.url(path))
        .basic_auth(USER, Some(PASSWORD))
        .header("Accept", "application/json")
        .header("X-Correlation-Id", &correlation)
        .header("X-Request-Id", &request_id)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("{path}: request failed: {e}"))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut problem = None;
    if header("X-Correlation-Id").as_deref() != Some(correlation.as_str())
        || header("X-Request-Id").as_deref() != Some(request_id.as_str())
    {
        problem = Some("correlation headers not echoed".to_owned());
    }
    let content_type = header("Content-Type").unwrap_or_default();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{path}: body: {e}"))?;
    let json = if text.is_empty() {
        Value::Null
    } else {
        if !content_type.starts_with("application/json") {
            problem = Some(format!("content type {content_type:?} for a body"));
        }
        serde_json::from_str(&text).map_err(|_| format!("{path}: answer is not JSON: {text}"))?
    };
    Ok((status, json, problem))
}

/// Checks `actual` against `expected` (with matchers when `shape`), describing the first
/// difference with its JSON path.
fn matches(expected: &Value, actual: &Value, shape: bool, at: &str) -> Result<(), String> {
    let fail = || Err(format!("at {at}: expected {expected}, got {actual}"));
    if shape {
        if let Some(word) = expected.as_str().and_then(|s| s.strip_prefix('$')) {
            let ok = match word {
                "string" => actual.is_string(),
                "nonEmptyString" => actual.as_str().is_some_and(|s| !s.is_empty()),
                "boolean" => actual.is_boolean(),
                "number" => actual.is_number(),
                "object" => actual.is_object(),
                "array" => actual.is_array(),
                "any" => true,
                other => return Err(format!("at {at}: unknown matcher ${other}")),
            };
            return if ok { Ok(()) } else { fail() };
        }
        if let Some(options) = expected
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("$oneOf"))
        {
            let options = options
                .as_array()
                .ok_or_else(|| format!("at {at}: $oneOf needs an array"))?;
            return if options.contains(actual) {
                Ok(())
            } else {
                fail()
            };
        }
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => matches(ev, av, shape, &format!("{at}.{key}"))?,
                    (Some(_), None) => return Err(format!("at {at}: missing key `{key}`")),
                    (None, _) => return Err(format!("at {at}: unexpected key `{key}`")),
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (ev, av))| matches(ev, av, shape, &format!("{at}[{i}]"))),
        _ => {
            if expected == actual {
                Ok(())
            } else {
                fail()
            }
        }
    }
}

async fn counts(app: &TestApp, tables: &Map<String, Value>) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for table in tables.keys() {
        if !table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("`stored` names an odd table: {table}"));
        }
        out.push(app.count(table).await);
    }
    Ok(out)
}

async fn replay(app: &TestApp, fixture: &Value, callback_path: &str) -> Result<(), String> {
    for (i, call) in fixture["setup"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (status, body, _) = send(app, call).await?;
        if !(200..300).contains(&status) {
            return Err(format!("setup call {i} answered {status}: {body}"));
        }
    }
    let request = &fixture["request"];
    if request["path"] != callback_path {
        return Err(format!(
            "request path {} is not this folder's callback {callback_path}",
            request["path"]
        ));
    }
    let expect = &fixture["expect"];
    let stored = expect["stored"].as_object().cloned().unwrap_or_default();
    let before = counts(app, &stored).await?;

    let (status, body, problem) = send(app, request).await?;
    if let Some(problem) = problem {
        return Err(problem);
    }
    let want_status = expect["status"]
        .as_u64()
        .ok_or("expect.status is missing")?;
    if u64::from(status) != want_status {
        return Err(format!(
            "status {status} (expected {want_status}), body {body}"
        ));
    }
    match (expect.get("body"), expect.get("bodyShape")) {
        (Some(exact), None) => matches(exact, &body, false, "body")?,
        (None, Some(shape)) => matches(shape, &body, true, "body")?,
        _ => return Err("expect needs exactly one of `body` and `bodyShape`".into()),
    }
    if status >= 400 {
        let ok = body.as_object().is_some_and(|o| {
            o.len() == 2
                && matches!(
                    o.get("errorCode").and_then(Value::as_str),
                    Some("ERROR_GENERIC" | "ERROR_UNAUTHORIZED")
                )
                && o.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| !m.is_empty())
        });
        if !ok {
            return Err(format!("error body is not {{errorCode, message}}: {body}"));
        }
    }
    let after = counts(app, &stored).await?;
    for ((table, delta), (b, a)) in stored.iter().zip(before.into_iter().zip(after)) {
        let delta = delta.as_i64().ok_or("`stored` values are row counts")?;
        if a - b != delta {
            return Err(format!(
                "table {table}: {} new rows (expected {delta})",
                a - b
            ));
        }
    }
    Ok(())
}

/// Replays every fixture of `folder`, each against its own fresh server, and reports all
/// failures at once.
async fn replay_folder(folder: &str) {
    let callback_path = FOLDERS
        .iter()
        .find(|(f, _)| *f == folder)
        .map(|(_, p)| *p)
        .expect("known folder");
    let mut failures = Vec::new();
    let all = fixtures(folder);
    for (path, fixture) in &all {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = format!("{folder}/{}", name.unwrap_or_default());
        for key in ["description", "source", "request", "expect"] {
            if fixture.get(key).is_none() {
                failures.push(format!("{name}: no `{key}`"));
            }
        }
        let app = spawn_app().await;
        app.seed_demo_customers().await;
        if let Err(e) = replay(&app, fixture, callback_path).await {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden payloads failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn there_is_a_fixture_folder_for_every_callback_and_nothing_else() {
    let mut present: Vec<String> = std::fs::read_dir(GOLDEN)
        .expect("tests/golden")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let mut expected: Vec<String> = FOLDERS.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(present, expected);
}

#[test]
fn the_matchers_do_what_the_fixtures_rely_on() {
    use serde_json::json;
    let shape = json!({"result": {"$oneOf": ["OK", "NOK", "WAIT"]}, "resultReason": "$string"});
    assert!(
        matches(
            &shape,
            &json!({"result": "WAIT", "resultReason": "X"}),
            true,
            "b"
        )
        .is_ok()
    );
    assert!(
        matches(
            &shape,
            &json!({"result": "MAYBE", "resultReason": "X"}),
            true,
            "b"
        )
        .is_err()
    );
    assert!(
        matches(
            &shape,
            &json!({"result": "OK", "resultReason": null}),
            true,
            "b"
        )
        .is_err()
    );
    assert!(matches(&shape, &json!({"result": "OK"}), true, "b").is_err());
    assert!(
        matches(
            &shape,
            &json!({"result": "OK", "resultReason": "", "x": 1}),
            true,
            "b"
        )
        .is_err()
    );
    // Exact bodies do not interpret matchers.
    assert!(matches(&json!({"a": "$string"}), &json!({"a": "x"}), false, "b").is_err());
    assert!(
        matches(
            &json!({"a": [1, "$number"]}),
            &json!({"a": [1, 2]}),
            true,
            "b"
        )
        .is_ok()
    );
    assert!(matches(&json!("$nonEmptyString"), &json!(""), true, "b").is_err());
}

#[tokio::test]
async fn golden_user_lookup() {
    replay_folder("user-lookup").await;
}

#[tokio::test]
async fn golden_otp_send() {
    replay_folder("otp-send").await;
}

#[tokio::test]
async fn golden_consent_text() {
    replay_folder("consent-text").await;
}

#[tokio::test]
async fn golden_consent_storage() {
    replay_folder("consent-storage").await;
}

#[tokio::test]
async fn golden_client_evaluate() {
    replay_folder("client-evaluate").await;
}

#[tokio::test]
async fn golden_client_approve() {
    replay_folder("client-approve").await;
}

#[tokio::test]
async fn golden_process_event() {
    replay_folder("process-event").await;
}
