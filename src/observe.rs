//! The outermost middleware: correlation ids, the W3C trace context, the request span,
//! metrics, the access log line, and the guarantee that every non-2xx answer carries the
//! JSON error body.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::error::{ErrorCode, default_message, error_response};
use crate::metrics::Metrics;
use crate::trace_context::TraceContext;

/// Names of the two correlation headers (configurable; the Onboarding Server's defaults
/// are `X-Correlation-Id` and `X-Request-Id`).
#[derive(Debug, Clone)]
pub struct CorrelationHeaders {
    pub correlation: HeaderName,
    pub request_id: HeaderName,
}

/// Correlation ids of the current request, stored with every record it writes, and its
/// trace (passed on to the outbound calls it causes).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub correlation_id: String,
    pub request_id: String,
    pub trace: TraceContext,
}

impl RequestContext {
    /// A context for work no request caused (the worker's deadline policy, tools).
    pub fn internal() -> Self {
        Self {
            correlation_id: new_id(),
            request_id: new_id(),
            trace: TraceContext::new_root(),
        }
    }
}

impl FromRequest for RequestContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ctx = req
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(RequestContext::internal);
        ready(Ok(ctx))
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Takes an incoming id only when it is short and made of safe characters, so a caller
/// cannot inject into logs or headers; otherwise a fresh UUID is used.
fn incoming_or_new(req: &ServiceRequest, name: &HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(new_id)
}

/// # Errors
/// Never: inner errors are turned into responses here so they get the same treatment.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let headers = req.app_data::<web::Data<CorrelationHeaders>>().cloned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let (correlation_id, request_id) = match &headers {
        Some(h) => (
            incoming_or_new(&req, &h.correlation),
            incoming_or_new(&req, &h.request_id),
        ),
        None => (new_id(), new_id()),
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let trace = TraceContext::from_headers(header("traceparent"), header("tracestate"));
    let trace_id = trace.trace_id().to_owned();
    req.extensions_mut().insert(RequestContext {
        correlation_id: correlation_id.clone(),
        request_id: request_id.clone(),
        trace,
    });
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.path(),
        correlation_id = %correlation_id,
        request_id = %request_id,
        trace_id = %trace_id,
    );
    // Handlers, extractors and the auth middleware turn their errors into responses; an
    // `Err` here would come from actix itself and is answered by the dispatcher.
    let mut response = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();

    let status = response.status();
    if !status.is_success() && !is_json(&response) {
        let replaced = error_response(
            status,
            if status == actix_web::http::StatusCode::UNAUTHORIZED {
                ErrorCode::ErrorUnauthorized
            } else {
                ErrorCode::ErrorGeneric
            },
            default_message(status).to_owned(),
        );
        let (req, old) = response.into_parts();
        let mut new = replaced;
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().append(name.clone(), value.clone());
            }
        }
        response = ServiceResponse::new(req, new);
    }

    if let Some(h) = &headers {
        let out = response.headers_mut();
        for (name, value) in [
            (&h.correlation, &correlation_id),
            (&h.request_id, &request_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                out.insert(name.clone(), value);
            }
        }
    }

    let elapsed = started.elapsed();
    // The matched pattern, never the path: a label per path would let callers grow the
    // metrics without bound.
    let pattern = response.request().match_pattern();
    let route = pattern
        .as_deref()
        .unwrap_or(crate::metrics::UNMATCHED_ROUTE);
    if let Some(metrics) = metrics {
        metrics.observe(
            &method,
            pattern.as_deref(),
            status.as_u16(),
            elapsed.as_secs_f64(),
        );
    }
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            status = status.as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    Ok(response)
}

fn is_json(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
