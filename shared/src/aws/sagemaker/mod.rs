//! The SageMaker calls the pipeline makes, each with its error classified:
//! reads (`describe`, and many endpoints at once with `search`), lists and
//! tags (`list`), changes (`create`), the Model Registry (`model_package`).

mod capacity;
mod create;
mod describe;
mod list;
mod model_package;
mod search;
mod usage;

pub use model_package::{ModelPackageInfo, PackageContainer};

use super::{AwsError, AwsErrorKind};
use aws_sdk_sagemaker::types::EndpointStatus;
use aws_sdk_sagemaker::Client;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

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
    /// The serverless concurrency the endpoint runs, or is being changed
    /// to (its variant's `DesiredServerlessConfig`); `None` when it has no
    /// serverless variant.
    pub capacity: Option<ServerlessCapacity>,
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

/// An endpoint as DescribeEndpoint shows it, beyond `EndpointInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDetail {
    pub info: EndpointInfo,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// Instances running now, by variant name (variants SageMaker gives a
    /// count for).
    pub current_instance_counts: BTreeMap<String, u32>,
    /// Data capture is enabled on the endpoint itself.
    pub data_capture: bool,
    /// The variants the endpoint runs, in order.
    pub variants: Vec<VariantSummary>,
}

/// One production variant as the endpoint (not its config) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSummary {
    pub name: String,
    /// Instances running now (instance-based variants).
    pub current_instance_count: Option<u32>,
    /// The serverless settings it runs (or, while they change, is moving
    /// to); `None` for an instance-based variant.
    pub serverless: Option<ServerlessSpec>,
}

/// One production variant of an endpoint config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSpec {
    pub name: String,
    pub model_name: Option<String>,
    pub instance_type: Option<String>,
    pub initial_instance_count: Option<u32>,
    pub serverless: Option<ServerlessSpec>,
}

/// An endpoint config as DescribeEndpointConfig shows it, beyond
/// `EndpointConfigInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfigDetail {
    pub info: EndpointConfigInfo,
    pub variants: Vec<VariantSpec>,
    /// Data capture configured and not explicitly disabled.
    pub data_capture: bool,
    pub async_inference: bool,
    /// A KMS key for the instances' storage volumes.
    pub kms_volume_key: bool,
}

/// A model as DescribeModel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub execution_role_arn: String,
    /// The primary container first, then the pipeline's containers.
    pub containers: Vec<ContainerInfo>,
    pub vpc: bool,
    pub network_isolation: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub image: Option<String>,
    pub model_data_url: Option<String>,
    pub environment: BTreeMap<String, String>,
    /// `MultiModel` for a multi-model endpoint.
    pub mode: Option<String>,
    /// A Marketplace / registry model package instead of an image.
    pub model_package: Option<String>,
}

/// An endpoint as ListEndpoints shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSummary {
    pub name: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub status: EndpointStatus,
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

/// The part of a serverless variant that UpdateEndpointWeightsAndCapacities
/// changes in place (no new config, no container restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ServerlessCapacity {
    pub max_concurrency: u32,
    pub provisioned_concurrency: Option<u32>,
}

impl ServerlessSpec {
    pub fn capacity(&self) -> ServerlessCapacity {
        ServerlessCapacity {
            max_concurrency: self.max_concurrency,
            provisioned_concurrency: self.provisioned_concurrency,
        }
    }
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
}
