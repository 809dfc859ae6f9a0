//! DTOs of the back-office API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::delivery::OutcomeClass;
use crate::domain::policy::{MAX_REASON_CODE_LEN, is_reason_code};
use crate::extract::CallbackBody;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaseSummary {
    pub id: i64,
    pub identity_verification_id: String,
    /// `evaluate` or `approve`.
    pub decision_point: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    /// `OPEN`, `RESOLVED` or `EXPIRED`.
    pub status: String,
    pub wait_reason: String,
    pub deadline_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    pub resolution_reason: Option<String>,
}

impl From<&entity::review_case::Model> for CaseSummary {
    fn from(c: &entity::review_case::Model) -> Self {
        Self {
            id: c.id,
            identity_verification_id: c.identity_verification_id.clone(),
            decision_point: c.decision_point.clone(),
            process_id: c.process_id.clone(),
            process_type: c.process_type.clone(),
            user_id: c.user_id.clone(),
            status: c.status.clone(),
            wait_reason: c.wait_reason.clone(),
            deadline_at: c.deadline_at,
            created_at: c.created_at,
            resolved_at: c.resolved_at,
            resolved_by: c.resolved_by.clone(),
            resolution: c.resolution.clone(),
            resolution_reason: c.resolution_reason.clone(),
        }
    }
}

/// Delivery status of a case's callback to the Onboarding Server.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: i64,
    pub review_case_id: i64,
    /// `PENDING`, `SENDING`, `DELIVERED`, `DELIVERED_EARLIER`, `REJECTED` or `FAILED`.
    pub status: String,
    pub path: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub give_up_at: DateTime<Utc>,
    pub last_http_status: Option<i32>,
    /// Class of the last outcome: `DELIVERED`, `ALREADY_APPLIED` (a retry was refused
    /// because an earlier attempt had taken effect), `REJECTED`, `AUTH_FAILED`,
    /// `RETRYABLE` or `GAVE_UP`; null before the first attempt.
    pub outcome_class: Option<String>,
    /// True when a person must act: the message will not be delivered by itself
    /// (`REJECTED`, `AUTH_FAILED`, `GAVE_UP`).
    pub alert: bool,
    /// Our description of the last failure (no answer, status, gave up).
    pub last_error: Option<String>,
    /// The server's `result` (`OK`/`NOK`) when it answered 200.
    pub response_result: Option<String>,
    /// The server's own text: the `resultReason` of a 200, or the `code: message` of its
    /// error answer.
    pub response_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&entity::outbox_message::Model> for DeliveryView {
    fn from(m: &entity::outbox_message::Model) -> Self {
        Self {
            id: m.id,
            review_case_id: m.review_case_id,
            status: m.status.clone(),
            path: m.path.clone(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            give_up_at: m.give_up_at,
            last_http_status: m.last_http_status,
            outcome_class: m.outcome_class.clone(),
            alert: m
                .outcome_class
                .as_deref()
                .and_then(OutcomeClass::parse)
                .is_some_and(OutcomeClass::alerts),
            last_error: m.last_error.clone(),
            response_result: m.response_result.clone(),
            response_reason: m.response_reason.clone(),
            created_at: m.created_at,
            completed_at: m.completed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseSummary,
    /// The facts the policy read (derived facts included; images only by size, format and
    /// validity).
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    /// Each rule's result that led to WAIT.
    #[schema(value_type = Vec<Object>)]
    pub rule_trace: serde_json::Value,
    pub note: Option<String>,
    pub delivery: Option<DeliveryView>,
}

/// An image kept as evidence of a decision on the case's identity verification (document
/// images of evaluate, the selfie of approve). The bytes are served by
/// `GET /admin/cases/{id}/images/{imageId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceView {
    pub id: i64,
    pub decision_id: i64,
    /// `evaluate` or `approve`.
    pub decision_point: String,
    /// Where in the request: `documents[0].images[1]` or `presenceCheckResult.frame`.
    pub source: String,
    /// `FACE`, `DOCUMENT_FRONT_SIDE`, `DOCUMENT_BACK_SIDE` or `SELFIE`.
    pub image_type: Option<String>,
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceList {
    pub items: Vec<EvidenceView>,
}

/// The bytes of an evidence image (`image/jpeg` or `image/png`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageBytes(pub Vec<u8>);

/// What one retention purge did: rows redacted or deleted, per kind (counts only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Decisions whose input summary and facts were redacted.
    pub decisions: u64,
    /// Images whose bytes were dropped.
    pub evidence: u64,
    /// Image files deleted from `decision.evidence_dir`.
    pub evidence_files: u64,
    /// Image files whose delete failed (retried by the next run).
    pub evidence_files_failed: u64,
    /// Process events whose payload was redacted.
    pub events: u64,
    /// Remembered e-mail addresses deleted.
    pub contacts: u64,
    pub otp_deliveries: u64,
    pub consent_decisions: u64,
    pub consent_texts: u64,
    pub prospects: u64,
}

/// The decision policy in force.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    pub name: String,
    /// The file it was read from, or `built-in`.
    pub origin: String,
    /// Hex SHA-256 of the policy text (stored with every decision).
    pub version: String,
    /// Rule ids of the default rule sets, in evaluation order.
    pub evaluate_rules: Vec<String>,
    pub approve_rules: Vec<String>,
    /// Set by a reload: the version that was in force before it.
    pub previous_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CasePage {
    pub items: Vec<CaseSummary>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
    pub correlation_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// Filters and paging of `GET /admin/cases`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// `OPEN`, `RESOLVED` or `EXPIRED`.
    #[param(inline)]
    pub status: Option<CaseStatus>,
    #[param(inline)]
    pub decision_point: Option<DecisionPoint>,
    /// Only cases opened at least this many minutes ago.
    #[param(maximum = 2147483647)]
    pub min_age_minutes: Option<u32>,
    /// Zero-based page (default 0).
    #[param(maximum = 2147483647)]
    pub page: Option<u32>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CaseStatus {
    Open,
    Resolved,
    Expired,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecisionPoint {
    Evaluate,
    Approve,
}

/// Paging of the outbox and audit lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Outbox only: `PENDING`, `SENDING`, `DELIVERED`, `DELIVERED_EARLIER`, `REJECTED`, `FAILED`.
    pub status: Option<String>,
    /// Zero-based page (default 0).
    #[param(maximum = 2147483647)]
    pub page: Option<u32>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub page_size: Option<u32>,
}

/// The largest `page` / `minAgeMinutes` accepted (the documented `int32` range).
pub const MAX_QUERY_INTEGER: u32 = 2_147_483_647;

/// Paging values, validated.
///
/// # Errors
/// A message for a page size outside 1–200.
pub fn paging(page: Option<u32>, page_size: Option<u32>) -> Result<(u64, u64), String> {
    if page.is_some_and(|p| p > MAX_QUERY_INTEGER) {
        return Err(format!("page must be at most {MAX_QUERY_INTEGER}"));
    }
    let size = page_size.unwrap_or(50);
    if !(1..=200).contains(&size) {
        return Err("pageSize must be between 1 and 200".into());
    }
    Ok((u64::from(page.unwrap_or(0)), u64::from(size)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResolutionResult {
    Ok,
    Nok,
}

/// `POST /admin/cases/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"result": "NOK", "reasonCode": "DOCUMENT_SUSPICIOUS", "note": "Photo does not match the selfie."}))]
pub struct ResolveRequest {
    pub result: ResolutionResult,
    /// Stable reason code (`[A-Z0-9_]+`), sent to the Onboarding Server as `resultReason`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Z0-9_]+$")]
    pub reason_code: String,
    /// Free text for the record (not sent).
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

impl CallbackBody for ResolveRequest {
    fn validate(&self) -> Result<(), String> {
        if !is_reason_code(&self.reason_code, MAX_REASON_CODE_LEN) {
            return Err("field `reasonCode` must match [A-Z0-9_]+ (at most 64 characters)".into());
        }
        if let Some(note) = &self.note {
            crate::api::check_len("note", note, 4000)?;
        }
        Ok(())
    }
}
