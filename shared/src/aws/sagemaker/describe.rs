//! Reads: an endpoint, its config, a model. "Not found" is `None`.

use super::{
    optional, to_chrono, ContainerInfo, EndpointConfigDetail, EndpointConfigInfo, EndpointDetail,
    EndpointInfo, ModelInfo, SageMaker, ServerlessCapacity, ServerlessSpec, VariantSpec,
    VariantSummary,
};
use crate::aws::AwsError;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, DataCaptureConfigSummary, EndpointStatus, ProductionVariant,
    ProductionVariantServerlessConfig, ProductionVariantSummary,
};

/// A count from the API (`None` or negative is 0).
fn count(value: Option<i32>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn variant_spec(v: &ProductionVariant) -> VariantSpec {
    VariantSpec {
        name: v.variant_name().unwrap_or_default().to_string(),
        model_name: v.model_name().map(str::to_string),
        instance_type: v.instance_type().map(|t| t.as_str().to_string()),
        initial_instance_count: v.initial_instance_count().map(|c| count(Some(c))),
        serverless: v.serverless_config().map(serverless_spec),
    }
}

fn container(c: &ContainerDefinition) -> ContainerInfo {
    ContainerInfo {
        image: c.image().map(str::to_string),
        model_data_url: c.model_data_url().map(str::to_string),
        environment: c
            .environment()
            .map(|env| env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        mode: c.mode().map(|m| m.as_str().to_string()),
        model_package: c.model_package_name().map(str::to_string),
    }
}

/// What DescribeEndpoint and a Search record both say about an endpoint.
pub(super) struct EndpointParts<'a> {
    pub name: &'a str,
    pub arn: Option<&'a str>,
    pub status: Option<&'a EndpointStatus>,
    pub config_name: Option<&'a str>,
    pub pending_config_name: Option<&'a str>,
    pub failure_reason: Option<&'a str>,
    pub created: Option<&'a aws_smithy_types::DateTime>,
    pub last_modified: Option<&'a aws_smithy_types::DateTime>,
    pub variants: &'a [ProductionVariantSummary],
    pub data_capture: Option<&'a DataCaptureConfigSummary>,
}

fn serverless_spec(s: &ProductionVariantServerlessConfig) -> ServerlessSpec {
    ServerlessSpec {
        memory_size_mb: count(s.memory_size_in_mb()),
        max_concurrency: count(s.max_concurrency()),
        provisioned_concurrency: s.provisioned_concurrency().map(|p| count(Some(p))),
    }
}

pub(super) fn endpoint_detail(parts: EndpointParts<'_>) -> EndpointDetail {
    let variants = parts.variants;
    EndpointDetail {
        info: EndpointInfo {
            name: parts.name.to_string(),
            arn: parts.arn.unwrap_or_default().to_string(),
            status: parts
                .status
                .cloned()
                .unwrap_or_else(|| EndpointStatus::from("")),
            config_name: parts.config_name.unwrap_or_default().to_string(),
            pending_config_name: parts.pending_config_name.map(str::to_string),
            failure_reason: parts.failure_reason.map(str::to_string),
            capacity: variants.first().and_then(|v| {
                let config = v
                    .desired_serverless_config()
                    .or(v.current_serverless_config())?;
                Some(ServerlessCapacity {
                    max_concurrency: count(config.max_concurrency()),
                    provisioned_concurrency: config
                        .provisioned_concurrency()
                        .map(|p| count(Some(p))),
                })
            }),
        },
        created: to_chrono(parts.created),
        last_modified: to_chrono(parts.last_modified),
        current_instance_counts: variants
            .iter()
            .filter_map(|v| {
                let current = v.current_instance_count()?;
                Some((
                    v.variant_name().unwrap_or_default().to_string(),
                    count(Some(current)),
                ))
            })
            .collect(),
        data_capture: parts
            .data_capture
            .is_some_and(|d| d.enable_capture() == Some(true)),
        variants: variants
            .iter()
            .map(|v| VariantSummary {
                name: v.variant_name().unwrap_or_default().to_string(),
                current_instance_count: v.current_instance_count().map(|c| count(Some(c))),
                serverless: v
                    .current_serverless_config()
                    .or(v.desired_serverless_config())
                    .map(serverless_spec),
            })
            .collect(),
    }
}

impl SageMaker {
    pub async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError> {
        Ok(self.describe_endpoint_detail(name).await?.map(|d| d.info))
    }

    /// The endpoint with its times, instance counts and data capture.
    pub async fn describe_endpoint_detail(
        &self,
        name: &str,
    ) -> Result<Option<EndpointDetail>, AwsError> {
        let out = self
            .client
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e));
        Ok(optional(out)?.map(|out| {
            endpoint_detail(EndpointParts {
                name,
                arn: out.endpoint_arn(),
                status: out.endpoint_status(),
                config_name: out.endpoint_config_name(),
                pending_config_name: out
                    .pending_deployment_summary()
                    .and_then(|p| p.endpoint_config_name()),
                failure_reason: out.failure_reason(),
                created: out.creation_time(),
                last_modified: out.last_modified_time(),
                variants: out.production_variants(),
                data_capture: out.data_capture_config(),
            })
        }))
    }

    pub async fn describe_endpoint_config(
        &self,
        name: &str,
    ) -> Result<Option<EndpointConfigInfo>, AwsError> {
        Ok(self
            .describe_endpoint_config_detail(name)
            .await?
            .map(|d| d.info))
    }

    /// The config with each variant's instances or serverless settings.
    pub async fn describe_endpoint_config_detail(
        &self,
        name: &str,
    ) -> Result<Option<EndpointConfigDetail>, AwsError> {
        let out = self
            .client
            .describe_endpoint_config()
            .endpoint_config_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", e));
        Ok(optional(out)?.map(|out| {
            let variants = out.production_variants();
            let info = EndpointConfigInfo {
                name: name.to_string(),
                arn: out.endpoint_config_arn().unwrap_or_default().to_string(),
                serverless: !variants.is_empty()
                    && variants.iter().all(|v| v.serverless_config().is_some()),
                variant_count: variants.len(),
                model_names: variants
                    .iter()
                    .filter_map(|v| v.model_name().map(str::to_string))
                    .collect(),
            };
            EndpointConfigDetail {
                info,
                variants: variants.iter().map(variant_spec).collect(),
                data_capture: out.data_capture_config().is_some_and(|d| {
                    d.enable_capture() != Some(false) && !d.capture_options().is_empty()
                }),
                async_inference: out.async_inference_config().is_some(),
                kms_volume_key: out.kms_key_id().is_some_and(|k| !k.is_empty()),
            }
        }))
    }

    /// The model, or `None` when it does not exist.
    pub async fn describe_model(&self, name: &str) -> Result<Option<ModelInfo>, AwsError> {
        let out = self
            .client
            .describe_model()
            .model_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModel", e));
        Ok(optional(out)?.map(|out| {
            let mut containers: Vec<ContainerInfo> =
                out.primary_container().map(container).into_iter().collect();
            containers.extend(out.containers().iter().map(container));
            ModelInfo {
                name: name.to_string(),
                execution_role_arn: out.execution_role_arn().unwrap_or_default().to_string(),
                containers,
                vpc: out.vpc_config().is_some_and(|v| !v.subnets().is_empty()),
                network_isolation: out.enable_network_isolation() == Some(true),
            }
        }))
    }
}
