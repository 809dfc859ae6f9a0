//! How a delivery of a review resolution to the Onboarding Server's private API ended: the
//! outcome classes the back office shows and alerts on, and the server's refusals that
//! mean the process has moved on.

/// The class of a delivery attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    /// The server took the result (`200 {"result":"OK"}`).
    Delivered,
    /// An earlier attempt may have reached the server, and this one was refused because the
    /// process has moved on: the earlier attempt took effect. No alert.
    AlreadyApplied,
    /// The server refused the result for good (`result: NOK`, a 400 or 404 that retrying
    /// does not change). Alert: a person must look at the process.
    Rejected,
    /// The server or the identity provider refused our credentials. Alert: configuration.
    AuthFailed,
    /// Worth another attempt (5xx, 408, 429, no answer); retried with back-off.
    Retryable,
    /// Retried until the delivery horizon without success. Alert.
    GaveUp,
}

impl OutcomeClass {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "DELIVERED",
            Self::AlreadyApplied => "ALREADY_APPLIED",
            Self::Rejected => "REJECTED",
            Self::AuthFailed => "AUTH_FAILED",
            Self::Retryable => "RETRYABLE",
            Self::GaveUp => "GAVE_UP",
        }
    }

    /// Whether a person must act (the message will not be delivered by itself).
    pub fn alerts(self) -> bool {
        matches!(self, Self::Rejected | Self::AuthFailed | Self::GaveUp)
    }

    /// The class of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Delivered,
            Self::AlreadyApplied,
            Self::Rejected,
            Self::AuthFailed,
            Self::Retryable,
            Self::GaveUp,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

/// The Onboarding Server's refusals of an acknowledgement that mean the identity
/// verification is no longer waiting for it (`PrivateClientController` and its validation):
/// in a `200 {"result":"NOK"}` reason or a 4xx/5xx `ErrorResponse` message.
const MOVED_ON: [&str; 4] = [
    "not in in_progress state",
    "not in client_evaluation phase",
    "not in onboarding_approval phase",
    "process not found or in invalid state",
];

/// Whether `text` (the server's reason or error message) says the process has moved on.
/// After an attempt that may have reached the server, such a refusal means that attempt
/// took effect; without one, it is a rejection.
pub fn says_moved_on(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    MOVED_ON.iter().any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_phase_refusals_are_recognised() {
        for text in [
            "Acknowledgement validation failed. Identity verification is not in IN_PROGRESS state.",
            "ERROR_GENERIC: Identity verification is not in CLIENT_EVALUATION phase.",
            "Identity verification is not in ONBOARDING_APPROVAL phase.",
            "Acknowledgement failed. Process not found or in invalid state.",
        ] {
            assert!(says_moved_on(text), "{text}");
        }
        for text in ["INVALID_REQUEST: Invalid request", "", "userId mismatch"] {
            assert!(!says_moved_on(text), "{text}");
        }
    }

    #[test]
    fn classes_round_trip_and_only_stuck_ones_alert() {
        for c in [
            OutcomeClass::Delivered,
            OutcomeClass::AlreadyApplied,
            OutcomeClass::Rejected,
            OutcomeClass::AuthFailed,
            OutcomeClass::Retryable,
            OutcomeClass::GaveUp,
        ] {
            assert_eq!(OutcomeClass::parse(c.as_str()), Some(c));
        }
        assert!(!OutcomeClass::AlreadyApplied.alerts());
        assert!(!OutcomeClass::Retryable.alerts());
        assert!(OutcomeClass::Rejected.alerts());
        assert!(OutcomeClass::AuthFailed.alerts());
    }
}
