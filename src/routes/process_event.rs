use actix_web::{post, web};

use crate::api::event::{EventAck, EventRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::events::{self, NewEvent, Stored};
use crate::state::AppState;

/// Receive a process event.
///
/// Stores the event (2.2 envelope with `id`, `timestamp`, `eventData`, or the 1.x/2.1
/// `FINISHED` event with `data`); a repeated `id` is acknowledged and stored once. Types this
/// service does not know are stored as sent. Answers `{}`.
#[utoipa::path(
    tag = "callbacks",
    request_body = EventRequest,
    responses(
        (status = 200, description = "Event stored (or already stored)", body = EventAck),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/process/event")]
#[tracing::instrument(name = "process_event", skip_all, fields(
    process_id = %body.0.process_id,
    event_type = %body.0.event_type,
    event_id = ?body.0.id,
))]
pub async fn process_event(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<EventRequest>,
) -> Result<web::Json<EventAck>, ApiError> {
    let req = body.0;
    let now = state.clock.now();
    let payload = serde_json::to_value(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    let event = NewEvent {
        event_id: req.id,
        event_type: req.event_type,
        process_id: req.process_id,
        process_type: req.process_type,
        user_id: req.user_id,
        identity_verification_id: req.identity_verification_id,
        external_user_id: req.external_user_id,
        occurred_at: req.timestamp,
        payload,
    };
    let stored = events::store(&state.db, event, &ctx, now).await?;
    tracing::info!(duplicate = stored == Stored::Duplicate, "event received");
    Ok(web::Json(EventAck {}))
}
