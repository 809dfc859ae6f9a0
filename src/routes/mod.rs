//! Thin actix handlers, wire only: extract the request, call one service, map its result to
//! the answer. No sea-orm or storage here. Route files mirror the URL.

pub mod backoffice;
pub mod client_approve;
pub mod client_evaluate;
pub mod consent_storage;
pub mod consent_text;
pub mod health;
pub mod otp_send;
pub mod process_event;
pub mod user_lookup;

/// The OpenAPI tag of the Onboarding Server callbacks.
pub const CALLBACKS_TAG: &str = "callbacks";
/// The OpenAPI tag of health and metrics.
pub const OPERATIONS_TAG: &str = "operations";

/// Paths of the callbacks (relative to the base path).
pub const CALLBACK_PATHS: &[&str] = &[
    "/user/lookup",
    "/otp/send",
    "/consent/text",
    "/consent/storage",
    "/client/evaluate",
    "/client/evaluation",
    "/client/approve",
    "/client/approval",
    "/process/event",
];

/// Default service: 404 with the JSON error body. (A documented path called with another
/// method never gets here: [`method_guard`] answers it with 405.)
pub async fn fallback() -> actix_web::HttpResponse {
    use crate::error::{ErrorCode, error_response};
    error_response(
        actix_web::http::StatusCode::NOT_FOUND,
        ErrorCode::ErrorGeneric,
        "no such endpoint".into(),
    )
}

/// One segment of a documented path: literal, or a `{parameter}` (any one segment).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// The documented paths and their methods, read from the OpenAPI document, so that a
/// documented path called with another method is answered 405 with `Allow` (listing the
/// documented methods) before authentication runs: every documented path is public in the
/// spec, and a 401 for a method that does not exist would be wrong.
#[derive(Debug, Clone, Default)]
pub struct KnownRoutes(std::sync::Arc<Routes>);

/// Paths without parameters by their text (one hash lookup per request: every callback),
/// the others segment by segment.
#[derive(Debug, Default)]
struct Routes {
    literal: std::collections::HashMap<String, Vec<actix_web::http::Method>>,
    templated: Vec<(Vec<Segment>, Vec<actix_web::http::Method>)>,
}

impl KnownRoutes {
    pub fn from_doc(doc: &utoipa::openapi::OpenApi) -> Self {
        use actix_web::http::Method;
        let mut routes = Routes::default();
        for (path, item) in &doc.paths.paths {
            let segments: Vec<Segment> = path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Parameter
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            let methods: Vec<Method> = [
                (Method::GET, item.get.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::DELETE, item.delete.is_some()),
                (Method::OPTIONS, item.options.is_some()),
                (Method::HEAD, item.head.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::TRACE, item.trace.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, documented)| documented.then_some(m))
            .collect();
            if segments.contains(&Segment::Parameter) {
                routes.templated.push((segments, methods));
            } else {
                routes.literal.insert(path.clone(), methods);
            }
        }
        Self(std::sync::Arc::new(routes))
    }

    /// The documented methods of `path`, when it is a documented path.
    pub fn methods(&self, path: &str) -> Option<&[actix_web::http::Method]> {
        if let Some(methods) = self.0.literal.get(path) {
            return Some(methods);
        }
        let wanted: Vec<&str> = path.split('/').collect();
        self.0
            .templated
            .iter()
            .find(|(segments, _)| {
                segments.len() == wanted.len()
                    && segments.iter().zip(&wanted).all(|(s, w)| match s {
                        Segment::Literal(l) => l == w,
                        Segment::Parameter => !w.is_empty(),
                    })
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

/// Middleware: 405 with `Allow` and the error body for a documented path called with an
/// undocumented method (see [`KnownRoutes`]).
///
/// # Errors
/// Those of the inner service.
pub async fn method_guard(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::ResponseError;
    use actix_web::http::header::{ALLOW, HeaderValue};
    let allow = req
        .app_data::<actix_web::web::Data<KnownRoutes>>()
        .and_then(|routes| routes.methods(req.path()))
        .filter(|methods| !methods.contains(req.method()))
        .map(|methods| {
            methods
                .iter()
                .map(actix_web::http::Method::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        });
    if let Some(allow) = allow {
        let mut response = crate::error::ApiError::MethodNotAllowed.error_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(ALLOW, value);
        }
        return Ok(req.into_response(response));
    }
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

/// How a use case's failure is answered.
impl From<crate::services::Error> for crate::error::ApiError {
    fn from(err: crate::services::Error) -> Self {
        use crate::services::Error as E;
        match err {
            E::NotFound(message) => Self::NotFound(message),
            E::Conflict(message) => Self::Conflict(message),
            E::Unavailable(cause) => Self::Unavailable(cause),
            E::Unexpected(cause) => Self::Unexpected(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn documented_paths_are_matched_segment_by_segment() {
        let doc = crate::startup::openapi_document(&crate::configuration::Settings::default());
        let routes = KnownRoutes::from_doc(&doc);
        assert_eq!(routes.methods("/user/lookup"), Some(&[Method::POST][..]));
        assert_eq!(routes.methods("/admin/cases/17"), Some(&[Method::GET][..]));
        assert_eq!(
            routes.methods("/admin/cases/17/resolve"),
            Some(&[Method::POST][..])
        );
        assert_eq!(routes.methods("/health/ready"), Some(&[Method::GET][..]));
        assert_eq!(routes.methods("/admin/cases//resolve"), None);
        assert_eq!(routes.methods("/user/lookup/"), None);
        assert_eq!(routes.methods("/nothing"), None);
    }
}
