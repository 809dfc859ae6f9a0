//! The policy file: format, validation and the compiled [`Policy`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use cel::Env;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cel_engine::{Facts, Rule};
use super::verdict::Outcome;
use super::verdict::{
    DecisionPoint, MAX_RESULT_REASON_LEN, RuleResult, Verdict, combine, is_reason_code,
};

/// The built-in demo policy, used when no policy file is configured.
pub const DEMO_POLICY: &str = include_str!("../../../assets/policy/demo.toml");

/// Name under which the built-in policy appears in messages.
const DEMO_ORIGIN: &str = "<built-in demo policy>";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy file {path} cannot be parsed: {message}")]
    Parse { path: String, message: String },
    #[error("policy file {path} is invalid:{}", bullets(problems))]
    Invalid { path: String, problems: Vec<String> },
    #[error("policy file {path}: golden test cases fail:{}", bullets(failures))]
    GoldenTestsFailed { path: String, failures: Vec<String> },
}

fn bullets(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        let _ = write!(out, "\n  - {line}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The file format (see assets/policy/demo.toml for the documented example).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    defaults: DefaultsSpec,
    #[serde(default)]
    evaluate: Vec<RuleSpec>,
    #[serde(default)]
    approve: Vec<RuleSpec>,
    #[serde(default)]
    process_types: BTreeMap<String, ProcessTypeSpec>,
    #[serde(default)]
    test_defaults: TestDefaultsSpec,
    #[serde(default)]
    tests: Vec<CaseSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsSpec {
    #[serde(default = "default_outcome")]
    outcome: Outcome,
    /// Reason when no rule matched and `outcome` is not `OK`.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default = "default_error_reason")]
    error_reason: String,
}

impl Default for DefaultsSpec {
    fn default() -> Self {
        Self {
            outcome: default_outcome(),
            reason: None,
            error_reason: default_error_reason(),
        }
    }
}

fn default_outcome() -> Outcome {
    Outcome::Ok
}

fn default_error_reason() -> String {
    "POLICY_RULE_ERROR".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    description: Option<String>,
    when: String,
    outcome: Outcome,
    reason: String,
    #[serde(default)]
    error_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessTypeSpec {
    #[serde(default)]
    evaluate: Option<Vec<RuleSpec>>,
    #[serde(default)]
    approve: Option<Vec<RuleSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestDefaultsSpec {
    #[serde(default)]
    evaluate: FactsSpec,
    #[serde(default)]
    approve: FactsSpec,
}

/// Facts of a golden case: a table merged over the base facts, then dotted paths set to `null`
/// (TOML has no null).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsSpec {
    #[serde(default)]
    facts: toml::Table,
    #[serde(default)]
    nulls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    point: DecisionPoint,
    #[serde(default)]
    process_type: Option<String>,
    #[serde(default)]
    facts: toml::Table,
    #[serde(default)]
    nulls: Vec<String>,
    expect: ExpectSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    outcome: Outcome,
    /// Exactly these reasons, in this order, when given.
    #[serde(default)]
    reasons: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// The compiled policy.

/// The policy's defaults.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub outcome: Outcome,
    pub reason: String,
    pub error_reason: String,
}

#[derive(Debug, Default)]
struct RuleSets {
    evaluate: Option<Vec<Rule>>,
    approve: Option<Vec<Rule>>,
}

/// A golden case with its facts resolved.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    pub name: String,
    pub point: DecisionPoint,
    pub process_type: Option<String>,
    pub facts: serde_json::Value,
    pub expected_outcome: Outcome,
    pub expected_reasons: Option<Vec<String>>,
}

/// A validated policy: every condition compiled, ready to evaluate.
pub struct Policy {
    name: String,
    description: String,
    origin: String,
    version: String,
    defaults: Defaults,
    evaluate: Vec<Rule>,
    approve: Vec<Rule>,
    process_types: HashMap<String, RuleSets>,
    golden: Vec<GoldenCase>,
    env: Arc<Env>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The built-in demo policy (`assets/policy/demo.toml`).
    pub fn demo() -> Result<Self, PolicyError> {
        Self::parse(DEMO_POLICY, DEMO_ORIGIN)
    }

    /// Parses and validates policy text; `origin` (a path) names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let spec: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let env = Arc::new(Env::stdlib());
        let mut problems = Vec::new();
        if spec.name.trim().is_empty() {
            problems.push("`name` is empty".to_owned());
        }
        let defaults = Defaults {
            outcome: spec.defaults.outcome,
            reason: spec.defaults.reason.clone().unwrap_or_default(),
            error_reason: spec.defaults.error_reason.clone(),
        };
        check_code(
            &defaults.error_reason,
            "defaults.error_reason",
            &mut problems,
        );
        match (&spec.defaults.reason, defaults.outcome) {
            (Some(reason), _) => check_code(reason, "defaults.reason", &mut problems),
            (None, Outcome::Ok) => {}
            (None, _) => problems
                .push("defaults.reason is required when defaults.outcome is not OK".to_owned()),
        }
        let evaluate = compile_set(&spec.evaluate, "evaluate", &defaults, &env, &mut problems);
        let approve = compile_set(&spec.approve, "approve", &defaults, &env, &mut problems);
        let mut process_types = HashMap::new();
        for (process_type, sets) in &spec.process_types {
            if process_type.trim().is_empty() {
                problems.push("process_types: a process type name is empty".to_owned());
            }
            let compile = |set: &Option<Vec<RuleSpec>>, point: &str, p: &mut Vec<String>| {
                set.as_ref().map(|rules| {
                    let name = format!("process_types.{process_type}.{point}");
                    compile_set(rules, &name, &defaults, &env, p)
                })
            };
            let compiled = RuleSets {
                evaluate: compile(&sets.evaluate, "evaluate", &mut problems),
                approve: compile(&sets.approve, "approve", &mut problems),
            };
            process_types.insert(process_type.clone(), compiled);
        }
        let golden = resolve_cases(&spec, &mut problems);
        if !problems.is_empty() {
            return Err(PolicyError::Invalid {
                path: origin.to_owned(),
                problems,
            });
        }
        Ok(Self {
            name: spec.name,
            description: spec.description.unwrap_or_default(),
            origin: origin.to_owned(),
            version: hex::encode(Sha256::digest(text.as_bytes())),
            defaults,
            evaluate,
            approve,
            process_types,
            golden,
            env,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Path of the file it was loaded from (or `<built-in demo policy>`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Hex SHA-256 of the file's bytes.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    /// The golden test cases the file carries.
    pub fn golden_cases(&self) -> &[GoldenCase] {
        &self.golden
    }

    /// The rule set for a point: the process type's own set if it has one, else the default.
    fn rules(&self, point: DecisionPoint, process_type: Option<&str>) -> &[Rule] {
        let own = process_type
            .and_then(|pt| self.process_types.get(pt))
            .and_then(|sets| match point {
                DecisionPoint::Evaluate => sets.evaluate.as_deref(),
                DecisionPoint::Approve => sets.approve.as_deref(),
            });
        own.unwrap_or(match point {
            DecisionPoint::Evaluate => &self.evaluate,
            DecisionPoint::Approve => &self.approve,
        })
    }

    /// Ids of the rules that apply, in order.
    pub fn rule_ids(&self, point: DecisionPoint, process_type: Option<&str>) -> Vec<&str> {
        self.rules(point, process_type)
            .iter()
            .map(|r| r.id.as_str())
            .collect()
    }

    /// Every applicable rule's result, in rule order.
    pub fn evaluate_rules(
        &self,
        point: DecisionPoint,
        process_type: Option<&str>,
        facts: &serde_json::Value,
    ) -> Vec<RuleResult> {
        let rules = self.rules(point, process_type);
        if rules.is_empty() {
            return Vec::new();
        }
        let facts = Facts::new(&self.env, facts);
        rules.iter().map(|rule| facts.run(rule)).collect()
    }

    /// Combines results (this policy's and any other engine's) with the lattice and this
    /// policy's defaults.
    pub fn combine(&self, trace: Vec<RuleResult>) -> Verdict {
        combine(
            trace,
            self.defaults.outcome,
            &self.defaults.reason,
            &self.defaults.error_reason,
            self.version.clone(),
        )
    }

    /// The verdict of this policy alone (no extra engines).
    pub fn decide(
        &self,
        point: DecisionPoint,
        process_type: Option<&str>,
        facts: &serde_json::Value,
    ) -> Verdict {
        self.combine(self.evaluate_rules(point, process_type, facts))
    }
}

fn check_code(code: &str, what: &str, problems: &mut Vec<String>) {
    if !is_reason_code(code, MAX_RESULT_REASON_LEN) {
        problems.push(format!(
            "{what} {code:?} is not a reason code (^[A-Z0-9_]+$, at most {MAX_RESULT_REASON_LEN} characters)"
        ));
    }
}

fn compile_set(
    specs: &[RuleSpec],
    set: &str,
    defaults: &Defaults,
    env: &Env,
    problems: &mut Vec<String>,
) -> Vec<Rule> {
    let mut seen = HashSet::new();
    let mut rules = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let id = spec.id.trim();
        let label = if id.is_empty() {
            format!("[{set}] rule #{}", index + 1)
        } else {
            format!("[{set}] rule {id:?}")
        };
        if id.is_empty() {
            problems.push(format!("{label}: `id` is empty"));
        } else if id != spec.id {
            problems.push(format!("{label}: `id` has leading or trailing spaces"));
        } else if !seen.insert(id) {
            problems.push(format!("{label}: duplicate id in this set"));
        }
        check_code(&spec.reason, &format!("{label}: reason"), problems);
        if let Some(error_reason) = &spec.error_reason {
            check_code(error_reason, &format!("{label}: error_reason"), problems);
        }
        if spec.when.trim().is_empty() {
            problems.push(format!("{label}: `when` is empty"));
            continue;
        }
        match env.compile(&spec.when) {
            Ok(program) => rules.push(Rule {
                id: spec.id.clone(),
                description: spec.description.clone().unwrap_or_default(),
                when: spec.when.clone(),
                program,
                outcome: spec.outcome,
                reason: spec.reason.clone(),
                error_reason: spec
                    .error_reason
                    .clone()
                    .unwrap_or_else(|| defaults.error_reason.clone()),
            }),
            Err(e) => problems.push(format!(
                "{label}: `when` is not valid CEL: {}",
                e.to_string().replace('\n', "\n      ")
            )),
        }
    }
    rules
}

fn resolve_cases(spec: &PolicyFile, problems: &mut Vec<String>) -> Vec<GoldenCase> {
    let mut cases = Vec::with_capacity(spec.tests.len());
    for (index, case) in spec.tests.iter().enumerate() {
        let label = format!("[tests] case #{} {:?}", index + 1, case.name);
        if case.name.trim().is_empty() {
            problems.push(format!("{label}: `name` is empty"));
        }
        for reason in case.expect.reasons.iter().flatten() {
            check_code(reason, &format!("{label}: expected reason"), problems);
        }
        let base = match case.point {
            DecisionPoint::Evaluate => &spec.test_defaults.evaluate,
            DecisionPoint::Approve => &spec.test_defaults.approve,
        };
        let mut facts = serde_json::Value::Object(serde_json::Map::new());
        merge(
            &mut facts,
            toml_to_json(&toml::Value::Table(base.facts.clone())),
        );
        let mut ok = set_nulls(&mut facts, &base.nulls, &label, problems);
        merge(
            &mut facts,
            toml_to_json(&toml::Value::Table(case.facts.clone())),
        );
        ok &= set_nulls(&mut facts, &case.nulls, &label, problems);
        if ok {
            cases.push(GoldenCase {
                name: case.name.clone(),
                point: case.point,
                process_type: case.process_type.clone(),
                facts,
                expected_outcome: case.expect.outcome,
                expected_reasons: case.expect.reasons.clone(),
            });
        }
    }
    cases
}

/// Deep merge: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Sets each dotted path to `null`; every parent must be an object.
fn set_nulls(
    facts: &mut serde_json::Value,
    paths: &[String],
    label: &str,
    problems: &mut Vec<String>,
) -> bool {
    let mut ok = true;
    for path in paths {
        let mut target = &mut *facts;
        let mut segments = path.split('.').peekable();
        let mut placed = false;
        while let Some(segment) = segments.next() {
            let Some(object) = target.as_object_mut() else {
                break;
            };
            if segment.is_empty() {
                break;
            }
            if segments.peek().is_none() {
                object.insert(segment.to_owned(), serde_json::Value::Null);
                placed = true;
                break;
            }
            target = object
                .entry(segment.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        }
        if !placed {
            problems.push(format!(
                "{label}: cannot set {path:?} to null (a parent is not a table)"
            ));
            ok = false;
        }
    }
    ok
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(toml_to_json).collect())
        }
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::policy::{RuleStatus, check_policy};

    fn demo() -> Policy {
        Policy::demo().unwrap()
    }

    fn invalid(text: &str) -> String {
        match Policy::parse(text, "bank/policy.toml") {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn demo_policy_golden_cases_pass() {
        let report = check_policy(&demo());
        assert!(report.cases.len() >= 20);
        for case in &report.cases {
            assert!(case.passed, "{}", case.line());
        }
    }

    /// The demo's base evaluate facts, as the golden cases see them.
    fn clean(point: DecisionPoint) -> serde_json::Value {
        let policy = demo();
        let case = policy
            .golden_cases()
            .iter()
            .find(|c| c.point == point && c.name.starts_with("clean"))
            .unwrap();
        case.facts.clone()
    }

    fn with(mut facts: serde_json::Value, over: serde_json::Value) -> serde_json::Value {
        merge(&mut facts, over);
        facts
    }

    #[test]
    fn demo_rules_directly() {
        use DecisionPoint::{Approve, Evaluate};
        let policy = demo();
        let cases: Vec<(DecisionPoint, serde_json::Value, Outcome, &str)> = vec![
            (Evaluate, json!({}), Outcome::Ok, ""),
            (
                Evaluate,
                json!({"anyDocumentExpired": true}),
                Outcome::Nok,
                "DOCUMENT_EXPIRED",
            ),
            (Evaluate, json!({"age": 17}), Outcome::Nok, "UNDERAGE"),
            (Evaluate, json!({"age": null}), Outcome::Wait, "AGE_UNKNOWN"),
            (
                Evaluate,
                json!({"hasExtractedData": false, "age": null}),
                Outcome::Wait,
                "MISSING_EXTRACTED_DATA",
            ),
            (
                Evaluate,
                json!({"registry": {"mismatch": true}}),
                Outcome::Nok,
                "REGISTRY_MISMATCH",
            ),
            (
                Evaluate,
                json!({"status": "FAILURE"}),
                Outcome::Nok,
                "VERIFICATION_FAILED",
            ),
            (
                Evaluate,
                json!({"anyDocumentFailed": true}),
                Outcome::Nok,
                "VERIFICATION_FAILED",
            ),
            (
                Evaluate,
                json!({"anyIssuedInFuture": true}),
                Outcome::Nok,
                "DOCUMENT_ISSUE_DATE_IN_FUTURE",
            ),
            (
                Evaluate,
                json!({"imagesValid": false}),
                Outcome::Wait,
                "IMAGES_INVALID",
            ),
            (
                Evaluate,
                json!({"minDocumentScore": 4.99}),
                Outcome::Wait,
                "LOW_DOCUMENT_SCORE",
            ),
            (Evaluate, json!({"minDocumentScore": null}), Outcome::Ok, ""),
            (
                Evaluate,
                json!({"documentCount": 0}),
                Outcome::Wait,
                "NO_DOCUMENTS",
            ),
            (
                Evaluate,
                json!({"documentCountries": ["SVK", "UKR"]}),
                Outcome::Wait,
                "DOCUMENT_COUNTRY_NOT_ALLOWED",
            ),
            (
                Evaluate,
                json!({"anyDocumentExpired": true, "registry": {"mismatch": true}, "imagesValid": false}),
                Outcome::Nok,
                "DOCUMENT_EXPIRED,REGISTRY_MISMATCH",
            ),
            (Approve, json!({}), Outcome::Ok, ""),
            (
                Approve,
                json!({"status": "FAILURE"}),
                Outcome::Nok,
                "PRESENCE_CHECK_FAILED",
            ),
            (
                Approve,
                json!({"score": 2.0}),
                Outcome::Wait,
                "LOW_PRESENCE_SCORE",
            ),
            (Approve, json!({"score": null}), Outcome::Ok, ""),
            (
                Approve,
                json!({"presence": {"frameValid": false}}),
                Outcome::Wait,
                "SELFIE_INVALID",
            ),
            (
                Approve,
                json!({"presence": {"framePresent": false, "frameValid": null}}),
                Outcome::Ok,
                "",
            ),
            // A fact missing entirely is an error, never a pass.
            (
                Approve,
                json!({"presence": null}),
                Outcome::Wait,
                "POLICY_RULE_ERROR",
            ),
        ];
        for (point, over, outcome, reason) in cases {
            let facts = with(clean(point), over.clone());
            let v = policy.decide(point, None, &facts);
            assert_eq!(
                (v.outcome, v.result_reason.as_str()),
                (outcome, reason),
                "{point:?} {over}: {:#?}",
                v.trace
            );
            assert_eq!(v.trace.len(), policy.rule_ids(point, None).len());
            assert_eq!(v.policy_version, policy.version());
        }
    }

    #[test]
    fn a_missing_fact_or_null_comparison_is_wait_even_for_an_ok_rule() {
        let policy = Policy::parse(
            r#"
            name = "t"
            [defaults]
            error_reason = "CANNOT_DECIDE"
            [[evaluate]]
            id = "vip"
            when = "customer.vip"
            outcome = "OK"
            reason = "VIP"
            [[evaluate]]
            id = "null-compare"
            when = "age < 18"
            outcome = "NOK"
            reason = "UNDERAGE"
            error_reason = "AGE_UNKNOWN"
            [[evaluate]]
            id = "not-bool"
            when = "score"
            outcome = "NOK"
            reason = "X"
            "#,
            "t.toml",
        )
        .unwrap();
        let v = policy.decide(
            DecisionPoint::Evaluate,
            None,
            &json!({"age": null, "score": 1.0}),
        );
        assert_eq!(v.outcome, Outcome::Wait);
        assert_eq!(v.reasons, ["CANNOT_DECIDE", "AGE_UNKNOWN"]);
        assert!(
            v.trace.iter().all(|r| r.result == RuleStatus::Error),
            "{:#?}",
            v.trace
        );
        assert!(
            v.trace[0].message.contains("customer"),
            "{}",
            v.trace[0].message
        );
        assert!(
            v.trace[2].message.contains("not a bool"),
            "{}",
            v.trace[2].message
        );
    }

    #[test]
    fn process_type_sets_replace_the_default_set_of_their_point_only() {
        let policy = Policy::parse(
            r#"
            name = "t"
            [[evaluate]]
            id = "default"
            when = "true"
            outcome = "WAIT"
            reason = "DEFAULT_SET"
            [[approve]]
            id = "default"
            when = "true"
            outcome = "WAIT"
            reason = "DEFAULT_APPROVE"
            [process_types.loan]
            evaluate = [ { id = "loan", when = "true", outcome = "NOK", reason = "LOAN_SET" } ]
            [process_types.card]
            evaluate = []
            "#,
            "t.toml",
        )
        .unwrap();
        let facts = json!({});
        let cases = [
            (DecisionPoint::Evaluate, None, Outcome::Wait, "DEFAULT_SET"),
            (
                DecisionPoint::Evaluate,
                Some("onboarding"),
                Outcome::Wait,
                "DEFAULT_SET",
            ),
            (
                DecisionPoint::Evaluate,
                Some("loan"),
                Outcome::Nok,
                "LOAN_SET",
            ),
            (DecisionPoint::Evaluate, Some("card"), Outcome::Ok, ""),
            (
                DecisionPoint::Approve,
                Some("loan"),
                Outcome::Wait,
                "DEFAULT_APPROVE",
            ),
        ];
        for (point, pt, outcome, reason) in cases {
            let v = policy.decide(point, pt, &facts);
            assert_eq!(
                (v.outcome, v.result_reason.as_str()),
                (outcome, reason),
                "{point:?} {pt:?}"
            );
        }
    }

    #[test]
    fn validation_errors_are_precise() {
        let rule = |id: &str, when: &str, outcome: &str, reason: &str| {
            format!(
                "name = \"t\"\n[[evaluate]]\nid = \"{id}\"\nwhen = '{when}'\noutcome = \"{outcome}\"\nreason = \"{reason}\"\n"
            )
        };
        let ok = rule("a", "true", "NOK", "A");
        let cases: Vec<(String, Vec<&str>)> = vec![
            (
                format!(
                    "{ok}[[evaluate]]\nid = \"a\"\nwhen = \"false\"\noutcome = \"OK\"\nreason = \"B\"\n"
                ),
                vec!["bank/policy.toml", "[evaluate] rule \"a\"", "duplicate id"],
            ),
            (
                rule("a", "true", "NOK", "bad-code"),
                vec!["[evaluate] rule \"a\"", "\"bad-code\"", "reason code"],
            ),
            (
                rule("a", "true", "MAYBE", "A"),
                vec!["bank/policy.toml", "MAYBE"],
            ),
            (
                rule("underage", "age < ", "NOK", "A"),
                vec![
                    "bank/policy.toml",
                    "[evaluate] rule \"underage\"",
                    "not valid CEL",
                    "ERROR: <input>:1:",
                ],
            ),
            (
                rule("", "true", "NOK", "A"),
                vec!["[evaluate] rule #1", "`id` is empty"],
            ),
            (rule("a", " ", "NOK", "A"), vec!["`when` is empty"]),
            (
                format!("{ok}colour = \"red\"\n"),
                vec!["bank/policy.toml", "unknown field `colour`"],
            ),
            (
                ok.replace("reason = \"A\"", "reason = \"A\"\nreasn = \"B\""),
                vec!["unknown field `reasn`"],
            ),
            (
                format!("{ok}[defaults]\noutcome = \"WAIT\"\n"),
                vec!["defaults.reason is required"],
            ),
            (
                format!(
                    "{ok}[process_types.loan]\napprove = [ {{ id = \"x\", when = \"(\", outcome = \"OK\", reason = \"X\" }} ]\n"
                ),
                vec!["[process_types.loan.approve] rule \"x\"", "not valid CEL"],
            ),
            (
                format!(
                    "{ok}[[tests]]\nname = \"n\"\npoint = \"evaluate\"\nfacts = {{ a = 1 }}\nnulls = [\"a.b\"]\nexpect = {{ outcome = \"OK\" }}\n"
                ),
                vec!["[tests] case #1 \"n\"", "cannot set \"a.b\" to null"],
            ),
            ("name = \"\"\n".to_owned(), vec!["`name` is empty"]),
        ];
        for (text, fragments) in cases {
            let err = invalid(&text);
            for fragment in fragments {
                assert!(
                    err.contains(fragment),
                    "missing {fragment:?} in:\n{err}\nfor:\n{text}"
                );
            }
        }
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = r#"
            name = "t"
            [[evaluate]]
            id = "one"
            when = "a &&"
            outcome = "NOK"
            reason = "lower"
            [[approve]]
            id = "two"
            when = "b ||"
            outcome = "NOK"
            reason = "B"
        "#;
        let err = invalid(text);
        assert!(err.contains("rule \"one\": `when`"), "{err}");
        assert!(err.contains("rule \"one\": reason"), "{err}");
        assert!(err.contains("[approve] rule \"two\""), "{err}");
    }

    #[test]
    fn version_is_the_sha256_of_the_file_and_changes_with_content() {
        let a = "name = \"a\"\n";
        let b = "name = \"a\"\n# comment\n";
        let va = Policy::parse(a, "a").unwrap().version().to_owned();
        let vb = Policy::parse(b, "b").unwrap().version().to_owned();
        assert_eq!(va, hex::encode(Sha256::digest(a.as_bytes())));
        assert_eq!(va.len(), 64);
        assert_ne!(va, vb);
        assert_eq!(Policy::parse(a, "c").unwrap().version(), va);
    }

    #[test]
    fn golden_facts_merge_deeply_and_set_nulls() {
        let policy = Policy::parse(
            r#"
            name = "t"
            [test_defaults.evaluate]
            facts = { registry = { found = true, mismatch = false }, age = 30 }
            nulls = ["provider"]
            [[tests]]
            name = "n"
            point = "evaluate"
            facts = { registry = { mismatch = true }, when = 1979-05-27 }
            nulls = ["age", "person.dateOfBirth"]
            expect = { outcome = "OK" }
            "#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            policy.golden_cases()[0].facts,
            json!({
                "registry": {"found": true, "mismatch": true},
                "age": null,
                "provider": null,
                "person": {"dateOfBirth": null},
                "when": "1979-05-27",
            })
        );
    }

    #[test]
    fn empty_policy_answers_the_default() {
        let policy = Policy::parse(
            "name = \"t\"\n[defaults]\noutcome = \"WAIT\"\nreason = \"MANUAL_REVIEW\"\n",
            "t",
        )
        .unwrap();
        let v = policy.decide(DecisionPoint::Approve, None, &json!({}));
        assert_eq!(
            (v.outcome, v.result_reason.as_str()),
            (Outcome::Wait, "MANUAL_REVIEW")
        );
        assert!(v.trace.is_empty());
    }
}
