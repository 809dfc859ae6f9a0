//! What an identity-verification call tells the domain: the fields of a
//! `/client/evaluate` or `/client/approve` call that the facts are derived from, as plain
//! types borrowed from the request. The wire DTOs (in `api::client`) convert into
//! these; the domain never sees the DTOs.

use serde_json::{Map, Value};

/// `SUCCESS` or `FAILURE`, as the caller reported a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Success,
    Failure,
}

impl CheckStatus {
    /// The name the facts carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
        }
    }
}

/// The identifying fields common to both calls.
#[derive(Debug, Clone, Copy)]
pub struct CallInput<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub user_id: &'a str,
    pub identity_verification_id: &'a str,
    pub provider: Option<&'a str>,
    pub status: Option<CheckStatus>,
}

/// A `/client/evaluate` call.
#[derive(Debug, Clone)]
pub struct EvaluateInput<'a> {
    pub call: CallInput<'a>,
    /// The document check (2.x); `None` when not sent, as by a 1.x caller.
    pub document_check: Option<DocumentCheckInput<'a>>,
    /// The deprecated 1.x `extractedData` (empty when not sent).
    pub extracted_data: Vec<&'a str>,
}

/// The result of the document check.
#[derive(Debug, Clone, Default)]
pub struct DocumentCheckInput<'a> {
    /// The person as the caller summarised it, when sent.
    pub person: Option<PersonInput<'a>>,
    pub documents: Vec<DocumentInput<'a>>,
}

/// Person data (the date as `YYYY-MM-DD`, as sent).
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonInput<'a> {
    pub given_names: Option<&'a str>,
    pub surname: Option<&'a str>,
    pub date_of_birth: Option<&'a str>,
}

/// One checked document.
#[derive(Debug, Clone)]
pub struct DocumentInput<'a> {
    /// The normalised type name: `ID_CARD`, `PASSPORT` or `DRIVING_LICENSE`.
    pub document_type: &'static str,
    /// The issuing country as sent (ISO alpha-3, not yet normalised).
    pub country: Option<&'a str>,
    pub status: Option<CheckStatus>,
    pub score: Option<f64>,
    pub data: Option<DocumentDataInput<'a>>,
    /// The type of each image sent, in order (`None` when an image came without one).
    pub image_types: Vec<Option<&'a str>>,
    pub raw_data: Option<RawDataInput<'a>>,
}

/// Data extracted from a document (dates as sent, `YYYY-MM-DD` expected).
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentDataInput<'a> {
    pub given_names: Option<&'a str>,
    pub surname: Option<&'a str>,
    pub date_of_birth: Option<&'a str>,
    pub place_of_birth: Option<&'a str>,
    pub sex: Option<&'a str>,
    pub nationality: Option<&'a str>,
    pub personal_number: Option<&'a str>,
    pub document_number: Option<&'a str>,
    pub date_of_issue: Option<&'a str>,
    pub date_of_expiry: Option<&'a str>,
    pub authority: Option<&'a str>,
}

/// The provider's raw result: a JSON-encoded string or an object.
#[derive(Debug, Clone, Copy)]
pub enum RawDataInput<'a> {
    Text(&'a str),
    Object(&'a Map<String, Value>),
}

/// A `/client/approve` call (the selfie frame is checked apart, as an image).
#[derive(Debug, Clone, Copy)]
pub struct ApproveInput<'a> {
    pub call: CallInput<'a>,
    pub score: Option<f64>,
}

/// The registry's record of the customer (`None` in the facts when the user is unknown,
/// e.g. a prospect).
#[derive(Debug, Clone, Default)]
pub struct RegistryPerson {
    pub given_names: Option<String>,
    pub surname: Option<String>,
    pub birth_date: Option<String>,
}
