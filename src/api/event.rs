use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{check_id, check_len, check_opt_id};
use crate::extract::{BodyLimit, CallbackBody};

/// `POST /process/event` request: the 2.2 envelope (`id`, `timestamp`, `type`,
/// `eventData`) or the 1.x/2.1 `FINISHED` event with a flat `data` map. Known types:
/// `PROCESS_FINISHED`, `DOCUMENT_VERIFICATION_FINISHED`,
/// `FINAL_DOCUMENT_VERIFICATION_FINISHED`, `PRESENCE_CHECK_FINISHED`, `FINISHED`; other
/// types are stored as sent.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e", "timestamp": "2026-07-01T14:30:00Z",
    "type": "PROCESS_FINISHED", "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11",
    "processType": "onboarding", "userId": "C-1001", "externalUserId": null,
    "identityVerificationId": "9e21b1d4-2c55-4d1e-a0a4-3f5e6f7a8b9c",
    "eventData": {"process": {"status": "FINISHED", "errorDetail": null,
        "deviceData": {"locale": "EN", "ipAddress": "192.0.2.10", "httpUserAgent": "app/1.0"}}}
}))]
pub struct EventRequest {
    /// Event id (2.2); repeated deliveries of one id are stored once.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub id: Option<String>,
    /// ISO 8601 as sent (at most 64 characters), or epoch milliseconds (stored as an
    /// RFC 3339 UTC text).
    #[serde(default, deserialize_with = "super::dates::timestamp")]
    #[schema(schema_with = super::dates::timestamp_schema)]
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    #[schema(
        example = "PROCESS_FINISHED",
        min_length = 1,
        max_length = 64,
        pattern = "[^ \\t\\r\\n]"
    )]
    pub event_type: String,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub user_id: Option<String>,
    /// `externalId` in an early 2.2 draft.
    #[serde(default, alias = "externalId")]
    #[schema(max_length = 128)]
    pub external_user_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub identity_verification_id: Option<String>,
    /// 2.2 event data (an object); its shape depends on `type`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub event_data: Option<Map<String, Value>>,
    /// 1.x/2.1 `FINISHED` data (language, user agent, IP, flattened FDS keys).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
    /// Fields this version does not know; kept so the stored payload is complete.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

impl CallbackBody for EventRequest {
    const LIMIT: BodyLimit = BodyLimit::Event;

    fn validate(&self) -> Result<(), String> {
        check_id("processId", &self.process_id)?;
        check_id("type", &self.event_type)?;
        check_len("type", &self.event_type, 64)?;
        check_opt_id("id", self.id.as_ref())?;
        check_opt_id("processType", self.process_type.as_ref())?;
        check_opt_id("userId", self.user_id.as_ref())?;
        check_opt_id("externalUserId", self.external_user_id.as_ref())?;
        check_opt_id(
            "identityVerificationId",
            self.identity_verification_id.as_ref(),
        )?;
        if let Some(ts) = &self.timestamp {
            check_len("timestamp", ts, 64)?;
        }
        Ok(())
    }
}

/// Empty acknowledgement `{}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({}))]
pub struct EventAck {}
