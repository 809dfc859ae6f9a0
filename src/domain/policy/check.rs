//! Golden test cases carried by a policy: `onboarding-adapter policy check FILE`.

use std::fmt::Write as _;

use super::file::Policy;
use super::verdict::DecisionPoint;
use super::verdict::Outcome;

/// One golden case's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    pub name: String,
    pub point: DecisionPoint,
    pub process_type: Option<String>,
    pub passed: bool,
    pub expected_outcome: Outcome,
    /// `None`: the case checks the outcome only.
    pub expected_reasons: Option<Vec<String>>,
    pub actual_outcome: Outcome,
    pub actual_reasons: Vec<String>,
}

impl CaseReport {
    /// `PASS name: NOK [DOCUMENT_EXPIRED]` or `FAIL name: expected …, got …`.
    pub fn line(&self) -> String {
        let expected = describe(self.expected_outcome, self.expected_reasons.as_deref());
        let actual = describe(self.actual_outcome, Some(&self.actual_reasons));
        let at = match &self.process_type {
            Some(pt) => format!("{} processType={pt}", self.point.as_str()),
            None => self.point.as_str().to_owned(),
        };
        if self.passed {
            format!("PASS {} ({at}): {actual}", self.name)
        } else {
            format!(
                "FAIL {} ({at}): expected {expected}, got {actual}",
                self.name
            )
        }
    }
}

fn describe(outcome: Outcome, reasons: Option<&[String]>) -> String {
    match reasons {
        Some(reasons) => format!("{} [{}]", outcome.as_str(), reasons.join(", ")),
        None => format!("{} [any reasons]", outcome.as_str()),
    }
}

/// The result of checking a policy file.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub path: String,
    pub policy_name: String,
    pub version: String,
    pub cases: Vec<CaseReport>,
}

impl CheckReport {
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }

    /// Valid and every case passes (a policy without cases passes).
    pub fn passed(&self) -> bool {
        self.failed() == 0
    }

    /// One line per case, then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for case in &self.cases {
            let _ = writeln!(out, "{}", case.line());
        }
        let _ = writeln!(
            out,
            "{}: policy {:?} version {}: {} cases, {} passed, {} failed",
            self.path,
            self.policy_name,
            self.version,
            self.cases.len(),
            self.cases.len() - self.failed(),
            self.failed()
        );
        out
    }
}

/// Runs a loaded policy's golden cases.
pub fn check_policy(policy: &Policy) -> CheckReport {
    let cases = policy
        .golden_cases()
        .iter()
        .map(|case| {
            let verdict = policy.decide(case.point, case.process_type.as_deref(), &case.facts);
            let passed = verdict.outcome == case.expected_outcome
                && case
                    .expected_reasons
                    .as_ref()
                    .is_none_or(|expected| *expected == verdict.reasons);
            CaseReport {
                name: case.name.clone(),
                point: case.point,
                process_type: case.process_type.clone(),
                passed,
                expected_outcome: case.expected_outcome,
                expected_reasons: case.expected_reasons.clone(),
                actual_outcome: verdict.outcome,
                actual_reasons: verdict.reasons,
            }
        })
        .collect();
    CheckReport {
        path: policy.origin().to_owned(),
        policy_name: policy.name().to_owned(),
        version: policy.version().to_owned(),
        cases,
    }
}

/// The failing cases' lines (empty when all pass).
pub fn golden_failures(policy: &Policy) -> Vec<String> {
    check_policy(policy)
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(CaseReport::line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{DEMO_POLICY, PolicyError};

    /// Validates policy text and runs its golden cases.
    fn check(text: &str) -> Result<CheckReport, PolicyError> {
        Policy::parse(text, "t.toml").map(|policy| check_policy(&policy))
    }

    const POLICY: &str = r#"
        name = "t"
        [[evaluate]]
        id = "expired"
        when = "anyDocumentExpired"
        outcome = "NOK"
        reason = "DOCUMENT_EXPIRED"
        [[tests]]
        name = "passes"
        point = "evaluate"
        facts = { anyDocumentExpired = true }
        expect = { outcome = "NOK", reasons = ["DOCUMENT_EXPIRED"] }
        [[tests]]
        name = "outcome only"
        point = "evaluate"
        facts = { anyDocumentExpired = false }
        expect = { outcome = "OK" }
    "#;

    #[test]
    fn passing_policy() {
        let report = check(POLICY).unwrap();
        assert!(report.passed());
        assert_eq!(report.cases.len(), 2);
        let text = report.render();
        assert!(
            text.contains("PASS passes (evaluate): NOK [DOCUMENT_EXPIRED]"),
            "{text}"
        );
        assert!(text.contains("2 cases, 2 passed, 0 failed"), "{text}");
    }

    #[test]
    fn failing_golden_case_is_reported() {
        let report = check(&format!(
            "{POLICY}\n[[tests]]\nname = \"wrong\"\npoint = \"evaluate\"\nprocess_type = \"loan\"\n\
             facts = {{ anyDocumentExpired = true }}\nexpect = {{ outcome = \"WAIT\", reasons = [\"X\"] }}\n"
        ))
        .unwrap();
        assert!(!report.passed());
        assert_eq!(report.failed(), 1);
        let text = report.render();
        assert!(
            text.contains(
                "FAIL wrong (evaluate processType=loan): expected WAIT [X], got NOK [DOCUMENT_EXPIRED]"
            ),
            "{text}"
        );
        assert!(text.contains("3 cases, 2 passed, 1 failed"), "{text}");
    }

    #[test]
    fn wrong_reasons_fail_even_with_the_right_outcome() {
        let text = POLICY.replace("reasons = [\"DOCUMENT_EXPIRED\"]", "reasons = []");
        assert!(!check(&text).unwrap().passed());
    }

    #[test]
    fn invalid_policy_is_an_error() {
        let text = POLICY.replace("\"NOK\"\n        reason", "\"NOPE\"\n        reason");
        let err = check(&text).unwrap_err().to_string();
        assert!(err.contains("t.toml"), "{err}");
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn shipped_demo_file_checks() {
        let report = check(DEMO_POLICY).unwrap();
        assert!(report.passed(), "{}", report.render());
    }
}
