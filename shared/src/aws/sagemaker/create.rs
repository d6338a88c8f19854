//! Creates, updates and deletes: "already exists" is success on create,
//! "not found" is success on delete (names are deterministic).

use super::list::tag_list;
use super::{created, optional, Created, SageMaker, ServerlessSpec, VARIANT_NAME};
use crate::aws::AwsError;
use aws_sdk_sagemaker::operation::create_model::builders::CreateModelFluentBuilder;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, ProductionVariant, ProductionVariantServerlessConfig,
};
use std::collections::{BTreeMap, HashMap};

/// A container's environment as CreateModel takes it: absent when empty.
pub(super) fn container_environment(
    environment: &BTreeMap<String, String>,
) -> Option<HashMap<String, String>> {
    (!environment.is_empty()).then(|| environment.clone().into_iter().collect())
}

impl SageMaker {
    /// A CreateModel request with what every model of ours carries (name,
    /// role, tags); the caller adds its container(s).
    pub(super) fn create_model_request(
        &self,
        name: &str,
        execution_role_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> CreateModelFluentBuilder {
        self.client
            .create_model()
            .model_name(name)
            .execution_role_arn(execution_role_arn)
            .set_tags(Some(tag_list(tags)))
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
        let container = ContainerDefinition::builder()
            .image(image_uri)
            .model_data_url(model_data_url)
            .set_environment(container_environment(environment))
            .build();
        created(
            self.create_model_request(name, execution_role_arn, tags)
                .primary_container(container)
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
        let container = ContainerDefinition::builder()
            .image(image_uri)
            .set_model_data_url(model_data_url.map(str::to_string))
            .set_environment(container_environment(environment))
            .build();
        created(
            self.create_model_request(name, execution_role_arn, tags)
                .primary_container(container)
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
