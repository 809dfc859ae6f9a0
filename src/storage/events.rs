//! Process events, de-duplicated by the event id of 2.2 envelopes.

use chrono::{DateTime, Utc};
use entity::process_event;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::insert_unless_exists;
use crate::observe::RequestContext;

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Option<String>,
    pub event_type: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: Option<String>,
    pub identity_verification_id: Option<String>,
    pub external_user_id: Option<String>,
    pub occurred_at: Option<String>,
    pub payload: serde_json::Value,
}

/// Whether the event was new or a repeat of one already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    Duplicate,
}

/// # Errors
/// Database errors.
pub async fn insert(
    db: &impl ConnectionTrait,
    e: NewEvent,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Stored, DbErr> {
    let model = process_event::ActiveModel {
        event_id: Set(e.event_id),
        event_type: Set(e.event_type),
        process_id: Set(e.process_id),
        process_type: Set(e.process_type),
        user_id: Set(e.user_id),
        identity_verification_id: Set(e.identity_verification_id),
        external_user_id: Set(e.external_user_id),
        occurred_at: Set(e.occurred_at),
        payload: Set(e.payload),
        received_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    // Events without an id are all kept (a NULL never conflicts).
    Ok(
        match insert_unless_exists(db, model, [process_event::Column::EventId]).await? {
            Some(_) => Stored::New,
            None => Stored::Duplicate,
        },
    )
}
