//! The deployer's configuration, read once at start-up from its environment.

use crate::retry::DEFAULT_MAX_DEPLOY_WAIT;
use shared::env::{self, EnvError};
use shared::model_package::WatchedGroups;
use shared::settings::SettingsLayer;
use std::time::Duration;

/// Superseded model/config pairs kept per endpoint for rollback.
pub const DEFAULT_KEEP_SUPERSEDED: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct DeployerConfig {
    /// Region the endpoints are created in (the function's own).
    pub region: String,
    /// Role SageMaker assumes to pull the artifact and image.
    pub execution_role_arn: String,
    /// Keys below this prefix are deployed; the first folder below it names
    /// the endpoint. Ends with `/`, or is empty for the whole bucket.
    pub models_prefix: String,
    /// The lowest-precedence settings layer.
    pub defaults: SettingsLayer,
    pub keep_superseded: usize,
    /// Where the deployer writes the code archives it packs (a prefix of
    /// the models bucket outside `models_prefix`, so its uploads never
    /// trigger a deploy and never land on a user's key). Ends with `/`.
    pub packed_prefix: String,
    /// Model Registry groups whose approvals deploy (empty: off).
    pub watched_groups: WatchedGroups,
}

/// `PACKED_CODE_PREFIX` when unset.
pub const DEFAULT_PACKED_PREFIX: &str = "packed/";

impl DeployerConfig {
    /// Reads `EXECUTION_ROLE_ARN`, `MODELS_PREFIX`, `KEEP_SUPERSEDED`,
    /// `WATCHED_MODEL_PACKAGE_GROUPS` (comma-separated) and the
    /// `DEFAULT_*` settings. Bad values stop the function at start-up, where
    /// the error is visible in the init logs, rather than on every event.
    pub fn from_env(region: Option<String>) -> Result<Self, EnvError> {
        let region = region.ok_or_else(|| EnvError::Missing {
            name: "AWS_REGION".into(),
            why: "endpoints are created in the function's Region".into(),
        })?;
        let execution_role_arn = env::required(
            "EXECUTION_ROLE_ARN",
            "the IAM role SageMaker uses to read the artifact and pull the image",
        )?;
        if !execution_role_arn.starts_with("arn:") || !execution_role_arn.contains(":role/") {
            return Err(EnvError::Invalid {
                name: "EXECUTION_ROLE_ARN".into(),
                value: execution_role_arn,
                expected: "an IAM role ARN, arn:aws:iam::<account>:role/<name>".into(),
            });
        }
        let defaults = SettingsLayer {
            image_uri: env::optional("DEFAULT_IMAGE_URI"),
            framework: env::optional("DEFAULT_FRAMEWORK"),
            framework_version: env::optional("DEFAULT_FRAMEWORK_VERSION"),
            memory_size_mb: env::parsed("DEFAULT_MEMORY_SIZE_MB", "one of 1024, 2048, ..., 6144")?,
            max_concurrency: env::parsed("DEFAULT_MAX_CONCURRENCY", "a number from 1 to 200")?,
            provisioned_concurrency: env::parsed(
                "DEFAULT_PROVISIONED_CONCURRENCY",
                "a number from 1 to the max concurrency",
            )?,
            ..SettingsLayer::default()
        };
        let models_prefix = shared::env::key_prefix(
            &env::optional("MODELS_PREFIX").unwrap_or_else(|| "models/".into()),
        );
        let packed_prefix = shared::env::key_prefix(
            &env::optional("PACKED_CODE_PREFIX").unwrap_or_else(|| DEFAULT_PACKED_PREFIX.into()),
        );
        check_packed_prefix(&models_prefix, &packed_prefix)?;
        Ok(DeployerConfig {
            region,
            execution_role_arn,
            models_prefix,
            defaults,
            keep_superseded: env::parsed("KEEP_SUPERSEDED", "a whole number (0 or more)")?
                .unwrap_or(DEFAULT_KEEP_SUPERSEDED),
            packed_prefix,
            watched_groups: WatchedGroups::from_env_value(
                &env::optional("WATCHED_MODEL_PACKAGE_GROUPS").unwrap_or_default(),
            ),
        })
    }

    /// `Some(rest)` when `key` is below the models prefix.
    pub fn below_prefix<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(&self.models_prefix)
    }

    /// The endpoint name a key implies: the first folder below the prefix.
    pub fn folder_endpoint_name<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = self.below_prefix(key)?;
        let (first, _) = rest.split_once('/')?;
        (!first.is_empty()).then_some(first)
    }
}

/// Packed archives must not be below the models prefix (a repacked
/// `model.tar.gz` there would be deployed as a model of its own) nor the
/// models prefix below them.
fn check_packed_prefix(models: &str, packed: &str) -> Result<(), EnvError> {
    if packed.is_empty() || packed.starts_with(models) || models.starts_with(packed) {
        return Err(EnvError::Invalid {
            name: "PACKED_CODE_PREFIX".into(),
            value: packed.into(),
            expected: format!(
                "a key prefix such as {DEFAULT_PACKED_PREFIX} that neither contains nor lies below MODELS_PREFIX ({models:?})"
            ),
        });
    }
    Ok(())
}

/// The deploy queue's side: where it is, how long an upload may wait for
/// its endpoint, where alerts and outcome metrics go.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// URL of the queue the event source mapping reads, for postponing a
    /// message; `None` leaves retries to the queue's visibility timeout.
    pub queue_url: Option<String>,
    pub max_deploy_wait: Duration,
    pub notify_topic_arn: Option<String>,
    pub metrics_namespace: String,
}

impl QueueConfig {
    /// Reads `DEPLOY_QUEUE_URL`, `MAX_DEPLOY_WAIT_MINUTES` (default 120),
    /// `NOTIFY_TOPIC_ARN` and `METRICS_NAMESPACE`.
    pub fn from_env() -> Result<Self, EnvError> {
        let minutes: u64 = env::parsed("MAX_DEPLOY_WAIT_MINUTES", "a whole number of minutes")?
            .unwrap_or(DEFAULT_MAX_DEPLOY_WAIT.as_secs() / 60);
        Ok(QueueConfig {
            queue_url: env::optional("DEPLOY_QUEUE_URL"),
            max_deploy_wait: Duration::from_secs(minutes.saturating_mul(60)),
            notify_topic_arn: env::optional("NOTIFY_TOPIC_ARN"),
            metrics_namespace: env::optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| shared::emf::DEFAULT_NAMESPACE.to_string()),
        })
    }
}

/// `LEDGER_TABLE`: the DynamoDB table of the deployment ledger, if any.
pub fn ledger_table() -> Option<String> {
    env::optional("LEDGER_TABLE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str) -> DeployerConfig {
        DeployerConfig {
            region: "us-east-1".into(),
            execution_role_arn: "arn:aws:iam::123456789012:role/x".into(),
            models_prefix: shared::env::key_prefix(prefix),
            defaults: SettingsLayer::default(),
            keep_superseded: 2,
            packed_prefix: DEFAULT_PACKED_PREFIX.into(),
            watched_groups: WatchedGroups::default(),
        }
    }

    #[test]
    fn packed_archives_stay_out_of_the_models_prefix() {
        assert!(check_packed_prefix("models/", "packed/").is_ok());
        for (models, packed) in [
            ("models/", "models/packed/"),
            ("models/", "models/"),
            ("", "packed/"),
            ("a/b/", "a/"),
            ("models/", ""),
        ] {
            let err = check_packed_prefix(models, packed).expect_err(packed);
            assert!(err.to_string().contains("PACKED_CODE_PREFIX"), "{err}");
        }
    }

    #[test]
    fn endpoint_name_is_the_first_folder_below_the_prefix() {
        let c = config("models");
        assert_eq!(
            c.folder_endpoint_name("models/fraud-detector/v3/model.tar.gz"),
            Some("fraud-detector")
        );
        assert_eq!(
            c.folder_endpoint_name("models/fraud/model.tar.gz"),
            Some("fraud")
        );
        assert_eq!(c.folder_endpoint_name("models/model.tar.gz"), None);
        assert_eq!(c.folder_endpoint_name("other/fraud/model.tar.gz"), None);
        let root = config("");
        assert_eq!(
            root.folder_endpoint_name("fraud/v1/model.tar.gz"),
            Some("fraud")
        );
    }
}
