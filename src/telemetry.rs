//! Logging: JSON lines (or pretty for a terminal), every line of a request carrying the
//! request span's fields (correlation and request ids, route). tracing-subscriber's own
//! JSON format: the event's fields at the top, the enclosing spans in `spans`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

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
    let result = match settings.format {
        LogFormat::Json => json_lines(filter, writer).try_init(),
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

/// One JSON object per line: `timestamp`, `level`, the event's fields (`message` among
/// them), `target`, and `spans` (outermost first, each its fields and `name`).
fn json_lines<W>(
    filter: EnvFilter,
    writer: W,
) -> SubscriberBuilder<JsonFields, Format<Json>, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
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
        let subscriber = json_lines(filter, move || writer.clone()).finish();
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
        let subscriber = json_lines(EnvFilter::try_new("info").expect("filter"), move || {
            writer.clone()
        })
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
}
