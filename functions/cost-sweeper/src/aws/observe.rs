//! Reads the fleet from SageMaker through the shared adapter: every
//! endpoint (paginated), then each one's endpoint, config and tags with
//! bounded concurrency, and models only where the planner needs them. A
//! failure on one endpoint is recorded against it and does not stop the
//! others. Throttling is retried by the SDK's standard retry mode (see
//! `shared::aws::load_sdk_config`).

use crate::domain::fleet::{EndpointView, Variant};
use futures::stream::{self, StreamExt};
use shared::aws::sagemaker::{ModelInfo, ResourceSummary, SageMaker};
use shared::aws::{AwsError, AwsErrorKind};

#[derive(Clone, Debug)]
pub struct Observer {
    sagemaker: SageMaker,
}

impl Observer {
    pub fn new(sagemaker: SageMaker) -> Self {
        Observer { sagemaker }
    }

    /// Every endpoint whose name contains `fragment` (all when `None`).
    pub async fn list_endpoints(
        &self,
        fragment: Option<&str>,
    ) -> Result<Vec<ResourceSummary>, AwsError> {
        self.sagemaker.list_endpoints(fragment).await
    }

    /// Describes every listed endpoint, `concurrency` at a time. Endpoints
    /// deleted since the listing are left out; other failures are returned
    /// per endpoint.
    pub async fn describe_all(
        &self,
        listed: &[ResourceSummary],
        concurrency: usize,
    ) -> (Vec<EndpointView>, Vec<(String, AwsError)>) {
        let results: Vec<(String, Result<Option<EndpointView>, AwsError>)> = stream::iter(listed)
            .map(|l| async move { (l.name.clone(), self.describe(l).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut views = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (name, result) in results {
            match result {
                Ok(Some(view)) => views.push(view),
                Ok(None) => {}
                Err(e) => errors.push((name, e)),
            }
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        (views, errors)
    }

    async fn describe(&self, listed: &ResourceSummary) -> Result<Option<EndpointView>, AwsError> {
        let Some(endpoint) = self
            .sagemaker
            .describe_endpoint_detail(&listed.name)
            .await?
        else {
            return Ok(None);
        };
        let config_name = endpoint.info.config_name.clone();
        let config = self
            .sagemaker
            .describe_endpoint_config_detail(&config_name)
            .await?
            .ok_or_else(|| AwsError {
                operation: "DescribeEndpointConfig",
                kind: AwsErrorKind::NotFound,
                code: None,
                message: format!(
                    "endpoint config {config_name} of {} does not exist",
                    listed.name
                ),
            })?;
        let tags = self.sagemaker.list_tags(&listed.arn).await?;
        let variants = config
            .variants
            .into_iter()
            .map(|v| Variant {
                instance_count: endpoint
                    .current_instance_counts
                    .get(&v.name)
                    .copied()
                    .or(v.initial_instance_count)
                    .unwrap_or(0),
                name: v.name,
                model_name: v.model_name,
                instance_type: v.instance_type,
                serverless: v.serverless,
            })
            .collect();
        Ok(Some(EndpointView {
            name: listed.name.clone(),
            arn: listed.arn.clone(),
            status: endpoint.info.status,
            failure_reason: endpoint.info.failure_reason,
            created: endpoint.created,
            last_modified: endpoint.last_modified,
            config_name,
            variants,
            // Data capture is on when configured and not explicitly disabled.
            data_capture: config.data_capture || endpoint.data_capture,
            async_inference: config.async_inference,
            kms_volume_key: config.kms_volume_key,
            tags,
            model: None,
        }))
    }

    /// Fills in the model of each endpoint `wanted` selects.
    pub async fn describe_models(
        &self,
        views: &mut [EndpointView],
        wanted: impl Fn(&EndpointView) -> bool,
        concurrency: usize,
    ) -> Vec<(String, AwsError)> {
        let jobs: Vec<(usize, String)> = views
            .iter()
            .enumerate()
            .filter(|(_, v)| wanted(v))
            .filter_map(|(i, v)| Some((i, v.variants.first()?.model_name.clone()?)))
            .collect();
        let results: Vec<(usize, Result<Option<ModelInfo>, AwsError>)> = stream::iter(jobs)
            .map(|(i, model)| async move { (i, self.sagemaker.describe_model(&model).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut errors = Vec::new();
        for (i, result) in results {
            match result {
                Ok(model) => views[i].model = model,
                Err(e) => errors.push((views[i].name.clone(), e)),
            }
        }
        errors
    }
}
