//! Delivers review resolutions to the Onboarding Server's private API (the outbox worker),
//! and the back office's view of the outbox (list, retry of a failed message).
//!
//! Delivery semantics: a message is claimed under a lease (see `storage::outbox`), sent,
//! and its outcome recorded with its class (`domain::delivery::OutcomeClass`):
//! - HTTP 200 `result: OK` → DELIVERED.
//! - A refusal that says the process moved on ("not in IN_PROGRESS state", "not in
//!   CLIENT_EVALUATION phase", "not in ONBOARDING_APPROVAL phase", "Process not found or in
//!   invalid state"; a 200 `result: NOK` reason or an `ErrorResponse` message of any
//!   status) after an attempt that may have reached the server (timeout, crash or 500/504
//!   after sending) → DELIVERED_EARLIER, class ALREADY_APPLIED, no alert.
//! - Other `result: NOK`, and 4xx other than 401/403/408/429 → REJECTED (the server's text
//!   kept), alert.
//! - 401/403, or the identity provider refusing our client → FAILED, class AUTH_FAILED,
//!   alert (with OAuth 2.0 a 401 was first retried once with a new token).
//! - No answer, 5xx, 408, 429 → retried with exponential back-off and jitter (at least the
//!   `Retry-After` asked for) until the horizon, then FAILED, class GAVE_UP, alert.
//!
//! An alert is an error-level log line with `alert = true`, and the class in the back
//! office; FAILED messages can be put back in the queue there.
//!
//! Why no duplicate is applied: HTTP gives no exactly-once, so the worker is
//! at-least-once on the wire and relies on the Onboarding Server's state check, which
//! accepts an acknowledgement only while the identity verification is IN_PROGRESS. A resend
//! after a crash between sending and recording is therefore refused by the server and
//! recognised here; it can never apply a second, different result.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::outbox_message;
use serde_json::json;
use tracing::Instrument;

use super::{Error, review};
use crate::clock::SharedClock;
use crate::configuration::Settings;
use crate::domain::delivery::{self, OutcomeClass};
use crate::observe::RequestContext;
use crate::onboarding_client::{CallOutcome, OnboardingClient};
use crate::storage::Database;
use crate::storage::outbox::{self, AttemptOutcome};
use crate::trace_context::TraceContext;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionOutcome {
    /// Nothing was due (or no Onboarding Server is configured).
    EmptyQueue,
    /// One message was attempted; its new status.
    Attempted { id: i64, status: String },
}

#[derive(Clone)]
pub struct Worker {
    db: Database,
    settings: Arc<Settings>,
    clock: SharedClock,
    client: OnboardingClient,
    owner: String,
}

impl Worker {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(db: Database, settings: Arc<Settings>, clock: SharedClock) -> anyhow::Result<Self> {
        let client = OnboardingClient::new(&settings.onboarding_server)?;
        Ok(Self {
            db,
            settings,
            clock,
            client,
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// Resolves overdue review cases by the deadline policy.
    ///
    /// # Errors
    /// Database errors.
    pub async fn expire_overdue_cases(&self) -> anyhow::Result<usize> {
        review::expire_overdue(&self.db, &self.settings, self.clock.now()).await
    }

    /// Purges personal data past its retention (see [`super::retention`]).
    ///
    /// # Errors
    /// Database errors.
    pub async fn purge_expired_data(&self) -> Result<super::retention::Purged, Error> {
        super::retention::purge(&self.db, &self.settings, self.clock.now()).await
    }

    /// Claims and attempts at most one due message.
    ///
    /// # Errors
    /// Database errors (the message stays leased and is retried after the lease).
    pub async fn try_execute_task(&self) -> anyhow::Result<ExecutionOutcome> {
        if !self.client.configured() {
            return Ok(ExecutionOutcome::EmptyQueue);
        }
        let now = self.clock.now();
        let lease = chrono::Duration::seconds(
            i64::try_from(self.settings.delivery.lease_secs).unwrap_or(60),
        );
        // Most polls find nothing: a read on the pool, not a write transaction (on SQLite
        // that would take the write lock every poll).
        if !outbox::any_due(self.db.reads(), now).await? {
            return Ok(ExecutionOutcome::EmptyQueue);
        }
        let txn = self.db.begin().await?;
        let claimed = outbox::claim(&txn, &self.owner, now, now + lease).await?;
        txn.commit().await?;
        let Some(message) = claimed else {
            return Ok(ExecutionOutcome::EmptyQueue);
        };
        // The delivery continues the trace of the request that resolved the case.
        let trace = message
            .traceparent
            .as_deref()
            .and_then(TraceContext::parse)
            .unwrap_or_else(TraceContext::new_root);
        let span = tracing::info_span!(
            "outbox_delivery",
            trace_id = %trace.trace_id(),
            message_id = message.id,
            case_id = message.review_case_id,
            attempt = message.attempts
        );
        let correlation = format!("outbox-{}-{}", message.id, message.attempts);
        let call = self
            .client
            .post(
                &message.path,
                &message.payload,
                &correlation,
                &trace.child_traceparent(),
            )
            .instrument(span.clone())
            .await;
        let now = self.clock.now();
        let outcome = self.judge(&message, call, now);
        let status = match &outcome {
            AttemptOutcome::Done { status, .. } => (*status).to_owned(),
            AttemptOutcome::Retry { .. } => outbox::PENDING.to_owned(),
        };
        span.in_scope(|| match &outcome {
            AttemptOutcome::Done { status, class, reason, error, .. } if class.alerts() => {
                tracing::error!(alert = true, status, class = class.as_str(), reason = ?reason, error = ?error, "callback delivery needs a person: it will not be delivered by itself");
            }
            AttemptOutcome::Done { status, class, reason, error, .. } => {
                tracing::info!(status, class = class.as_str(), reason = ?reason, error = ?error, "callback delivery finished");
            }
            AttemptOutcome::Retry { next_attempt_at, error, .. } => {
                tracing::warn!(next_attempt_at = %next_attempt_at, error = %error, "callback delivery will be retried");
            }
        });
        let txn = self.db.begin().await?;
        let recorded = outbox::record(&txn, message.id, &self.owner, outcome, now).await?;
        txn.commit().await?;
        if !recorded {
            tracing::warn!(
                message_id = message.id,
                "lease lost before the outcome was recorded"
            );
        }
        Ok(ExecutionOutcome::Attempted {
            id: message.id,
            status,
        })
    }

    fn judge(
        &self,
        message: &entity::outbox_message::Model,
        call: CallOutcome,
        now: DateTime<Utc>,
    ) -> AttemptOutcome {
        let retry =
            |http_status: Option<i32>, error: String, uncertain: bool, wait: Option<Duration>| {
                if now >= message.give_up_at {
                    AttemptOutcome::Done {
                        status: outbox::FAILED,
                        class: OutcomeClass::GaveUp,
                        http_status,
                        result: None,
                        reason: None,
                        error: Some(format!(
                            "gave up after {} attempts: {error}",
                            message.attempts
                        )),
                    }
                } else {
                    let backoff = self.backoff(message.attempts);
                    let asked = wait
                        .and_then(|w| chrono::Duration::from_std(w).ok())
                        .unwrap_or_default();
                    AttemptOutcome::Retry {
                        next_attempt_at: now + backoff.max(asked),
                        http_status,
                        error,
                        uncertain,
                    }
                }
            };
        // A refusal because the process moved on, after an attempt that may have reached
        // the server: that attempt took effect.
        let refused = |http_status: i32, result: Option<String>, text: String| {
            let applied = message.uncertain && delivery::says_moved_on(&text);
            AttemptOutcome::Done {
                status: if applied {
                    outbox::DELIVERED_EARLIER
                } else {
                    outbox::REJECTED
                },
                class: if applied {
                    OutcomeClass::AlreadyApplied
                } else {
                    OutcomeClass::Rejected
                },
                http_status: Some(http_status),
                result,
                reason: Some(text),
                error: None,
            }
        };
        let auth_failed = |http_status: Option<i32>, error: String| AttemptOutcome::Done {
            status: outbox::FAILED,
            class: OutcomeClass::AuthFailed,
            http_status,
            result: None,
            reason: None,
            error: Some(error),
        };
        match call {
            CallOutcome::Answered { result, reason } if result == "OK" => AttemptOutcome::Done {
                status: outbox::DELIVERED,
                class: OutcomeClass::Delivered,
                http_status: Some(200),
                result: Some(result),
                reason,
                error: None,
            },
            CallOutcome::Answered { result, reason } if result == "NOK" => {
                refused(200, Some(result), reason.unwrap_or_default())
            }
            CallOutcome::Answered { result, .. } => retry(
                Some(200),
                format!(
                    "unexpected result {:?}",
                    result.chars().take(16).collect::<String>()
                ),
                true,
                None,
            ),
            CallOutcome::Status {
                status,
                message: text,
                ..
            } if status == 401 || status == 403 => auth_failed(
                Some(i32::from(status)),
                format!("HTTP {status}: the Onboarding Server refused the credentials {text}"),
            ),
            // A refusal that names the process's state is final whatever the status (the
            // server's catch-all answers validation failures with a 500).
            CallOutcome::Status {
                status,
                message: text,
                ..
            } if delivery::says_moved_on(&text) => refused(i32::from(status), None, text),
            CallOutcome::Status {
                status,
                message: text,
                retry_after,
            } if status >= 500 || status == 408 || status == 429 => retry(
                Some(i32::from(status)),
                format!("HTTP {status}: {text}"),
                status == 500 || status == 504,
                retry_after,
            ),
            CallOutcome::Status {
                status,
                message: text,
                ..
            } => refused(i32::from(status), None, text),
            CallOutcome::Transport {
                error,
                maybe_applied,
            } => retry(None, error, maybe_applied, None),
            CallOutcome::TokenRefused { error } => auth_failed(None, error),
        }
    }

    /// Exponential back-off with jitter: a random delay in [base/2, base], base doubling
    /// from `initial_backoff_ms` up to `max_backoff_ms`.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let d = &self.settings.delivery;
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let base = d
            .initial_backoff_ms
            .saturating_mul(1 << exponent)
            .min(d.max_backoff_ms)
            .max(1);
        let jitter =
            u64::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(base / 2 + 1)).unwrap_or(0);
        chrono::Duration::milliseconds(i64::try_from(base / 2 + jitter).unwrap_or(i64::MAX))
    }

    /// Polls until `stop` turns true: expires overdue cases, purges data past retention
    /// (every `retention.purge_interval_secs`), then drains due messages.
    pub async fn run_until_stopped(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.delivery.poll_interval_ms);
        let purge_every = chrono::Duration::seconds(
            i64::try_from(self.settings.retention.purge_interval_secs).unwrap_or(i64::MAX),
        );
        let mut next_purge = self.clock.now();
        tracing::info!(owner = %self.owner, configured = self.client.configured(), "outbox worker started");
        loop {
            if let Err(e) = self.expire_overdue_cases().await {
                tracing::error!(error.cause_chain = ?e, "deadline policy failed");
            }
            let now = self.clock.now();
            if purge_every > chrono::Duration::zero() && now >= next_purge {
                next_purge = now + purge_every;
                if let Err(e) = self.purge_expired_data().await {
                    tracing::error!(error.cause_chain = ?e, "retention purge failed");
                }
            }
            loop {
                if *stop.borrow() {
                    break;
                }
                match self.try_execute_task().await {
                    Ok(ExecutionOutcome::EmptyQueue) => break,
                    Ok(ExecutionOutcome::Attempted { .. }) => {}
                    Err(e) => {
                        tracing::error!(error.cause_chain = ?e, "outbox worker step failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        tracing::info!(owner = %self.owner, "outbox worker stopped");
    }
}

/// A page of outbox messages (optionally of one status) and the total, audited.
///
/// # Errors
/// Database errors.
pub async fn list(
    db: &Database,
    by: review::Actor<'_>,
    status: Option<&str>,
    (page, page_size): (u64, u64),
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(Vec<outbox_message::Model>, u64), Error> {
    let txn = db.begin().await?;
    let (items, total) = outbox::list(&txn, status, page, page_size).await?;
    review::audited(
        &txn,
        by,
        "outbox.list",
        None,
        json!({"returned": items.len()}),
        ctx,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((items, total))
}

/// Puts a FAILED message back in the queue with a fresh horizon, audited.
///
/// # Errors
/// Unknown message; a message that is not FAILED (conflict); database errors.
pub async fn retry(
    db: &Database,
    settings: &Settings,
    by: review::Actor<'_>,
    id: i64,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<outbox_message::Model, Error> {
    let horizon =
        chrono::Duration::seconds(i64::try_from(settings.delivery.horizon_secs).unwrap_or(900));
    let txn = db.begin().await?;
    if outbox::get(&txn, id).await?.is_none() {
        return Err(Error::NotFound("no such outbox message".into()));
    }
    if !outbox::retry_failed(&txn, id, now, now + horizon).await? {
        return Err(Error::Conflict(
            "only FAILED messages can be retried".into(),
        ));
    }
    let target = Some(format!("outbox:{id}"));
    review::audited(&txn, by, "outbox.retry", target, json!({}), ctx, now).await?;
    let message = outbox::get(&txn, id)
        .await?
        .ok_or_else(|| Error::NotFound("no such outbox message".into()))?;
    txn.commit().await?;
    Ok(message)
}
