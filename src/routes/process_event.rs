use actix_web::{HttpRequest, post, web};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::api::event::{EventAck, EventRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{CallbackJson, declared_length};
use crate::observe::RequestContext;
use crate::persistence::{events, processes};
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
    http: HttpRequest,
    body: CallbackJson<EventRequest>,
) -> Result<web::Json<EventAck>, ApiError> {
    let req = body.0;
    let now = state.clock.now();
    let payload = serde_json::to_value(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    let event = events::NewEvent {
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
    // A small event is stored by a unit that may run again (cheaper on SQLite's writer); it
    // copies the event each time. A large one (document events can carry images) is
    // stored by a unit that runs once and moves the payload into its statement.
    let small = declared_length(&http).is_some_and(|length| length <= REPLAYABLE_EVENT_BYTES);
    let stored = if small {
        state
            .writer
            .write_with((event, ctx), move |(event, ctx), db| {
                Box::pin(async move { store(&db, event.clone(), ctx, now).await })
            })
            .await?
    } else {
        state
            .writer
            .write(move |db| Box::pin(async move { store(&db, event, &ctx, now).await }))
            .await?
    };
    tracing::info!(
        duplicate = stored == events::Stored::Duplicate,
        "event received"
    );
    Ok(web::Json(EventAck {}))
}

/// Events up to this size are stored by a replayable unit.
const REPLAYABLE_EVENT_BYTES: usize = 64 * 1024;

/// Stores the event and, when it is new, records the process.
async fn store(
    db: &impl ConnectionTrait,
    event: events::NewEvent,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<events::Stored, ApiError> {
    let seen = (
        event.process_id.clone(),
        event.process_type.clone(),
        event.user_id.clone(),
        event.identity_verification_id.clone(),
    );
    let stored = events::insert(db, event, ctx, now).await?;
    if stored == events::Stored::New {
        let (process_id, process_type, user_id, identity_verification_id) = seen;
        processes::touch(
            db,
            processes::ProcessSeen {
                process_id: &process_id,
                process_type: process_type.as_deref(),
                user_id: user_id.as_deref(),
                identity_verification_id: identity_verification_id.as_deref(),
                callback: "process_event",
            },
            now,
        )
        .await?;
    }
    Ok(stored)
}
