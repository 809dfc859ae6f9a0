use actix_web::{HttpResponse, post, web};

use crate::api::consent::ConsentStorageRequest;
use crate::domain::consent::normalise_type;
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::persistence::{consents, processes};
use crate::state::AppState;

/// Store the user's consent decision.
///
/// Appends an immutable record (approved or rejected, the version of the text last served
/// to the process, time, correlation ids). Repeats and changes of mind are kept as
/// history; the latest decision counts. Answers 204 with no body; an unknown consent type
/// is a 404.
#[utoipa::path(
    tag = "callbacks",
    request_body = ConsentStorageRequest,
    responses(
        (status = 204, description = "Decision stored"),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 404, description = "Unknown consent type", body = ErrorBody,
            example = json!({"errorCode": "ERROR_GENERIC", "message": "unknown consentType"})),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/consent/storage")]
#[tracing::instrument(name = "consent_storage", skip_all, fields(process_id = ?body.0.process_id))]
pub async fn consent_storage(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<ConsentStorageRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let now = state.clock.now();
    if !state.consents.knows(&req.consent_type) {
        return Err(ApiError::NotFound("unknown consentType".into()));
    }
    let consent_type = normalise_type(&req.consent_type);
    let approved = req.approved;
    let data = (req, ctx, consent_type.clone());
    // The version of the text last served is read in the same unit as the decision is
    // written: on SQLite in the writer's transaction, on its connection (no read lock of the
    // HTTP worker's own).
    let text_version = state
        .writer
        .write_with(data, move |(req, ctx, consent_type), db| {
            Box::pin(async move {
                let text_version = match &req.process_id {
                    Some(process_id) => {
                        consents::last_served_version(&db, process_id, consent_type).await?
                    }
                    None => None,
                };
                consents::record_decision(
                    &db,
                    consents::Decision {
                        process_id: req.process_id.as_deref(),
                        process_type: req.process_type.as_deref(),
                        user_id: req.user_id.as_deref(),
                        consent_type,
                        approved,
                        text_version: text_version.clone(),
                    },
                    ctx,
                    now,
                )
                .await?;
                if let Some(process_id) = &req.process_id {
                    processes::touch(
                        &db,
                        processes::ProcessSeen {
                            process_id,
                            process_type: req.process_type.as_deref(),
                            user_id: req.user_id.as_deref(),
                            identity_verification_id: None,
                            callback: "consent_storage",
                        },
                        now,
                    )
                    .await?;
                }
                Ok::<_, ApiError>(text_version)
            })
        })
        .await?;
    if text_version.is_none() {
        tracing::warn!("consent decision for a text this process was never served");
    }
    tracing::info!(consent_type = %consent_type, approved, "consent decision stored");
    Ok(HttpResponse::NoContent().finish())
}
