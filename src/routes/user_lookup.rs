use std::str::FromStr;

use actix_web::{post, web};

use crate::api::user::{LookupRequest, LookupResponse};
use crate::configuration::{AddressFallback, UnknownUser};
use crate::domain::identification::LookupQuery;
use crate::domain::otp_delivery::mask_address;
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::persistence::{consents, contacts, customers, processes, prospects};
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
    let now = state.clock.now();
    let settings = &state.settings;

    // Whether the OTP may later go to an address the identification carries.
    let mut fallback_address_allowed = false;
    let user_id = match req.identification.as_ref().filter(|i| !i.is_empty()) {
        Some(identification) => {
            let query = LookupQuery::from_identification(&settings.lookup.keys, identification)
                .map_err(|e| ApiError::NotFound(format!("user not found: {e}")))?;
            match customers::find_by_query(state.reads.local(), &query).await? {
                Some(customer) => {
                    fallback_address_allowed = settings.otp.address_fallback
                        == AddressFallback::MissingAddress
                        && customer.email.is_none();
                    customer.user_id
                }
                None => match settings.lookup.unknown_user {
                    UnknownUser::NotFound => {
                        tracing::info!("identification not found in the registry");
                        return Err(ApiError::NotFound("user not found".into()));
                    }
                    UnknownUser::Prospect => {
                        fallback_address_allowed =
                            settings.otp.address_fallback != AddressFallback::Never;
                        let candidate = format!(
                            "{}{}",
                            settings.lookup.prospect_prefix,
                            uuid::Uuid::new_v4()
                        );
                        let (digest, process_id, ctx) =
                            (query.digest(), req.process_id.clone(), ctx.clone());
                        state
                            .writer
                            .write(move |db| {
                                Box::pin(async move {
                                    prospects::get_or_create(
                                        &db,
                                        &digest,
                                        &candidate,
                                        &process_id,
                                        &ctx,
                                        now,
                                    )
                                    .await
                                })
                            })
                            .await?
                    }
                },
            }
        }
        None => processes::find(state.reads.local(), &req.process_id)
            .await?
            .and_then(|p| p.user_id)
            .ok_or_else(|| ApiError::NotFound("user not found".into()))?,
    };

    let consent_required = !consents::all_approved(
        state.reads.local(),
        &user_id,
        &settings.consent.required_types,
    )
    .await?;
    // The OTP fallback address, when this user may receive the OTP at an address the
    // identification carries.
    let fallback_email = req
        .identification
        .as_ref()
        .filter(|_| fallback_address_allowed)
        .and_then(|i| identification_email(i, &settings.otp.identification_email_attribute));
    let remembered = fallback_email.as_deref().map(mask_address);
    let data = (req, user_id.clone(), fallback_email, ctx);
    state
        .writer
        .write_with(data, move |(req, user_id, fallback_email, ctx), db| {
            Box::pin(async move {
                processes::touch(
                    &db,
                    processes::ProcessSeen {
                        process_id: &req.process_id,
                        process_type: req.process_type.as_deref(),
                        user_id: Some(user_id),
                        identity_verification_id: None,
                        callback: "user_lookup",
                    },
                    now,
                )
                .await?;
                if let Some(email) = fallback_email {
                    contacts::remember(&db, &req.process_id, user_id, email, ctx, now).await?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    if let Some(destination) = remembered {
        tracing::info!(
            destination = %destination,
            "OTP fallback address taken from the identification"
        );
    }
    tracing::info!(user_id = %user_id, consent_required, "user identified");
    Ok(web::Json(LookupResponse {
        user_id,
        consent_required,
    }))
}

/// The e-mail address in `identification[attribute]`, normalised, when it is one.
fn identification_email(
    identification: &serde_json::Map<String, serde_json::Value>,
    attribute: &str,
) -> Option<String> {
    let raw = identification.get(attribute)?.as_str()?;
    let email = crate::domain::identification::LookupKey::Email.normalise(raw);
    if email.len() > 254 || lettre::Address::from_str(&email).is_err() {
        tracing::info!("the identification's e-mail attribute is not a usable address; ignored");
        return None;
    }
    Some(email)
}
