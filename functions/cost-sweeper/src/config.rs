//! The sweeper's configuration (environment, read once at start-up) and the
//! options a direct invocation may override for one run.

use crate::domain::access::Allowed;
use crate::domain::prices::Prices;
use crate::domain::pricing::{PriceTable, PricingError};
use serde::Deserialize;
use shared::env::{self, EnvError};

/// How a migration moves an endpoint to serverless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// A new `<name>-serverless` endpoint; callers switch; the persistent one
    /// is deleted once it has drained.
    SideBySide,
    /// Same name: delete the persistent endpoint, recreate it serverless
    /// (a short unavailability window).
    Recreate,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "side-by-side" => Some(Strategy::SideBySide),
            "recreate" => Some(Strategy::Recreate),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SideBySide => "side-by-side",
            Strategy::Recreate => "recreate",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    pub region: String,
    /// Plan and report only (the default, so a first deployment changes nothing).
    pub dry_run: bool,
    /// New migrations started per run; in-flight ones always advance.
    pub max_new_migrations: usize,
    pub lookback_days: u32,
    /// Endpoints younger than this are left alone (their metrics are incomplete).
    pub grace_period_days: u32,
    /// Days without invocations before a side-by-side original is deleted.
    pub drain_days: u32,
    /// Smallest share of today's cost a migration must save (0 to 1): the
    /// break-even ratio serverless/instance must stay at or below 1 minus
    /// this. Replaces a fixed "idle" invocation count, which was far below
    /// break-even for most instances.
    pub min_saving_ratio: f64,
    /// Smallest estimated monthly saving (USD) worth a migration.
    pub min_monthly_saving: f64,
    pub default_strategy: Strategy,
    /// Appended to the persistent endpoint's name to name its canary.
    pub canary_suffix: String,
    pub serverless_max_concurrency: u32,
    /// A canary with no smoke-test verdict this long after it went
    /// InService has failed.
    pub smoke_test_timeout_minutes: i64,
    /// Only endpoints whose name contains this are swept.
    pub endpoint_name_contains: Option<String>,
    pub report_bucket: Option<String>,
    pub report_prefix: String,
    pub notify_topic_arn: Option<String>,
    /// CloudWatch namespace of the EMF metrics (shared with the smoke tester).
    pub metrics_namespace: String,
    /// Describe calls in flight at once.
    pub describe_concurrency: usize,
    /// The embedded (or overridden) table; a sweep puts the Price List
    /// API's answer in front of it for its run.
    pub prices: Prices,
    /// Execution roles the function may pass to SageMaker (its policy's
    /// iam:PassRole resources): a model with another role is not migrated.
    pub passable_roles: Allowed,
    /// Buckets the smoke tester may read: a smoke-test request elsewhere
    /// could never be read, so its endpoint is not migrated.
    pub smoke_test_buckets: Allowed,
    /// When this invocation ends (Lambda's deadline), so a step that waits
    /// stops in time; not a setting: `None` until the handler sets it.
    pub invocation_deadline: Option<tokio::time::Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

fn invalid(name: &str, value: impl ToString, expected: &str) -> EnvError {
    EnvError::Invalid {
        name: name.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

impl SweepConfig {
    /// The configuration with every setting at its default (what
    /// `from_env` uses for a variable that is not set) and the embedded
    /// prices. Tests start from it and change what they exercise.
    pub fn defaults(region: &str) -> Self {
        SweepConfig {
            region: region.to_string(),
            dry_run: true,
            max_new_migrations: 3,
            lookback_days: 7,
            grace_period_days: 7,
            drain_days: 1,
            min_saving_ratio: 0.25,
            min_monthly_saving: 10.0,
            default_strategy: Strategy::SideBySide,
            canary_suffix: "-serverless".into(),
            serverless_max_concurrency: 10,
            smoke_test_timeout_minutes: 60,
            endpoint_name_contains: None,
            report_bucket: None,
            report_prefix: "reports/".into(),
            notify_topic_arn: None,
            metrics_namespace: shared::emf::DEFAULT_NAMESPACE.into(),
            describe_concurrency: 8,
            prices: Prices::table_only(PriceTable::embedded()),
            // Nothing is passable or readable until the deployment says so
            // (template.yaml sets both from the stack's role, bucket and
            // parameters).
            passable_roles: Allowed::default(),
            smoke_test_buckets: Allowed::default(),
            invocation_deadline: None,
        }
    }

    pub fn from_env(region: Option<String>) -> Result<Self, ConfigError> {
        let region = region.ok_or_else(|| EnvError::Missing {
            name: "AWS_REGION".into(),
            why: "prices and endpoints are per Region".into(),
        })?;
        let d = SweepConfig::defaults(&region);
        let dry_run = match env::optional("DRY_RUN").as_deref() {
            None => d.dry_run,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(invalid("DRY_RUN", other, "true or false (default true)").into())
            }
        };
        let default_strategy = match env::optional("MIGRATION_STRATEGY") {
            None => d.default_strategy,
            Some(text) => Strategy::parse(&text)
                .ok_or_else(|| invalid("MIGRATION_STRATEGY", &text, "side-by-side or recreate"))?,
        };
        let lookback_days: u32 =
            env::parsed("LOOKBACK_DAYS", "whole days, 1 to 60")?.unwrap_or(d.lookback_days);
        if !(1..=60).contains(&lookback_days) {
            return Err(invalid("LOOKBACK_DAYS", lookback_days, "whole days, 1 to 60").into());
        }
        let drain_days: u32 =
            env::parsed("DRAIN_DAYS", "whole days, 1 to LOOKBACK_DAYS")?.unwrap_or(d.drain_days);
        if drain_days == 0 || drain_days > lookback_days {
            return Err(invalid("DRAIN_DAYS", drain_days, "whole days, 1 to LOOKBACK_DAYS").into());
        }
        let serverless_max_concurrency: u32 =
            env::parsed("SERVERLESS_MAX_CONCURRENCY", "1 to 200")?
                .unwrap_or(d.serverless_max_concurrency);
        if !(1..=200).contains(&serverless_max_concurrency) {
            return Err(invalid(
                "SERVERLESS_MAX_CONCURRENCY",
                serverless_max_concurrency,
                "1 to 200",
            )
            .into());
        }
        let canary_suffix = env::optional("CANARY_SUFFIX").unwrap_or(d.canary_suffix);
        if !shared::naming::is_valid_name(&format!("a{canary_suffix}")) {
            return Err(invalid(
                "CANARY_SUFFIX",
                &canary_suffix,
                "letters, digits and hyphens, e.g. -serverless",
            )
            .into());
        }
        let min_saving_ratio: f64 =
            env::parsed("MIN_SAVING_RATIO", "a share, 0 to 1")?.unwrap_or(d.min_saving_ratio);
        if !(0.0..=1.0).contains(&min_saving_ratio) {
            return Err(invalid("MIN_SAVING_RATIO", min_saving_ratio, "a share, 0 to 1").into());
        }
        let prices = match env::optional("PRICING_FILE") {
            Some(path) => Prices::table_only(PriceTable::with_override_file(&path)?),
            None => d.prices,
        };
        Ok(SweepConfig {
            region,
            dry_run,
            max_new_migrations: env::parsed("MAX_NEW_MIGRATIONS", "a whole number (0 or more)")?
                .unwrap_or(d.max_new_migrations),
            lookback_days,
            grace_period_days: env::parsed("GRACE_PERIOD_DAYS", "whole days (0 or more)")?
                .unwrap_or(d.grace_period_days),
            drain_days,
            min_saving_ratio,
            min_monthly_saving: env::parsed("MIN_MONTHLY_SAVING", "USD, e.g. 10")?
                .unwrap_or(d.min_monthly_saving),
            default_strategy,
            canary_suffix,
            serverless_max_concurrency,
            smoke_test_timeout_minutes: env::parsed("SMOKE_TEST_TIMEOUT_MINUTES", "whole minutes")?
                .unwrap_or(d.smoke_test_timeout_minutes),
            endpoint_name_contains: env::optional("ENDPOINT_NAME_CONTAINS"),
            report_bucket: env::optional("REPORT_BUCKET"),
            report_prefix: shared::env::key_prefix(
                &env::optional("REPORT_PREFIX").unwrap_or(d.report_prefix),
            ),
            notify_topic_arn: env::optional("NOTIFY_TOPIC_ARN"),
            metrics_namespace: env::optional("METRICS_NAMESPACE").unwrap_or(d.metrics_namespace),
            describe_concurrency: env::parsed("DESCRIBE_CONCURRENCY", "1 to 32")?
                .unwrap_or(d.describe_concurrency)
                .clamp(1, 32),
            prices,
            passable_roles: env::optional("PASSABLE_ROLE_ARNS")
                .map(|list| Allowed::parse(&list))
                .unwrap_or(d.passable_roles),
            smoke_test_buckets: env::optional("SMOKE_TEST_BUCKETS")
                .map(|list| Allowed::parse(&list))
                .unwrap_or(d.smoke_test_buckets),
            invocation_deadline: None,
        })
    }

    /// This run's configuration: the function's, with the invocation's overrides.
    pub fn for_request(&self, request: &SweepRequest) -> SweepConfig {
        let mut config = self.clone();
        if let Some(dry_run) = request.dry_run {
            config.dry_run = dry_run;
        }
        if let Some(max) = request.max_new_migrations {
            config.max_new_migrations = max;
        }
        if request.endpoint_name_contains.is_some() {
            config.endpoint_name_contains = request.endpoint_name_contains.clone();
        }
        config
    }
}

/// A direct invocation's options. A scheduled event carries none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    pub dry_run: Option<bool>,
    pub endpoint_name_contains: Option<String>,
    pub max_new_migrations: Option<usize>,
    /// Put this endpoint back on its kept persistent config instead of
    /// sweeping (applies unless `dry_run` is true).
    pub revert: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a sweep request ({0}); send a scheduled event, or {{\"dry_run\": bool, \"endpoint_name_contains\": str, \"max_new_migrations\": n}} or {{\"revert\": \"<endpoint>\"}}")]
pub struct BadRequest(pub String);

impl SweepRequest {
    /// A scheduled EventBridge event (`source: aws.events`) means "use the
    /// defaults"; anything else must be a request object.
    pub fn from_event(event: &serde_json::Value) -> Result<Self, BadRequest> {
        let scheduled = event.get("source").and_then(|s| s.as_str()) == Some("aws.events")
            || event.get("detail-type").and_then(|s| s.as_str()) == Some("Scheduled Event");
        if scheduled || event.is_null() {
            return Ok(SweepRequest::default());
        }
        serde_json::from_value(event.clone()).map_err(|e| BadRequest(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_events_use_the_defaults() {
        let event = serde_json::json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(
            SweepRequest::from_event(&event).unwrap(),
            SweepRequest::default()
        );
    }

    #[test]
    fn direct_invocations_override_and_typos_are_refused() {
        let request = SweepRequest::from_event(
            &serde_json::json!({"dry_run": false, "max_new_migrations": 1}),
        )
        .unwrap();
        assert_eq!(request.dry_run, Some(false));
        assert_eq!(request.max_new_migrations, Some(1));
        let err = SweepRequest::from_event(&serde_json::json!({"dryrun": false})).unwrap_err();
        assert!(err.to_string().contains("dryrun"), "{err}");
    }

    #[test]
    fn the_sample_events_parse() {
        let parse =
            |text: &str| SweepRequest::from_event(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(
            parse(include_str!("../../../events/scheduled-sweep.json")),
            SweepRequest::default()
        );
        let direct = parse(include_str!("../../../events/sweep-direct-invocation.json"));
        assert_eq!(direct.dry_run, Some(false));
        assert_eq!(direct.endpoint_name_contains.as_deref(), Some("fraud"));
        let revert = parse(include_str!("../../../events/sweep-revert.json"));
        assert_eq!(revert.revert.as_deref(), Some("fraud-detector"));
    }

    #[test]
    fn strategies_parse() {
        assert_eq!(Strategy::parse("recreate"), Some(Strategy::Recreate));
        assert_eq!(Strategy::parse("side-by-side"), Some(Strategy::SideBySide));
        assert_eq!(Strategy::parse("in-place"), None);
    }
}
