//! W3C Trace Context (`traceparent`, `tracestate`): the trace a request belongs to, taken
//! from the caller when it sends a valid `traceparent` and started here otherwise, logged
//! with the correlation ids and passed on as a child `traceparent` on every outbound call
//! the request causes (the private-API delivery of a resolution included, however much
//! later it runs).

/// The trace of one request: its trace id and flags, and the caller's `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: String,
    flags: u8,
    state: Option<String>,
}

/// Longest `tracestate` passed on (the spec's 32 members of at most 256 characters would be
/// more; 512 is what it asks every vendor to keep).
const MAX_TRACESTATE: usize = 512;

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

impl TraceContext {
    /// A new trace (sampled).
    pub fn new_root() -> Self {
        Self {
            trace_id: random_hex(32),
            flags: 0x01,
            state: None,
        }
    }

    /// The caller's trace when `traceparent` is valid (version `00`, or a later version
    /// read by its first four fields, as the spec asks), otherwise a new one.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Self {
        let Some(mut context) = traceparent.and_then(Self::parse) else {
            return Self::new_root();
        };
        context.state = tracestate
            .map(str::trim)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= MAX_TRACESTATE
                    && s.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
            .map(str::to_owned);
        context
    }

    /// Parses a `traceparent` value.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut fields = value.splitn(5, '-');
        let (version, trace_id, parent_id, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        let rest = fields.next();
        if !is_lower_hex(version, 2) || version == "ff" {
            return None;
        }
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && rest.is_some() {
            return None;
        }
        if !is_lower_hex(trace_id, 32)
            || trace_id.bytes().all(|b| b == b'0')
            || !is_lower_hex(parent_id, 16)
            || parent_id.bytes().all(|b| b == b'0')
            || !is_lower_hex(flags, 2)
        {
            return None;
        }
        Some(Self {
            trace_id: trace_id.to_owned(),
            flags: u8::from_str_radix(flags, 16).ok()?,
            state: None,
        })
    }

    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    pub fn tracestate(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// A `traceparent` for a new outbound call of this trace: same trace id and sampled
    /// flag, a fresh parent id.
    pub fn child_traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            random_hex(16),
            self.flags & 0x01
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_parent_id() {
        let t = TraceContext::from_headers(Some(VALID), Some("congo=t61rcWkgMzE"));
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.tracestate(), Some("congo=t61rcWkgMzE"));
        let child = t.child_traceparent();
        let parsed = TraceContext::parse(&child).expect("child is valid");
        assert_eq!(parsed.trace_id(), t.trace_id());
        assert!(child.ends_with("-01"));
        assert_ne!(&child[36..52], "00f067aa0ba902b7", "a new parent id");
    }

    #[test]
    fn invalid_values_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            let t = TraceContext::from_headers(Some(bad), None);
            assert_ne!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert!(TraceContext::parse(&t.child_traceparent()).is_some());
        }
        // A later version is read by its first four fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert_eq!(
            TraceContext::from_headers(Some(future), None).trace_id(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn an_unsampled_trace_stays_unsampled_and_odd_tracestate_is_dropped() {
        let t = TraceContext::from_headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            Some("bad\nvalue"),
        );
        assert!(t.child_traceparent().ends_with("-00"));
        assert_eq!(t.tracestate(), None);
    }
}
