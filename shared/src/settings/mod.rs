//! Deployment settings: where they come from, and what values are allowed.
//!
//! Precedence, field by field: the sidecar `deploy.json`, then the
//! artifact's S3 user metadata, then the function's defaults. The
//! container is decided as a unit by the first source that names one, so
//! a `framework` from metadata is never paired with an `image_uri` default.

mod layer;
mod validate;

pub use layer::{SettingsLayer, DEPLOY_JSON_FIELDS, METADATA_FIELDS};
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

/// The request the smoke tester sends to a new endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeTestRequest {
    pub content_type: String,
    /// Optional `Accept` header.
    pub accept: Option<String>,
    pub body: SmokeTestBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmokeTestBody {
    /// The body itself, as text.
    Inline(String),
    /// A key in the models bucket whose content is the body.
    S3Key(String),
}

const SMOKE_TEST_FIELDS: &str = "content_type, accept, body, body_s3_key";

impl SmokeTestRequest {
    fn from_json(value: &Value) -> Result<Self, SettingsError> {
        let fields = value.as_object().ok_or_else(|| {
            SettingsError::wrong_type("smoke_test", "an object", value)
        })?;
        let mut content_type = None;
        let mut accept = None;
        let mut body = None;
        let mut body_s3_key = None;
        for (name, field) in fields {
            let path = format!("smoke_test.{name}");
            let text = layer::json_string(&path, field)?;
            match name.as_str() {
                "content_type" => content_type = Some(text),
                "accept" => accept = Some(text),
                "body" => body = Some(text),
                "body_s3_key" => body_s3_key = Some(text),
                _ => {
                    return Err(SettingsError::UnknownField {
                        field: path,
                        allowed: SMOKE_TEST_FIELDS.into(),
                    })
                }
            }
        }
        let content_type = content_type.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
            SettingsError::Missing {
                field: "smoke_test.content_type".into(),
                why: "the endpoint needs to know how to read the body, e.g. \"text/csv\"".into(),
            }
        })?;
        let body = match (body, body_s3_key) {
            (Some(inline), None) => SmokeTestBody::Inline(inline),
            (None, Some(key)) if !key.is_empty() => SmokeTestBody::S3Key(key),
            (Some(_), Some(_)) => {
                return Err(SettingsError::invalid(
                    "smoke_test",
                    "both body and body_s3_key",
                    "exactly one of body (inline text) or body_s3_key (a key in the models bucket)",
                ))
            }
            _ => {
                return Err(SettingsError::Missing {
                    field: "smoke_test.body".into(),
                    why: "give body (inline text) or body_s3_key (a key in the models bucket)"
                        .into(),
                })
            }
        };
        Ok(SmokeTestRequest {
            content_type,
            accept,
            body,
        })
    }
}

/// Which container image the model runs, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub image_uri: String,
    /// `Some((framework, version))` when resolved from a framework.
    pub framework: Option<(String, String)>,
}

/// Settings after precedence and validation: safe to send to SageMaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploySettings {
    pub endpoint_name: String,
    pub container: Container,
    pub memory_size_mb: u32,
    pub max_concurrency: u32,
    pub provisioned_concurrency: Option<u32>,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub smoke_test: Option<SmokeTestRequest>,
}

#[cfg(test)]
mod tests;
