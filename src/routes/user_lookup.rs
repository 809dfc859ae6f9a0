use std::str::FromStr;
use std::sync::Arc;

use actix_web::{post, web};
use chrono::{DateTime, Utc};

use crate::api::user::{LookupRequest, LookupResponse};
use crate::configuration::{AddressFallback, Settings, UnknownUser};
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
    let settings = state.settings.clone();
    let identification = req.identification.as_ref().filter(|i| !i.is_empty());
    let who = match identification {
        Some(identification) => Who::Registry(
            LookupQuery::from_identification(&settings.lookup.keys, identification)
                .map_err(|e| ApiError::NotFound(format!("user not found: {e}")))?,
        ),
        None => Who::Process,
    };
    // The address the OTP may fall back to, where the settings allow one (logged as unusable
    // only where it would have been used).
    let email_attribute = identification
        .filter(|_| settings.otp.address_fallback != AddressFallback::Never)
        .and_then(|i| identification_email(i, &settings.otp.identification_email_attribute));
    let candidate_email = email_attribute.clone().and_then(Result::ok);
    let prospect_query = match &who {
        Who::Registry(query) if settings.lookup.unknown_user == UnknownUser::Prospect => {
            Some(query.clone())
        }
        _ => None,
    };
    let registry = matches!(who, Who::Registry(_));
    let lookup = |who| Lookup {
        process_id: req.process_id.clone(),
        process_type: req.process_type.clone(),
        who,
        candidate_email: candidate_email.clone(),
        ctx: ctx.clone(),
        settings: settings.clone(),
    };
    let mut found = identify(&state, lookup(who), now).await?;
    if found.0.is_none()
        && let Some(query) = prospect_query
    {
        let user_id = create_prospect(&state, query, &req.process_id, &ctx, now).await?;
        found.0 = identify(&state, lookup(Who::Prospect(user_id)), now)
            .await?
            .0;
    }
    let (found, several) = found;
    if let Some(matches) = several {
        tracing::warn!(matches, "identification matches several customers");
    }
    let Some(Identified {
        user_id,
        consent_required,
        remembered,
        fallback_allowed,
    }) = found
    else {
        if registry {
            tracing::info!("identification not found in the registry");
        }
        return Err(ApiError::NotFound("user not found".into()));
    };
    if fallback_allowed && matches!(email_attribute, Some(Err(()))) {
        tracing::info!("the identification's e-mail attribute is not a usable address; ignored");
    }
    if remembered && let Some(email) = &candidate_email {
        tracing::info!(
            destination = %mask_address(email),
            "OTP fallback address taken from the identification"
        );
    }
    tracing::info!(user_id = %user_id, consent_required, "user identified");
    Ok(web::Json(LookupResponse {
        user_id,
        consent_required,
    }))
}

/// Who a lookup is about.
enum Who {
    /// The registry entry the identification matches.
    Registry(LookupQuery),
    /// The user already known for the process (a null identification: target activation).
    Process,
    /// The prospect id given to an identification the registry does not know.
    Prospect(String),
}

/// What the lookup's unit works with.
struct Lookup {
    process_id: String,
    process_type: Option<String>,
    who: Who,
    /// The identification's e-mail address, where the settings allow the OTP to fall back
    /// to one.
    candidate_email: Option<String>,
    ctx: RequestContext,
    settings: Arc<Settings>,
}

/// A user identified, whether the OTP may fall back to the identification's address, and
/// whether that address was recorded for the process.
struct Identified {
    user_id: String,
    consent_required: bool,
    fallback_allowed: bool,
    remembered: bool,
}

/// Finds the user, whether consent is required, and records the process as seen, in one
/// unit of the writer. On SQLite the unit's reads run on the writer's connection, in its
/// batch's transaction: the HTTP worker takes no read lock of its own. Read locks of the
/// workers' connections, taken and released for every read, were about a quarter of the
/// workers' time once commits came fast (`cargo bench --bench http_load`). `None` when
/// nobody is found; nothing is written then. Beside it, how many registry entries matched
/// when several did (the unit does not log: it runs on the writer's thread, maybe twice).
///
/// The answer does not acknowledge the record, so it is answered once committed
/// ([`crate::persistence::writer::Writer::record_with`]).
async fn identify(
    state: &AppState,
    lookup: Lookup,
    now: DateTime<Utc>,
) -> Result<(Option<Identified>, Option<usize>), ApiError> {
    state
        .writer
        .record_with(lookup, move |lookup, db| {
            Box::pin(async move {
                let settings = &lookup.settings;
                let (user_id, fallback_allowed) = match &lookup.who {
                    Who::Registry(query) => match customers::find_by_query(&db, query).await? {
                        customers::Match::One(customer) => (
                            customer.user_id,
                            settings.otp.address_fallback == AddressFallback::MissingAddress
                                && customer.email.is_none(),
                        ),
                        customers::Match::None => return Ok((None, None)),
                        customers::Match::Several(n) => return Ok((None, Some(n))),
                    },
                    Who::Process => match processes::find(&db, &lookup.process_id)
                        .await?
                        .and_then(|p| p.user_id)
                    {
                        Some(user_id) => (user_id, false),
                        None => return Ok((None, None)),
                    },
                    Who::Prospect(user_id) => (
                        user_id.clone(),
                        settings.otp.address_fallback != AddressFallback::Never,
                    ),
                };
                let consent_required =
                    !consents::all_approved(&db, &user_id, &settings.consent.required_types)
                        .await?;
                processes::touch(
                    &db,
                    processes::ProcessSeen {
                        process_id: &lookup.process_id,
                        process_type: lookup.process_type.as_deref(),
                        user_id: Some(&user_id),
                        identity_verification_id: None,
                        callback: "user_lookup",
                    },
                    now,
                )
                .await?;
                let fallback = lookup.candidate_email.as_ref().filter(|_| fallback_allowed);
                if let Some(email) = fallback {
                    contacts::remember(&db, &lookup.process_id, &user_id, email, &lookup.ctx, now)
                        .await?;
                }
                Ok::<_, ApiError>((
                    Some(Identified {
                        user_id,
                        consent_required,
                        fallback_allowed,
                        remembered: fallback.is_some(),
                    }),
                    None,
                ))
            })
        })
        .await
}

/// The prospect id of an identification the registry does not know: created once per
/// identification, even across instances, and on disk before it is answered.
async fn create_prospect(
    state: &AppState,
    query: LookupQuery,
    process_id: &str,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let candidate = format!(
        "{}{}",
        state.settings.lookup.prospect_prefix,
        uuid::Uuid::new_v4()
    );
    let (digest, process_id, ctx) = (query.digest(), process_id.to_owned(), ctx.clone());
    Ok(state
        .writer
        .write(move |db| {
            Box::pin(async move {
                prospects::get_or_create(&db, &digest, &candidate, &process_id, &ctx, now).await
            })
        })
        .await?)
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
