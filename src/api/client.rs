use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::dates::{WireDate, date_schema};
use super::{check_id, check_len, check_opt_id};
use crate::configuration::LimitSettings;
use crate::domain::images::Base64Image;
use crate::domain::verification::{
    self, ApproveInput, CallInput, DocumentCheckInput, DocumentDataInput, DocumentInput,
    EvaluateInput, PersonInput, RawDataInput,
};
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
    #[schema(max_length = 1000)]
    pub surname: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub given_names: Option<String>,
    /// `YYYY-MM-DD`, an ISO date-time or epoch milliseconds (see [`WireDate`]).
    #[serde(default)]
    #[schema(schema_with = date_schema)]
    pub date_of_birth: Option<WireDate>,
}

/// Data extracted from a document (dates as `YYYY-MM-DD`, an ISO date-time or epoch
/// milliseconds, see [`WireDate`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(remote = "Self")]
pub struct DocumentData {
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub given_names: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub surname: Option<String>,
    #[serde(default)]
    #[schema(schema_with = date_schema)]
    pub date_of_birth: Option<WireDate>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub place_of_birth: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub sex: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub nationality: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub personal_number: Option<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub document_number: Option<String>,
    #[serde(default)]
    #[schema(schema_with = date_schema)]
    pub date_of_issue: Option<WireDate>,
    #[serde(default)]
    #[schema(schema_with = date_schema)]
    pub date_of_expiry: Option<WireDate>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub authority: Option<String>,
}

/// A document image. `type` is `FACE` (or `FACE_IMAGE`), `DOCUMENT_FRONT_SIDE` or
/// `DOCUMENT_BACK_SIDE`; other values are kept as sent.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(remote = "Self")]
pub struct DocumentImage {
    #[serde(rename = "type", default)]
    #[schema(example = "FACE", max_length = 1000)]
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
    #[schema(max_length = 1000)]
    pub country: Option<String>,
    #[serde(default)]
    pub status: Option<CheckStatus>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub data: Option<DocumentData>,
    #[serde(default)]
    #[schema(max_items = 10)]
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
    #[schema(max_items = 10)]
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
    #[schema(max_items = 10)]
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

    fn check_limits(&self, limits: &LimitSettings) -> Result<(), String> {
        let texts = limits.max_text_chars;
        if self
            .extracted_data
            .as_ref()
            .is_some_and(|e| e.len() > limits.max_documents)
        {
            return Err(format!(
                "field `extractedData` has more than {} entries",
                limits.max_documents
            ));
        }
        for entry in self.extracted_data.iter().flatten() {
            check_bytes("extractedData[]", entry, limits.raw_data_bytes)?;
        }
        let Some(check) = &self.document_check_result else {
            return Ok(());
        };
        if let Some(p) = &check.person {
            check_texts(
                "documentCheckResult.person",
                &[&p.surname, &p.given_names],
                texts,
            )?;
        }
        let documents = check.documents.as_deref().unwrap_or_default();
        if documents.len() > limits.max_documents {
            return Err(format!(
                "field `documentCheckResult.documents` has more than {} documents",
                limits.max_documents
            ));
        }
        for (i, doc) in documents.iter().enumerate() {
            let at = format!("documentCheckResult.documents[{i}]");
            if doc
                .images
                .as_ref()
                .is_some_and(|im| im.len() > limits.max_images_per_document)
            {
                return Err(format!(
                    "field `{at}.images` has more than {} images",
                    limits.max_images_per_document
                ));
            }
            for image in doc.images.iter().flatten() {
                check_texts(&format!("{at}.images[].type"), &[&image.image_type], texts)?;
            }
            check_texts(&at, &[&doc.country], texts)?;
            if let Some(d) = &doc.data {
                check_texts(
                    &format!("{at}.data"),
                    &[
                        &d.given_names,
                        &d.surname,
                        &d.place_of_birth,
                        &d.sex,
                        &d.nationality,
                        &d.personal_number,
                        &d.document_number,
                        &d.authority,
                    ],
                    texts,
                )?;
            }
            if let Some(RawData::Text(raw)) = &doc.raw_data {
                check_bytes(&format!("{at}.rawData"), raw, limits.raw_data_bytes)?;
            }
        }
        Ok(())
    }

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

/// Each present text at most `max` characters.
fn check_texts(at: &str, values: &[&Option<String>], max: usize) -> Result<(), String> {
    match values
        .iter()
        .filter_map(|v| v.as_deref())
        .find(|v| v.chars().count() > max)
    {
        Some(_) => Err(format!("a text of `{at}` is longer than {max} characters")),
        None => Ok(()),
    }
}

fn check_bytes(at: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!("field `{at}` is longer than {max} bytes"));
    }
    Ok(())
}

// What the facts are derived from: the domain's inputs, borrowed from the requests.

impl From<CheckStatus> for verification::CheckStatus {
    fn from(status: CheckStatus) -> Self {
        match status {
            CheckStatus::Success => Self::Success,
            CheckStatus::Failure => Self::Failure,
        }
    }
}

impl EvaluateRequest {
    /// Reads every date sent as an instant in `zone` (the Onboarding Server's JVM zone)
    /// instead of by the nearest UTC midnight.
    pub fn apply_time_zone(&mut self, zone: chrono_tz::Tz) {
        let Some(check) = &mut self.document_check_result else {
            return;
        };
        let person = check.person.iter_mut().map(|p| &mut p.date_of_birth);
        let documents = check
            .documents
            .iter_mut()
            .flatten()
            .filter_map(|d| d.data.as_mut())
            .flat_map(|d| {
                [
                    &mut d.date_of_birth,
                    &mut d.date_of_issue,
                    &mut d.date_of_expiry,
                ]
            });
        for date in person.chain(documents).flatten() {
            date.apply_time_zone(zone);
        }
    }

    /// The call as the facts read it.
    pub fn facts_input(&self) -> EvaluateInput<'_> {
        EvaluateInput {
            call: CallInput {
                process_id: &self.process_id,
                process_type: self.process_type.as_deref(),
                user_id: &self.user_id,
                identity_verification_id: &self.identity_verification_id,
                provider: self.provider.as_deref(),
                status: self.status.map(Into::into),
            },
            document_check: self
                .document_check_result
                .as_ref()
                .map(DocumentCheckResult::facts_input),
            extracted_data: self
                .extracted_data
                .iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        }
    }
}

impl DocumentCheckResult {
    fn facts_input(&self) -> DocumentCheckInput<'_> {
        DocumentCheckInput {
            person: self.person.as_ref().map(|p| PersonInput {
                given_names: p.given_names.as_deref(),
                surname: p.surname.as_deref(),
                date_of_birth: p.date_of_birth.as_ref().map(WireDate::day),
            }),
            documents: self
                .documents
                .iter()
                .flatten()
                .map(DocumentResult::facts_input)
                .collect(),
        }
    }
}

impl DocumentResult {
    fn facts_input(&self) -> DocumentInput<'_> {
        DocumentInput {
            document_type: self.document_type.normalised(),
            country: self.country.as_deref(),
            status: self.status.map(Into::into),
            score: self.score,
            data: self.data.as_ref().map(DocumentData::facts_input),
            image_types: self
                .images
                .iter()
                .flatten()
                .map(|i| i.image_type.as_deref())
                .collect(),
            raw_data: self.raw_data.as_ref().map(|raw| match raw {
                RawData::Text(text) => RawDataInput::Text(text),
                RawData::Object(map) => RawDataInput::Object(map),
            }),
        }
    }
}

impl DocumentData {
    fn facts_input(&self) -> DocumentDataInput<'_> {
        DocumentDataInput {
            given_names: self.given_names.as_deref(),
            surname: self.surname.as_deref(),
            date_of_birth: self.date_of_birth.as_ref().map(WireDate::day),
            place_of_birth: self.place_of_birth.as_deref(),
            sex: self.sex.as_deref(),
            nationality: self.nationality.as_deref(),
            personal_number: self.personal_number.as_deref(),
            document_number: self.document_number.as_deref(),
            date_of_issue: self.date_of_issue.as_ref().map(WireDate::day),
            date_of_expiry: self.date_of_expiry.as_ref().map(WireDate::day),
            authority: self.authority.as_deref(),
        }
    }
}

impl ApproveRequest {
    /// The call as the facts read it (the selfie frame is checked apart).
    pub fn facts_input(&self) -> ApproveInput<'_> {
        ApproveInput {
            call: CallInput {
                process_id: &self.process_id,
                process_type: self.process_type.as_deref(),
                user_id: &self.user_id,
                identity_verification_id: &self.identity_verification_id,
                provider: self.provider.as_deref(),
                status: self.status.map(Into::into),
            },
            score: self.score,
        }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::verification::CheckStatus as Status;

    #[test]
    fn evaluate_facts_input() {
        let req: EvaluateRequest = serde_json::from_value(json!({
            "processId": "p", "processType": "onboarding", "identityVerificationId": "iv",
            "userId": "C-1001", "provider": "microblink", "status": "SUCCESS",
            "documentCheckResult": {"person": {"surname": "NOVAK"}, "documents": [
                {"type": "DRIVING_LICENCE", "country": "cze", "status": "FAILURE", "score": 10,
                 "data": {"dateOfExpiry": "2030-01-15", "authority": "MěÚ"},
                 "images": [{"type": "FACE_IMAGE", "data": "/9j/"}, {"data": "xx"}],
                 "rawData": "{\"verification\":{\"ok\":true}}"},
                {"type": "PASSPORT", "rawData": {"a": 1}},
            ]}
        }))
        .unwrap();
        let input = req.facts_input();
        assert_eq!(input.call.process_id, "p");
        assert_eq!(input.call.process_type, Some("onboarding"));
        assert_eq!(input.call.user_id, "C-1001");
        assert_eq!(input.call.identity_verification_id, "iv");
        assert_eq!(input.call.provider, Some("microblink"));
        assert_eq!(input.call.status, Some(Status::Success));
        assert!(input.extracted_data.is_empty());
        let check = input.document_check.unwrap();
        let person = check.person.unwrap();
        assert_eq!(
            (person.surname, person.given_names, person.date_of_birth),
            (Some("NOVAK"), None, None)
        );
        let [licence, passport] = check.documents.as_slice() else {
            panic!("two documents expected");
        };
        assert_eq!(licence.document_type, "DRIVING_LICENSE");
        assert_eq!(licence.country, Some("cze"));
        assert_eq!(licence.status, Some(Status::Failure));
        assert_eq!(licence.score, Some(10.0));
        let data = licence.data.unwrap();
        assert_eq!(data.date_of_expiry, Some("2030-01-15"));
        assert_eq!(data.authority, Some("MěÚ"));
        assert_eq!(data.given_names, None);
        assert_eq!(licence.image_types, [Some("FACE_IMAGE"), None]);
        assert!(matches!(
            licence.raw_data,
            Some(RawDataInput::Text("{\"verification\":{\"ok\":true}}"))
        ));
        assert_eq!(passport.document_type, "PASSPORT");
        assert_eq!(passport.status, None);
        assert!(passport.data.is_none() && passport.image_types.is_empty());
        assert!(matches!(passport.raw_data, Some(RawDataInput::Object(m)) if m["a"] == 1));
    }

    #[test]
    fn legacy_evaluate_facts_input() {
        let req: EvaluateRequest = serde_json::from_value(json!({
            "processId": "p", "identityVerificationId": "iv", "userId": "u",
            "verificationId": "v", "provider": "zenid", "extractedData": ["a", "b"]
        }))
        .unwrap();
        let input = req.facts_input();
        assert_eq!(input.call.process_type, None);
        assert_eq!(input.call.status, None);
        assert!(input.document_check.is_none());
        assert_eq!(input.extracted_data, ["a", "b"]);
    }

    #[test]
    fn approve_facts_input() {
        let req: ApproveRequest = serde_json::from_value(json!({
            "processId": "p", "processType": "onboarding", "userId": "u",
            "identityVerificationId": "iv", "provider": "iproov", "status": "FAILURE",
            "score": 10, "presenceCheckResult": {"frame": null}
        }))
        .unwrap();
        let input = req.facts_input();
        assert_eq!(input.call.process_id, "p");
        assert_eq!(input.call.process_type, Some("onboarding"));
        assert_eq!(input.call.user_id, "u");
        assert_eq!(input.call.identity_verification_id, "iv");
        assert_eq!(input.call.provider, Some("iproov"));
        assert_eq!(input.call.status, Some(Status::Failure));
        assert_eq!(input.score, Some(10.0));
    }
}
