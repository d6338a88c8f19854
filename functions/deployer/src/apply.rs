//! Acting on a decision: create model and config, then create or update
//! the endpoint; treat a racing twin's work as our own when it is the same
//! deployment, and remove what a failed attempt created.

use crate::deploy::{Deployer, Done};
use crate::outcome::{DeployError, Status};
use crate::plan::Decision;
use aws_sdk_sagemaker::types::EndpointStatus;
use shared::aws::sagemaker::{Created, ServerlessSpec};
use shared::aws::AwsErrorKind;
use shared::deployment::{DeploymentRecord, PREVIOUS_CONFIG_TAG};
use shared::settings::DeploySettings;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeMap;
use tracing::warn;

impl Deployer {
    pub(crate) async fn apply(
        &self,
        decision: Decision,
        mut desired: DeploymentRecord,
        settings: &DeploySettings,
    ) -> Result<Done, DeployError> {
        let endpoint = settings.endpoint_name.clone();
        let done = |status, message: String, desired: &DeploymentRecord| Done {
            status,
            endpoint: Some(endpoint.clone()),
            model: Some(desired.model_name.clone()),
            config: Some(desired.config_name.clone()),
            message,
        };
        match decision {
            Decision::AlreadyCurrent { status } => Ok(done(
                Status::Unchanged,
                format!("endpoint already runs this deployment ({status})"),
                &desired,
            )),
            Decision::SkipStale { why } => Ok(done(
                Status::Skipped,
                format!("stale event: {why}"),
                &desired,
            )),
            Decision::Refuse(refusal) => Err(DeployError::Refused { endpoint, refusal }),
            Decision::UpdateCapacity {
                config,
                endpoint_arn,
                from,
                to,
            } => {
                self.update_capacity(&desired, settings, config, &endpoint_arn, (from, to))
                    .await
            }
            Decision::Create => {
                let message = format!(
                    "creating endpoint with {} MB, max concurrency {}",
                    settings.memory_size_mb, settings.max_concurrency
                );
                self.create_endpoint_now(&desired, settings, message).await
            }
            Decision::Recreate {
                failed_config,
                reason,
            } => {
                self.delete_failed(&endpoint, &failed_config, reason.as_deref())
                    .await?;
                let message = format!(
                    "recreating endpoint: it was Failed on {failed_config}{}; deleted it and creating it with {} MB, max concurrency {}",
                    reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                    settings.memory_size_mb,
                    settings.max_concurrency
                );
                self.create_endpoint_now(&desired, settings, message).await
            }
            Decision::Update {
                previous_config,
                endpoint_arn,
            } => {
                desired.replaces_config = Some(previous_config.clone());
                let created = self.create_resources(&desired, settings).await?;
                match self
                    .sagemaker
                    .update_endpoint(&endpoint, &desired.config_name)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.kind == AwsErrorKind::InProgress => {
                        return self
                            .after_race(
                                &desired,
                                done(
                                    Status::Unchanged,
                                    "a concurrent delivery of this event is updating the endpoint"
                                        .into(),
                                    &desired,
                                ),
                            )
                            .await;
                    }
                    Err(e) => {
                        if !e.is_retryable() {
                            self.undo(&desired, created).await;
                        }
                        return Err(e.into());
                    }
                }
                let tags = self.endpoint_tags(settings, Some(&previous_config));
                self.sagemaker.add_tags(&endpoint_arn, &tags).await?;
                Ok(done(
                    Status::Updated,
                    format!("updating endpoint from {previous_config}"),
                    &desired,
                ))
            }
        }
    }

    /// Creates model, config and endpoint (the endpoint must not exist).
    async fn create_endpoint_now(
        &self,
        desired: &DeploymentRecord,
        settings: &DeploySettings,
        message: String,
    ) -> Result<Done, DeployError> {
        let endpoint = &desired.endpoint_name;
        let done = |status, message: String| Done {
            status,
            endpoint: Some(endpoint.clone()),
            model: Some(desired.model_name.clone()),
            config: Some(desired.config_name.clone()),
            message,
        };
        let created = self.create_resources(desired, settings).await?;
        let endpoint_tags = self.endpoint_tags(settings, None);
        match self
            .sagemaker
            .create_endpoint(endpoint, &desired.config_name, &endpoint_tags)
            .await
        {
            Ok(Created::New) => Ok(done(Status::Created, message)),
            Ok(Created::AlreadyExisted) => {
                self.after_race(
                    desired,
                    done(
                        Status::Unchanged,
                        "a concurrent delivery of this event created the endpoint".into(),
                    ),
                )
                .await
            }
            Err(e) => {
                if !e.is_retryable() {
                    self.undo(desired, created).await;
                }
                Err(e.into())
            }
        }
    }

    /// Deletes a `Failed` endpoint, after checking once more (right before
    /// the delete) that it is still failed on the config the plan saw.
    async fn delete_failed(
        &self,
        endpoint: &str,
        failed_config: &str,
        reason: Option<&str>,
    ) -> Result<(), DeployError> {
        let now = self.sagemaker.describe_endpoint(endpoint).await?;
        match now {
            Some(ep) if ep.status == EndpointStatus::Failed && ep.config_name == failed_config => {
                self.sagemaker.delete_endpoint(endpoint).await?;
            }
            // Already gone (a twin deleted it): create it.
            None => {}
            Some(ep) => {
                return Err(DeployError::LostRace {
                    endpoint: endpoint.to_string(),
                    config: ep.config_name,
                })
            }
        }
        // AWS shows the endpoint `Deleting` for a while; it cannot be
        // created again until it is gone, so the deploy waits (retryable)
        // and a later try, planning from what it finds, creates it.
        match self.sagemaker.describe_endpoint(endpoint).await? {
            None => Ok(()),
            Some(ep) => Err(DeployError::DeletedFailed {
                endpoint: endpoint.to_string(),
                failed: format!(
                    "{failed_config}{}",
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                ),
                status: ep.status,
            }),
        }
    }

    /// Creates the model and the config; "already exists" is success since
    /// the names pin down the content.
    async fn create_resources(
        &self,
        desired: &DeploymentRecord,
        settings: &DeploySettings,
    ) -> Result<(Created, Created), DeployError> {
        let mut model_tags = settings.tags.clone();
        model_tags.insert(MANAGED_BY_KEY.into(), MANAGED_BY_VALUE.into());
        model_tags.insert(
            shared::deployment::ENDPOINT_TAG.into(),
            desired.endpoint_name.clone(),
        );
        let model = match desired.artifact.model_package() {
            // A registry deployment: SageMaker takes image and model data
            // from the package (what was approved is what runs).
            Some(package) => {
                self.sagemaker
                    .create_model_from_package(
                        &desired.model_name,
                        package,
                        &settings.environment,
                        &self.config.execution_role_arn,
                        &model_tags,
                    )
                    .await?
            }
            None => {
                self.sagemaker
                    .create_model(
                        &desired.model_name,
                        &settings.container.image_uri,
                        &settings
                            .container
                            .model_data_url
                            .clone()
                            .unwrap_or_else(|| desired.artifact.s3_url()),
                        &settings.environment,
                        &self.config.execution_role_arn,
                        &model_tags,
                    )
                    .await?
            }
        };
        let mut config_tags = settings.tags.clone();
        config_tags.extend(desired.to_tags()?);
        let spec = ServerlessSpec {
            memory_size_mb: settings.memory_size_mb,
            max_concurrency: settings.max_concurrency,
            provisioned_concurrency: settings.provisioned_concurrency,
        };
        match self
            .sagemaker
            .create_serverless_config(
                &desired.config_name,
                &desired.model_name,
                &spec,
                &config_tags,
            )
            .await
        {
            Ok(config) => Ok((model, config)),
            Err(e) => {
                if !e.is_retryable() {
                    self.undo(desired, (model, Created::AlreadyExisted)).await;
                }
                Err(e.into())
            }
        }
    }

    pub(crate) fn endpoint_tags(
        &self,
        settings: &DeploySettings,
        previous_config: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut tags = settings.tags.clone();
        tags.insert(MANAGED_BY_KEY.into(), MANAGED_BY_VALUE.into());
        if let Some(previous) = previous_config {
            tags.insert(PREVIOUS_CONFIG_TAG.into(), previous.into());
        }
        tags
    }

    /// After losing a race: success if the winner deployed the same config.
    async fn after_race(
        &self,
        desired: &DeploymentRecord,
        same: Done,
    ) -> Result<Done, DeployError> {
        let observed = self.observe(&desired.endpoint_name, None).await?;
        let live = observed
            .endpoint
            .as_ref()
            .map(|e| {
                e.pending_config_name
                    .clone()
                    .unwrap_or_else(|| e.config_name.clone())
            })
            .unwrap_or_default();
        if live == desired.config_name {
            Ok(same)
        } else {
            Err(DeployError::LostRace {
                endpoint: desired.endpoint_name.clone(),
                config: live,
            })
        }
    }

    /// Removes what this attempt created when the deploy cannot succeed, so
    /// a refused deploy leaves nothing behind. Best effort: cleanup::prune
    /// removes leftovers on a later deploy.
    async fn undo(&self, desired: &DeploymentRecord, created: (Created, Created)) {
        if created.1 == Created::New {
            if let Err(e) = self
                .sagemaker
                .delete_endpoint_config(&desired.config_name)
                .await
            {
                warn!(error = %e, config = %desired.config_name, "could not remove endpoint config after a failed deploy");
            }
        }
        if created.0 == Created::New {
            if let Err(e) = self.sagemaker.delete_model(&desired.model_name).await {
                warn!(error = %e, model = %desired.model_name, "could not remove model after a failed deploy");
            }
        }
    }
}
