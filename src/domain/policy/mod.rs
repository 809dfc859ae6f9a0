//! The decision policy: which outcome (`OK`, `WAIT`, `NOK`) and reason codes the bank answers
//! to `/client/evaluate` and `/client/approve`.
//!
//! - [`Policy`]: a TOML file of rules whose conditions are CEL expressions over the *facts* (a
//!   JSON object derived in Rust before the policy runs). Validated when loaded; carries its own
//!   golden test cases ([`check_policy`], the `policy check` sub-command).
//! - [`DecisionEngine`]: anything that turns facts into [`RuleResult`]s. The CEL policy is one;
//!   a bank can add compiled rules or an asynchronous screening client next to it.
//! - [`combine`]: every rule result with the outcome lattice (NOK > WAIT > OK) into a
//!   [`Verdict`]. The policy in force, its file and its reload live in
//!   `services::policy`: this module reads no file and handles no signal.
//!
//! Fail-safe: a rule that cannot be evaluated (missing fact, `null` compared, type mismatch,
//! non-bool result) counts as a `WAIT` match with its error reason, never as a silent pass.

mod cel_engine;
mod check;
mod engine;
mod file;
mod verdict;

pub use check::{CaseReport, CheckReport, check_policy, golden_failures};
pub use engine::DecisionEngine;
pub use file::{DEMO_POLICY, Defaults, GoldenCase, Policy, PolicyError};
pub use verdict::{
    DecisionPoint, MAX_REASON_CODE_LEN, MAX_RESULT_REASON_LEN, Outcome, RuleResult, RuleStatus,
    Verdict, combine, is_reason_code, most_severe, severity,
};
