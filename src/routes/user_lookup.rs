use std::str::FromStr;

use actix_web::{post, web};

use crate::api::user::{LookupRequest, LookupResponse};
use crate::configuration::AddressFallback;
use crate::domain::identification::LookupQuery;
use crate::domain::otp_delivery::mask_address;
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::lookup::{self, Found, Lookup, Who};
use crate::state::AppState;

/// Identify the prospect.
///
/// Matches `identification` against the customer registry on the configured keys
/// (default `clientNumber` + `birthDate`) and answers the bank's `userId`. The same
/// identification always gets the same answer (resume, target activation). An unknown user
/// is a 404, which the Onboarding Server hides from the app; in prospect mode a prospect
/// id is created once per identification instead. An identification that lacks a configured
/// key (or has a blank or non-string one) identifies nobody: 404 too, in every mode, with a
/// message naming the attribute. A null `identification` (target
/// activation) answers the user already known for the process. `consentRequired` is false
/// only when every required consent type is already approved by this user.
#[utoipa::path(
    tag = "callbacks",
    request_body = LookupRequest,
    responses(
        (status = 200, description = "User identified", body = LookupResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 404, description = "Unknown user, or an identification without the configured keys", body = ErrorBody,
            example = json!({"errorCode": "ERROR_GENERIC", "message": "user not found"})),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/user/lookup")]
#[tracing::instrument(name = "user_lookup", skip_all, fields(process_id = %body.0.process_id))]
pub async fn user_lookup(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<LookupRequest>,
) -> Result<web::Json<LookupResponse>, ApiError> {
    let req = body.0;
    let settings = &state.settings;
    let identification = req.identification.as_ref().filter(|i| !i.is_empty());
    let who = match identification {
        Some(identification) => Who::Registry(
            LookupQuery::from_identification(&settings.lookup.keys, identification)
                .map_err(|e| ApiError::NotFound(format!("user not found: {e}")))?,
        ),
        None => Who::Process,
    };
    let registry = matches!(who, Who::Registry(_));
    // The address the OTP may fall back to, where the settings allow one (logged as unusable
    // only where it would have been used).
    let email_attribute = identification
        .filter(|_| settings.otp.address_fallback != AddressFallback::Never)
        .and_then(|i| identification_email(i, &settings.otp.identification_email_attribute));
    let candidate_email = email_attribute.as_ref().and_then(|e| e.as_deref().ok());
    let lookup = Lookup {
        process_id: &req.process_id,
        process_type: req.process_type.as_deref(),
        who,
        candidate_email,
    };
    let found = lookup::identify(&state.db, settings, lookup, &ctx, state.clock.now()).await?;
    let identified = match found {
        Found::User(identified) => identified,
        Found::Several(matches) => {
            tracing::warn!(matches, "identification matches several customers");
            return Err(ApiError::NotFound("user not found".into()));
        }
        Found::Nobody => {
            if registry {
                tracing::info!("identification not found in the registry");
            }
            return Err(ApiError::NotFound("user not found".into()));
        }
    };
    if identified.fallback_allowed && matches!(email_attribute, Some(Err(()))) {
        tracing::info!("the identification's e-mail attribute is not a usable address; ignored");
    }
    if identified.remembered
        && let Some(email) = candidate_email
    {
        tracing::info!(
            destination = %mask_address(email),
            "OTP fallback address taken from the identification"
        );
    }
    tracing::info!(user_id = %identified.user_id, consent_required = identified.consent_required, "user identified");
    Ok(web::Json(LookupResponse {
        user_id: identified.user_id,
        consent_required: identified.consent_required,
    }))
}

/// The identification's e-mail attribute, normalised: `None` when it has none, `Err` when it
/// is not a usable address.
fn identification_email(
    identification: &serde_json::Map<String, serde_json::Value>,
    attribute: &str,
) -> Option<Result<String, ()>> {
    let raw = identification.get(attribute)?.as_str()?;
    let email = crate::domain::identification::LookupKey::Email.normalise(raw);
    if email.len() > 254 || lettre::Address::from_str(&email).is_err() {
        return Some(Err(()));
    }
    Some(Ok(email))
}
