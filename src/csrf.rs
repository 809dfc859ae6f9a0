//! Cross-site request forgery guard of the back office (and of a future browser console):
//! a state-changing request (any method but GET, HEAD, OPTIONS) must say
//! `Content-Type: application/json` — an empty body is fine — and must not come from
//! another site.
//!
//! A browser sends a cross-site request with a JSON content type only after a CORS
//! preflight, which this service never grants, and HTML forms cannot send it at all; so a
//! page elsewhere cannot make a logged-in reviewer's browser (cached Basic credentials)
//! resolve a case or retry a callback. Browsers that state the request's origin
//! (`Sec-Fetch-Site`, `Origin`) are refused outright when it is another site.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError};

use crate::error::ApiError;

/// Why a state-changing request is refused, if it is.
pub fn refusal(req: &HttpRequest) -> Option<ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default().to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Some(ApiError::Forbidden(
                "cross-site request refused (Sec-Fetch-Site)".into(),
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let host = req.connection_info().host().to_ascii_lowercase();
        if authority != Some(host.as_str()) {
            return Some(ApiError::Forbidden(
                "cross-origin request refused (Origin)".into(),
            ));
        }
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(ApiError::UnsupportedMediaType);
    }
    None
}

/// Middleware answering [`refusal`]s (403 or 415 with the error body).
///
/// # Errors
/// Those of the inner service.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(refused) = refusal(req.request()) {
        tracing::warn!(
            method = %req.method(),
            reason = %refused,
            "state-changing back-office request refused"
        );
        return Ok(req.into_response(refused.error_response()));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn only_same_origin_json_may_change_state() {
        let json = ("Content-Type", "application/json");
        let cases: Vec<(TestRequest, Option<u16>)> = vec![
            (TestRequest::get(), None),
            (TestRequest::post().insert_header(json), None),
            (
                TestRequest::post()
                    .insert_header(("Content-Type", "Application/JSON; charset=utf-8")),
                None,
            ),
            (TestRequest::post(), Some(415)),
            (
                TestRequest::post().insert_header(("Content-Type", "text/plain")),
                Some(415),
            ),
            (
                TestRequest::delete()
                    .insert_header(("Content-Type", "application/x-www-form-urlencoded")),
                Some(415),
            ),
            (
                TestRequest::post()
                    .insert_header(json)
                    .insert_header(("Sec-Fetch-Site", "cross-site")),
                Some(403),
            ),
            (
                TestRequest::post()
                    .insert_header(json)
                    .insert_header(("Sec-Fetch-Site", "same-origin")),
                None,
            ),
            (
                TestRequest::post()
                    .insert_header(json)
                    .insert_header(("Host", "bo.bank.example"))
                    .insert_header(("Origin", "https://evil.example")),
                Some(403),
            ),
            (
                TestRequest::post()
                    .insert_header(json)
                    .insert_header(("Host", "bo.bank.example"))
                    .insert_header(("Origin", "https://bo.bank.example")),
                None,
            ),
            (
                TestRequest::post()
                    .insert_header(json)
                    .insert_header(("Origin", "null")),
                Some(403),
            ),
        ];
        for (i, (request, expected)) in cases.into_iter().enumerate() {
            let req = request.to_http_request();
            let got = refusal(&req).map(|e| e.status_code().as_u16());
            assert_eq!(got, expected, "case {i}: {req:?}");
        }
    }
}
