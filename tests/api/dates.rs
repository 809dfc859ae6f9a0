//! Dates as a 2.x Onboarding Server serialising `java.util.Date` sends them: epoch
//! milliseconds (numbers or numeric strings) and ISO date-times, read as the calendar days
//! they mean (`api::dates`), decided by the demo policy like `YYYY-MM-DD`.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use onboarding_adapter::clock::FixedClock;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with_clock};

/// 1985-03-02T00:00+01:00 (a midnight in Prague) = 1985-03-01T23:00Z.
const BORN_PRAGUE_MIDNIGHT: i64 = 478_566_000_000;

async fn app_on(
    day: (i32, u32, u32),
    configure: impl FnOnce(&mut onboarding_adapter::configuration::Settings),
) -> TestApp {
    let clock = Arc::new(FixedClock(
        Utc.with_ymd_and_hms(day.0, day.1, day.2, 12, 0, 0).unwrap(),
    ));
    let app = spawn_app_with_clock(configure, clock).await;
    app.seed_demo_customers().await;
    app
}

fn evaluate(iv: &str, birth: Value, issue: Value, expiry: Value) -> Value {
    json!({
        "processId": format!("p-{iv}"), "processType": "onboarding", "identityVerificationId": iv,
        "userId": "U-NOT-IN-REGISTRY", "verificationId": "ver-1", "provider": "microblink", "status": "SUCCESS",
        "documentCheckResult": {
            "person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": birth},
            "documents": [{"type": "ID_CARD", "country": "CZE", "status": "SUCCESS", "score": 10,
                "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": birth,
                    "documentNumber": "123456789", "dateOfIssue": issue, "dateOfExpiry": expiry,
                    "sex": "M", "nationality": "CZE"},
                "images": null, "rawData": "{}"}]
        }
    })
}

/// Epoch milliseconds of a midnight in UTC+1 (Prague in winter).
fn prague_midnight(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
        - 3_600_000
}

async fn decide(app: &TestApp, body: Value) -> (String, String) {
    let (status, answer) = app.post_json("/client/evaluate", body).await;
    assert_eq!(status, 200, "{answer}");
    (
        answer["result"].as_str().unwrap_or_default().to_owned(),
        answer["resultReason"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn epoch_millisecond_dates_are_accepted_and_decided_like_iso_dates() {
    let app = app_on((2026, 11, 23), |_| {}).await;
    let issued = prague_midnight(2020, 1, 15);
    let expires = prague_midnight(2030, 1, 15);
    // Numbers, as Jackson writes a java.util.Date.
    let ok = evaluate(
        "iv-ms",
        json!(BORN_PRAGUE_MIDNIGHT),
        json!(issued),
        json!(expires),
    );
    assert_eq!(decide(&app, ok).await, ("OK".into(), String::new()));
    // The stored facts read the day meant, not the UTC day of the instant.
    let rows = app
        .rows("SELECT facts FROM decision WHERE identity_verification_id = 'iv-ms'")
        .await;
    let facts: Value = rows[0].try_get("", "facts").expect("facts");
    assert_eq!(facts["person"]["dateOfBirth"], "1985-03-02", "{facts}");
    assert_eq!(facts["age"], 41);

    // Numeric strings and ISO date-times (Jackson's `+0000` form) mean the same.
    let strings = evaluate(
        "iv-str",
        json!(BORN_PRAGUE_MIDNIGHT.to_string()),
        json!("2020-01-14T23:00:00.000+0000"),
        json!("2030-01-15T00:00:00+01:00"),
    );
    assert_eq!(decide(&app, strings).await, ("OK".into(), String::new()));

    // An expiry in the past, sent as millis, is expired.
    let expired = evaluate(
        "iv-expired",
        json!(BORN_PRAGUE_MIDNIGHT),
        json!(issued),
        json!(prague_midnight(2026, 11, 22)),
    );
    assert_eq!(
        decide(&app, expired).await,
        ("NOK".into(), "DOCUMENT_EXPIRED".into())
    );
    // Born 2010 (millis): underage.
    let young = evaluate(
        "iv-young",
        json!(prague_midnight(2010, 6, 1)),
        json!(issued),
        json!(expires),
    );
    assert_eq!(decide(&app, young).await, ("NOK".into(), "UNDERAGE".into()));
}

#[tokio::test]
async fn a_configured_zone_reads_instants_as_days_of_that_zone() {
    // Born 2008-12-07 in Auckland: local midnight (+13:00 in summer) = 2008-12-06T11:00Z,
    // which the nearest UTC midnight reads as 2008-12-06. "Today" is 2026-12-06: 18 by
    // that reading, 17 in fact.
    let born = Utc
        .with_ymd_and_hms(2008, 12, 6, 11, 0, 0)
        .unwrap()
        .timestamp_millis();
    let body = |iv: &str| evaluate(iv, json!(born), json!("2020-01-15"), json!("2030-01-15"));
    let utc_rule = app_on((2026, 12, 6), |_| {}).await;
    assert_eq!(decide(&utc_rule, body("iv-nz-1")).await.0, "OK");
    let auckland = app_on((2026, 12, 6), |s| {
        s.onboarding_server.time_zone = Some(chrono_tz::Pacific::Auckland);
    })
    .await;
    assert_eq!(
        decide(&auckland, body("iv-nz-2")).await,
        ("NOK".into(), "UNDERAGE".into())
    );
}

#[tokio::test]
async fn dates_that_are_no_dates_are_unknown_facts_never_a_400() {
    let app = app_on((2026, 11, 23), |_| {}).await;
    // A text in another format: kept, the birth date unknown → the policy waits.
    let odd = evaluate(
        "iv-odd",
        json!("02.03.1985"),
        json!("2020-01-15"),
        json!("2030-01-15"),
    );
    assert_eq!(decide(&app, odd).await.0, "WAIT");
    // Explicit nulls everywhere a date may be.
    let nulls = evaluate("iv-null", Value::Null, Value::Null, Value::Null);
    let (status, _) = app.post_json("/client/evaluate", nulls).await;
    assert_eq!(status, 200);
    // A type no server sends is the caller's mistake: 400 naming the field.
    let (status, answer) = app
        .post_json(
            "/client/evaluate",
            evaluate("iv-bool", json!(true), Value::Null, Value::Null),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("dateOfBirth")),
        "{answer}"
    );
}
