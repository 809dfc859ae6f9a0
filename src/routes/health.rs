use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "UP"}))]
pub struct HealthStatus {
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = HealthStatus)))]
#[get("/health/live")]
pub async fn live() -> web::Json<HealthStatus> {
    web::Json(HealthStatus { status: "UP" })
}

/// Readiness: the database answers and, on SQLite, can take the write lock. 503 with the
/// error body when not.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = HealthStatus),
    (status = 503, description = "Database unavailable", body = ErrorBody),
))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<HealthStatus>, ApiError> {
    state
        .db
        .ping(state.settings.database.sqlite_busy_timeout_ms)
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(web::Json(HealthStatus { status: "UP" }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
