//! Process events: stored once per event id (2.2 envelopes; 1.x `FINISHED` events carry
//! none and are all kept), with the process, in one transaction.

use chrono::{DateTime, Utc};

use super::Error;
use crate::observe::RequestContext;
use crate::storage::events;
pub use crate::storage::events::{NewEvent, Stored};
use crate::storage::{Database, processes};

/// Stores the event unless its id was stored before; records the process for a new one.
///
/// # Errors
/// Database errors (nothing is stored then).
pub async fn store(
    db: &Database,
    event: NewEvent,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Stored, Error> {
    let txn = db.begin().await?;
    let seen = (
        event.process_id.clone(),
        event.process_type.clone(),
        event.user_id.clone(),
        event.identity_verification_id.clone(),
    );
    let stored = events::insert(&txn, event, ctx, now).await?;
    if stored == Stored::New {
        let (process_id, process_type, user_id, identity_verification_id) = seen;
        processes::touch(
            &txn,
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
    txn.commit().await?;
    Ok(stored)
}
