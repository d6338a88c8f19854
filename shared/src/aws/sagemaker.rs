//! The SageMaker calls the pipeline makes, each with its error classified.

use super::{AwsError, AwsErrorKind};
use aws_sdk_sagemaker::types::{
    ContainerDefinition, EndpointStatus, ProductionVariant, ProductionVariantServerlessConfig, Tag,
};
use aws_sdk_sagemaker::Client;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// The single variant of every serverless config the pipeline creates.
pub const VARIANT_NAME: &str = "AllTraffic";

/// Observed state of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    pub name: String,
    pub arn: String,
    /// `InService`, `Creating`, `Updating`, `Failed`, ... (`Unknown` for a
    /// status this SDK version does not know yet).
    pub status: EndpointStatus,
    pub config_name: String,
    /// Config an update in progress is moving to.
    pub pending_config_name: Option<String>,
    pub failure_reason: Option<String>,
}

impl EndpointInfo {
    /// True while SageMaker is changing the endpoint: no update is possible.
    pub fn is_busy(&self) -> bool {
        matches!(
            self.status,
            EndpointStatus::Creating
                | EndpointStatus::Updating
                | EndpointStatus::SystemUpdating
                | EndpointStatus::RollingBack
                | EndpointStatus::Deleting
                | EndpointStatus::UpdateRollbackFailed
        )
    }
}

/// Observed state of an endpoint config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfigInfo {
    pub name: String,
    pub arn: String,
    /// Every variant is serverless (then there is exactly one).
    pub serverless: bool,
    pub variant_count: usize,
    pub model_names: Vec<String>,
}

/// A resource found by a list call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSummary {
    pub name: String,
    pub arn: String,
    pub created: DateTime<Utc>,
}

/// What a serverless config is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerlessSpec {
    pub memory_size_mb: u32,
    pub max_concurrency: u32,
    pub provisioned_concurrency: Option<u32>,
}

/// Outcome of a create call that may race a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExisted,
}

#[derive(Clone, Debug)]
pub struct SageMaker {
    client: Client,
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn to_chrono(time: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

/// Maps "already exists" to success: creates are keyed by deterministic
/// names, so an existing resource is the one we meant to create.
fn created<T>(result: Result<T, AwsError>) -> Result<Created, AwsError> {
    match result {
        Ok(_) => Ok(Created::New),
        Err(e) if e.kind == AwsErrorKind::AlreadyExists => Ok(Created::AlreadyExisted),
        Err(e) => Err(e),
    }
}

/// Maps "not found" to `None`.
fn optional<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl SageMaker {
    pub fn new(client: Client) -> Self {
        SageMaker { client }
    }

    pub async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError> {
        let out = self
            .client
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e));
        Ok(optional(out)?.map(|out| EndpointInfo {
            name: name.to_string(),
            arn: out.endpoint_arn().unwrap_or_default().to_string(),
            status: out
                .endpoint_status()
                .cloned()
                .unwrap_or_else(|| EndpointStatus::from("")),
            config_name: out.endpoint_config_name().unwrap_or_default().to_string(),
            pending_config_name: out
                .pending_deployment_summary()
                .and_then(|p| p.endpoint_config_name())
                .map(str::to_string),
            failure_reason: out.failure_reason().map(str::to_string),
        }))
    }

    pub async fn describe_endpoint_config(
        &self,
        name: &str,
    ) -> Result<Option<EndpointConfigInfo>, AwsError> {
        let out = self
            .client
            .describe_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", e));
        Ok(optional(out)?.map(|out| {
            let variants = out.production_variants();
            EndpointConfigInfo {
                name: name.to_string(),
                arn: out.endpoint_config_arn().unwrap_or_default().to_string(),
                serverless: !variants.is_empty()
                    && variants.iter().all(|v| v.serverless_config().is_some()),
                variant_count: variants.len(),
                model_names: variants
                    .iter()
                    .filter_map(|v| v.model_name().map(str::to_string))
                    .collect(),
            }
        }))
    }

    /// All tags of a resource (ListTags pages through 50 at a time).
    pub async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let mut pages = self
            .client
            .list_tags()
            .resource_arn(arn)
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListTags", e))?;
            for tag in page.tags() {
                if let Some(key) = tag.key() {
                    tags.insert(key.to_string(), tag.value().unwrap_or_default().to_string());
                }
            }
        }
        Ok(tags)
    }

    pub async fn create_model(
        &self,
        name: &str,
        image_uri: &str,
        model_data_url: &str,
        environment: &BTreeMap<String, String>,
        execution_role_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Created, AwsError> {
        let environment: HashMap<String, String> = environment.clone().into_iter().collect();
        let container = ContainerDefinition::builder()
            .image(image_uri)
            .model_data_url(model_data_url)
            .set_environment((!environment.is_empty()).then_some(environment))
            .build();
        created(
            self.client
                .create_model()
                .model_name(name)
                .execution_role_arn(execution_role_arn)
                .primary_container(container)
                .set_tags(Some(tag_list(tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateModel", e)),
        )
    }

    pub async fn create_serverless_config(
        &self,
        name: &str,
        model_name: &str,
        spec: &ServerlessSpec,
        tags: &BTreeMap<String, String>,
    ) -> Result<Created, AwsError> {
        let serverless = ProductionVariantServerlessConfig::builder()
            .memory_size_in_mb(spec.memory_size_mb as i32)
            .max_concurrency(spec.max_concurrency as i32)
            .set_provisioned_concurrency(spec.provisioned_concurrency.map(|p| p as i32))
            .build();
        let variant = ProductionVariant::builder()
            .variant_name(VARIANT_NAME)
            .model_name(model_name)
            .serverless_config(serverless)
            .build();
        created(
            self.client
                .create_endpoint_config()
                .endpoint_config_name(name)
                .production_variants(variant)
                .set_tags(Some(tag_list(tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateEndpointConfig", e)),
        )
    }

    pub async fn create_endpoint(
        &self,
        name: &str,
        config_name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Created, AwsError> {
        created(
            self.client
                .create_endpoint()
                .endpoint_name(name)
                .endpoint_config_name(config_name)
                .set_tags(Some(tag_list(tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateEndpoint", e)),
        )
    }

    pub async fn update_endpoint(&self, name: &str, config_name: &str) -> Result<(), AwsError> {
        self.client
            .update_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(config_name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("UpdateEndpoint", e))
    }

    pub async fn add_tags(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.client
            .add_tags()
            .resource_arn(arn)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("AddTags", e))
    }

    /// Endpoint configs whose name contains `fragment`, all pages.
    pub async fn list_endpoint_configs(
        &self,
        fragment: &str,
    ) -> Result<Vec<ResourceSummary>, AwsError> {
        let mut pages = self
            .client
            .list_endpoint_configs()
            .name_contains(fragment)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListEndpointConfigs", e))?;
            for config in page.endpoint_configs() {
                found.push(ResourceSummary {
                    name: config
                        .endpoint_config_name()
                        .unwrap_or_default()
                        .to_string(),
                    arn: config.endpoint_config_arn().unwrap_or_default().to_string(),
                    created: to_chrono(config.creation_time()),
                });
            }
        }
        Ok(found)
    }

    /// Models whose name contains `fragment`, all pages.
    pub async fn list_models(&self, fragment: &str) -> Result<Vec<ResourceSummary>, AwsError> {
        let mut pages = self
            .client
            .list_models()
            .name_contains(fragment)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListModels", e))?;
            for model in page.models() {
                found.push(ResourceSummary {
                    name: model.model_name().unwrap_or_default().to_string(),
                    arn: model.model_arn().unwrap_or_default().to_string(),
                    created: to_chrono(model.creation_time()),
                });
            }
        }
        Ok(found)
    }

    /// Creates a single-container model. `model_data_url` is optional (an
    /// image may carry its model); used to copy a model for a migration.
    pub async fn create_model_from_image(
        &self,
        name: &str,
        image_uri: &str,
        model_data_url: Option<&str>,
        environment: &BTreeMap<String, String>,
        execution_role_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Created, AwsError> {
        let environment: HashMap<String, String> = environment.clone().into_iter().collect();
        let container = ContainerDefinition::builder()
            .image(image_uri)
            .set_model_data_url(model_data_url.map(str::to_string))
            .set_environment((!environment.is_empty()).then_some(environment))
            .build();
        created(
            self.client
                .create_model()
                .model_name(name)
                .execution_role_arn(execution_role_arn)
                .primary_container(container)
                .set_tags(Some(tag_list(tags)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateModel", e)),
        )
    }

    /// Deletes an endpoint (its config and model stay); one already gone
    /// counts as deleted.
    pub async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .delete_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteEndpoint", e));
        optional(result).map(|_| ())
    }

    /// Deletes a config; one already gone counts as deleted.
    pub async fn delete_endpoint_config(&self, name: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .delete_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteEndpointConfig", e));
        optional(result).map(|_| ())
    }

    /// Deletes a model; one already gone counts as deleted.
    pub async fn delete_model(&self, name: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .delete_model()
            .model_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteModel", e));
        optional(result).map(|_| ())
    }
}
