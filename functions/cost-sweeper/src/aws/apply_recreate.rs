//! The applier's recreate steps: replacing the original under its own
//! name, and rolling a failed replacement back to the kept persistent config.

use crate::aws::apply::{Applied, Applier};
use crate::aws::tagging::{stamp, state_tags, tag_map, tag_text};
use crate::domain::fleet::migration_tags as tags;
use crate::domain::state::MigrationState;
use crate::domain::steps::{carried_tags, CanaryRef, OriginalRef, TrafficCheck};
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, Utc};
use shared::aws::AwsError;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a step waits at most for a deleted endpoint to disappear
/// before it leaves the rest to the next run. SageMaker shows `Deleting`
/// for minutes, and the name is down meanwhile: giving up after one
/// minute left it down until the next scheduled run (a day by default).
const DELETE_WAIT: Duration = Duration::from_secs(10 * 60);
/// What a step keeps of the invocation after the wait: the replacement's
/// CreateEndpoint and tags, and the sweep's report.
const AFTER_WAIT: Duration = Duration::from_secs(60);
const DELETE_POLL: Duration = Duration::from_secs(2);

impl Applier {
    pub(crate) async fn roll_back_replacement(
        &self,
        name: &str,
        persistent_config: &str,
        canary_name: Option<&str>,
        reason: &str,
        at: &str,
    ) -> Result<Applied, AwsError> {
        let user = match self.sagemaker.describe_endpoint(name).await? {
            Some(current) if current.status != EndpointStatus::Failed => {
                return Ok(Applied::Skipped(format!(
                    "{name} is now {}",
                    current.status
                )))
            }
            Some(current) => carried_tags(&self.sagemaker.list_tags(&current.arn).await?),
            None => BTreeMap::new(),
        };
        self.sagemaker.delete_endpoint(name).await?;
        if !self.wait_gone(name).await? {
            return Ok(Applied::Skipped(format!(
                "{name} still deleting; the next run recreates it"
            )));
        }
        self.recreate_failed(name, persistent_config, user, reason, canary_name, at)
            .await
    }

    /// Recreates `name` from its persistent config with the migration
    /// recorded as failed (the next run removes what is left of the canary).
    async fn recreate_failed(
        &self,
        name: &str,
        persistent_config: &str,
        user_tags: BTreeMap<String, String>,
        reason: &str,
        canary_name: Option<&str>,
        at: &str,
    ) -> Result<Applied, AwsError> {
        let mut endpoint_tags = user_tags;
        endpoint_tags.extend(state_tags(
            MigrationState::Failed,
            &[
                (tags::FAILURE, &tag_text(reason)),
                (tags::STRATEGY, "recreate"),
                (tags::CHANGED_AT, at),
            ],
        ));
        if let Some(canary) = canary_name {
            endpoint_tags.insert(tags::CANARY.into(), canary.to_string());
        }
        self.sagemaker
            .create_endpoint(name, persistent_config, &endpoint_tags)
            .await?;
        Ok(Applied::Done(format!(
            "{reason}; recreated {name} from its persistent config {persistent_config}"
        )))
    }

    pub(crate) async fn replace_original(
        &self,
        original: &OriginalRef,
        canary: &CanaryRef,
        traffic: &TrafficCheck,
        now: DateTime<Utc>,
    ) -> Result<Applied, AwsError> {
        let at = stamp(now);
        let at = at.as_str();
        let current = self.sagemaker.describe_endpoint(&original.name).await?;
        if let Some(current) = &current {
            if current.config_name != original.config_name {
                return Ok(Applied::Skipped(format!(
                    "{} now runs {}",
                    original.name, current.config_name
                )));
            }
            let current_tags = self.sagemaker.list_tags(&current.arn).await?;
            if let Some(held) = self
                .held_by_opt_out(&original.name, &current_tags, "replacement", &canary.arn)
                .await?
            {
                return Ok(Applied::Skipped(held));
            }
            if let Some(held) = self
                .held_by_traffic(&original.name, traffic, "replacement", &canary.arn, now)
                .await?
            {
                return Ok(Applied::Skipped(held));
            }
        }
        let canary_now = match self.sagemaker.describe_endpoint(&canary.name).await? {
            Some(c) if c.status == EndpointStatus::InService => c,
            other => {
                let status = other
                    .map(|c| c.status.to_string())
                    .unwrap_or_else(|| "gone".into());
                return Ok(Applied::Skipped(format!(
                    "canary {} is {status}",
                    canary.name
                )));
            }
        };
        if current.is_some() {
            if let Some(held) = self.held_by_quota(&original.name, &canary_now).await? {
                return Ok(Applied::Skipped(held));
            }
        }
        let canary_tags = state_tags(
            MigrationState::Replacing,
            &[
                (tags::PERSISTENT_CONFIG, &original.config_name),
                (tags::CHANGED_AT, at),
            ],
        );
        self.sagemaker.add_tags(&canary.arn, &canary_tags).await?;
        if current.is_some() {
            self.sagemaker
                .add_tags(
                    &original.arn,
                    &state_tags(MigrationState::Replacing, &[(tags::CHANGED_AT, at)]),
                )
                .await?;
            self.sagemaker.delete_endpoint(&original.name).await?;
        }
        if !self.wait_gone(&original.name).await? {
            return Ok(Applied::Skipped(format!(
                "{} still deleting; the next run recreates it",
                original.name
            )));
        }
        self.create_replacement(&original.name, canary, &original.config_name, at)
            .await
    }

    /// Creates `name` from the canary's config. If AWS refuses it for good
    /// (a quota, a rejected config) after the original was deleted, the
    /// original is recreated from its persistent config at once, so the
    /// name is down only for the deletion and that creation.
    pub(crate) async fn create_replacement(
        &self,
        name: &str,
        canary: &CanaryRef,
        persistent: &str,
        at: &str,
    ) -> Result<Applied, AwsError> {
        let mut endpoint_tags = canary.user_tags.clone();
        endpoint_tags.extend(tag_map(&[
            (MANAGED_BY_KEY, MANAGED_BY_VALUE),
            (tags::MIGRATION_OF, name),
            (tags::STATE, MigrationState::Replacement.as_str()),
            (tags::PERSISTENT_CONFIG, persistent),
            (tags::CANARY, &canary.name),
            (tags::STRATEGY, "recreate"),
            (tags::CHANGED_AT, at),
        ]));
        match self
            .sagemaker
            .create_endpoint(name, &canary.config_name, &endpoint_tags)
            .await
        {
            Err(e) if !e.is_retryable() => {
                let reason = format!("the serverless replacement could not be created: {e}");
                let user = canary.user_tags.clone();
                return self
                    .recreate_failed(name, persistent, user, &reason, Some(&canary.name), at)
                    .await;
            }
            other => other?,
        };
        Ok(Applied::Done(format!(
            "recreating {name} as serverless from {} (unavailable until it is InService)",
            canary.config_name
        )))
    }

    /// Waits (bounded) until the endpoint no longer exists.
    async fn wait_gone(&self, name: &str) -> Result<bool, AwsError> {
        let mut deadline = tokio::time::Instant::now() + DELETE_WAIT;
        if let Some(end) = self.deadline {
            // Never past the invocation's end: Lambda would stop the step
            // half done; stopping here leaves it to the next run instead.
            let before_end = end.checked_sub(AFTER_WAIT).unwrap_or(end);
            deadline = deadline.min(before_end);
        }
        loop {
            if self.sagemaker.describe_endpoint(name).await?.is_none() {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(DELETE_POLL).await;
        }
    }
}

#[cfg(test)]
#[path = "apply_recreate_tests.rs"]
mod tests;
