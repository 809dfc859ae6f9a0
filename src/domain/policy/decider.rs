//! Pluggable engines and the decider that combines them with the reloadable policy.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::cel_engine::ENGINE_NAME;
use super::file::Policy;
use super::holder::PolicyHolder;
use super::verdict::{DecisionPoint, RuleResult, Verdict};

/// Something that turns facts into rule results: the CEL policy, compiled rules, a screening
/// client… Results with [`RuleStatus::Error`](super::RuleStatus::Error) count as `WAIT`
/// (with the policy's error reason when they carry none): an engine that cannot decide must say
/// so, never answer `not_matched`.
pub trait DecisionEngine: Send + Sync {
    /// Shown in each result's `engine` field.
    fn name(&self) -> &str;

    fn evaluate<'a>(
        &'a self,
        point: DecisionPoint,
        process_type: Option<&'a str>,
        facts: &'a serde_json::Value,
    ) -> BoxFuture<'a, Vec<RuleResult>>;
}

impl DecisionEngine for Policy {
    fn name(&self) -> &str {
        ENGINE_NAME
    }

    fn evaluate<'a>(
        &'a self,
        point: DecisionPoint,
        process_type: Option<&'a str>,
        facts: &'a serde_json::Value,
    ) -> BoxFuture<'a, Vec<RuleResult>> {
        Box::pin(std::future::ready(self.evaluate_rules(
            point,
            process_type,
            facts,
        )))
    }
}

/// The reloadable CEL policy plus any extra engines.
#[derive(Clone)]
pub struct Decider {
    policy: Arc<PolicyHolder>,
    engines: Vec<Arc<dyn DecisionEngine>>,
}

impl Decider {
    pub fn new(policy: Arc<PolicyHolder>) -> Self {
        Self {
            policy,
            engines: Vec::new(),
        }
    }

    /// Adds an engine run after the policy's rules.
    pub fn with_engine(mut self, engine: Arc<dyn DecisionEngine>) -> Self {
        self.engines.push(engine);
        self
    }

    pub fn policy(&self) -> &Arc<PolicyHolder> {
        &self.policy
    }

    /// Runs the current policy (one snapshot for the whole decision, even across a reload) and
    /// every extra engine, in order, and combines their results.
    pub async fn decide(
        &self,
        point: DecisionPoint,
        process_type: Option<&str>,
        facts: &serde_json::Value,
    ) -> Verdict {
        let policy = self.policy.current();
        let mut trace = policy.evaluate_rules(point, process_type, facts);
        for engine in &self.engines {
            let mut results = engine.evaluate(point, process_type, facts).await;
            for result in &mut results {
                if result.engine.is_empty() {
                    result.engine = engine.name().to_owned();
                }
            }
            trace.extend(results);
        }
        policy.combine(trace)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::configuration::Outcome;
    use crate::domain::policy::RuleStatus;

    /// A stand-in for an asynchronous screening client.
    struct Screening {
        answer: RuleStatus,
    }

    impl DecisionEngine for Screening {
        fn name(&self) -> &str {
            "sanctions"
        }

        fn evaluate<'a>(
            &'a self,
            _point: DecisionPoint,
            _process_type: Option<&'a str>,
            _facts: &'a serde_json::Value,
        ) -> BoxFuture<'a, Vec<RuleResult>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                let (outcome, reason, message) = match self.answer {
                    RuleStatus::Error => (Outcome::Nok, "", "screening service unavailable"),
                    _ => (Outcome::Nok, "SANCTIONS_HIT", "listed person"),
                };
                vec![RuleResult {
                    rule: "sanctions-list".into(),
                    engine: String::new(),
                    result: self.answer,
                    outcome,
                    reason: reason.into(),
                    message: message.into(),
                }]
            })
        }
    }

    const POLICY: &str = r#"
        name = "t"
        [[approve]]
        id = "low-score"
        when = "score < 5.0"
        outcome = "WAIT"
        reason = "LOW_PRESENCE_SCORE"
    "#;

    fn decider(answer: RuleStatus) -> Decider {
        let holder = PolicyHolder::from_policy(Policy::parse(POLICY, "t.toml").unwrap());
        Decider::new(Arc::new(holder)).with_engine(Arc::new(Screening { answer }))
    }

    #[tokio::test]
    async fn extra_engine_results_join_the_lattice() {
        let facts = json!({"score": 3.0});
        let cases = [
            (RuleStatus::NotMatched, Outcome::Wait, "LOW_PRESENCE_SCORE"),
            (RuleStatus::Matched, Outcome::Nok, "SANCTIONS_HIT"),
            (
                RuleStatus::Error,
                Outcome::Wait,
                "LOW_PRESENCE_SCORE,POLICY_RULE_ERROR",
            ),
        ];
        for (answer, outcome, reason) in cases {
            let v = decider(answer)
                .decide(DecisionPoint::Approve, None, &facts)
                .await;
            assert_eq!(v.outcome, outcome, "{answer:?}");
            assert_eq!(v.result_reason, reason, "{answer:?}");
            assert_eq!(v.trace.len(), 2);
            assert_eq!(v.trace[0].engine, "cel");
            assert_eq!(v.trace[1].engine, "sanctions");
            assert_eq!(v.policy_version.len(), 64);
        }
    }

    #[tokio::test]
    async fn policy_is_an_engine_itself() {
        let policy = Policy::parse(POLICY, "t.toml").unwrap();
        let engine: &dyn DecisionEngine = &policy;
        let results = engine
            .evaluate(DecisionPoint::Approve, None, &json!({"score": 9.0}))
            .await;
        assert_eq!(engine.name(), "cel");
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].result, RuleStatus::NotMatched);
    }
}
