//! The smoke tester's configuration, read once at start-up.

use shared::env::{self, EnvError};
use std::time::Duration;

pub const DEFAULT_WARM_INVOCATIONS: usize = 2;
const MAX_WARM_INVOCATIONS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeTesterConfig {
    /// CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// Warm calls after the cold one.
    pub warm_invocations: usize,
    /// SNS topic for failure notifications (none: log only).
    pub notify_topic_arn: Option<String>,
    pub rollback_on_failure: bool,
    /// Pause between claiming a test and checking the claim held: two
    /// invocations racing for one config both see the later claim.
    pub claim_settle: Duration,
    /// A claim older than this belongs to a test that died; take it over.
    pub claim_lease: Duration,
}

impl SmokeTesterConfig {
    pub fn from_env() -> Result<Self, EnvError> {
        let warm_invocations = env::parsed::<usize>("WARM_INVOCATIONS", "a number from 0 to 20")?
            .unwrap_or(DEFAULT_WARM_INVOCATIONS);
        if warm_invocations > MAX_WARM_INVOCATIONS {
            return Err(EnvError::Invalid {
                name: "WARM_INVOCATIONS".into(),
                value: warm_invocations.to_string(),
                expected: "a number from 0 to 20".into(),
            });
        }
        Ok(SmokeTesterConfig {
            metrics_namespace: env::optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| shared::emf::DEFAULT_NAMESPACE.into()),
            warm_invocations,
            notify_topic_arn: env::optional("NOTIFY_TOPIC_ARN"),
            rollback_on_failure: env::parsed::<bool>("ROLLBACK_ON_FAILURE", "true or false")?
                .unwrap_or(true),
            claim_settle: Duration::from_millis(
                env::parsed("CLAIM_SETTLE_MS", "milliseconds")?.unwrap_or(1000),
            ),
            claim_lease: Duration::from_secs(600),
        })
    }
}
