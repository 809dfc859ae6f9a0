use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{check_id, check_len};
use crate::extract::CallbackBody;

/// `POST /user/lookup` request: the identification the mobile app sent at onboarding start
/// (or, with temporary activation, at target-activation time, when it may be null).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11",
    "processType": "onboarding",
    "identification": {"clientNumber": "12345678", "birthDate": "1985-03-02"}
}))]
pub struct LookupRequest {
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    /// 2.1+ (`onboarding`, `reactivation`, …); absent from 1.x servers.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    /// Free-form attributes from the app, e.g. `clientNumber` and `birthDate`.
    #[serde(default)]
    #[schema(schema_with = identification_schema)]
    pub identification: Option<Map<String, Value>>,
}

/// `identification`: a nullable object of at most 32 attributes, names of at most 64
/// characters, string values of at most 255 (what [`LookupRequest::validate`] enforces).
fn identification_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::{RefOr, schema::AdditionalProperties};
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Object,
            Type::Null,
        ]))
        .description(Some(
            "Free-form attributes from the app, e.g. `clientNumber` and `birthDate` (the \
             configured lookup keys). Null (or empty) in the target-activation lookup.",
        ))
        .max_properties(Some(32))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64)),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
                .max_length(Some(255))
                .build(),
        )))))
        .build()
}

impl CallbackBody for LookupRequest {
    fn validate(&self) -> Result<(), String> {
        check_id("processId", &self.process_id)?;
        super::check_opt_id("processType", self.process_type.as_ref())?;
        if let Some(identification) = &self.identification {
            if identification.len() > 32 {
                return Err("field `identification` has more than 32 attributes".into());
            }
            for (key, value) in identification {
                check_len("identification key", key, 64)?;
                if let Value::String(s) = value {
                    check_len(&format!("identification.{key}"), s, 255)?;
                }
            }
        }
        Ok(())
    }
}

/// `POST /user/lookup` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"userId": "C-1001", "consentRequired": true}))]
pub struct LookupResponse {
    /// The bank's user id (never null).
    pub user_id: String,
    /// False only when every required consent type is already approved by this user.
    pub consent_required: bool,
}
