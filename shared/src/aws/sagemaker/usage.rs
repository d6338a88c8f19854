//! What the Region's serverless endpoints hold against the account's
//! serverless quotas (`crate::quota`).

use super::SageMaker;
use crate::aws::AwsError;
use crate::quota::ServerlessUsage;
use aws_sdk_sagemaker::types::EndpointStatus;
use futures::stream::{self, StreamExt, TryStreamExt};

/// Describes in flight at once: SageMaker's describe calls are throttled
/// per account, and the SDK retries what is throttled.
const DESCRIBE_CONCURRENCY: usize = 8;

impl SageMaker {
    /// The serverless endpoints among `others` and their MaxConcurrency
    /// added up, with `target` (the MaxConcurrency of the endpoint the
    /// change is for, when it is serverless). An endpoint that is gone by
    /// the time it is described holds nothing.
    pub async fn serverless_usage(
        &self,
        target: Option<u32>,
        others: &[&str],
    ) -> Result<ServerlessUsage, AwsError> {
        let held: Vec<Option<u32>> = stream::iter(others.iter().copied())
            .map(|name| self.serverless_concurrency(name))
            .buffer_unordered(DESCRIBE_CONCURRENCY)
            .try_collect()
            .await?;
        let serverless: Vec<u32> = held.into_iter().flatten().collect();
        Ok(ServerlessUsage {
            endpoints: u32::try_from(serverless.len()).unwrap_or(u32::MAX),
            concurrency: serverless
                .iter()
                .fold(0u32, |sum, c| sum.saturating_add(*c)),
            target,
        })
    }

    /// The MaxConcurrency an endpoint holds, `None` when it is not
    /// serverless (or does not exist). While an endpoint is being created
    /// DescribeEndpoint may show no variants yet; its config says then.
    pub async fn serverless_concurrency(&self, name: &str) -> Result<Option<u32>, AwsError> {
        let Some(endpoint) = self.describe_endpoint(name).await? else {
            return Ok(None);
        };
        if let Some(capacity) = endpoint.capacity {
            return Ok(Some(capacity.max_concurrency));
        }
        if endpoint.status != EndpointStatus::Creating {
            return Ok(None);
        }
        let Some(config) = self
            .describe_endpoint_config_detail(&endpoint.config_name)
            .await?
        else {
            return Ok(None);
        };
        Ok(config
            .variants
            .iter()
            .find_map(|v| v.serverless.as_ref().map(|s| s.max_concurrency)))
    }
}
