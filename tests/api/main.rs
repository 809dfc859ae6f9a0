#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The integration suite: one binary; every test starts the real server on a random port
//! against a fresh database (SQLite file by default; PostgreSQL or MariaDB when
//! `TEST_DATABASE_URL` names one).

mod auth;
mod client_decisions;
mod consent;
mod dates;
mod errors;
mod golden;
mod helpers;
mod hostile_input;
mod onboarding_peer;
mod openapi;
mod operations;
mod otp_send;
mod process_event;
mod retention;
mod review_loop;
mod security;
mod smtp_sink;
mod unit_of_work;
mod user_lookup;
