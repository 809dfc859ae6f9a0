//! One error type for every answer that is not 2xx, and its stable JSON body
//! `{"errorCode": "ERROR_GENERIC" | "ERROR_UNAUTHORIZED", "message": "…"}`.
//!
//! Messages of 4xx answers tell the caller what to fix; 5xx messages are opaque and the
//! cause is logged once, inside the request's span (with its correlation ids).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Machine-readable error code of the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ErrorGeneric,
    ErrorUnauthorized,
}

/// The body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"errorCode": "ERROR_GENERIC", "message": "missing field `processId`"}))]
pub struct ErrorBody {
    pub error_code: ErrorCode,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's request is wrong; the message says how (never echoes secret values).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("authentication required")]
    Unauthorized { realm: String },
    /// Authenticated, but the role does not allow the action.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (e.g. resolving a resolved case).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins (see `crate::throttle`); answered with `Retry-After`.
    #[error("too many failed logins; retry in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// The database (or another dependency) is unreachable; retrying later may succeed.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized { .. } => ErrorCode::ErrorUnauthorized,
            _ => ErrorCode::ErrorGeneric,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(cause) => {
                tracing::error!(error.cause_chain = ?cause, "dependency unavailable");
            }
            Self::Unexpected(cause) => {
                tracing::error!(error.cause_chain = ?cause, "unexpected error");
            }
            _ => {}
        }
        let mut response = error_response(self.status_code(), self.code(), self.to_string());
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let Self::Unauthorized { realm } = self {
            let challenge = format!(
                "Basic realm=\"{}\", charset=\"UTF-8\"",
                realm.replace('"', "")
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Builds the JSON error answer for `status`.
pub fn error_response(status: StatusCode, code: ErrorCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error_code: code,
        message,
    })
}

/// The generic message for a status that was produced outside our handlers (routing,
/// actix internals), used by the middleware that guarantees the error body.
pub fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "no such endpoint",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "content type must be application/json",
        StatusCode::UNAUTHORIZED => "authentication required",
        StatusCode::TOO_MANY_REQUESTS => "too many requests",
        StatusCode::SERVICE_UNAVAILABLE => "service temporarily unavailable",
        s if s.is_client_error() => "bad request",
        _ => "internal error",
    }
}
