//! Reads the fleet from SageMaker: every endpoint (paginated), then each
//! one's endpoint, config and tags with bounded concurrency, and models only
//! where the planner needs them. A failure on one endpoint is recorded
//! against it and does not stop the others. Throttling is retried by the
//! SDK's standard retry mode (see `shared::aws::load_sdk_config`).

use crate::fleet::{Container, EndpointView, ModelView, Variant};
use aws_sdk_sagemaker::Client;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use shared::aws::sagemaker::{SageMaker, ServerlessSpec};
use shared::aws::{AwsError, AwsErrorKind};
use std::collections::BTreeMap;

/// An endpoint as ListEndpoints shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub arn: String,
}

#[derive(Clone, Debug)]
pub struct Observer {
    client: Client,
    sagemaker: SageMaker,
}

fn to_chrono(time: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

fn count(value: Option<i32>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

impl Observer {
    pub fn new(client: Client) -> Self {
        Observer {
            sagemaker: SageMaker::new(client.clone()),
            client,
        }
    }

    /// Every endpoint whose name contains `fragment` (all when `None`).
    pub async fn list_endpoints(&self, fragment: Option<&str>) -> Result<Vec<Listed>, AwsError> {
        let mut pages = self
            .client
            .list_endpoints()
            .set_name_contains(fragment.map(str::to_string))
            .max_results(100)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListEndpoints", e))?;
            for summary in page.endpoints() {
                found.push(Listed {
                    name: summary.endpoint_name().unwrap_or_default().to_string(),
                    arn: summary.endpoint_arn().unwrap_or_default().to_string(),
                });
            }
        }
        Ok(found)
    }

    /// Describes every listed endpoint, `concurrency` at a time. Endpoints
    /// deleted since the listing are left out; other failures are returned
    /// per endpoint.
    pub async fn describe_all(
        &self,
        listed: &[Listed],
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

    async fn describe(&self, listed: &Listed) -> Result<Option<EndpointView>, AwsError> {
        let endpoint = match self
            .client
            .describe_endpoint()
            .endpoint_name(&listed.name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e))
        {
            Ok(out) => out,
            Err(e) if e.kind == AwsErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let config_name = endpoint
            .endpoint_config_name()
            .unwrap_or_default()
            .to_string();
        let config = self
            .client
            .describe_endpoint_config()
            .endpoint_config_name(&config_name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", e))?;
        let tags = self.sagemaker.list_tags(&listed.arn).await?;

        let current_counts: BTreeMap<&str, Option<i32>> = endpoint
            .production_variants()
            .iter()
            .map(|v| {
                (
                    v.variant_name().unwrap_or_default(),
                    v.current_instance_count(),
                )
            })
            .collect();
        let variants = config
            .production_variants()
            .iter()
            .map(|v| Variant {
                name: v.variant_name().unwrap_or_default().to_string(),
                model_name: v.model_name().map(str::to_string),
                instance_type: v.instance_type().map(|t| t.as_str().to_string()),
                instance_count: count(
                    current_counts
                        .get(v.variant_name().unwrap_or_default())
                        .copied()
                        .flatten()
                        .or(v.initial_instance_count()),
                ),
                serverless: v.serverless_config().map(|s| ServerlessSpec {
                    memory_size_mb: count(s.memory_size_in_mb()),
                    max_concurrency: count(s.max_concurrency()),
                    provisioned_concurrency: s.provisioned_concurrency().map(|p| count(Some(p))),
                }),
            })
            .collect();
        // Data capture is on when configured and not explicitly disabled.
        let data_capture = config
            .data_capture_config()
            .is_some_and(|d| d.enable_capture() != Some(false) && !d.capture_options().is_empty())
            || endpoint
                .data_capture_config()
                .is_some_and(|d| d.enable_capture() == Some(true));
        Ok(Some(EndpointView {
            name: listed.name.clone(),
            arn: listed.arn.clone(),
            status: endpoint
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            failure_reason: endpoint.failure_reason().map(str::to_string),
            created: to_chrono(endpoint.creation_time()),
            last_modified: to_chrono(endpoint.last_modified_time()),
            config_name,
            variants,
            data_capture,
            async_inference: config.async_inference_config().is_some(),
            kms_volume_key: config.kms_key_id().is_some_and(|k| !k.is_empty()),
            tags,
            model: None,
        }))
    }

    /// The model, or `None` when it no longer exists.
    pub async fn describe_model(&self, name: &str) -> Result<Option<ModelView>, AwsError> {
        let out = match self
            .client
            .describe_model()
            .model_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModel", e))
        {
            Ok(out) => out,
            Err(e) if e.kind == AwsErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let to_container = |c: &aws_sdk_sagemaker::types::ContainerDefinition| Container {
            image: c.image().map(str::to_string),
            model_data_url: c.model_data_url().map(str::to_string),
            environment: c
                .environment()
                .map(|env| env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            mode: c.mode().map(|m| m.as_str().to_string()),
            model_package: c.model_package_name().map(str::to_string),
        };
        let mut containers: Vec<Container> = out
            .primary_container()
            .map(to_container)
            .into_iter()
            .collect();
        containers.extend(out.containers().iter().map(to_container));
        Ok(Some(ModelView {
            name: name.to_string(),
            execution_role_arn: out.execution_role_arn().unwrap_or_default().to_string(),
            containers,
            vpc: out.vpc_config().is_some_and(|v| !v.subnets().is_empty()),
            network_isolation: out.enable_network_isolation() == Some(true),
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
        let results: Vec<(usize, Result<Option<ModelView>, AwsError>)> = stream::iter(jobs)
            .map(|(i, model)| async move { (i, self.describe_model(&model).await) })
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
