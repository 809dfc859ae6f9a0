use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check_id, check_len, check_opt_id};
use crate::extract::CallbackBody;

/// `POST /consent/text` request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11", "processType": "onboarding",
    "userId": "C-1001", "consentType": "GDPR", "language": "en"
}))]
pub struct ConsentTextRequest {
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    /// Null when the lookup failed.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub user_id: Option<String>,
    /// A configured consent type (case-insensitive), e.g. `GDPR`; an unknown type is a 404.
    #[schema(min_length = 1, max_length = 64, pattern = "[^ \\t\\r\\n]")]
    pub consent_type: String,
    /// ISO 639-1 (`cs`, `en`); the configured fallback language applies when there is no
    /// text in it.
    #[serde(default)]
    #[schema(max_length = 16)]
    pub language: Option<String>,
}

impl CallbackBody for ConsentTextRequest {
    fn validate(&self) -> Result<(), String> {
        check_id("processId", &self.process_id)?;
        check_opt_id("processType", self.process_type.as_ref())?;
        check_opt_id("userId", self.user_id.as_ref())?;
        check_id("consentType", &self.consent_type)?;
        check_len("consentType", &self.consent_type, 64)?;
        if let Some(language) = &self.language {
            check_len("language", language, 16)?;
        }
        Ok(())
    }
}

/// `POST /consent/text` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"consentText": "<html><body><h1>Personal data</h1>…</body></html>"}))]
pub struct ConsentTextResponse {
    pub consent_text: String,
}

/// `POST /consent/storage` request: the user's approval or rejection.
///
/// `processId` and `userId` are accepted as null: the first (2022) Onboarding Server REST
/// client sent them so, and a consent decision is never dropped for it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11", "processType": "onboarding",
    "userId": "C-1001", "consentType": "GDPR", "approved": true
}))]
pub struct ConsentStorageRequest {
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub user_id: Option<String>,
    /// A configured consent type (case-insensitive), e.g. `GDPR`; an unknown type is a 404.
    #[schema(min_length = 1, max_length = 64, pattern = "[^ \\t\\r\\n]")]
    pub consent_type: String,
    pub approved: bool,
}

impl CallbackBody for ConsentStorageRequest {
    fn validate(&self) -> Result<(), String> {
        check_opt_id("processId", self.process_id.as_ref())?;
        check_opt_id("processType", self.process_type.as_ref())?;
        check_opt_id("userId", self.user_id.as_ref())?;
        check_id("consentType", &self.consent_type)?;
        check_len("consentType", &self.consent_type, 64)
    }
}
