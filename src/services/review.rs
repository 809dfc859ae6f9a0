//! The WAIT loop and the back office's reading of it: a review case per WAIT decision,
//! resolution by a reviewer or by the deadline policy with the outbox message that carries
//! it to the Onboarding Server's private API (one transaction: case, message and audit
//! entry commit together or not at all), and every back-office read of cases, images and
//! the audit log, each audited in the same transaction as the read.

use chrono::{DateTime, Duration, Utc};
use entity::{audit_log, outbox_message, review_case};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use super::{Answer, Error};
use crate::configuration::{Outcome, Settings};
use crate::observe::RequestContext;
use crate::storage::{Database, audit, decisions, evidence, outbox, processes, review};

pub use crate::storage::evidence::EvidenceInfo;
pub use crate::storage::review::{CaseFilter, EXPIRED, OPEN, RESOLVED};

pub const EVALUATE_PATH: &str = "/api/private/client/evaluate";
pub const APPROVE_PATH: &str = "/api/private/client/approve";

/// The answer for a re-call of evaluate/approve when a case exists: WAIT while it is open,
/// the resolution once it is resolved or expired.
///
/// # Errors
/// Database errors.
pub async fn existing_answer(
    db: &impl ConnectionTrait,
    identity_verification_id: &str,
    decision_point: &str,
) -> Result<Option<Answer>, DbErr> {
    let Some(case) = review::find_for(db, identity_verification_id, decision_point).await? else {
        return Ok(None);
    };
    Ok(Some(match (case.resolution, case.resolution_reason) {
        (Some(outcome), reason) if case.status != review::OPEN => Answer {
            outcome,
            result_reason: reason.unwrap_or_default(),
        },
        _ => Answer {
            outcome: Outcome::Wait.as_str().to_owned(),
            result_reason: case.wait_reason,
        },
    }))
}

/// When an open case is resolved automatically: `deadline_secs` after opening, but never
/// later than `expiry_margin_secs` before the identity verification expires.
pub fn deadline(
    settings: &Settings,
    now: DateTime<Utc>,
    process_first_seen: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let r = &settings.review;
    let by_review = now + secs(r.deadline_secs);
    let by_expiry = process_first_seen
        .map(|first| first + secs(r.process_expiry_secs) - secs(r.expiry_margin_secs));
    match by_expiry {
        Some(e) => by_review.min(e.max(now)),
        None => by_review,
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

/// Opens (once) the review case of a stored WAIT decision.
///
/// # Errors
/// Database errors.
pub async fn open_for_wait(
    db: &impl ConnectionTrait,
    settings: &Settings,
    decision: &decisions::Decided,
    now: DateTime<Utc>,
) -> Result<review_case::Model, DbErr> {
    let first_seen = processes::find(db, &decision.process_id)
        .await?
        .map(|p| p.first_seen_at);
    review::open(
        db,
        review::NewCase {
            identity_verification_id: decision.identity_verification_id.clone(),
            decision_point: decision.decision_point.clone(),
            decision_id: decision.id,
            process_id: decision.process_id.clone(),
            process_type: decision.process_type.clone(),
            user_id: decision.user_id.clone(),
            wait_reason: decision.result_reason.clone(),
            deadline_at: deadline(settings, now, first_seen),
        },
        now,
    )
    .await
}

/// Who acts in the back office (a reviewer, an admin, or the deadline policy), as the
/// audit log and the resolution name them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub role: &'a str,
}

/// A resolution of a case.
#[derive(Debug, Clone)]
pub struct Resolve<'a> {
    pub case_id: i64,
    /// [`RESOLVED`] by a person, [`EXPIRED`] by the deadline policy.
    pub status: &'static str,
    pub result: Outcome,
    pub reason: &'a str,
    pub note: Option<String>,
}

/// Resolves an open case with `result` (OK/NOK), enqueues the callback and writes the
/// audit entry, all in one transaction. Answers the resolved case with its delivery, read
/// in that transaction.
///
/// # Errors
/// Unknown case; case no longer open (conflict); database errors.
pub async fn resolve(
    db: &Database,
    settings: &Settings,
    resolution: Resolve<'_>,
    actor: Actor<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<CaseDetail, Error> {
    let Resolve {
        case_id,
        status,
        result,
        reason,
        note,
    } = resolution;
    let txn = db.begin().await?;
    let case = case_of(&txn, case_id).await?;
    let closed = review::close(
        &txn,
        case_id,
        &review::Resolution {
            status,
            result: result.as_str().to_owned(),
            reason: reason.to_owned(),
            note: note.clone(),
            by: actor.name.to_owned(),
        },
        now,
    )
    .await?;
    if !closed {
        return Err(Error::Conflict("the review case is no longer open".into()));
    }
    let (path, field) = if case.decision_point == "approve" {
        (APPROVE_PATH, "approvalResult")
    } else {
        (EVALUATE_PATH, "evaluationResult")
    };
    let mut payload = json!({
        "processId": case.process_id,
        "userId": case.user_id,
        "identityVerificationId": case.identity_verification_id,
        "resultReason": reason,
    });
    payload[field] = json!(result.as_str());
    outbox::enqueue(
        &txn,
        outbox::NewMessage {
            review_case_id: case_id,
            path: path.into(),
            payload,
            give_up_at: now + secs(settings.delivery.horizon_secs),
            traceparent: ctx.trace.child_traceparent(),
        },
        now,
    )
    .await?;
    let action = if status == review::EXPIRED {
        "case.expire"
    } else {
        "case.resolve"
    };
    let (target, detail_json) = (
        Some(format!("case:{case_id}")),
        json!({"result": result.as_str(), "reasonCode": reason, "note": note}),
    );
    audited(&txn, actor, action, target, detail_json, ctx, now).await?;
    let resolved = case_of(&txn, case_id).await?;
    let resolved = detail(&txn, resolved).await?;
    txn.commit().await?;
    tracing::info!(case_id, result = result.as_str(), reason, by = %actor.name, "review case resolved");
    Ok(resolved)
}

/// Resolves every open case past its deadline with the configured expiry outcome.
///
/// # Errors
/// Database errors (cases resolved concurrently elsewhere are skipped, not errors).
pub async fn expire_overdue(
    db: &Database,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut expired = 0;
    let system = Actor {
        name: "system:deadline",
        role: "system",
    };
    for case in review::overdue(db.reads(), now, 100).await? {
        let ctx = RequestContext::internal();
        let resolution = Resolve {
            case_id: case.id,
            status: review::EXPIRED,
            result: settings.review.expiry_outcome,
            reason: &settings.review.expiry_reason,
            note: Some("resolved automatically at the review deadline".into()),
        };
        match resolve(db, settings, resolution, system, &ctx, now).await {
            Ok(_) => expired += 1,
            // Resolved meanwhile by a reviewer or another instance.
            Err(Error::Conflict(_) | Error::NotFound(_)) => {}
            Err(Error::Unexpected(e) | Error::Unavailable(e)) => return Err(e),
        }
    }
    Ok(expired)
}

/// Writes the audit entry of a back-office action on `txn`.
pub(super) async fn audited(
    txn: &impl ConnectionTrait,
    by: Actor<'_>,
    action: &str,
    target: Option<String>,
    detail: serde_json::Value,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit::record(
        txn,
        audit::Entry {
            actor: by.name,
            role: by.role,
            action,
            target,
            detail,
        },
        ctx,
        now,
    )
    .await
}

/// Records a back-office action that touches no case (e.g. a policy reload).
///
/// # Errors
/// Database errors.
pub async fn record_action(
    db: &Database,
    by: Actor<'_>,
    action: &str,
    detail: serde_json::Value,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let txn = db.begin().await?;
    audited(&txn, by, action, None, detail, ctx, now).await?;
    txn.commit().await?;
    Ok(())
}

/// A case with what a reviewer reads beside it.
#[derive(Debug, Clone)]
pub struct CaseDetail {
    pub case: review_case::Model,
    pub facts: serde_json::Value,
    pub rule_trace: serde_json::Value,
    pub delivery: Option<outbox_message::Model>,
}

async fn detail(txn: &impl ConnectionTrait, case: review_case::Model) -> Result<CaseDetail, DbErr> {
    let delivery = outbox::for_case(txn, case.id).await?;
    let (facts, rule_trace) = review::facts_and_trace(txn, &case).await?;
    Ok(CaseDetail {
        case,
        facts,
        rule_trace,
        delivery,
    })
}

/// A page of cases (and the total matching), audited.
///
/// # Errors
/// Database errors.
pub async fn list_cases(
    db: &Database,
    by: Actor<'_>,
    filter: &CaseFilter,
    (page, page_size): (u64, u64),
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(Vec<review_case::Model>, u64), Error> {
    let txn = db.begin().await?;
    let (items, total) = review::list(&txn, filter, page, page_size).await?;
    let detail = json!({"returned": items.len()});
    audited(&txn, by, "case.list", None, detail, ctx, now).await?;
    txn.commit().await?;
    Ok((items, total))
}

async fn case_of(txn: &impl ConnectionTrait, id: i64) -> Result<review_case::Model, Error> {
    review::get(txn, id)
        .await?
        .ok_or_else(|| Error::NotFound("no such review case".into()))
}

/// One case with its facts, rule trace and delivery, audited.
///
/// # Errors
/// Unknown case; database errors.
pub async fn read_case(
    db: &Database,
    by: Actor<'_>,
    id: i64,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<CaseDetail, Error> {
    let txn = db.begin().await?;
    let case = case_of(&txn, id).await?;
    let target = Some(format!("case:{id}"));
    audited(&txn, by, "case.read", target, json!({}), ctx, now).await?;
    let detail = detail(&txn, case).await?;
    txn.commit().await?;
    Ok(detail)
}

/// The images kept for a case's identity verification (without their bytes), audited.
///
/// # Errors
/// Unknown case; database errors.
pub async fn list_images(
    db: &Database,
    by: Actor<'_>,
    id: i64,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Vec<EvidenceInfo>, Error> {
    let txn = db.begin().await?;
    let case = case_of(&txn, id).await?;
    let items = evidence::list_for_verification(&txn, &case.identity_verification_id).await?;
    let (target, detail) = (Some(format!("case:{id}")), json!({"returned": items.len()}));
    audited(&txn, by, "case.images.list", target, detail, ctx, now).await?;
    txn.commit().await?;
    Ok(items)
}

/// One image of a case with its bytes (from the folder when stored there), audited.
///
/// # Errors
/// Unknown case or image; database or file-system errors.
pub async fn read_image(
    db: &Database,
    settings: &Settings,
    by: Actor<'_>,
    (id, image_id): (i64, i64),
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(entity::evidence::Model, Vec<u8>), Error> {
    let txn = db.begin().await?;
    let case = case_of(&txn, id).await?;
    if evidence::purged(&txn, image_id).await? {
        return Err(Error::NotFound(
            "this image was deleted after its retention period".into(),
        ));
    }
    let folder = settings.decision.evidence_dir.as_deref();
    let Some((row, bytes)) = evidence::load(&txn, image_id, &case.identity_verification_id, folder)
        .await
        .map_err(Error::from_anyhow)?
    else {
        return Err(Error::NotFound("no such image for this case".into()));
    };
    let (target, detail) = (
        Some(format!("case:{id}")),
        json!({"imageId": image_id, "sha256": row.sha256}),
    );
    audited(&txn, by, "case.image.read", target, detail, ctx, now).await?;
    txn.commit().await?;
    Ok((row, bytes))
}

/// A page of the audit log, newest first; the reading is audited first.
///
/// # Errors
/// Database errors.
pub async fn read_audit(
    db: &Database,
    by: Actor<'_>,
    (page, page_size): (u64, u64),
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(Vec<audit_log::Model>, u64), Error> {
    let txn = db.begin().await?;
    audited(&txn, by, "audit.read", None, json!({}), ctx, now).await?;
    let page = audit::list(&txn, page, page_size).await?;
    txn.commit().await?;
    Ok(page)
}
