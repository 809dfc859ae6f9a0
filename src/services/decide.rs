//! `/client/evaluate` and `/client/approve`: facts from the call, the policy's verdict, the
//! stored decision with its evidence, idempotent repeats and the review case of a WAIT, in
//! one transaction.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::policy::Decider;
use super::{Answer, Error, review};
use crate::api::client::{ApproveRequest, CheckStatus, EvaluateRequest};
use crate::configuration::{EvidenceStorage, Outcome, Settings};
use crate::domain::facts::{self, DocumentImages};
use crate::domain::images::{Base64Image, CheckedImage, ImageLimits};
use crate::domain::policy::DecisionPoint;
use crate::domain::verification::RegistryPerson;
use crate::observe::RequestContext;
use crate::storage::decisions::{self, Decided};
use crate::storage::{Database, customers, evidence, processes};

/// The answer to a 1.x caller when the policy says WAIT.
pub const LEGACY_WAIT_REASON: &str = "WAIT_UNSUPPORTED_BY_CALLER";

/// The call to decide, as received.
pub enum DecisionRequest {
    Evaluate(EvaluateRequest),
    Approve(ApproveRequest),
}

/// The identifying fields of a call, kept apart from the request (which is consumed by
/// [`prepare`]).
struct CallIds {
    point: DecisionPoint,
    process_id: String,
    process_type: Option<String>,
    identity_verification_id: String,
    user_id: String,
    provider: Option<String>,
    status: Option<String>,
    verification_id: Option<String>,
}

impl DecisionRequest {
    fn ids(&self) -> CallIds {
        let status = |s: Option<CheckStatus>| s.map(|s| s.as_str().to_owned());
        match self {
            Self::Evaluate(r) => CallIds {
                point: DecisionPoint::Evaluate,
                process_id: r.process_id.clone(),
                process_type: r.process_type.clone(),
                identity_verification_id: r.identity_verification_id.clone(),
                user_id: r.user_id.clone(),
                provider: r.provider.clone(),
                status: status(r.status),
                verification_id: r.verification_id.clone(),
            },
            Self::Approve(r) => CallIds {
                point: DecisionPoint::Approve,
                process_id: r.process_id.clone(),
                process_type: r.process_type.clone(),
                identity_verification_id: r.identity_verification_id.clone(),
                user_id: r.user_id.clone(),
                provider: r.provider.clone(),
                status: status(r.status),
                verification_id: None,
            },
        }
    }

    /// SHA-256 (hex) of the canonical JSON of the call (fields in declaration order, each
    /// image as the SHA-256 of its decoded bytes), hashed as it is written.
    fn digest(&self) -> serde_json::Result<String> {
        let mut hasher = Sha256::new();
        match self {
            Self::Evaluate(r) => serde_json::to_writer(&mut hasher, r)?,
            Self::Approve(r) => serde_json::to_writer(&mut hasher, r)?,
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// An image of the call, checked (its decoded bytes moved out into `bytes`), with where
/// it came from.
struct ReceivedImage {
    source: String,
    image_type: Option<String>,
    checked: CheckedImage,
    bytes: Option<Vec<u8>>,
}

/// What is prepared for the policy and the record: facts, checked images and the stored
/// summary of the request (images replaced by their size and digest).
struct Prepared {
    facts: Value,
    images: Vec<ReceivedImage>,
    summary: Value,
}

/// What deciding needs besides the call.
pub struct Deps<'a> {
    pub db: &'a Database,
    pub settings: &'a Settings,
    pub decider: &'a Decider,
}

/// Decides a call in one transaction: a re-call under review gets the case's answer; an
/// identical repeat gets the stored decision; otherwise facts are built, the policy
/// decides, and the decision, its evidence, the process and (for a WAIT) the review case
/// are stored. Nothing of it is kept when any part fails.
///
/// # Errors
/// Database errors; a request that cannot be serialised (a bug).
pub async fn decide(
    deps: Deps<'_>,
    ctx: &RequestContext,
    request: DecisionRequest,
    now: DateTime<Utc>,
) -> Result<Answer, Error> {
    let started = Instant::now();
    let Deps {
        db,
        settings,
        decider,
    } = deps;
    let ids = request.ids();
    let point = ids.point.as_str();
    let input_digest = request.digest().map_err(|e| Error::Unexpected(e.into()))?;
    let txn = db.begin().await?;
    // A review case exists only for a verification already decided here, so a first call
    // (the usual one) costs one look-up.
    let earlier = decisions::for_call(&txn, &ids.identity_verification_id, point).await?;
    if !earlier.is_empty() {
        // A re-call for a verification under review: WAIT while open, the resolution after.
        if let Some(answer) =
            review::existing_answer(&txn, &ids.identity_verification_id, point).await?
        {
            tracing::info!(decision_point = point, result = %answer.outcome, "answered from the review case");
            return Ok(answer);
        }
        if let Some(stored) = earlier.into_iter().find(|d| d.input_digest == input_digest) {
            tracing::info!(decision_point = point, result = %stored.outcome, "identical call: stored decision answered");
            let stored = Decided::from(stored);
            let case = record_seen(&txn, settings, &ids, &stored, now).await?;
            txn.commit().await?;
            log_case(case);
            return Ok(answer(stored));
        }
    }

    let registry = customers::find_by_user_id(&txn, &ids.user_id)
        .await?
        .map(|c| RegistryPerson {
            given_names: c.given_names,
            surname: c.surname,
            birth_date: c.birth_date,
        });
    let limits = ImageLimits {
        min_bytes: settings.decision.image_min_bytes,
        max_bytes: settings.decision.image_max_bytes,
    };
    // The images were decoded while the body was read (off the async workers when it is
    // large); what is left here is cheap.
    let prepared = prepare(request, registry.as_ref(), limits, now.date_naive())
        .map_err(|e| Error::Unexpected(e.into()))?;

    // Inside the transaction: the facts come from its reads. The CEL policy takes
    // microseconds; a compiled engine that calls another server must bound its own time
    // (docs/policy.md, "Compiled engines").
    let mut verdict = decider
        .decide(ids.point, ids.process_type.as_deref(), &prepared.facts)
        .await;
    if prepared.facts["legacyCaller"] == Value::Bool(true) && verdict.outcome == Outcome::Wait {
        // A 1.x server reads anything but OK as rejected and has no private API to call
        // back: answer (and store) NOK instead of opening a case nobody can close. The
        // trace keeps the rules that wanted WAIT.
        verdict.outcome = Outcome::Nok;
        verdict.reasons = vec![LEGACY_WAIT_REASON.to_owned()];
        verdict.result_reason = LEGACY_WAIT_REASON.to_owned();
    }
    let new = decisions::NewDecision {
        identity_verification_id: ids.identity_verification_id.clone(),
        decision_point: point,
        input_digest: input_digest.clone(),
        process_id: ids.process_id.clone(),
        process_type: ids.process_type.clone(),
        user_id: ids.user_id.clone(),
        provider: ids.provider.clone(),
        status: ids.status.clone(),
        verification_id: ids.verification_id.clone(),
        input_summary: prepared.summary,
        outcome: verdict.outcome.as_str().to_owned(),
        result_reason: verdict.result_reason.clone(),
        policy_version: verdict.policy_version.clone(),
        rule_trace: json(&verdict.trace)?,
        duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
        facts: prepared.facts,
        reason_codes: json(&verdict.reasons)?,
    };
    let (stored, fresh) = match decisions::insert_new(&txn, new, ctx, now).await? {
        Some(stored) => {
            if settings.decision.evidence != EvidenceStorage::Off {
                store_evidence(settings, &txn, &stored, prepared.images, ctx).await?;
            }
            (stored, true)
        }
        // The identical call was decided concurrently: answer that decision.
        None => (
            decisions::for_call(&txn, &ids.identity_verification_id, point)
                .await?
                .into_iter()
                .find(|d| d.input_digest == input_digest)
                .map(Decided::from)
                .ok_or_else(|| {
                    Error::Unexpected(anyhow::anyhow!("decision vanished after a conflict"))
                })?,
            false,
        ),
    };
    let case = record_seen(&txn, settings, &ids, &stored, now).await?;
    txn.commit().await?;
    if fresh {
        tracing::info!(
            decision_point = point,
            result = %stored.outcome,
            reason = %stored.result_reason,
            policy_version = %stored.policy_version,
            duration_us = stored.duration_us,
            "decided"
        );
    }
    log_case(case);
    Ok(answer(stored))
}

/// A review case the call opened (or found open): its id and deadline.
type OpenedCase = (i64, DateTime<Utc>);

/// Logged once the transaction that opened the case committed.
fn log_case(case: Option<OpenedCase>) {
    if let Some((case_id, deadline)) = case {
        tracing::info!(case_id, deadline = %deadline, "review case open");
    }
}

/// Records the process and opens the review case of a WAIT (idempotent); answers that
/// case.
async fn record_seen(
    db: &impl ConnectionTrait,
    settings: &Settings,
    ids: &CallIds,
    stored: &Decided,
    now: DateTime<Utc>,
) -> Result<Option<OpenedCase>, DbErr> {
    processes::touch(
        db,
        processes::ProcessSeen {
            process_id: &ids.process_id,
            process_type: ids.process_type.as_deref(),
            user_id: Some(&ids.user_id),
            identity_verification_id: Some(&ids.identity_verification_id),
            callback: ids.point.as_str(),
        },
        now,
    )
    .await?;
    if stored.outcome == "WAIT" {
        let case = review::open_for_wait(db, settings, stored, now).await?;
        return Ok(Some((case.id, case.deadline_at)));
    }
    Ok(None)
}

/// `value` as JSON, for a JSON column of the decision.
fn json(value: &impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Unexpected(e.into()))
}

fn answer(stored: Decided) -> Answer {
    Answer {
        outcome: stored.outcome,
        result_reason: stored.result_reason,
    }
}

async fn store_evidence(
    settings: &Settings,
    txn: &impl ConnectionTrait,
    stored: &Decided,
    received: Vec<ReceivedImage>,
    ctx: &RequestContext,
) -> Result<(), Error> {
    let settings = &settings.decision;
    for image in received {
        let (Some(bytes), Some(format)) = (image.bytes, image.checked.format) else {
            continue;
        };
        evidence::insert(
            txn,
            settings.evidence,
            settings.evidence_dir.as_deref(),
            evidence::NewEvidence {
                decision_id: stored.id,
                identity_verification_id: &stored.identity_verification_id,
                decision_point: &stored.decision_point,
                process_id: &stored.process_id,
                source: image.source,
                image_type: image.image_type,
                format,
                sha256: &image.checked.sha256,
                bytes,
            },
            ctx,
            stored.created_at,
        )
        .await
        .map_err(Error::from_anyhow)?;
    }
    Ok(())
}

/// Checks the images, builds the facts and the stored summary (images replaced by their
/// size and digest).
fn prepare(
    request: DecisionRequest,
    registry: Option<&RegistryPerson>,
    limits: ImageLimits,
    today: NaiveDate,
) -> serde_json::Result<Prepared> {
    let check = |data: Option<Base64Image>| {
        data.unwrap_or_else(|| Base64Image::from_text(""))
            .check(limits)
    };
    match request {
        DecisionRequest::Evaluate(mut req) => {
            let documents = req
                .document_check_result
                .as_mut()
                .and_then(|c| c.documents.as_mut())
                .map_or(&mut [][..], Vec::as_mut_slice);
            let mut received = Vec::new();
            let mut checked: DocumentImages = Vec::with_capacity(documents.len());
            for (i, doc) in documents.iter_mut().enumerate() {
                let mut per_doc = Vec::new();
                for (j, image) in doc.images.iter_mut().flatten().enumerate() {
                    // The decoded image leaves the request here.
                    let mut c = check(image.data.take());
                    let bytes = c.bytes.take();
                    per_doc.push(c.clone());
                    received.push(ReceivedImage {
                        source: format!("documents[{i}].images[{j}]"),
                        image_type: image.image_type.clone(),
                        checked: c,
                        bytes,
                    });
                }
                checked.push(per_doc);
            }
            let facts = facts::evaluate(&req.facts_input(), &checked, registry, today);
            let mut summary = serde_json::to_value(&req)?;
            redact_document_images(&mut summary, &received);
            Ok(Prepared {
                facts,
                images: received,
                summary,
            })
        }
        DecisionRequest::Approve(mut req) => {
            let mut frame = req
                .presence_check_result
                .as_mut()
                .and_then(|p| p.frame.take())
                .map(|f| check(Some(f)));
            let frame_bytes = frame.as_mut().and_then(|f| f.bytes.take());
            let facts = facts::approve(&req.facts_input(), frame.as_ref(), registry);
            let mut summary = serde_json::to_value(&req)?;
            if let Some(f) = &frame
                && let Some(slot) = summary.pointer_mut("/presenceCheckResult/frame")
            {
                *slot = image_summary(f);
            }
            Ok(Prepared {
                facts,
                images: frame
                    .map(|checked| ReceivedImage {
                        source: "presenceCheckResult.frame".into(),
                        image_type: Some("SELFIE".into()),
                        checked,
                        bytes: frame_bytes,
                    })
                    .into_iter()
                    .collect(),
                summary,
            })
        }
    }
}

/// What the stored summary keeps of an image: its size, format, digest and validity.
fn image_summary(c: &CheckedImage) -> Value {
    serde_json::json!({
        "bytes": c.size,
        "format": c.format.map(|f| f.as_str()),
        "sha256": c.sha256,
        "valid": c.valid(),
        "problem": c.problem.map(|p| p.as_str()),
    })
}

/// Replaces every `documentCheckResult.documents[i].images[j].data` by its summary.
/// `received` holds the images in the same order (documents, then their images).
fn redact_document_images(summary: &mut Value, received: &[ReceivedImage]) {
    let slots = summary
        .pointer_mut("/documentCheckResult/documents")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get_mut("images").and_then(Value::as_array_mut))
        .flatten();
    for (slot, image) in slots.zip(received) {
        slot["data"] = image_summary(&image.checked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_image() {
        let req: EvaluateRequest = serde_json::from_value(serde_json::json!({
            "processId": "p", "processType": "onboarding", "identityVerificationId": "iv",
            "userId": "u",
            "documentCheckResult": {"documents": [
                {"type": "ID_CARD", "images": [{"type": "FACE", "data": "/9j/AAAA"}]},
                {"type": "PASSPORT", "images": [{"type": "A", "data": "xx"}, {"type": "B", "data": "yy"}]}
            ]}
        }))
        .unwrap();
        let limits = ImageLimits {
            min_bytes: 1,
            max_bytes: 100,
        };
        let p = prepare(
            DecisionRequest::Evaluate(req),
            None,
            limits,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        )
        .unwrap();
        let text = p.summary.to_string();
        assert!(
            !text.contains("/9j/AAAA") && !text.contains("\"xx\""),
            "{text}"
        );
        assert_eq!(p.images.len(), 3);
        assert_eq!(p.images[2].source, "documents[1].images[1]");
        let summary = p.summary;
        assert!(
            summary
                .pointer("/documentCheckResult/documents/1/images/1/data/sha256")
                .is_some()
        );
    }
}
