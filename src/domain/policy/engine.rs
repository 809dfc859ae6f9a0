//! Pluggable decision engines: anything that turns facts into rule results. The CEL policy
//! is one.

use futures_util::future::BoxFuture;

use super::cel_engine::ENGINE_NAME;
use super::file::Policy;
use super::verdict::{DecisionPoint, RuleResult};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::policy::RuleStatus;

    const POLICY: &str = r#"
        name = "t"
        [[approve]]
        id = "low-score"
        when = "score < 5.0"
        outcome = "WAIT"
        reason = "LOW_PRESENCE_SCORE"
    "#;

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
