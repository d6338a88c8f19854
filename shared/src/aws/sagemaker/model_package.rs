//! The Model Registry: a model package as the deployer needs it, and
//! models created from one (`Containers[0].ModelPackageName`).

use super::create::container_environment;
use super::{created, optional, Created, SageMaker};
use crate::aws::AwsError;
use aws_sdk_sagemaker::types::{ContainerDefinition, ModelApprovalStatus, ModelPackageStatus};
use std::collections::BTreeMap;

/// One container of a package's `InferenceSpecification`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageContainer {
    pub image: String,
    pub model_data_url: Option<String>,
}

/// What DescribeModelPackage says about a package.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPackageInfo {
    pub arn: String,
    pub group: Option<String>,
    pub version: Option<u32>,
    pub status: Option<ModelPackageStatus>,
    pub approval: Option<ModelApprovalStatus>,
    pub containers: Vec<PackageContainer>,
    /// `CustomerMetadataProperties`.
    pub properties: BTreeMap<String, String>,
}

impl SageMaker {
    /// The package by name or ARN; `None` when it does not exist.
    pub async fn describe_model_package(
        &self,
        name_or_arn: &str,
    ) -> Result<Option<ModelPackageInfo>, AwsError> {
        let out = self
            .client
            .describe_model_package()
            .model_package_name(name_or_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeModelPackage", e));
        Ok(optional(out)?.map(|out| ModelPackageInfo {
            arn: out.model_package_arn().unwrap_or(name_or_arn).to_string(),
            group: out.model_package_group_name().map(str::to_string),
            version: out
                .model_package_version()
                .and_then(|v| u32::try_from(v).ok()),
            status: out.model_package_status().cloned(),
            approval: out.model_approval_status().cloned(),
            containers: out
                .inference_specification()
                .map(|spec| {
                    spec.containers()
                        .iter()
                        .map(|c| PackageContainer {
                            image: c.image().unwrap_or_default().to_string(),
                            model_data_url: c.model_data_url().map(str::to_string),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            properties: out
                .customer_metadata_properties()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }))
    }

    /// Creates a model from a registered package: SageMaker takes the
    /// image and model data from the package; the environment is added.
    pub async fn create_model_from_package(
        &self,
        name: &str,
        package_arn: &str,
        environment: &BTreeMap<String, String>,
        execution_role_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Created, AwsError> {
        let container = ContainerDefinition::builder()
            .model_package_name(package_arn)
            .set_environment(container_environment(environment))
            .build();
        created(
            self.create_model_request(name, execution_role_arn, tags)
                .containers(container)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateModel", e)),
        )
    }
}
