use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{check_id, check_len, check_opt_id};
use crate::domain::images::Base64Image;
use crate::extract::{BodyLimit, CallbackBody};

/// Result of a decision as the Onboarding Server reads it (exact enum strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DecisionResult {
    Ok,
    Nok,
    Wait,
}

impl DecisionResult {
    /// The result of a stored outcome (`OK`, `NOK`; anything else is `WAIT`, never a pass).
    pub fn from_outcome(outcome: &str) -> Self {
        match outcome {
            "OK" => Self::Ok,
            "NOK" => Self::Nok,
            _ => Self::Wait,
        }
    }
}

/// `SUCCESS` or `FAILURE` (the Onboarding Server only calls with `SUCCESS` in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckStatus {
    Success,
    Failure,
}

impl CheckStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
        }
    }
}

/// Document type; earlier 2.x builds spelled the licence `DRIVING_LICENCE`, which is
/// accepted and treated as `DRIVING_LICENSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentType {
    IdCard,
    Passport,
    DrivingLicense,
    /// The spelling of earlier 2.x builds; read as `DRIVING_LICENSE`.
    #[serde(rename = "DRIVING_LICENCE")]
    DrivingLicence,
}

impl DocumentType {
    /// The normalised name (`DRIVING_LICENCE` → `DRIVING_LICENSE`).
    pub fn normalised(self) -> &'static str {
        match self {
            Self::IdCard => "ID_CARD",
            Self::Passport => "PASSPORT",
            Self::DrivingLicense | Self::DrivingLicence => "DRIVING_LICENSE",
        }
    }
}

/// Person data taken from the first document that has it (null without extracted data).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(remote = "Self")]
pub struct Person {
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub given_names: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    pub date_of_birth: Option<String>,
}

/// Data extracted from a document (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(remote = "Self")]
pub struct DocumentData {
    #[serde(default)]
    pub given_names: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub place_of_birth: Option<String>,
    #[serde(default)]
    pub sex: Option<String>,
    #[serde(default)]
    pub nationality: Option<String>,
    #[serde(default)]
    pub personal_number: Option<String>,
    #[serde(default)]
    pub document_number: Option<String>,
    #[serde(default)]
    pub date_of_issue: Option<String>,
    #[serde(default)]
    pub date_of_expiry: Option<String>,
    #[serde(default)]
    pub authority: Option<String>,
}

/// A document image. `type` is `FACE` (or `FACE_IMAGE`), `DOCUMENT_FRONT_SIDE` or
/// `DOCUMENT_BACK_SIDE`; other values are kept as sent.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(remote = "Self")]
pub struct DocumentImage {
    #[serde(rename = "type", default)]
    #[schema(example = "FACE")]
    pub image_type: Option<String>,
    /// Base64 (JPEG or PNG).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub data: Option<Base64Image>,
}

/// The provider's raw result: a JSON-encoded string in the evaluate DTO, an object in the
/// docs and in events. Both are accepted.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RawData {
    Text(String),
    #[schema(value_type = Object)]
    Object(serde_json::Map<String, Value>),
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(remote = "Self")]
pub struct DocumentResult {
    #[serde(rename = "type")]
    pub document_type: DocumentType,
    /// ISO alpha-3 as extracted by the provider.
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub status: Option<CheckStatus>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub data: Option<DocumentData>,
    #[serde(default)]
    pub images: Option<Vec<DocumentImage>>,
    #[serde(default)]
    pub raw_data: Option<RawData>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(remote = "Self")]
pub struct DocumentCheckResult {
    #[serde(default)]
    pub person: Option<Person>,
    #[serde(default)]
    pub documents: Option<Vec<DocumentResult>>,
}

/// `POST /client/evaluate` request, every version: 1.x (`verificationId`,
/// `extractedData`, no `processType`) and 2.1/2.2 (`status`, `documentCheckResult` with or
/// without extracted data).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11", "processType": "onboarding",
    "identityVerificationId": "9e21b1d4-2c55-4d1e-a0a4-3f5e6f7a8b9c", "userId": "C-1001",
    "verificationId": "ver-77", "provider": "microblink", "status": "SUCCESS",
    "documentCheckResult": {
        "person": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02"},
        "documents": [{"type": "ID_CARD", "country": "CZE", "status": "SUCCESS", "score": 10,
            "data": {"surname": "NOVAK", "givenNames": "JAN", "dateOfBirth": "1985-03-02",
                     "documentNumber": "123456789", "dateOfIssue": "2020-01-15",
                     "dateOfExpiry": "2030-01-15", "sex": "M", "nationality": "CZE"},
            "images": [], "rawData": "{\"verification\":{}}"}]
    }
}))]
pub struct EvaluateRequest {
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub identity_verification_id: String,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub user_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub verification_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub provider: Option<String>,
    #[serde(default)]
    pub status: Option<CheckStatus>,
    #[serde(default)]
    pub document_check_result: Option<DocumentCheckResult>,
    /// Deprecated 1.x field.
    #[serde(default)]
    pub extracted_data: Option<Vec<String>>,
}

crate::object_only!(
    Person,
    DocumentData,
    DocumentImage,
    DocumentResult,
    DocumentCheckResult,
    PresenceCheckResult,
);

impl CallbackBody for EvaluateRequest {
    const LIMIT: BodyLimit = BodyLimit::Evaluate;

    fn validate(&self) -> Result<(), String> {
        check_id("processId", &self.process_id)?;
        check_id("identityVerificationId", &self.identity_verification_id)?;
        check_id("userId", &self.user_id)?;
        check_opt_id("processType", self.process_type.as_ref())?;
        check_opt_id("verificationId", self.verification_id.as_ref())?;
        if let Some(provider) = &self.provider {
            check_len("provider", provider, 64)?;
        }
        Ok(())
    }
}

/// Selfie from the presence check.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(remote = "Self")]
pub struct PresenceCheckResult {
    /// Base64 of the latest selfie frame.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub frame: Option<Base64Image>,
}

/// `POST /client/approve` request (2.1+): final approval after the presence check.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11", "processType": "onboarding",
    "userId": "C-1001", "identityVerificationId": "9e21b1d4-2c55-4d1e-a0a4-3f5e6f7a8b9c",
    "provider": "iproov", "status": "SUCCESS", "score": 10,
    "presenceCheckResult": {"frame": null}
}))]
pub struct ApproveRequest {
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub user_id: String,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub identity_verification_id: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub provider: Option<String>,
    #[serde(default)]
    pub status: Option<CheckStatus>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub presence_check_result: Option<PresenceCheckResult>,
}

impl CallbackBody for ApproveRequest {
    const LIMIT: BodyLimit = BodyLimit::Approve;

    fn validate(&self) -> Result<(), String> {
        check_id("processId", &self.process_id)?;
        check_id("identityVerificationId", &self.identity_verification_id)?;
        check_id("userId", &self.user_id)?;
        check_opt_id("processType", self.process_type.as_ref())?;
        if let Some(provider) = &self.provider {
            check_len("provider", provider, 64)?;
        }
        Ok(())
    }
}

/// Answer of `/client/evaluate` and `/client/approve`. `resultReason` is always a string
/// (empty for a plain `OK`): the Onboarding Server's approve DTO rejects null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"result": "WAIT", "resultReason": "MANUAL_REVIEW"}))]
pub struct DecisionResponse {
    pub result: DecisionResult,
    pub result_reason: String,
}
