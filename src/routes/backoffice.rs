//! The back-office API under `/admin`: review cases, their callbacks, the audit log.
//! Its own credentials and roles; every action (reads included: they show personal data)
//! is written to the audit log.

use actix_web::{get, post, web};
use serde_json::json;

use crate::api::backoffice::{
    AuditEntry, AuditPage, CaseDetail, CasePage, CaseQuery, CaseStatus, CaseSummary, DeliveryPage,
    DeliveryView, EvidenceList, EvidenceView, ImageBytes, MAX_QUERY_INTEGER, PageQuery, PolicyView,
    PurgeReport, ResolutionResult, ResolveRequest, paging,
};
use crate::backoffice::Staff;
use crate::configuration::{Outcome, Role};
use crate::domain::policy::DecisionPoint;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{CallbackJson, NoInput};
use crate::observe::RequestContext;
use crate::services::outbox;
use crate::services::policy::ReloadOutcome;
use crate::services::retention;
use crate::services::review::{self, Actor, CaseFilter, Resolve};
use crate::state::AppState;

/// Who acts, for the audit log.
fn actor(staff: &Staff) -> Actor<'_> {
    Actor {
        name: &staff.username,
        role: staff.role.as_str(),
    }
}

/// The wire form of a case and what a reviewer reads beside it.
fn case_detail(detail: review::CaseDetail) -> CaseDetail {
    CaseDetail {
        case: CaseSummary::from(&detail.case),
        facts: detail.facts,
        rule_trace: detail.rule_trace,
        note: detail.case.note,
        delivery: detail.delivery.as_ref().map(DeliveryView::from),
    }
}

/// List review cases.
///
/// Oldest first; filter by status, decision point and minimum age. Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    params(CaseQuery),
    responses(
        (status = 200, body = CasePage, links(
            ("GetFirstCase" = (operation_id = "get_case", parameters(("id" = "$response.body#/items/0/id")))),
            ("ResolveFirstCase" = (operation_id = "resolve_case", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    query: web::Query<CaseQuery>,
) -> Result<web::Json<CasePage>, ApiError> {
    staff.require(Role::Reviewer)?;
    let (page, page_size) = paging(query.page, query.page_size).map_err(ApiError::BadRequest)?;
    if query.min_age_minutes.is_some_and(|m| m > MAX_QUERY_INTEGER) {
        return Err(ApiError::BadRequest(format!(
            "minAgeMinutes must be at most {MAX_QUERY_INTEGER}"
        )));
    }
    let now = state.clock.now();
    let filter = CaseFilter {
        status: query.status.map(|s| {
            match s {
                CaseStatus::Open => review::OPEN,
                CaseStatus::Resolved => review::RESOLVED,
                CaseStatus::Expired => review::EXPIRED,
            }
            .to_owned()
        }),
        decision_point: query.decision_point.map(|p| {
            serde_json::to_value(p)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }),
        created_before: query
            .min_age_minutes
            .map(|m| now - chrono::Duration::minutes(i64::from(m))),
    };
    let paging = (page, page_size);
    let (items, total) =
        review::list_cases(&state.db, actor(&staff), &filter, paging, &ctx, now).await?;
    Ok(web::Json(CasePage {
        items: items.iter().map(CaseSummary::from).collect(),
        total,
        page,
        page_size,
    }))
}

/// Read one review case.
///
/// Facts, the rule trace that led to WAIT, the resolution and the delivery status of its
/// callback. Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, body = CaseDetail, links(
            ("ResolveCase" = (operation_id = "resolve_case", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/cases/{id}")]
pub async fn get_case(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> Result<web::Json<CaseDetail>, ApiError> {
    staff.require(Role::Reviewer)?;
    let detail = review::read_case(
        &state.db,
        actor(&staff),
        id.into_inner(),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(web::Json(case_detail(detail)))
}

/// List the images of a review case.
///
/// Document images (evaluate) and the selfie (approve) kept as evidence for the case's
/// identity verification; metadata only. Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    params(("id" = i64, Path, description = "Case id")),
    responses(
        (status = 200, body = EvidenceList, links(
            ("GetFirstImage" = (operation_id = "get_case_image", parameters(("id" = "$request.path.id"), ("imageId" = "$response.body#/items/0/id")))),
        )),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/cases/{id}/images")]
pub async fn list_case_images(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> Result<web::Json<EvidenceList>, ApiError> {
    staff.require(Role::Reviewer)?;
    let items = review::list_images(
        &state.db,
        actor(&staff),
        id.into_inner(),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(web::Json(EvidenceList {
        items: items
            .into_iter()
            .map(|e| EvidenceView {
                id: e.id,
                decision_id: e.decision_id,
                decision_point: e.decision_point,
                source: e.source,
                image_type: e.image_type,
                media_type: e.media_type,
                size_bytes: e.size_bytes,
                sha256: e.sha256,
                created_at: e.created_at,
            })
            .collect(),
    }))
}

/// Read one image of a review case.
///
/// The image bytes (`image/jpeg` or `image/png`), never cached. Every read is audited.
/// Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    params(
        ("id" = i64, Path, description = "Case id"),
        ("imageId" = i64, Path, description = "Image id from the case's image list"),
    ),
    responses(
        (status = 200, description = "The image", content(
            (ImageBytes = "image/jpeg"),
            (ImageBytes = "image/png"),
        )),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/cases/{id}/images/{imageId}")]
pub async fn get_case_image(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    path: web::Path<(i64, i64)>,
) -> Result<actix_web::HttpResponse, ApiError> {
    staff.require(Role::Reviewer)?;
    let (row, bytes) = review::read_image(
        &state.db,
        &state.settings,
        actor(&staff),
        path.into_inner(),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type(row.media_type)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes))
}

/// Resolve a review case.
///
/// Resolves an open case with OK or NOK and a reason code (sent to the Onboarding Server as
/// `resultReason`) plus a note for the record. The resolution, its callback (outbox) and the
/// audit entry are written in one transaction; the callback is delivered by the worker.
/// 409 when the case is no longer open. Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    params(("id" = i64, Path, description = "Case id")),
    request_body = ResolveRequest,
    responses(
        (status = 200, body = CaseDetail, links(
            ("ReadResolvedCase" = (operation_id = "get_case", parameters(("id" = "$response.body#/id")))),
            ("RetryDelivery" = (operation_id = "retry_outbox", parameters(("id" = "$response.body#/delivery/id")))),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[post("/cases/{id}/resolve")]
pub async fn resolve_case(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: CallbackJson<ResolveRequest>,
) -> Result<web::Json<CaseDetail>, ApiError> {
    staff.require(Role::Reviewer)?;
    let req = body.0;
    let resolution = Resolve {
        case_id: id.into_inner(),
        status: review::RESOLVED,
        result: match req.result {
            ResolutionResult::Ok => Outcome::Ok,
            ResolutionResult::Nok => Outcome::Nok,
        },
        reason: &req.reason_code,
        note: req.note.clone(),
    };
    let now = state.clock.now();
    let detail = review::resolve(
        &state.db,
        &state.settings,
        resolution,
        actor(&staff),
        &ctx,
        now,
    )
    .await?;
    Ok(web::Json(case_detail(detail)))
}

/// List callbacks to the Onboarding Server (the outbox).
///
/// Role: admin.
#[utoipa::path(
    tag = "backoffice",
    params(PageQuery),
    responses(
        (status = 200, body = DeliveryPage, links(
            ("RetryFirstDelivery" = (operation_id = "retry_outbox", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    query: web::Query<PageQuery>,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    staff.require(Role::Admin)?;
    let (page, page_size) = paging(query.page, query.page_size).map_err(ApiError::BadRequest)?;
    let (items, total) = outbox::list(
        &state.db,
        actor(&staff),
        query.status.as_deref(),
        (page, page_size),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(web::Json(DeliveryPage {
        items: items.iter().map(DeliveryView::from).collect(),
        total,
        page,
        page_size,
    }))
}

/// Retry a failed callback.
///
/// Puts a FAILED message back in the queue with a fresh retry horizon. 409 unless it is
/// FAILED. Role: admin.
#[utoipa::path(
    tag = "backoffice",
    params(("id" = i64, Path, description = "Outbox message id")),
    responses(
        (status = 200, body = DeliveryView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[post("/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    _input: NoInput,
    id: web::Path<i64>,
) -> Result<web::Json<DeliveryView>, ApiError> {
    staff.require(Role::Admin)?;
    let message = outbox::retry(
        &state.db,
        &state.settings,
        actor(&staff),
        id.into_inner(),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(web::Json(DeliveryView::from(&message)))
}

fn policy_view(state: &AppState, previous_version: Option<String>) -> PolicyView {
    let policy = state.decider.policy().current();
    let ids = |point| {
        policy
            .rule_ids(point, None)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    PolicyView {
        name: policy.name().to_owned(),
        origin: policy.origin().to_owned(),
        version: policy.version().to_owned(),
        evaluate_rules: ids(DecisionPoint::Evaluate),
        approve_rules: ids(DecisionPoint::Approve),
        previous_version,
    }
}

/// Show the decision policy in force.
///
/// Its name, origin, version (stored with every decision) and rule ids. Role: reviewer.
#[utoipa::path(
    tag = "backoffice",
    responses(
        (status = 200, body = PolicyView),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/policy")]
pub async fn get_policy(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<web::Json<PolicyView>, ApiError> {
    staff.require(Role::Reviewer)?;
    Ok(web::Json(policy_view(&state, None)))
}

/// Reload the decision policy file.
///
/// Re-reads the configured file (as SIGHUP does); the new policy replaces the one in force
/// only if it validates and passes its own golden cases. 409 with the precise error (file,
/// rule, CEL message) otherwise — the previous policy stays. Audited. Role: admin.
#[utoipa::path(
    tag = "backoffice",
    responses(
        (status = 200, body = PolicyView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[post("/policy/reload")]
pub async fn reload_policy(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    _input: NoInput,
) -> Result<web::Json<PolicyView>, ApiError> {
    staff.require(Role::Admin)?;
    let holder = state.decider.policy().clone();
    let outcome = web::block(move || holder.reload())
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("policy reload did not finish: {e}")))?;
    let (detail, result) = match outcome {
        Ok(ReloadOutcome::Reloaded {
            previous_version,
            version,
        }) => {
            tracing::info!(policy.version = %version, policy.previous_version = %previous_version, by = %staff.username, "decision policy reloaded");
            (
                json!({"result": "reloaded", "version": version, "previousVersion": previous_version}),
                Ok(Some(previous_version)),
            )
        }
        Ok(ReloadOutcome::NotConfigured) => (
            json!({"result": "not_configured"}),
            Err(ApiError::Conflict(
                "no decision.policy_file is configured: the built-in policy cannot be reloaded"
                    .into(),
            )),
        ),
        Err(e) => {
            tracing::error!(error = %e, by = %staff.username, "decision policy not reloaded, the previous one stays in force");
            (
                json!({"result": "rejected", "error": e.to_string()}),
                Err(ApiError::Conflict(format!(
                    "policy not reloaded, the previous one stays in force: {e}"
                ))),
            )
        }
    };
    let now = state.clock.now();
    review::record_action(&state.db, actor(&staff), "policy.reload", detail, &ctx, now).await?;
    result.map(|previous| web::Json(policy_view(&state, previous)))
}

/// Purge personal data past its retention, now.
///
/// Runs the purge the worker runs every `retention.purge_interval_secs`: personal data
/// past its retention period is redacted or deleted (see docs/privacy.md) and the counts
/// are answered. Idempotent. Audited. Role: admin.
#[utoipa::path(
    tag = "backoffice",
    responses(
        (status = 200, body = PurgeReport),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[post("/retention/purge")]
pub async fn purge_retention(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    _input: NoInput,
) -> Result<web::Json<PurgeReport>, ApiError> {
    staff.require(Role::Admin)?;
    let now = state.clock.now();
    let purged = retention::purge(&state.db, &state.settings, now).await?;
    let detail = serde_json::to_value(purged).unwrap_or_default();
    review::record_action(
        &state.db,
        actor(&staff),
        "retention.purge",
        detail,
        &ctx,
        now,
    )
    .await?;
    Ok(web::Json(PurgeReport::from(purged)))
}

/// Read the audit log.
///
/// Newest first. Role: admin.
#[utoipa::path(
    tag = "backoffice",
    params(PageQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("backoffice_basic" = []))
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    staff: Staff,
    ctx: RequestContext,
    query: web::Query<PageQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    staff.require(Role::Admin)?;
    let (page, page_size) = paging(query.page, query.page_size).map_err(ApiError::BadRequest)?;
    let (items, total) = review::read_audit(
        &state.db,
        actor(&staff),
        (page, page_size),
        &ctx,
        state.clock.now(),
    )
    .await?;
    Ok(web::Json(AuditPage {
        items: items
            .into_iter()
            .map(|a| AuditEntry {
                id: a.id,
                actor: a.actor,
                role: a.role,
                action: a.action,
                target: a.target,
                detail: a.detail,
                at: a.at,
                correlation_id: a.correlation_id,
            })
            .collect(),
        total,
        page,
        page_size,
    }))
}

// The wire form of a purge run (routes map service results to DTOs; the DTOs know no service).
impl From<retention::Purged> for PurgeReport {
    fn from(p: retention::Purged) -> Self {
        Self {
            decisions: p.decisions,
            evidence: p.evidence,
            evidence_files: p.evidence_files,
            evidence_files_failed: p.evidence_files_failed,
            events: p.events,
            contacts: p.contacts,
            otp_deliveries: p.otp_deliveries,
            consent_decisions: p.consent_decisions,
            consent_texts: p.consent_texts,
            prospects: p.prospects,
        }
    }
}
