//! Logging: JSON lines (or pretty for a terminal), every line of a request carrying the
//! request span's fields (correlation and request ids, route).

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::configuration::{LogFormat, LogSettings};

/// Installs the global subscriber writing to `writer`.
///
/// # Errors
/// When a global subscriber is already installed or the filter does not parse.
pub fn init<W>(settings: &LogSettings, writer: W) -> anyhow::Result<()>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v)?,
        _ => EnvFilter::try_new(&settings.level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match settings.format {
        LogFormat::Json => builder
            .fmt_fields(JsonMembers)
            .event_format(JsonLines)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

/// One JSON object per line: `timestamp`, `level`, the event's fields (`message` among
/// them), `target`, and `spans` (outermost first, each its fields and `name`), as
/// tracing-subscriber's JSON format with a flattened event and the span list writes it.
///
/// Spans' fields are kept as JSON text when the span is created ([`JsonMembers`]) and
/// copied into each line as they are; tracing-subscriber's own format parses them back
/// into values for every line, which was a tenth of a callback's CPU time.
struct JsonLines;

impl<S> FormatEvent<S, JsonMembers> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = JsonObject::default();
        event.record(&mut fields);
        writer.write_str(&fields.0)?;
        writer.write_str(",\"target\":")?;
        writer.write_str(&json_string(meta.target()))?;
        if let Some(scope) = ctx.event_scope() {
            writer.write_str(",\"spans\":[")?;
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    writer.write_char(',')?;
                }
                writer.write_char('{')?;
                let extensions = span.extensions();
                let recorded = extensions
                    .get::<FormattedFields<JsonMembers>>()
                    .map(|f| f.fields.as_str())
                    .unwrap_or_default();
                if !recorded.is_empty() {
                    writer.write_str(recorded)?;
                    writer.write_char(',')?;
                }
                writer.write_str("\"name\":")?;
                writer.write_str(&json_string(span.name()))?;
                writer.write_char('}')?;
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// A span's fields as the members of a JSON object (`"name":value,…`, no braces), written
/// straight from the values: tracing-subscriber's `JsonFields` gathers them in a map of
/// JSON values first, which cost a fifth of the request span's logging
/// (`cargo bench --bench http_load`, the "no database" scenario). A field recorded again
/// later is appended; JSON readers take the last of two equal keys.
pub struct JsonMembers;

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut members = JsonObject::default();
        fields.record(&mut members);
        writer.write_str(members.0.strip_prefix(',').unwrap_or_default())
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let mut members = JsonObject::default();
        fields.record(&mut members);
        let added = if current.fields.is_empty() {
            members.0.strip_prefix(',').unwrap_or_default()
        } else {
            members.0.as_str()
        };
        current.fields.push_str(added);
        Ok(())
    }
}

/// An event's fields as `,"name":value` pairs.
#[derive(Default)]
struct JsonObject(String);

impl JsonObject {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        push_json_string(&mut self.0, field.name());
        self.0.push(':');
    }
}

impl Visit for JsonObject {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        match serde_json::Number::from_f64(value) {
            Some(number) => self.0.push_str(&number.to_string()),
            None => push_json_string(&mut self.0, &value.to_string()),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_string(&mut self.0, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        self.0.push('"');
        // Writing into a String cannot fail.
        let _ = write!(Escaping(&mut self.0), "{value:?}");
        self.0.push('"');
    }
}

/// Writes text into a JSON string literal under construction, escaped as serde_json
/// escapes it (so a displayed value needs no string of its own first).
struct Escaping<'a>(&'a mut String);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let mut plain = 0;
        for (i, byte) in text.bytes().enumerate() {
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&text[plain..i]);
            if escaped.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.push_str(escaped);
            }
            plain = i + 1;
        }
        self.0.push_str(&text[plain..]);
        Ok(())
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// Appends `text` as a JSON string literal; copied as it is when nothing needs escaping
/// (field names, ids, codes: nearly every value logged).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    // Writing into a String cannot fail.
    let _ = Escaping(out).write_str(text);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::configuration::{LogFormat, LogSettings};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Every line is one JSON object with the event's fields at the top and each
    /// enclosing span's fields, outermost first; quotes and control characters in values
    /// stay inside their strings.
    #[test]
    fn lines_are_json_with_the_event_fields_and_the_span_list() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let settings = LogSettings {
            format: LogFormat::Json,
            level: "info".into(),
        };
        let filter = EnvFilter::try_new(&settings.level).expect("filter");
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .fmt_fields(JsonMembers)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("request", correlation_id = "c-1", path = "/x\"y");
            let _outer = outer.enter();
            let inner = tracing::info_span!("consent_text", process_id = %"p-1");
            let _inner = inner.enter();
            tracing::info!(
                status = 200u16,
                ratio = 0.5,
                ok = true,
                text = "line\nbreak",
                "done {}",
                1
            );
            tracing::debug!("filtered out");
        });
        tracing::info!("outside any span");
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("one JSON object");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "done 1");
        assert_eq!(line["status"], 200);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["ok"], true);
        assert_eq!(line["text"], "line\nbreak");
        assert_eq!(line["target"], module_path!());
        assert!(
            line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert_eq!(
            line["spans"],
            serde_json::json!([
                {"correlation_id": "c-1", "path": "/x\"y", "name": "request"},
                {"process_id": "p-1", "name": "consent_text"}
            ])
        );
    }

    /// Fields recorded after a span was created join its members; a span without fields
    /// has only its name.
    #[test]
    fn recorded_fields_join_the_span_members() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::try_new("info").expect("filter"))
            .with_writer(move || writer.clone())
            .fmt_fields(JsonMembers)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("empty", later = tracing::field::Empty);
            let _outer = outer.enter();
            let inner = tracing::info_span!("request", id = 7, status = tracing::field::Empty);
            let _inner = inner.enter();
            outer.record("later", "x");
            inner.record("status", 204);
            tracing::info!("done");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(
            line["spans"],
            serde_json::json!([
                {"later": "x", "name": "empty"},
                {"id": 7, "status": 204, "name": "request"}
            ])
        );
    }

    /// Strings are written exactly as serde_json writes them, escaped or not.
    #[test]
    fn json_strings_match_serde_json() {
        for text in [
            "",
            "plain",
            "quote\"d",
            "back\\slash",
            "tab\tand\u{1}",
            "all \u{0}\u{8}\u{c}\n\r\u{1f} of them\\\"",
            "del\u{7f}",
            "žluťoučký kůň",
            "emoji \u{1F600}",
        ] {
            assert_eq!(
                json_string(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
            // A displayed value, written in pieces, is escaped the same way.
            let mut out = String::from("\"");
            write!(Escaping(&mut out), "{text}{}", text).unwrap();
            out.push('"');
            assert_eq!(
                out,
                serde_json::to_string(&format!("{text}{text}")).unwrap()
            );
        }
    }
}
