//! Serverless concurrency changed in place: UpdateEndpointWeightsAndCapacities
//! with a `ServerlessUpdateConfig`. The endpoint keeps its config and its
//! containers; it is `Updating` until SageMaker has applied the change.

use super::{SageMaker, ServerlessCapacity, VARIANT_NAME};
use crate::aws::AwsError;
use aws_sdk_sagemaker::types::{DesiredWeightAndCapacity, ProductionVariantServerlessUpdateConfig};

impl SageMaker {
    /// Sets the pipeline's single variant to `capacity`. A provisioned
    /// concurrency of `None` is left out of the request (AWS has no value
    /// for "none": 0 is invalid), so it keeps the variant's current one;
    /// callers remove provisioned concurrency through a new config instead.
    pub async fn update_serverless_capacity(
        &self,
        endpoint: &str,
        capacity: &ServerlessCapacity,
    ) -> Result<(), AwsError> {
        let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let update = ProductionVariantServerlessUpdateConfig::builder()
            .max_concurrency(to_i32(capacity.max_concurrency))
            .set_provisioned_concurrency(capacity.provisioned_concurrency.map(to_i32))
            .build();
        let variant = DesiredWeightAndCapacity::builder()
            .variant_name(VARIANT_NAME)
            .serverless_update_config(update)
            .build();
        self.client
            .update_endpoint_weights_and_capacities()
            .endpoint_name(endpoint)
            .desired_weights_and_capacities(variant)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("UpdateEndpointWeightsAndCapacities", e))
    }
}
