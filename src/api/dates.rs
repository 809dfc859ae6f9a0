//! Calendar dates as the Onboarding Server sends them (`dateOfBirth`, `dateOfIssue`,
//! `dateOfExpiry`) and the event `timestamp`.
//!
//! The DTOs say `YYYY-MM-DD`, but one 2.x build serialises these fields from
//! `java.util.Date`, so they can also arrive as epoch milliseconds (a JSON number or a
//! numeric string) or as an ISO date-time. A date-only value sent as an instant is the
//! midnight that starts the day in the server's JVM zone: 1985-03-02T00:00+01:00 arrives as
//! 1985-03-01T23:00Z (478_566_000_000 ms) and means 1985-03-02. Without a configured zone
//! the day is the one whose UTC midnight is nearest to the instant, which is right for
//! every zone within ±12 hours of UTC; `onboarding_server.time_zone` names the zone
//! instead (needed east of +12 h, e.g. New Zealand in summer). A date-time with a non-zero
//! offset carries its zone and is read as that local date.
//!
//! A value that is none of these forms is kept as the text sent: its fact is then unknown
//! (`null`) and the policy answers WAIT, never a 400 that would end the process.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// A date field of a callback: what was sent (serialised back unchanged, so the call's
/// digest and stored summary are the call as sent) and the calendar day it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDate {
    sent: Sent,
    /// The instant, when the value was sent as one and names no zone of its own.
    instant: Option<DateTime<Utc>>,
    /// `YYYY-MM-DD`, or the text as sent when it is no date.
    day: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Text(String),
    Millis(i64),
}

/// Longest date text accepted, in characters (an ISO date-time with fractions and offset
/// is about 35).
const MAX_DATE_TEXT: usize = 64;
/// Largest epoch-milliseconds magnitude accepted: 8·10¹² ms is about 253 years either side
/// of 1970 (1716–2223), every birth, issue and expiry date. The OpenAPI document says the
/// same, so what it allows is accepted and what it forbids is refused.
const MAX_MILLIS: i64 = 8_000_000_000_000;

impl WireDate {
    /// The day as `YYYY-MM-DD` (or the unparseable text as sent).
    pub fn day(&self) -> &str {
        &self.day
    }

    /// Reads an instant-valued date in `zone` instead of by the nearest UTC midnight.
    pub fn apply_time_zone(&mut self, zone: Tz) {
        if let Some(instant) = self.instant {
            self.day = zone
                .from_utc_datetime(&instant.naive_utc())
                .date_naive()
                .to_string();
        }
    }

    fn from_millis(sent: Sent, millis: i64) -> Self {
        match DateTime::<Utc>::from_timestamp_millis(millis) {
            Some(instant) => Self {
                sent,
                instant: Some(instant),
                day: nearest_utc_midnight(instant).to_string(),
            },
            None => Self::unparsed(sent),
        }
    }

    fn from_text(text: String) -> Self {
        let t = text.trim();
        if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Self {
                day: day.to_string(),
                instant: None,
                sent: Sent::Text(text),
            };
        }
        if !t.is_empty()
            && t.len() <= 20
            && t.trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
            && let Ok(millis) = t.parse::<i64>()
        {
            return Self::from_millis(Sent::Text(text), millis);
        }
        if let Some(at) = parse_date_time(t) {
            if at.offset().local_minus_utc() != 0 {
                // The offset names the sender's zone: its local date is the day meant.
                return Self {
                    day: at.date_naive().to_string(),
                    instant: None,
                    sent: Sent::Text(text),
                };
            }
            let instant = at.with_timezone(&Utc);
            return Self {
                day: nearest_utc_midnight(instant).to_string(),
                instant: Some(instant),
                sent: Sent::Text(text),
            };
        }
        Self::unparsed(Sent::Text(text))
    }

    fn unparsed(sent: Sent) -> Self {
        let day = match &sent {
            Sent::Text(t) => t.clone(),
            Sent::Millis(m) => m.to_string(),
        };
        Self {
            sent,
            instant: None,
            day,
        }
    }
}

/// The day whose UTC midnight is nearest to `instant`. A tie (exactly noon UTC) goes to the
/// next day: that is a midnight at UTC+12 (New Zealand, Fiji); UTC-12 is uninhabited.
fn nearest_utc_midnight(instant: DateTime<Utc>) -> NaiveDate {
    (instant + Duration::hours(12)).date_naive()
}

/// ISO 8601 / RFC 3339 date-times, with `Z`, `+01:00` or Jackson's `+0100`, with or
/// without fractions; without an offset, UTC.
fn parse_date_time(t: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Some(at);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(at) = DateTime::parse_from_str(t, format) {
            return Some(at);
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, format) {
            return Some(at.and_utc().fixed_offset());
        }
    }
    None
}

impl Serialize for WireDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.sent {
            Sent::Text(t) => s.serialize_str(t),
            Sent::Millis(m) => s.serialize_i64(*m),
        }
    }
}

impl<'de> serde::Deserialize<'de> for WireDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DateVisitor)
    }
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = WireDate;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a date: `YYYY-MM-DD`, an ISO date-time or epoch milliseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<WireDate, E> {
        if v.chars().count() > MAX_DATE_TEXT {
            return Err(E::custom(format!(
                "a date of at most {MAX_DATE_TEXT} characters"
            )));
        }
        Ok(WireDate::from_text(v.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireDate, E> {
        if v.abs() > MAX_MILLIS {
            return Err(E::custom(format!(
                "epoch milliseconds within ±{MAX_MILLIS}"
            )));
        }
        Ok(WireDate::from_millis(Sent::Millis(v), v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireDate, E> {
        let millis = i64::try_from(v).map_err(|_| E::custom("epoch milliseconds out of range"))?;
        self.visit_i64(millis)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireDate, E> {
        // Jackson writes whole milliseconds; a number with a fraction is refused rather
        // than guessed at (seconds? milliseconds?).
        #[allow(clippy::cast_precision_loss)]
        if v.fract() == 0.0 && v.abs() <= MAX_MILLIS as f64 {
            #[allow(clippy::cast_possible_truncation)]
            return self.visit_i64(v as i64);
        }
        Err(E::custom("epoch milliseconds as a whole number"))
    }
}

/// OpenAPI schema of a date field: a string (`YYYY-MM-DD` or ISO date-time), epoch
/// milliseconds, or null.
pub fn date_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Integer,
            Type::Null,
        ]))
        .description(Some(
            "`YYYY-MM-DD` (the DTO's form), an ISO 8601 date-time, or epoch milliseconds \
             (a number or a numeric string; one 2.x build sends `java.util.Date`). An \
             instant means the day whose midnight it is in the Onboarding Server's zone.",
        ))
        .max_length(Some(MAX_DATE_TEXT))
        .minimum(Some(-8.0e12))
        .maximum(Some(8.0e12))
        .build()
}

/// OpenAPI schema of an event `timestamp`: ISO 8601 text, epoch milliseconds, or null.
pub fn timestamp_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Null,
        ]))
        .description(Some(
            "When the action happened: ISO 8601 text (kept as sent), epoch milliseconds \
             (an integer, `java.util.Date`) or epoch seconds with a decimal point \
             (Jackson's `Instant`); numbers are stored as RFC 3339 UTC.",
        ))
        .max_length(Some(MAX_DATE_TEXT))
        .minimum(Some(-8.0e12))
        .maximum(Some(8.0e12))
        .build()
}

/// Deserialises an event `timestamp`: text as sent (at most 64 characters), or epoch
/// milliseconds turned into an RFC 3339 UTC text.
///
/// # Errors
/// A value of another type, or a text too long.
pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TimestampVisitor;
    impl<'de> Visitor<'de> for TimestampVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a timestamp: an ISO 8601 text or epoch milliseconds")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.chars().count() > MAX_DATE_TEXT {
                return Err(E::custom(format!(
                    "a timestamp of at most {MAX_DATE_TEXT} characters"
                )));
            }
            Ok(Some(v.to_owned()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            if v.abs() > MAX_MILLIS {
                return Err(E::custom(format!("a timestamp within ±{MAX_MILLIS}")));
            }
            DateTime::<Utc>::from_timestamp_millis(v)
                .map(|at| Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
                .ok_or_else(|| E::custom("epoch milliseconds out of range"))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_i64(
                i64::try_from(v).map_err(|_| E::custom("epoch milliseconds out of range"))?,
            )
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Jackson's `WRITE_DATES_AS_TIMESTAMPS` writes an `Instant` as decimal seconds
            // (`1751380200.000000000`); integers are milliseconds (`java.util.Date`).
            #[allow(clippy::cast_precision_loss)]
            if !v.is_finite() || v.abs() > MAX_MILLIS as f64 {
                return Err(E::custom(format!("a timestamp within ±{MAX_MILLIS}")));
            }
            #[allow(clippy::cast_possible_truncation)]
            DateTime::<Utc>::from_timestamp_millis((v * 1000.0).round() as i64)
                .map(|at| Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
                .ok_or_else(|| E::custom("a timestamp in range"))
        }
    }
    d.deserialize_option(TimestampVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> WireDate {
        serde_json::from_str(json).expect("a date")
    }

    #[test]
    fn iso_dates_are_kept() {
        let d = read("\"1985-03-02\"");
        assert_eq!(d.day(), "1985-03-02");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"1985-03-02\"");
    }

    #[test]
    fn a_midnight_east_of_utc_sent_as_millis_is_its_local_day() {
        // 1985-03-02T00:00+01:00 (Prague, winter) = 1985-03-01T23:00Z.
        let d = read("478566000000");
        assert_eq!(d.day(), "1985-03-02");
        // Serialised as sent: the digest of an identical repeat does not change.
        assert_eq!(serde_json::to_string(&d).unwrap(), "478566000000");
        // As a numeric string, the same day; serialised as the string sent.
        let s = read("\"478566000000\"");
        assert_eq!(s.day(), "1985-03-02");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"478566000000\"");
    }

    #[test]
    fn midnights_from_minus_12_to_plus_12_hours_map_to_their_day() {
        let day = NaiveDate::from_ymd_opt(1985, 3, 2).unwrap();
        for offset_h in -11..=12 {
            let local_midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
            let instant = local_midnight - Duration::hours(offset_h);
            let d = read(&instant.timestamp_millis().to_string());
            assert_eq!(d.day(), "1985-03-02", "UTC{offset_h:+}");
        }
    }

    #[test]
    fn births_before_1970_are_negative_millis() {
        // 1950-06-15T00:00+02:00 (Prague, summer time).
        let d = read("-616903200000");
        assert_eq!(
            DateTime::<Utc>::from_timestamp_millis(-616_903_200_000)
                .unwrap()
                .to_rfc3339(),
            "1950-06-14T22:00:00+00:00"
        );
        assert_eq!(d.day(), "1950-06-15");
    }

    #[test]
    fn a_configured_zone_overrides_the_nearest_midnight() {
        // 1985-01-15T00:00+13:00 (Auckland, summer) = 1985-01-14T11:00Z: nearest UTC
        // midnight would say the 14th.
        let mut d = read("474548400000");
        assert_eq!(d.day(), "1985-01-14");
        d.apply_time_zone(chrono_tz::Pacific::Auckland);
        assert_eq!(d.day(), "1985-01-15");
        // A plain ISO date is not moved by a zone.
        let mut iso = read("\"1985-01-15\"");
        iso.apply_time_zone(chrono_tz::America::Los_Angeles);
        assert_eq!(iso.day(), "1985-01-15");
    }

    #[test]
    fn date_times_in_utc_use_the_midnight_rule_and_offsets_their_own_date() {
        assert_eq!(read("\"1985-03-01T23:00:00.000+0000\"").day(), "1985-03-02");
        assert_eq!(read("\"1985-03-01T23:00:00Z\"").day(), "1985-03-02");
        assert_eq!(read("\"1985-03-02T00:00:00+01:00\"").day(), "1985-03-02");
        assert_eq!(read("\"1985-03-02T00:00:00.000+0100\"").day(), "1985-03-02");
        assert_eq!(read("\"2030-01-15T00:00:00\"").day(), "2030-01-15");
    }

    #[test]
    fn other_text_is_kept_as_sent_and_odd_numbers_refused() {
        assert_eq!(read("\"02.03.1985\"").day(), "02.03.1985");
        assert!(serde_json::from_str::<WireDate>("1.5").is_err());
        assert!(serde_json::from_str::<WireDate>("true").is_err());
        let long = format!("\"{}\"", "9".repeat(80));
        assert!(serde_json::from_str::<WireDate>(&long).is_err());
        // Outside the range the OpenAPI document states.
        assert!(serde_json::from_str::<WireDate>("9007199254740991").is_err());
        assert!(serde_json::from_str::<WireDate>("18446744073709551615").is_err());
        assert_eq!(read("-8000000000000").day(), "1716-06-28");
    }

    #[test]
    fn timestamps_accept_text_and_millis() {
        #[derive(serde::Deserialize)]
        struct E {
            #[serde(default, deserialize_with = "timestamp")]
            t: Option<String>,
        }
        let e: E = serde_json::from_str(r#"{"t": 1751380200000}"#).unwrap();
        assert_eq!(e.t.as_deref(), Some("2025-07-01T14:30:00.000Z"));
        let e: E = serde_json::from_str(r#"{"t": 1751380200.5}"#).unwrap();
        assert_eq!(e.t.as_deref(), Some("2025-07-01T14:30:00.500Z"));
        let e: E = serde_json::from_str(r#"{"t": 1751380200.000000000}"#).unwrap();
        assert_eq!(e.t.as_deref(), Some("2025-07-01T14:30:00.000Z"));
        assert!(serde_json::from_str::<E>(r#"{"t": 8000000000001}"#).is_err());
        assert!(serde_json::from_str::<E>(r#"{"t": 8.1e12}"#).is_err());
        let e: E = serde_json::from_str(r#"{"t": "2026-07-01T14:30:00Z"}"#).unwrap();
        assert_eq!(e.t.as_deref(), Some("2026-07-01T14:30:00Z"));
        let e: E = serde_json::from_str(r#"{"t": null}"#).unwrap();
        assert_eq!(e.t, None);
        let e: E = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(e.t, None);
        assert!(serde_json::from_str::<E>(r#"{"t": {}}"#).is_err());
    }
}
