//! Applies planned steps through SageMaker (and SNS). Every step records
//! its intent in tags before it changes anything, creates under
//! deterministic names ("already exists" is success), and re-reads the
//! endpoints right before deleting one: a run cut short, or a second run at
//! the same time, finds a state the planner knows how to continue.

use crate::aws::metrics::MetricsReader;
use crate::aws::tagging::{stamp, state_tags, tag_map, tag_text};
use crate::domain::fleet::migration_tags as tags;
use crate::domain::state::MigrationState;
use crate::domain::steps::{Action, CanaryRef, CanarySpec, OriginalRef};
use chrono::{DateTime, Utc};
use shared::aws::sagemaker::{Created, SageMaker, ServerlessSpec};
use shared::aws::service_quotas::ServiceQuotas;
use shared::aws::sns::Notifier;
use shared::aws::AwsError;
use shared::deployment::ENDPOINT_TAG;
use shared::smoke::SOURCE_TAG;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};

#[derive(Debug, Clone)]
pub struct Applier {
    pub sagemaker: SageMaker,
    pub notifier: Notifier,
    /// Re-reads an original's traffic right before it is deleted.
    pub metrics: MetricsReader,
    /// The Region's serverless quotas, checked before an original is
    /// deleted for its serverless replacement.
    pub quotas: ServiceQuotas,
    /// When the invocation ends (Lambda's deadline); a step never waits
    /// past it. `None` outside Lambda.
    pub deadline: Option<tokio::time::Instant>,
}

/// What applying a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done(String),
    /// The world changed since it was observed; the next run re-plans.
    Skipped(String),
}

impl Applier {
    pub async fn apply(&self, action: &Action, now: DateTime<Utc>) -> Result<Applied, AwsError> {
        let at = stamp(now);
        match action {
            // The canary first, the record on the original after: a create
            // AWS refuses (a role, a quota) leaves the original untouched, so
            // no run keeps retrying a migration that cannot start. A run cut
            // short in between finds the original eligible and unrecorded,
            // and starts again under the same names.
            Action::Start { original, canary } => {
                let created = self.create_canary(canary, original).await?;
                if let Applied::Skipped(why) = created {
                    return Ok(Applied::Skipped(why));
                }
                self.sagemaker
                    .add_tags(
                        &original.arn,
                        &state_tags(
                            MigrationState::Canary,
                            &[
                                (tags::CANARY, &canary.endpoint_name),
                                (tags::STRATEGY, canary.strategy.as_str()),
                                (tags::STARTED_AT, &at),
                                (tags::CHANGED_AT, &at),
                            ],
                        ),
                    )
                    .await?;
                Ok(created)
            }
            Action::CreateCanary { canary } => {
                let original = OriginalRef {
                    name: canary.original.clone(),
                    arn: String::new(),
                    config_name: canary.persistent_config.clone(),
                };
                self.create_canary(canary, &original).await
            }
            Action::Fail {
                original_arn,
                reason,
                canary,
            } => {
                self.sagemaker
                    .add_tags(
                        original_arn,
                        &state_tags(
                            MigrationState::Failed,
                            &[(tags::FAILURE, &tag_text(reason)), (tags::CHANGED_AT, &at)],
                        ),
                    )
                    .await?;
                if let Some(canary) = canary {
                    self.remove_canary(canary).await?;
                }
                Ok(Applied::Done(format!("migration failed: {reason}")))
            }
            Action::RemoveCanary { canary } => self.remove_canary(canary).await,
            Action::AnnounceSwitch {
                original,
                canary_name,
                canary_arn,
            } => {
                let message = format!(
                    "The serverless endpoint {canary_name} passed its smoke test and serves the same model as {}. \
                     Switch callers to {canary_name}: {} is deleted once it has had no invocations for the drain period \
                     (its endpoint config {} is kept; revert by invoking the cost sweeper with {{\"revert\": \"{}\"}}).",
                    original.name, original.name, original.config_name, original.name
                );
                let subject = format!(
                    "SageMaker endpoint {}: switch callers to {canary_name}",
                    original.name
                );
                let sent = self.notifier.notify(&subject, &message).await?;
                tracing::info!(endpoint = %original.name, canary = %canary_name, message_id = ?sent, "{message}");
                self.sagemaker
                    .add_tags(canary_arn, &state_tags(MigrationState::AwaitingSwitch, &[]))
                    .await?;
                self.sagemaker
                    .add_tags(
                        &original.arn,
                        &state_tags(MigrationState::AwaitingSwitch, &[(tags::CHANGED_AT, &at)]),
                    )
                    .await?;
                Ok(Applied::Done(format!(
                    "callers told to switch to {canary_name}"
                )))
            }
            Action::RetireOriginal {
                original,
                canary_arn,
                traffic,
            } => {
                if let Some(changed) = self
                    .changed_since_planned(original, MigrationState::AwaitingSwitch, canary_arn)
                    .await?
                {
                    return Ok(Applied::Skipped(changed));
                }
                if let Some(held) = self
                    .held_by_traffic(&original.name, traffic, "retirement", canary_arn, now)
                    .await?
                {
                    return Ok(Applied::Skipped(held));
                }
                self.sagemaker
                    .add_tags(
                        canary_arn,
                        &state_tags(
                            MigrationState::RetiringOriginal,
                            &[
                                (tags::PERSISTENT_CONFIG, &original.config_name),
                                (tags::CHANGED_AT, &at),
                            ],
                        ),
                    )
                    .await?;
                self.sagemaker.delete_endpoint(&original.name).await?;
                self.sagemaker
                    .add_tags(canary_arn, &state_tags(MigrationState::Completed, &[]))
                    .await?;
                Ok(Applied::Done(format!(
                    "deleted {} (drained); its config {} is kept for revert",
                    original.name, original.config_name
                )))
            }
            Action::MarkCompleted { arn } => {
                self.sagemaker
                    .add_tags(arn, &state_tags(MigrationState::Completed, &[]))
                    .await?;
                Ok(Applied::Done("migration completed".into()))
            }
            Action::ReplaceOriginal {
                original,
                canary,
                traffic,
            } => self.replace_original(original, canary, traffic, now).await,
            Action::Hold {
                name,
                canary_arn,
                kind,
                reason,
            } => {
                let told = self.notify_hold(name, canary_arn, *kind, reason).await?;
                Ok(Applied::Done(if told {
                    format!("{reason}; people were told")
                } else {
                    format!("{reason}; people were told on an earlier run")
                }))
            }
            Action::CreateReplacement {
                name,
                canary,
                persistent_config,
            } => {
                self.create_replacement(name, canary, persistent_config, &at)
                    .await
            }
            Action::FinishReplacement {
                replacement_arn,
                canary,
            } => {
                self.sagemaker
                    .add_tags(
                        replacement_arn,
                        &state_tags(MigrationState::Completed, &[(tags::CHANGED_AT, &at)]),
                    )
                    .await?;
                if let Some(canary) = canary {
                    // Only the canary endpoint: the recreated endpoint runs its config and model.
                    self.sagemaker.delete_endpoint(&canary.name).await?;
                }
                Ok(Applied::Done(
                    "recreated as serverless; canary endpoint removed".into(),
                ))
            }
            Action::RollBackReplacement {
                name,
                persistent_config,
                canary_name,
                reason,
            } => {
                self.roll_back_replacement(
                    name,
                    persistent_config,
                    canary_name.as_deref(),
                    reason,
                    &at,
                )
                .await
            }
            Action::RevertInPlace {
                name,
                arn,
                persistent_config,
            } => {
                self.sagemaker
                    .update_endpoint(name, persistent_config)
                    .await?;
                self.sagemaker
                    .add_tags(
                        arn,
                        &state_tags(MigrationState::Reverted, &[(tags::CHANGED_AT, &at)]),
                    )
                    .await?;
                Ok(Applied::Done(format!(
                    "updating {name} back to {persistent_config}"
                )))
            }
            Action::RecreateOriginal {
                name,
                persistent_config,
                canary_name,
            } => {
                let mut endpoint_tags =
                    state_tags(MigrationState::Reverted, &[(tags::CHANGED_AT, &at)]);
                if let Some(canary) = canary_name {
                    endpoint_tags.insert(tags::CANARY.into(), canary.clone());
                }
                self.sagemaker
                    .create_endpoint(name, persistent_config, &endpoint_tags)
                    .await?;
                Ok(Applied::Done(format!(
                    "recreating {name} from its persistent config {persistent_config}"
                )))
            }
            Action::Abort {
                original_arn,
                canary,
            } => {
                self.sagemaker
                    .add_tags(
                        original_arn,
                        &state_tags(MigrationState::Reverted, &[(tags::CHANGED_AT, &at)]),
                    )
                    .await?;
                match canary {
                    Some(canary) => self.remove_canary(canary).await,
                    None => Ok(Applied::Done(
                        "migration stopped; the persistent endpoint keeps serving".into(),
                    )),
                }
            }
        }
    }

    async fn create_canary(
        &self,
        canary: &CanarySpec,
        original: &OriginalRef,
    ) -> Result<Applied, AwsError> {
        let mut owned = tag_map(&[
            (MANAGED_BY_KEY, MANAGED_BY_VALUE),
            (tags::MIGRATION_OF, &canary.original),
        ]);
        self.sagemaker
            .create_model_from_image(
                &canary.model_name,
                &canary.image,
                canary.model_data_url.as_deref(),
                &canary.environment,
                &canary.execution_role_arn,
                &owned,
            )
            .await?;
        let mut config_tags = owned.clone();
        config_tags.insert(ENDPOINT_TAG.into(), canary.endpoint_name.clone());
        config_tags.insert(
            tags::PERSISTENT_CONFIG.into(),
            canary.persistent_config.clone(),
        );
        if let Some(source) = &canary.smoke_test_source {
            config_tags.insert(SOURCE_TAG.into(), source.clone());
        }
        let spec = ServerlessSpec {
            memory_size_mb: canary.memory_mb,
            max_concurrency: canary.max_concurrency,
            provisioned_concurrency: None,
        };
        self.sagemaker
            .create_serverless_config(&canary.config_name, &canary.model_name, &spec, &config_tags)
            .await?;
        owned.extend(canary.user_tags.clone());
        owned.insert(tags::STRATEGY.into(), canary.strategy.as_str().into());
        owned.insert(
            tags::PERSISTENT_CONFIG.into(),
            canary.persistent_config.clone(),
        );
        let created = self
            .sagemaker
            .create_endpoint(&canary.endpoint_name, &canary.config_name, &owned)
            .await?;
        if created == Created::AlreadyExisted {
            if let Some(taken) = self.taken_by_another(canary).await? {
                return Ok(Applied::Skipped(taken));
            }
        }
        Ok(Applied::Done(format!(
            "canary {} ({:?}) for {} with {} MB",
            canary.endpoint_name, created, original.name, canary.memory_mb
        )))
    }

    /// `Some(why)` when the endpoint under the canary's name is not this
    /// migration's canary (someone else's endpoint, or another original's).
    async fn taken_by_another(&self, canary: &CanarySpec) -> Result<Option<String>, AwsError> {
        let Some(current) = self
            .sagemaker
            .describe_endpoint(&canary.endpoint_name)
            .await?
        else {
            return Ok(None);
        };
        let current_tags = self.sagemaker.list_tags(&current.arn).await?;
        let ours = current_tags.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && current_tags.get(tags::MIGRATION_OF) == Some(&canary.original);
        Ok((!ours).then(|| {
            format!(
                "canary-name-taken: {} already exists and is not the canary of {}; nothing recorded on {}",
                canary.endpoint_name, canary.original, canary.original
            )
        }))
    }

    async fn remove_canary(&self, canary: &CanaryRef) -> Result<Applied, AwsError> {
        // Re-read: only an endpoint that still says it is this migration's
        // canary, and is managed by the pipeline, is deleted.
        let Some(current) = self.sagemaker.describe_endpoint(&canary.name).await? else {
            return Ok(Applied::Done(format!(
                "canary {} already gone",
                canary.name
            )));
        };
        let current_tags = self.sagemaker.list_tags(&current.arn).await?;
        let ours = current_tags.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && current_tags.contains_key(tags::MIGRATION_OF);
        if !ours || current.config_name != canary.config_name {
            return Ok(Applied::Skipped(format!(
                "{} changed since it was observed; left alone",
                canary.name
            )));
        }
        self.sagemaker.delete_endpoint(&canary.name).await?;
        if !canary.config_in_use_elsewhere {
            self.sagemaker
                .delete_endpoint_config(&canary.config_name)
                .await?;
            if let Some(model) = &canary.model_name {
                self.sagemaker.delete_model(model).await?;
            }
        }
        Ok(Applied::Done(format!("removed canary {}", canary.name)))
    }

    /// `Some(what changed)` when the original no longer matches the plan.
    async fn changed_since_planned(
        &self,
        original: &OriginalRef,
        expected_state: MigrationState,
        canary_arn: &str,
    ) -> Result<Option<String>, AwsError> {
        let Some(current) = self.sagemaker.describe_endpoint(&original.name).await? else {
            return Ok(Some(format!("{} is already gone", original.name)));
        };
        if current.config_name != original.config_name || current.pending_config_name.is_some() {
            return Ok(Some(format!(
                "{} now runs {}; re-planning next run",
                original.name, current.config_name
            )));
        }
        let current_tags = self.sagemaker.list_tags(&current.arn).await?;
        if let Some(held) = self
            .held_by_opt_out(&original.name, &current_tags, "retirement", canary_arn)
            .await?
        {
            return Ok(Some(held));
        }
        let now_state = current_tags.get(tags::STATE).map(String::as_str);
        if now_state != Some(expected_state.as_str()) {
            return Ok(Some(format!(
                "{} is in migration state {now_state:?} now",
                original.name
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "apply_tests.rs"]
pub(super) mod tests;
