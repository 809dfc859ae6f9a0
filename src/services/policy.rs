//! The decision policy in force: read from its file (or the built-in demo policy), checked
//! against its own golden cases, swapped atomically on reload (SIGHUP or the back office),
//! and run with any compiled engines beside it ([`Decider`]). The rules themselves are the
//! pure domain's ([`crate::domain::policy`]); this module owns the file and the swap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::domain::policy::{
    CheckReport, DecisionEngine, DecisionPoint, Policy, PolicyError, Verdict, check_policy,
    golden_failures,
};

/// Reads and validates a policy file.
///
/// # Errors
/// The file cannot be read, is not UTF-8, or is not a valid policy.
pub fn load_file(path: &Path) -> Result<Policy, PolicyError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PolicyError::Read {
        path: origin.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| PolicyError::Parse {
        path: origin.clone(),
        message: format!("not UTF-8: {e}"),
    })?;
    Policy::parse(&text, &origin)
}

/// Validates a policy file and runs its golden cases (the `policy check` command). `Err`
/// means the policy is invalid.
///
/// # Errors
/// As [`load_file`].
pub fn check_file(path: &Path) -> Result<CheckReport, PolicyError> {
    Ok(check_policy(&load_file(path)?))
}

/// Holds the policy in force. Readers take a snapshot ([`current`](Self::current)); a reload
/// replaces it only with a policy that validates and passes its own golden cases.
#[derive(Debug)]
pub struct PolicyHolder {
    current: ArcSwap<Policy>,
    path: Option<PathBuf>,
}

/// What [`PolicyHolder::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// No policy file is configured: the built-in policy stays.
    NotConfigured,
    /// The file was read, validated and is now in force (the version may be unchanged).
    Reloaded {
        previous_version: String,
        version: String,
    },
}

impl PolicyHolder {
    /// Loads `path` (or the built-in demo policy when `None`). Fails, with a message naming the
    /// file and the rule, if the policy is invalid or one of its golden cases fails.
    pub fn load(path: Option<&Path>) -> Result<Self, PolicyError> {
        let policy = match path {
            Some(path) => load_checked(path)?,
            None => Policy::demo()?,
        };
        Ok(Self {
            current: ArcSwap::from_pointee(policy),
            path: path.map(Path::to_path_buf),
        })
    }

    /// A fixed policy that [`reload`](Self::reload) never replaces (tests, embedding).
    pub fn from_policy(policy: Policy) -> Self {
        Self {
            current: ArcSwap::from_pointee(policy),
            path: None,
        }
    }

    /// The policy file, if one is configured.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A snapshot of the policy in force.
    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Re-reads the configured file; swaps it in only if it validates and its golden cases
    /// pass. On error the previous policy stays in force.
    pub fn reload(&self) -> Result<ReloadOutcome, PolicyError> {
        let Some(path) = &self.path else {
            return Ok(ReloadOutcome::NotConfigured);
        };
        let policy = load_checked(path)?;
        let version = policy.version().to_owned();
        let previous = self.current.swap(Arc::new(policy));
        Ok(ReloadOutcome::Reloaded {
            previous_version: previous.version().to_owned(),
            version,
        })
    }
}

fn load_checked(path: &Path) -> Result<Policy, PolicyError> {
    let policy = load_file(path)?;
    let failures = golden_failures(&policy);
    if failures.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError::GoldenTestsFailed {
            path: policy.origin().to_owned(),
            failures,
        })
    }
}

/// Reloads the policy on every SIGHUP, logging the new version or why the old one stays.
/// Must be called within a tokio runtime; fails if the signal handler cannot be installed.
pub fn spawn_reload_on_sighup(
    holder: Arc<PolicyHolder>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let holder = Arc::clone(&holder);
            match tokio::task::spawn_blocking(move || holder.reload()).await {
                Ok(Ok(ReloadOutcome::Reloaded {
                    previous_version,
                    version,
                })) => tracing::info!(
                    policy.version = %version,
                    policy.previous_version = %previous_version,
                    "decision policy reloaded"
                ),
                Ok(Ok(ReloadOutcome::NotConfigured)) => tracing::info!(
                    "SIGHUP: no decision policy file configured, the built-in policy stays"
                ),
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "decision policy not reloaded, the previous one stays in force"
                ),
                Err(e) => tracing::error!(error = %e, "decision policy reload task failed"),
            }
        }
    }))
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
    use std::io::Write;

    use futures_util::future::BoxFuture;
    use serde_json::json;

    use super::*;
    use crate::domain::policy::{Outcome, RuleResult, RuleStatus};

    const GOOD: &str = r#"
        name = "v1"
        [[evaluate]]
        id = "expired"
        when = "anyDocumentExpired"
        outcome = "NOK"
        reason = "DOCUMENT_EXPIRED"
        [[tests]]
        name = "expired"
        point = "evaluate"
        facts = { anyDocumentExpired = true }
        expect = { outcome = "NOK", reasons = ["DOCUMENT_EXPIRED"] }
    "#;

    fn write(file: &mut tempfile::NamedTempFile, text: &str) {
        let f = file.as_file_mut();
        f.set_len(0).unwrap();
        std::io::Seek::rewind(f).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f.sync_all().unwrap();
    }

    #[test]
    fn without_a_file_the_demo_policy_is_used_and_reload_is_a_no_op() {
        let holder = PolicyHolder::load(None).unwrap();
        assert_eq!(holder.current().name(), "demo");
        assert_eq!(holder.reload().unwrap(), ReloadOutcome::NotConfigured);
    }

    #[test]
    fn reload_keeps_the_old_policy_on_a_broken_file_and_swaps_on_a_good_one() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write(&mut file, GOOD);
        let holder = PolicyHolder::load(Some(file.path())).unwrap();
        let v1 = holder.current().version().to_owned();
        let facts = serde_json::json!({"anyDocumentExpired": true});

        // Broken: a syntax error in a condition.
        write(
            &mut file,
            &GOOD.replace("anyDocumentExpired\"", "anyDocumentExpired &&\""),
        );
        let err = holder.reload().unwrap_err().to_string();
        assert!(err.contains("\"expired\""), "{err}");
        assert_eq!(holder.current().version(), v1);

        // Broken: valid, but its golden case fails.
        write(
            &mut file,
            &GOOD.replace("outcome = \"NOK\"\n", "outcome = \"WAIT\"\n"),
        );
        let err = holder.reload().unwrap_err();
        assert!(
            matches!(err, PolicyError::GoldenTestsFailed { .. }),
            "{err}"
        );
        assert_eq!(holder.current().version(), v1);

        // Good: a WAIT rule with matching golden case.
        let v2_text = GOOD.replace("\"NOK\"", "\"WAIT\"");
        write(&mut file, &v2_text);
        let snapshot = holder.current();
        match holder.reload().unwrap() {
            ReloadOutcome::Reloaded {
                previous_version,
                version,
            } => {
                assert_eq!(previous_version, v1);
                assert_ne!(version, v1);
                assert_eq!(holder.current().version(), version);
            }
            other => panic!("{other:?}"),
        }
        // A snapshot taken before the swap keeps deciding with the old policy.
        assert_eq!(
            snapshot
                .decide(DecisionPoint::Evaluate, None, &facts)
                .outcome,
            Outcome::Nok
        );
        assert_eq!(
            holder
                .current()
                .decide(DecisionPoint::Evaluate, None, &facts)
                .outcome,
            Outcome::Wait
        );
    }

    #[test]
    fn load_fails_on_a_missing_file() {
        let err = PolicyHolder::load(Some(Path::new("/nonexistent/policy.toml"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/policy.toml"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sighup_handler_installs() {
        let holder = Arc::new(PolicyHolder::load(None).unwrap());
        let handle = spawn_reload_on_sighup(holder).unwrap();
        handle.abort();
    }

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
}
