//! Running compiled CEL rules against the facts.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, Program, Value};

use super::verdict::Outcome;
use super::verdict::{RuleResult, RuleStatus};

/// Name of the CEL policy in a trace's `engine` field.
pub const ENGINE_NAME: &str = "cel";

/// A validated, compiled rule of a policy file.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub when: String,
    pub program: Program,
    pub outcome: Outcome,
    pub reason: String,
    pub error_reason: String,
}

/// The facts bound as CEL variables, one per top-level key, converted once per decision.
pub struct Facts<'f> {
    context: Context<'f, 'f>,
    problem: Option<String>,
}

impl<'f> Facts<'f> {
    pub fn new(env: &Arc<Env>, facts: &'f serde_json::Value) -> Self {
        let mut context = Context::with_env(Arc::clone(env));
        let problem = match facts {
            serde_json::Value::Object(map) => {
                for (name, value) in map {
                    context.add_variable_as_val(name.as_str(), json_to_val(value));
                }
                None
            }
            other => Some(format!(
                "the facts are a JSON {}, not an object",
                json_type(other)
            )),
        };
        Self { context, problem }
    }

    /// Runs one rule: `true` matches, `false` does not, anything else is an error.
    pub fn run(&self, rule: &Rule) -> RuleResult {
        let (result, outcome, reason, message) = match &self.problem {
            Some(problem) => error(rule, problem.clone()),
            None => match rule.program.execute(&self.context) {
                Ok(Value::Bool(true)) => (
                    RuleStatus::Matched,
                    rule.outcome,
                    rule.reason.clone(),
                    rule.description.clone(),
                ),
                Ok(Value::Bool(false)) => (
                    RuleStatus::NotMatched,
                    rule.outcome,
                    rule.reason.clone(),
                    rule.description.clone(),
                ),
                Ok(other) => error(
                    rule,
                    format!("the condition gave a {}, not a bool", other.type_of()),
                ),
                Err(e) => error(rule, describe_error(&e, &rule.when)),
            },
        };
        RuleResult {
            rule: rule.id.clone(),
            engine: ENGINE_NAME.to_owned(),
            result,
            outcome,
            reason,
            message,
        }
    }
}

fn error(rule: &Rule, message: String) -> (RuleStatus, Outcome, String, String) {
    (
        RuleStatus::Error,
        Outcome::Wait,
        rule.error_reason.clone(),
        message,
    )
}

/// JSON to CEL, borrowing the facts' strings: `null` → `null`; integers → `int` (`uint` only
/// above `i64::MAX`); other numbers → `double`; strings, lists and objects (string keys) as such.
pub fn json_to_val(value: &serde_json::Value) -> Box<dyn Val + '_> {
    match value {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        serde_json::Value::String(s) => Box::new(CelString::from(s.as_str())),
        serde_json::Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_val).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(map) => {
            let entries: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = map
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val(v)))
                .collect();
            Box::new(CelMap::from(entries))
        }
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The evaluation error without the values involved (only their types): traces are stored and
/// must not copy personal data out of the facts. Names are shown only when they are written in
/// the rule itself.
fn describe_error(e: &ExecutionError, when: &str) -> String {
    let t = |v: &Value| v.type_of().to_string();
    match e {
        ExecutionError::UndeclaredReference(name) => {
            format!("undeclared reference to '{name}' (no such fact)")
        }
        ExecutionError::NoSuchKey(key) if when.contains(key.as_str()) => {
            format!("no such key: {key}")
        }
        ExecutionError::NoSuchKey(_) => "no such key".to_owned(),
        ExecutionError::NoSuchOverload(overload) => overload.to_string(),
        ExecutionError::UnexpectedType { .. }
        | ExecutionError::InvalidArgumentCount { .. }
        | ExecutionError::MissingArgumentOrTarget => e.to_string(),
        ExecutionError::ValuesNotComparable(a, b) => {
            format!("{} can not be compared to {}", t(a), t(b))
        }
        ExecutionError::UnsupportedBinaryOperator(op, a, b) => {
            format!(
                "unsupported binary operator '{op}' for {} and {}",
                t(a),
                t(b)
            )
        }
        ExecutionError::UnsupportedTargetType { target } => {
            format!("invalid argument type: {}", t(target))
        }
        ExecutionError::NotSupportedAsMethod { method, target } => {
            format!("method '{method}' not supported on type {}", t(target))
        }
        ExecutionError::UnsupportedKeyType(v) => format!("unable to use a {} as a key", t(v)),
        ExecutionError::UnsupportedIndex(i, target) => {
            format!("cannot use a {} to index a {}", t(i), t(target))
        }
        ExecutionError::FunctionError { function, .. } => {
            format!("error executing function '{function}'")
        }
        ExecutionError::DivisionByZero(_) => "division by zero".to_owned(),
        ExecutionError::RemainderByZero(_) => "remainder by zero".to_owned(),
        ExecutionError::Overflow(op, _, _) => format!("overflow in '{op}'"),
        ExecutionError::IndexOutOfBounds(_) => "index out of bounds".to_owned(),
        ExecutionError::DuplicateKey(_) => "duplicate map key".to_owned(),
        ExecutionError::InternalError(_) => "internal CEL error".to_owned(),
        _ => "CEL evaluation error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(when: &str) -> Rule {
        let env = Env::stdlib();
        Rule {
            id: "r".into(),
            description: "described".into(),
            when: when.into(),
            program: env.compile(when).unwrap(),
            outcome: Outcome::Nok,
            reason: "REASON".into(),
            error_reason: "RULE_ERROR".into(),
        }
    }

    fn run(when: &str, facts: serde_json::Value) -> RuleResult {
        let env = Arc::new(Env::stdlib());
        Facts::new(&env, &facts).run(&rule(when))
    }

    #[test]
    fn json_numbers_compare_as_written_in_rules() {
        let facts = json!({
            "score": 10.0, "low": 4.5, "age": 17, "adult": 18, "big": u64::MAX,
            "person": {"surname": "Nováková"}, "tags": ["CZE", "SVK"], "nothing": null,
        });
        let cases = [
            ("score < 5.0", false),
            ("low < 5.0", true),
            ("score >= 10.0", true),
            ("score > 5", true),
            ("age < 18", true),
            ("adult < 18", false),
            ("age == 17", true),
            ("age < 18.0", true),
            ("big > 0", true),
            ("person.surname == 'Nováková'", true),
            ("'CZE' in tags", true),
            ("tags.all(t, t in ['CZE', 'SVK', 'AUT'])", true),
            ("size(tags) == 2", true),
            ("nothing == null", true),
            ("score != null && score < 5.0", false),
            ("nothing != null && nothing < 5.0", false),
            ("has(person.surname)", true),
            ("has(person.givenNames)", false),
        ];
        for (when, expected) in cases {
            let r = run(when, facts.clone());
            let status = if expected {
                RuleStatus::Matched
            } else {
                RuleStatus::NotMatched
            };
            assert_eq!(r.result, status, "{when}: {}", r.message);
        }
    }

    #[test]
    fn evaluation_errors_are_wait_with_the_error_reason() {
        let facts = json!({"age": null, "person": {"surname": "Secret"}, "score": 4.0, "n": 1});
        let cases = [
            ("age < 18", "null"),
            ("missing", "undeclared reference to 'missing'"),
            ("person.givenNames == 'x'", "no such key: givenNames"),
            ("score == 'x' || score < 'y'", "overload"),
            ("score", "gave a float, not a bool"),
            ("person", "gave a map, not a bool"),
            ("n / 0 == 1", "division by zero"),
        ];
        for (when, fragment) in cases {
            let r = run(when, facts.clone());
            assert_eq!(r.result, RuleStatus::Error, "{when}");
            assert_eq!(r.outcome, Outcome::Wait, "{when}");
            assert_eq!(r.reason, "RULE_ERROR", "{when}");
            assert!(r.message.contains(fragment), "{when}: {}", r.message);
            assert!(!r.message.contains("Secret"), "{when}: {}", r.message);
        }
    }

    #[test]
    fn error_messages_do_not_leak_fact_values() {
        let facts = json!({"person": {"surname": "Secret"}, "m": {"a": 1}});
        for when in [
            "person.surname + 1 == 2",
            "m[person.surname] == 1",
            "person.surname < 3",
            "person.surname.foo()",
        ] {
            let r = run(when, facts.clone());
            assert_eq!(r.result, RuleStatus::Error, "{when}");
            assert!(!r.message.contains("Secret"), "{when}: {}", r.message);
        }
    }

    #[test]
    fn facts_that_are_not_an_object_fail_every_rule() {
        let r = run("true", json!([1, 2]));
        assert_eq!(r.result, RuleStatus::Error);
        assert!(r.message.contains("array"), "{}", r.message);
    }

    #[test]
    fn matched_and_not_matched_carry_the_rule() {
        let r = run("true", json!({}));
        assert_eq!(r.result, RuleStatus::Matched);
        assert_eq!(
            (
                r.outcome,
                r.reason.as_str(),
                r.message.as_str(),
                r.engine.as_str()
            ),
            (Outcome::Nok, "REASON", "described", "cel")
        );
        let r = run("1 == 2", json!({}));
        assert_eq!(r.result, RuleStatus::NotMatched);
    }
}
