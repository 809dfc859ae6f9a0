//! What an OTP delivery attempt can end in, and how a destination address is shown in
//! records and logs (masked: `j***@example.com`).

/// The stored outcome of one `/otp/send`. Only [`Outcome::Sent`] answers `otpSent: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reserved while the delivery runs; counted by the send caps.
    Pending,
    /// The SMTP server accepted the message (2xx after `DATA`).
    Sent,
    /// The SMTP server refused it permanently (5xx), e.g. an unknown recipient.
    Rejected,
    /// Transient refusal (4xx), connection, TLS or protocol failure.
    Failed,
    /// The deadline passed before the SMTP server accepted the message.
    Timeout,
    /// A send cap was reached; nothing was sent.
    Capped,
    /// The user is neither in the registry nor has a fallback address.
    UnknownUser,
    /// The registry knows the user but has no usable e-mail address.
    NoAddress,
    /// The registry entry is deactivated.
    InactiveUser,
    /// No SMTP server is configured (demo mode without mail).
    NotConfigured,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Rejected => "REJECTED",
            Self::Failed => "FAILED",
            Self::Timeout => "TIMEOUT",
            Self::Capped => "CAPPED",
            Self::UnknownUser => "UNKNOWN_USER",
            Self::NoAddress => "NO_ADDRESS",
            Self::InactiveUser => "INACTIVE_USER",
            Self::NotConfigured => "NOT_CONFIGURED",
        }
    }

    /// Outcomes of attempts that reached (or may have reached) the SMTP server; the send
    /// caps count these.
    pub const ATTEMPTS: [Outcome; 5] = [
        Self::Pending,
        Self::Sent,
        Self::Rejected,
        Self::Failed,
        Self::Timeout,
    ];
}

/// Where the destination address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    Registry,
    Identification,
}

impl AddressSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registry => "REGISTRY",
            Self::Identification => "IDENTIFICATION",
        }
    }
}

/// Masks an e-mail address for records and logs: the first character of the local part,
/// `***`, and the domain (`jan.novak@example.com` → `j***@example.com`). Something that is
/// not an address is masked whole.
pub fn mask_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

/// Lower-case primary language subtag: `cs`, `CS`, `cs-CZ` and `cs_CZ` are all `cs`.
pub fn normalise_language(language: &str) -> String {
    crate::domain::consent::normalise_language(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_to_first_character_and_domain() {
        for (address, masked) in [
            ("jan.novak@example.com", "j***@example.com"),
            ("j@example.com", "j***@example.com"),
            ("Žofie@example.cz", "Ž***@example.cz"),
            ("a@b@example.com", "a***@example.com"),
            ("not-an-address", "***"),
            ("@example.com", "***"),
            ("jan@", "***"),
        ] {
            assert_eq!(mask_address(address), masked, "for {address}");
        }
    }

    #[test]
    fn outcome_names_are_stable() {
        assert_eq!(Outcome::Sent.as_str(), "SENT");
        assert_eq!(Outcome::NotConfigured.as_str(), "NOT_CONFIGURED");
        assert!(!Outcome::ATTEMPTS.contains(&Outcome::Capped));
    }
}
