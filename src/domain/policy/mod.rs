//! The decision policy: which outcome (`OK`, `WAIT`, `NOK`) and reason codes the bank answers
//! to `/client/evaluate` and `/client/approve`.
//!
//! - [`Policy`]: a TOML file of rules whose conditions are CEL expressions over the *facts* (a
//!   JSON object derived in Rust before the policy runs). Validated when loaded; carries its own
//!   golden test cases ([`check_file`], the `policy check` sub-command).
//! - [`DecisionEngine`]: anything that turns facts into [`RuleResult`]s. The CEL policy is one;
//!   a bank can add compiled rules or an asynchronous screening client next to it.
//! - [`Decider`]: the reloadable policy ([`PolicyHolder`]) plus extra engines; combines every
//!   rule result with the outcome lattice (NOK > WAIT > OK) into a [`Verdict`].
//!
//! Fail-safe: a rule that cannot be evaluated (missing fact, `null` compared, type mismatch,
//! non-bool result) counts as a `WAIT` match with its error reason, never as a silent pass.

mod cel_engine;
mod check;
mod decider;
mod file;
mod holder;
mod verdict;

pub use check::{CaseReport, CheckReport, check_file, check_policy};
pub use decider::{Decider, DecisionEngine};
pub use file::{DEMO_POLICY, Defaults, GoldenCase, Policy, PolicyError};
pub use holder::{PolicyHolder, ReloadOutcome, spawn_reload_on_sighup};
pub use verdict::{
    DecisionPoint, MAX_RESULT_REASON_LEN, RuleResult, RuleStatus, Verdict, combine, most_severe,
    severity,
};
