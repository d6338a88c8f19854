//! One source of deployment settings (deploy.json, object metadata or the
//! function's defaults), parsed but not yet validated against the others.

use super::{SettingsError, SmokeTestRequest};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Fields a `deploy.json` may contain.
pub const DEPLOY_JSON_FIELDS: &[&str] = &[
    "endpoint_name",
    "image_uri",
    "framework",
    "framework_version",
    "py_version",
    "entry_point",
    "source_dir",
    "dependencies",
    "memory_size_mb",
    "max_concurrency",
    "provisioned_concurrency",
    "environment",
    "tags",
    "smoke_test",
];

/// Fields that can come from object metadata (`x-amz-meta-<field>`, with `-`
/// or `_`): the scalar ones; maps and the smoke test need `deploy.json`.
pub const METADATA_FIELDS: &[&str] = &[
    "endpoint_name",
    "image_uri",
    "framework",
    "framework_version",
    "py_version",
    "entry_point",
    "source_dir",
    "memory_size_mb",
    "max_concurrency",
    "provisioned_concurrency",
];

/// Settings from one source; `None` means "this source does not say".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsLayer {
    pub endpoint_name: Option<String>,
    pub image_uri: Option<String>,
    pub framework: Option<String>,
    pub framework_version: Option<String>,
    /// The SDK's `py_version`; needed where a framework version has images
    /// for several Python versions.
    pub py_version: Option<String>,
    /// Inference code as the SDK takes it (see `settings::code`).
    pub entry_point: Option<String>,
    pub source_dir: Option<String>,
    pub dependencies: Option<Vec<String>>,
    pub memory_size_mb: Option<i64>,
    pub max_concurrency: Option<i64>,
    pub provisioned_concurrency: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub smoke_test: Option<SmokeTestRequest>,
}

impl SettingsLayer {
    /// Parses the text of a `deploy.json`. Unknown fields are errors: a typo
    /// such as `memory_mb` must not silently deploy with the default.
    pub fn from_deploy_json(text: &[u8]) -> Result<Self, SettingsError> {
        let value: Value = serde_json::from_slice(text).map_err(|e| SettingsError::NotJson {
            reason: e.to_string(),
        })?;
        let Value::Object(fields) = value else {
            return Err(SettingsError::NotJson {
                reason: "the top level must be a JSON object".into(),
            });
        };
        let mut layer = SettingsLayer::default();
        for (name, value) in &fields {
            layer.set_from_json(name, value)?;
        }
        Ok(layer)
    }

    fn set_from_json(&mut self, name: &str, value: &Value) -> Result<(), SettingsError> {
        if value.is_null() {
            return Ok(());
        }
        match name {
            "endpoint_name" => self.endpoint_name = Some(json_string(name, value)?),
            "image_uri" => self.image_uri = Some(json_string(name, value)?),
            "framework" => self.framework = Some(json_string(name, value)?),
            "framework_version" => self.framework_version = Some(json_version(name, value)?),
            "py_version" => self.py_version = Some(json_string(name, value)?),
            "entry_point" => self.entry_point = Some(json_string(name, value)?),
            "source_dir" => self.source_dir = Some(json_string(name, value)?),
            "dependencies" => self.dependencies = Some(json_string_list(name, value)?),
            "memory_size_mb" => self.memory_size_mb = Some(json_integer(name, value)?),
            "max_concurrency" => self.max_concurrency = Some(json_integer(name, value)?),
            "provisioned_concurrency" => {
                self.provisioned_concurrency = Some(json_integer(name, value)?)
            }
            "environment" => self.environment = Some(json_string_map(name, value)?),
            "tags" => self.tags = Some(json_string_map(name, value)?),
            "smoke_test" => self.smoke_test = Some(SmokeTestRequest::from_json(value)?),
            _ => {
                if let Some(feature) = crate::preflight::serverless_excluded(name) {
                    return Err(SettingsError::ServerlessExcluded {
                        field: name.to_string(),
                        feature,
                    });
                }
                return Err(SettingsError::UnknownField {
                    field: name.to_string(),
                    allowed: DEPLOY_JSON_FIELDS.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Reads the settings carried as S3 user metadata. S3 lower-cases
    /// metadata names; `memory-size-mb` and `memory_size_mb` both work.
    /// Metadata this pipeline does not know is left alone (it may belong
    /// to someone else) and returned so the caller can log it.
    pub fn from_metadata(
        metadata: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), SettingsError> {
        let mut layer = SettingsLayer::default();
        let mut ignored = Vec::new();
        for (raw_name, value) in metadata {
            let name = raw_name.to_ascii_lowercase().replace('-', "_");
            let value = value.trim();
            match name.as_str() {
                "endpoint_name" => layer.endpoint_name = Some(value.to_string()),
                "image_uri" => layer.image_uri = Some(value.to_string()),
                "framework" => layer.framework = Some(value.to_string()),
                "framework_version" => layer.framework_version = Some(value.to_string()),
                "py_version" => layer.py_version = Some(value.to_string()),
                "entry_point" => layer.entry_point = Some(value.to_string()),
                "source_dir" => layer.source_dir = Some(value.to_string()),
                "memory_size_mb" => layer.memory_size_mb = Some(text_integer(&name, value)?),
                "max_concurrency" => layer.max_concurrency = Some(text_integer(&name, value)?),
                "provisioned_concurrency" => {
                    layer.provisioned_concurrency = Some(text_integer(&name, value)?)
                }
                _ => ignored.push(raw_name.clone()),
            }
        }
        Ok((layer, ignored))
    }

    /// Reads a model package's `CustomerMetadataProperties`: deploy.json's
    /// field names and rules (unknown names are refused), but every value is
    /// text, so numbers are parsed and maps and the smoke test are JSON text.
    pub fn from_customer_metadata(
        properties: &BTreeMap<String, String>,
    ) -> Result<Self, SettingsError> {
        let mut layer = SettingsLayer::default();
        for (name, text) in properties {
            let text = text.trim();
            let value = match name.as_str() {
                "memory_size_mb" | "max_concurrency" | "provisioned_concurrency" => {
                    Value::from(text_integer(name, text)?)
                }
                "environment" | "tags" | "smoke_test" => {
                    serde_json::from_str(text).map_err(|e| SettingsError::WrongType {
                        field: name.clone(),
                        expected: "JSON text".into(),
                        got: e.to_string(),
                    })?
                }
                _ => Value::String(text.to_string()),
            };
            layer.set_from_json(name, &value)?;
        }
        Ok(layer)
    }

    /// True when this layer says which container to run.
    pub fn names_container(&self) -> bool {
        self.image_uri.is_some()
            || self.framework.is_some()
            || self.framework_version.is_some()
            || self.py_version.is_some()
    }

    /// True when this layer says which inference code to run.
    pub fn names_code(&self) -> bool {
        self.entry_point.is_some() || self.source_dir.is_some() || self.dependencies.is_some()
    }
}

pub(super) fn json_string(field: &str, value: &Value) -> Result<String, SettingsError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SettingsError::wrong_type(field, "a string", value))
}

/// Versions must be JSON strings ("1.7-1", "2.1"): as a JSON number, 2.10
/// would silently become 2.1.
fn json_version(field: &str, value: &Value) -> Result<String, SettingsError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(SettingsError::wrong_type(
            field,
            "a string such as \"1.7-1\" (quote it: 2.10 as a JSON number would read as 2.1)",
            value,
        )),
    }
}

fn json_string_list(field: &str, value: &Value) -> Result<Vec<String>, SettingsError> {
    let expected = "a list of strings, e.g. [\"lib/common/\"]";
    value
        .as_array()
        .ok_or_else(|| SettingsError::wrong_type(field, expected, value))?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().map(str::to_string).ok_or_else(|| {
                SettingsError::wrong_type(&format!("{field}[{i}]"), "a string", item)
            })
        })
        .collect()
}

fn json_integer(field: &str, value: &Value) -> Result<i64, SettingsError> {
    value
        .as_i64()
        .ok_or_else(|| SettingsError::wrong_type(field, "a whole number", value))
}

fn text_integer(field: &str, value: &str) -> Result<i64, SettingsError> {
    value.parse::<i64>().map_err(|_| SettingsError::Invalid {
        field: field.to_string(),
        value: value.to_string(),
        allowed: "a whole number".into(),
    })
}

fn json_string_map(field: &str, value: &Value) -> Result<BTreeMap<String, String>, SettingsError> {
    let object: &Map<String, Value> = value
        .as_object()
        .ok_or_else(|| SettingsError::wrong_type(field, "an object of string values", value))?;
    object
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            Value::Bool(b) => Ok((k.clone(), b.to_string())),
            other => Err(SettingsError::wrong_type(
                &format!("{field}.{k}"),
                "a string",
                other,
            )),
        })
        .collect()
}
