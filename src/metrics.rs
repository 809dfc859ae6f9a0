//! Prometheus metrics: requests and latency per method, route pattern and status, and the
//! login throttle's counters.
//!
//! Every label value comes from a fixed set, so that no request can grow the registry: the
//! method is one of the standard ones or `other`, the route is the pattern the request
//! matched (never its path) or `unmatched`, the status is a status code, the realm and the
//! reason are names of this crate.

use actix_web::http::Method;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    login_failures: IntCounterVec,
    login_throttled: IntCounterVec,
}

/// The method label: the standard methods by name, any other as `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

impl Metrics {
    /// # Errors
    /// When a metric cannot be registered (a programming error).
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("onboarding_adapter".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let login_failures = IntCounterVec::new(
            Opts::new(
                "login_failures_total",
                "Logins refused for wrong credentials, by realm",
            ),
            &["realm"],
        )?;
        let login_throttled = IntCounterVec::new(
            Opts::new(
                "login_throttled_total",
                "Logins refused unchecked (429) by the login throttle, by realm and reason (address or user)",
            ),
            &["realm", "reason"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        registry.register(Box::new(login_throttled.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            login_failures,
            login_throttled,
        })
    }

    /// Counts a request; `route` is the matched pattern (`None`: [`UNMATCHED_ROUTE`]).
    pub fn observe(&self, method: &Method, route: Option<&str>, status: u16, seconds: f64) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED_ROUTE);
        self.requests
            .with_label_values(&[method, route, status.to_string().as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    pub fn login_failed(&self, realm: &'static str) {
        self.login_failures.with_label_values(&[realm]).inc();
    }

    /// `reason`: what was throttled, `address` or `user` (a fixed set, from the throttle).
    pub fn login_throttled(&self, realm: &'static str, reason: &'static str) {
        self.login_throttled
            .with_label_values(&[realm, reason])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        for (method, label) in [
            ("GET", "GET"),
            ("PATCH", "PATCH"),
            ("get", "other"),
            ("BREW", "other"),
            ("X-1234", "other"),
        ] {
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            assert_eq!(method_label(&m), label, "{method}");
        }
    }
}
