//! Lists (every page) and tags.

use super::{to_chrono, EndpointSummary, ResourceSummary, SageMaker};
use crate::aws::AwsError;
use aws_sdk_sagemaker::types::{EndpointStatus, Tag};
use std::collections::BTreeMap;

/// Tags as the API takes them.
pub(super) fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl SageMaker {
    /// Every endpoint whose name contains `fragment` (all when `None`).
    pub async fn list_endpoints(
        &self,
        fragment: Option<&str>,
    ) -> Result<Vec<EndpointSummary>, AwsError> {
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
                found.push(EndpointSummary {
                    name: summary.endpoint_name().unwrap_or_default().to_string(),
                    arn: summary.endpoint_arn().unwrap_or_default().to_string(),
                    created: to_chrono(summary.creation_time()),
                    last_modified: to_chrono(summary.last_modified_time()),
                    status: summary
                        .endpoint_status()
                        .cloned()
                        .unwrap_or_else(|| EndpointStatus::from("")),
                });
            }
        }
        Ok(found)
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
}
