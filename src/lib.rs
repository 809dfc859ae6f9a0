//! onboarding-adapter: the bank's "External Onboarding Services" for Wultra's Onboarding
//! Server.
//!
//! The Onboarding Server calls seven JSON callbacks at its configured `BASE_PATH`
//! (`/user/lookup`, `/otp/send`, `/consent/text`, `/consent/storage`,
//! `/client/evaluate`, `/client/approve`, `/process/event`). This crate serves them behind
//! HTTP Basic auth, stores what they carry, and answers exactly as each Onboarding Server
//! version (1.x, 2.1, 2.2) reads the answers. Layers: `routes` (thin handlers) → `domain`
//! (pure) → `persistence` (sea-orm); wire DTOs live in `api`.

/// mimalloc instead of glibc's malloc (see [`allocator`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod allocator;
pub mod api;
pub mod auth;
pub mod backoffice;
pub mod clock;
pub mod configuration;
pub mod demo;
pub mod domain;
pub mod email;
pub mod error;
pub mod extract;
pub mod import;
pub mod metrics;
pub mod observe;
pub mod onboarding_client;
pub mod openapi;
pub mod otp_delivery;
pub mod outbox_worker;
pub mod persistence;
pub mod review;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
