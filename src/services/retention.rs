//! The retention purge: personal data past its retention date (`[retention]`, counted from
//! each row's own date) is redacted or deleted, in batches of `retention.batch_size` rows,
//! each batch one transaction. What the audit needs stays: decisions' outcome, reasons,
//! reason codes, input digest and trace; images' SHA-256, size and format; times,
//! correlation ids; the audit log. Data of a verification whose review case is open (or
//! was resolved within the retention period) is kept.
//!
//! Evidence files are deleted after their row is redacted and committed; the row keeps the
//! file name until the file is gone, so a delete that fails is retried by the next run.
//! Idempotent: a second run over the same data finds nothing to do. Logs counts only.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Error;
use crate::configuration::Settings;
use crate::storage::Database;
use crate::storage::retention::{self, Deleted};

/// How many rows (and files) one purge run handled, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub decisions: u64,
    pub evidence: u64,
    pub evidence_files: u64,
    /// Files whose delete failed; they are retried by the next run.
    pub evidence_files_failed: u64,
    pub events: u64,
    pub contacts: u64,
    pub otp_deliveries: u64,
    pub consent_decisions: u64,
    pub consent_texts: u64,
    pub prospects: u64,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Decisions,
    Evidence,
    Events,
    Deleted(Deleted),
}

/// Purges everything past its retention at `now`.
///
/// # Errors
/// Database errors (the batches committed before stay committed; the next run goes on).
pub async fn purge(
    db: &Database,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Purged, Error> {
    let r = &settings.retention;
    let mut purged = Purged {
        decisions: drain(db, settings, Kind::Decisions, r.decision_data_days, now).await?,
        evidence: drain(db, settings, Kind::Evidence, r.evidence_days, now).await?,
        events: drain(db, settings, Kind::Events, r.event_payload_days, now).await?,
        ..Purged::default()
    };
    for (table, days, count) in [
        (Deleted::Contacts, r.contact_days, &mut purged.contacts),
        (
            Deleted::OtpDeliveries,
            r.otp_delivery_days,
            &mut purged.otp_deliveries,
        ),
        (
            Deleted::ConsentDecisions,
            r.consent_days,
            &mut purged.consent_decisions,
        ),
        (
            Deleted::ConsentTexts,
            r.consent_days,
            &mut purged.consent_texts,
        ),
        (Deleted::Prospects, r.prospect_days, &mut purged.prospects),
    ] {
        *count = drain(db, settings, Kind::Deleted(table), days, now).await?;
    }
    let (deleted, failed) =
        delete_files(db, settings.decision.evidence_dir.as_deref(), r.batch_size).await?;
    purged.evidence_files = deleted;
    purged.evidence_files_failed = failed;
    tracing::info!(
        decisions = purged.decisions,
        evidence = purged.evidence,
        evidence_files = purged.evidence_files,
        evidence_files_failed = purged.evidence_files_failed,
        events = purged.events,
        contacts = purged.contacts,
        otp_deliveries = purged.otp_deliveries,
        consent_decisions = purged.consent_decisions,
        consent_texts = purged.consent_texts,
        prospects = purged.prospects,
        "retention purge finished"
    );
    Ok(purged)
}

/// Runs batches of one kind until a batch comes back short. `days` 0: kept forever.
async fn drain(
    db: &Database,
    settings: &Settings,
    kind: Kind,
    days: u32,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let limit = settings.retention.batch_size;
    let mut total = 0;
    loop {
        let txn = db.begin().await?;
        let done = match kind {
            Kind::Decisions => retention::redact_decisions(&txn, cutoff, limit, now).await?,
            Kind::Evidence => retention::redact_evidence(&txn, cutoff, limit, now).await?,
            Kind::Events => retention::redact_events(&txn, cutoff, limit, now).await?,
            Kind::Deleted(table) => retention::delete_expired(&txn, table, cutoff, limit).await?,
        };
        txn.commit().await?;
        total += done;
        if done < limit {
            return Ok(total);
        }
    }
}

/// Deletes the files of redacted images, a batch per transaction, once through the list:
/// a file another image still keeps stays (only this row lets go of it); a file already
/// gone counts as deleted; a failed delete leaves the name in the row for the next run.
async fn delete_files(
    db: &Database,
    folder: Option<&Path>,
    limit: u64,
) -> Result<(u64, u64), Error> {
    let Some(folder) = folder else {
        return Ok((0, 0));
    };
    let (mut deleted, mut failed, mut after) = (0, 0, 0);
    loop {
        let txn = db.begin().await?;
        let batch = retention::files_to_delete(&txn, after, limit).await?;
        for (id, name) in &batch {
            after = *id;
            if !retention::file_still_kept(&txn, name).await? {
                match tokio::fs::remove_file(folder.join(name)).await {
                    Ok(()) => deleted += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(evidence_id = id, error = %e.kind(), "evidence file not deleted; retried next run");
                        continue;
                    }
                }
            }
            retention::forget_file(&txn, *id).await?;
        }
        txn.commit().await?;
        if (batch.len() as u64) < limit {
            return Ok((deleted, failed));
        }
    }
}
