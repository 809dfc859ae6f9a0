//! Consent: the text served to a process and the user's decision, each recorded with the
//! process in one transaction.

use chrono::{DateTime, Utc};

use super::Error;
use crate::observe::RequestContext;
use crate::storage::consents;
pub use crate::storage::consents::TextServed;
use crate::storage::{Database, processes};

/// Records that `served` was answered to its process, and the process as seen.
///
/// # Errors
/// Database errors (nothing is recorded then).
pub async fn record_served(
    db: &Database,
    served: TextServed<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let txn = db.begin().await?;
    processes::touch(
        &txn,
        processes::ProcessSeen {
            process_id: served.process_id,
            process_type: served.process_type,
            user_id: served.user_id,
            identity_verification_id: None,
            callback: "consent_text",
        },
        now,
    )
    .await?;
    consents::record_served(&txn, served, ctx, now).await?;
    txn.commit().await?;
    Ok(())
}

/// A consent decision as the Onboarding Server sends it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionCall<'a> {
    pub process_id: Option<&'a str>,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    /// Normalised.
    pub consent_type: &'a str,
    pub approved: bool,
}

/// Appends the decision with the version of the text last served to the process (`None`
/// when it was never served one), and records the process. Answers that version.
///
/// # Errors
/// Database errors (nothing is recorded then).
pub async fn record_decision(
    db: &Database,
    call: DecisionCall<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error> {
    let txn = db.begin().await?;
    let text_version = match call.process_id {
        Some(process_id) => {
            consents::last_served_version(&txn, process_id, call.consent_type).await?
        }
        None => None,
    };
    if let Some(process_id) = call.process_id {
        processes::touch(
            &txn,
            processes::ProcessSeen {
                process_id,
                process_type: call.process_type,
                user_id: call.user_id,
                identity_verification_id: None,
                callback: "consent_storage",
            },
            now,
        )
        .await?;
    }
    consents::record_decision(
        &txn,
        consents::Decision {
            process_id: call.process_id,
            process_type: call.process_type,
            user_id: call.user_id,
            consent_type: call.consent_type,
            approved: call.approved,
            text_version: text_version.clone(),
        },
        ctx,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(text_version)
}
