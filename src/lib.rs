//! onboarding-adapter: the bank's "External Onboarding Services" for Wultra's Onboarding
//! Server.
//!
//! The Onboarding Server calls seven JSON callbacks at its configured `BASE_PATH`
//! (`/user/lookup`, `/otp/send`, `/consent/text`, `/consent/storage`,
//! `/client/evaluate`, `/client/approve`, `/process/event`). This crate serves them behind
//! HTTP Basic auth, stores what they carry, and answers exactly as each Onboarding Server
//! version (1.x, 2.1, 2.2) reads the answers. Layers, arrows one way: `routes` (wire only)
//! → `services` (use cases, one transaction each) → `domain` (pure rules) and `storage`
//! (sea-orm queries); wire DTOs live in `api` (see docs/architecture.md).

pub mod api;
pub mod auth;
pub mod backoffice;
pub mod clock;
pub mod configuration;
pub mod csrf;
pub mod demo;
pub mod domain;
pub mod email;
pub mod error;
pub mod extract;
pub mod import;
pub mod json_shape;
pub mod metrics;
pub mod oauth;
pub mod observe;
pub mod onboarding_client;
pub mod openapi;
pub mod outbound;
pub mod routes;
pub mod services;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod trace_context;
