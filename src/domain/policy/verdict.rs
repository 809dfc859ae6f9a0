//! Rule results, the outcome lattice and the verdict they combine into.

use serde::{Deserialize, Serialize};

/// The reason code stored and sent to the Onboarding Server is at most this long.
pub const MAX_RESULT_REASON_LEN: usize = 255;

/// The longest reason code a person (the expiry setting, a reviewer) may give.
pub const MAX_REASON_CODE_LEN: usize = 64;

/// A stable reason code: upper-case letters, digits and underscores, at most `max_len`.
pub fn is_reason_code(code: &str, max_len: usize) -> bool {
    !code.is_empty()
        && code.len() <= max_len
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A decision's answer: `OK`, `NOK` or `WAIT` (a person decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Ok,
    Nok,
    Wait,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Nok => "NOK",
            Self::Wait => "WAIT",
        }
    }
}

/// Which callback asks for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionPoint {
    /// `/client/evaluate`: the document verification result.
    Evaluate,
    /// `/client/approve`: the presence check and final approval.
    Approve,
}

impl DecisionPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evaluate => "evaluate",
            Self::Approve => "approve",
        }
    }
}

/// What a rule did with the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// The condition held: the rule's outcome counts.
    Matched,
    /// The condition did not hold: the rule does not count.
    NotMatched,
    /// The condition could not be evaluated: counts as `WAIT` with the rule's error reason.
    Error,
}

/// One rule's result: one entry of a verdict's trace.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    /// Rule id, unique within its engine.
    pub rule: String,
    /// Name of the engine that ran the rule (`cel` for the policy file).
    pub engine: String,
    pub result: RuleStatus,
    /// `matched`: the outcome that counts; `error`: always `WAIT`; `not_matched`: the outcome
    /// the rule would have given (informative).
    pub outcome: Outcome,
    /// Reason code, `^[A-Z0-9_]+$` (the error reason for `error`).
    pub reason: String,
    /// The rule's description, or the evaluation error for `error`. Never holds fact values.
    pub message: String,
}

impl RuleResult {
    /// The outcome this result contributes to the verdict, if any: errors count as `WAIT`.
    pub fn effective_outcome(&self) -> Option<Outcome> {
        match self.result {
            RuleStatus::Matched => Some(self.outcome),
            RuleStatus::NotMatched => None,
            RuleStatus::Error => Some(Outcome::Wait),
        }
    }
}

/// The combined decision.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub outcome: Outcome,
    /// Distinct reason codes of the results that produced `outcome`, in rule order (the policy's
    /// default reason when no rule matched and the default is not `OK`). Empty for `OK`.
    pub reasons: Vec<String>,
    /// `reasons` joined by `,`, at most [`MAX_RESULT_REASON_LEN`] characters (whole codes
    /// only). Empty for `OK`.
    pub result_reason: String,
    /// Every rule's result, the policy's rules first, then each extra engine's.
    pub trace: Vec<RuleResult>,
    /// Hex SHA-256 of the policy file the CEL rules came from.
    pub policy_version: String,
}

/// Severity in the outcome lattice: `NOK` > `WAIT` > `OK`.
pub fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Wait => 1,
        Outcome::Nok => 2,
    }
}

/// The more severe of two outcomes.
pub fn most_severe(a: Outcome, b: Outcome) -> Outcome {
    if severity(b) > severity(a) { b } else { a }
}

/// Combines rule results with the lattice. `default_outcome` (and `default_reason`, unless the
/// default is `OK`) apply when no result counts. Error results are normalised to `WAIT`, and an
/// error without a reason gets `error_reason`.
pub fn combine(
    mut trace: Vec<RuleResult>,
    default_outcome: Outcome,
    default_reason: &str,
    error_reason: &str,
    policy_version: impl Into<String>,
) -> Verdict {
    for entry in &mut trace {
        if entry.result == RuleStatus::Error {
            entry.outcome = Outcome::Wait;
            if entry.reason.is_empty() {
                entry.reason = error_reason.to_owned();
            }
        }
    }
    let matched = trace.iter().filter_map(RuleResult::effective_outcome);
    let (outcome, reasons) = match matched.reduce(most_severe) {
        Some(outcome) => {
            let mut reasons: Vec<String> = Vec::new();
            if outcome != Outcome::Ok {
                for entry in &trace {
                    if entry.effective_outcome() == Some(outcome)
                        && !entry.reason.is_empty()
                        && !reasons.contains(&entry.reason)
                    {
                        reasons.push(entry.reason.clone());
                    }
                }
            }
            (outcome, reasons)
        }
        None if default_outcome == Outcome::Ok || default_reason.is_empty() => {
            (default_outcome, Vec::new())
        }
        None => (default_outcome, vec![default_reason.to_owned()]),
    };
    let result_reason = join_reasons(&reasons);
    Verdict {
        outcome,
        reasons,
        result_reason,
        trace,
        policy_version: policy_version.into(),
    }
}

/// Joins codes with `,`, keeping whole codes only, up to [`MAX_RESULT_REASON_LEN`] characters.
fn join_reasons(reasons: &[String]) -> String {
    let mut joined = String::new();
    for reason in reasons {
        let extra = if joined.is_empty() { 0 } else { 1 } + reason.len();
        if joined.len() + extra > MAX_RESULT_REASON_LEN {
            break;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(reason);
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: RuleStatus, outcome: Outcome, reason: &str) -> RuleResult {
        RuleResult {
            rule: reason.to_lowercase(),
            engine: "test".into(),
            result: status,
            outcome,
            reason: reason.into(),
            message: String::new(),
        }
    }

    #[test]
    fn severity_orders_the_lattice() {
        assert!(severity(Outcome::Nok) > severity(Outcome::Wait));
        assert!(severity(Outcome::Wait) > severity(Outcome::Ok));
        let cases = [
            (Outcome::Ok, Outcome::Ok, Outcome::Ok),
            (Outcome::Ok, Outcome::Wait, Outcome::Wait),
            (Outcome::Wait, Outcome::Ok, Outcome::Wait),
            (Outcome::Wait, Outcome::Nok, Outcome::Nok),
            (Outcome::Nok, Outcome::Wait, Outcome::Nok),
            (Outcome::Nok, Outcome::Ok, Outcome::Nok),
        ];
        for (a, b, expected) in cases {
            assert_eq!(most_severe(a, b), expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn combine_table() {
        use Outcome::{Nok, Ok, Wait};
        use RuleStatus::{Error, Matched, NotMatched};
        type Case = (
            &'static str,
            Vec<RuleResult>,
            Outcome,
            &'static [&'static str],
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("nothing matches → default", vec![], Ok, &[], ""),
            (
                "not matched rules do not count",
                vec![result(NotMatched, Nok, "A")],
                Ok,
                &[],
                "",
            ),
            (
                "NOK beats WAIT",
                vec![result(Matched, Wait, "W"), result(Matched, Nok, "N")],
                Nok,
                &["N"],
                "N",
            ),
            (
                "reasons of the winning outcome in rule order, distinct",
                vec![
                    result(Matched, Nok, "B"),
                    result(Matched, Wait, "W"),
                    result(Matched, Nok, "A"),
                    result(Matched, Nok, "B"),
                ],
                Nok,
                &["B", "A"],
                "B,A",
            ),
            (
                "an error counts as WAIT even on a NOK rule",
                vec![result(Error, Nok, "ERR"), result(Matched, Ok, "FINE")],
                Wait,
                &["ERR"],
                "ERR",
            ),
            (
                "matched OK is a plain OK",
                vec![result(Matched, Ok, "WHITELISTED")],
                Ok,
                &[],
                "",
            ),
        ];
        for (name, trace, outcome, reasons, joined) in cases {
            let v = combine(trace, Ok, "", "POLICY_RULE_ERROR", "v1");
            assert_eq!(v.outcome, outcome, "{name}");
            assert_eq!(v.reasons, reasons, "{name}");
            assert_eq!(v.result_reason, joined, "{name}");
            assert_eq!(v.policy_version, "v1");
        }
    }

    #[test]
    fn default_outcome_and_reason_apply_when_nothing_matches() {
        let v = combine(vec![], Outcome::Wait, "NO_RULE_MATCHED", "E", "v");
        assert_eq!(v.outcome, Outcome::Wait);
        assert_eq!(v.result_reason, "NO_RULE_MATCHED");
    }

    #[test]
    fn error_results_are_normalised() {
        let mut r = result(RuleStatus::Error, Outcome::Nok, "");
        r.reason.clear();
        let v = combine(vec![r], Outcome::Ok, "", "POLICY_RULE_ERROR", "v");
        assert_eq!(v.outcome, Outcome::Wait);
        assert_eq!(v.trace[0].outcome, Outcome::Wait);
        assert_eq!(v.result_reason, "POLICY_RULE_ERROR");
    }

    #[test]
    fn result_reason_is_capped_on_code_boundaries() {
        let reasons: Vec<String> = (0..40).map(|i| format!("REASON_{i:03}")).collect();
        let trace = reasons
            .iter()
            .map(|r| result(RuleStatus::Matched, Outcome::Nok, r))
            .collect();
        let v = combine(trace, Outcome::Ok, "", "E", "v");
        assert_eq!(v.reasons.len(), 40);
        assert!(v.result_reason.len() <= MAX_RESULT_REASON_LEN);
        for code in v.result_reason.split(',') {
            assert!(reasons.iter().any(|r| r == code), "cut code {code}");
        }
        // 10 chars per code + comma: 23 codes fit in 255.
        assert_eq!(v.result_reason.split(',').count(), 23);
    }

    #[test]
    fn trace_serialises_camel_case_and_snake_case_status() {
        let r = result(RuleStatus::NotMatched, Outcome::Nok, "A");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["result"], "not_matched");
        assert_eq!(json["outcome"], "NOK");
        let v = combine(vec![r], Outcome::Ok, "", "E", "abc");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["resultReason"], "");
        assert_eq!(json["policyVersion"], "abc");
    }
}
