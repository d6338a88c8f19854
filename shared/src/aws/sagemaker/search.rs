//! Many endpoints in few calls: SageMaker's `Search` over the `Endpoint`
//! resource returns, 100 a page, what DescribeEndpoint returns for each
//! (variants, config name, status, times, data capture). Search reads an
//! index that trails the endpoints by a little: a caller that must be exact
//! compares each record with a fresher source (ListEndpoints) and describes
//! the ones that differ.

use super::describe::{endpoint_detail, EndpointParts};
use super::{EndpointDetail, SageMaker};
use crate::aws::AwsError;
use aws_sdk_sagemaker::types::{Filter, Operator, ResourceType, SearchExpression};

/// Search's largest page.
const RECORDS_PER_PAGE: i32 = 100;

impl SageMaker {
    /// Every endpoint whose name contains `fragment` (all when `None`), as
    /// the search index has it: ceil(endpoints / 100) calls.
    pub async fn search_endpoints(
        &self,
        fragment: Option<&str>,
    ) -> Result<Vec<EndpointDetail>, AwsError> {
        let expression = fragment.map(|f| {
            SearchExpression::builder()
                .filters(
                    Filter::builder()
                        .name("EndpointName")
                        .operator(Operator::Contains)
                        .value(f)
                        .build(),
                )
                .build()
        });
        let mut pages = self
            .client
            .search()
            .resource(ResourceType::Endpoint)
            .set_search_expression(expression)
            .max_results(RECORDS_PER_PAGE)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("Search", e))?;
            for endpoint in page.results().iter().filter_map(|r| r.endpoint()) {
                let Some(name) = endpoint.endpoint_name() else {
                    continue;
                };
                found.push(endpoint_detail(EndpointParts {
                    name,
                    arn: endpoint.endpoint_arn(),
                    status: endpoint.endpoint_status(),
                    config_name: endpoint.endpoint_config_name(),
                    pending_config_name: None,
                    failure_reason: endpoint.failure_reason(),
                    created: endpoint.creation_time(),
                    last_modified: endpoint.last_modified_time(),
                    variants: endpoint.production_variants(),
                    data_capture: endpoint.data_capture_config(),
                }));
            }
        }
        Ok(found)
    }
}
