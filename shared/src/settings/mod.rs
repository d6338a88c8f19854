//! Deployment settings: where they come from, and what values are allowed.
//!
//! Precedence, field by field: the sidecar `deploy.json`, then the
//! artifact's S3 user metadata, then the function's defaults. The
//! container is decided as a unit by the first source that names one, so
//! a `framework` from metadata is never paired with an `image_uri` default.

mod code;
mod layer;
mod smoke_test;
mod validate;

pub use code::{CodeLocation, InferenceCode};
pub use layer::{SettingsLayer, DEPLOY_JSON_FIELDS, METADATA_FIELDS};
pub use smoke_test::{Expectation, NumberRange, SmokeTestBody, SmokeTestRequest};
pub use validate::resolve;

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const MEMORY_SIZES_MB: [u32; 6] = [1024, 2048, 3072, 4096, 5120, 6144];
pub const MAX_CONCURRENCY_LIMIT: u32 = 200;
pub const DEFAULT_MEMORY_SIZE_MB: u32 = 2048;
pub const DEFAULT_MAX_CONCURRENCY: u32 = 10;

/// A settings problem the user has to fix; retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("deploy.json is not valid JSON: {reason}")]
    NotJson { reason: String },
    #[error("unknown field {field:?} in deploy.json; allowed fields: {allowed}")]
    UnknownField { field: String, allowed: String },
    #[error("{field} must be {expected}, got {got}")]
    WrongType {
        field: String,
        expected: String,
        got: String,
    },
    #[error("{field} = {value} is not allowed; allowed: {allowed}")]
    Invalid {
        field: String,
        value: String,
        allowed: String,
    },
    #[error("deploy.json asks for {feature} ({field}), which SageMaker serverless endpoints do not support; remove {field}, or deploy on an instance-based endpoint")]
    ServerlessExcluded {
        field: String,
        feature: &'static str,
    },
    #[error("{field} is required: {why}")]
    Missing { field: String, why: String },
    #[error("{0}")]
    Image(#[from] crate::image_uri::ImageUriError),
    #[error(transparent)]
    Name(#[from] crate::naming::InvalidName),
}

impl SettingsError {
    pub(crate) fn wrong_type(field: &str, expected: &str, got: &Value) -> Self {
        let got = match got {
            Value::Null => "null".to_string(),
            Value::String(s) => format!("the string {s:?}"),
            other => other.to_string(),
        };
        SettingsError::WrongType {
            field: field.to_string(),
            expected: expected.to_string(),
            got,
        }
    }

    pub(crate) fn invalid(field: &str, value: impl ToString, allowed: impl Into<String>) -> Self {
        SettingsError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// Which container image the model runs, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub image_uri: String,
    /// `Some((framework, version))` when resolved from a framework.
    pub framework: Option<(String, String)>,
    /// The `py_version` asked for, if any (the image URI carries the one used).
    pub py_version: Option<String>,
    /// The model data SageMaker loads when it is not the uploaded artifact
    /// itself: the archive repacked with the inference code. Set by the
    /// deployer once it has planned the packing, never from settings.
    pub model_data_url: Option<String>,
}

/// Settings after precedence and validation: safe to send to SageMaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploySettings {
    pub endpoint_name: String,
    pub container: Container,
    pub memory_size_mb: u32,
    pub max_concurrency: u32,
    pub provisioned_concurrency: Option<u32>,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub smoke_test: Option<SmokeTestRequest>,
    /// Inference code to pack with the model, as the SDK would.
    pub code: Option<InferenceCode>,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod code_tests;
