//! EventBridge `SageMaker Model Package State Change` events: Model Registry
//! approvals that deploy a registered model package serverless.
//!
//! Pure: the event is parsed and a decision made from it, the watched
//! groups and the package the endpoint serves now; the deployer acts on it.

mod rejection;

pub use rejection::{rejection_event, LiveRejection};

use crate::naming::InvalidName;
use crate::settings::{SettingsError, SettingsLayer};
use serde_json::Value;
use std::collections::BTreeMap;

/// EventBridge `detail-type` of a Model Registry state change.
pub const DETAIL_TYPE: &str = "SageMaker Model Package State Change";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageEventError {
    #[error("the model package event has no {0}")]
    Missing(String),
    #[error("the model package event's {field} is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
}

/// `ModelApprovalStatus` as the registry sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalStatus {
    Approved,
    Rejected,
    PendingManualApproval,
    Other(String),
}

impl ApprovalStatus {
    fn from_text(text: &str) -> Self {
        match text {
            "Approved" => ApprovalStatus::Approved,
            "Rejected" => ApprovalStatus::Rejected,
            "PendingManualApproval" => ApprovalStatus::PendingManualApproval,
            other => ApprovalStatus::Other(other.to_string()),
        }
    }
}

/// The fields of one state change the deployer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageStateChange {
    pub group: String,
    /// What `CreateModel` names as `ModelPackageName` (versioned packages
    /// are named by ARN: their `ModelPackageName` is the group's name).
    pub package_arn: String,
    pub version: Option<u32>,
    pub status: ApprovalStatus,
    /// `CustomerMetadataProperties`: deploy.json's field names, text values.
    pub properties: BTreeMap<String, String>,
}

/// What to do about one state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageDecision {
    /// Deploy this package (settings from its metadata properties).
    Deploy { package_arn: String },
    /// The live package was rejected: reported, nothing changed. Deleting a
    /// serving endpoint on a registry click would take traffic down; the
    /// way to replace it is approving another version.
    LeaveLive { package_arn: String },
    /// Nothing to do, and why.
    Ignore { reason: String },
}

/// The package groups the stack deploys from (a comma-separated template
/// parameter; empty turns the feature off).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchedGroups(Vec<String>);

impl WatchedGroups {
    pub fn from_env_value(raw: &str) -> Self {
        WatchedGroups(
            raw.split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn is_off(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, group: &str) -> bool {
        self.0.iter().any(|g| g == group)
    }
}

/// True for a model package ARN (`arn:<partition>:sagemaker:<region>:<account>:model-package/...`).
pub fn is_package_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":model-package/")
}

/// Why a change is none of the deployer's business (`None`: it is): the
/// feature is off, the group is not watched, or the status is neither an
/// approval nor a rejection. Decided from the event alone, before any call.
pub fn screen(change: &PackageStateChange, watched: &WatchedGroups) -> Option<String> {
    if watched.is_off() {
        return Some("no model package groups are watched (the feature is off)".into());
    }
    if !watched.contains(&change.group) {
        return Some(format!(
            "model package group {:?} is not watched",
            change.group
        ));
    }
    match &change.status {
        ApprovalStatus::Approved | ApprovalStatus::Rejected => None,
        status => Some(format!(
            "{} is {status:?}: only approvals deploy",
            change.package_arn
        )),
    }
}

/// Deployment settings from a package's `CustomerMetadataProperties`:
/// deploy.json's fields and rules, except those that name the container or
/// the inference code, which the package itself holds (CreateModel takes
/// its ModelPackageName and SageMaker runs the package's containers); they
/// are refused rather than silently ignored.
pub fn settings_layer(
    properties: &BTreeMap<String, String>,
) -> Result<SettingsLayer, SettingsError> {
    let layer = SettingsLayer::from_customer_metadata(properties)?;
    let held_by_package = [
        "image_uri",
        "framework",
        "framework_version",
        "py_version",
        "entry_point",
        "source_dir",
        "dependencies",
    ];
    if let Some(field) = held_by_package
        .iter()
        .find(|f| properties.contains_key(**f))
    {
        return Err(SettingsError::Invalid {
            field: (*field).to_string(),
            value: properties.get(*field).cloned().unwrap_or_default(),
            allowed: "nothing in CustomerMetadataProperties: a model package names its container and code in its InferenceSpecification, which SageMaker runs; remove the property".into(),
        });
    }
    Ok(layer)
}

/// The endpoint a package deploys to: `endpoint_name` from its properties,
/// else its group's name (made a valid endpoint name the same way).
pub fn endpoint_name(
    properties: &BTreeMap<String, String>,
    group: &str,
) -> Result<String, InvalidName> {
    let raw = properties
        .get("endpoint_name")
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or(group);
    crate::naming::endpoint_name_from(raw)
}

pub fn is_package_state_change(payload: &Value) -> bool {
    payload.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
}

pub fn parse(payload: &Value) -> Result<PackageStateChange, PackageEventError> {
    let detail = payload
        .get("detail")
        .ok_or_else(|| PackageEventError::Missing("detail".into()))?;
    let text = |field: &str| {
        detail
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PackageEventError::Missing(field.to_string()))
    };
    let version = match detail.get("ModelPackageVersion") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(
            PackageEventError::WrongType {
                field: "ModelPackageVersion",
                expected: "a whole number",
            },
        )?),
    };
    let properties = match detail.get("CustomerMetadataProperties") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| PackageEventError::WrongType {
            field: "CustomerMetadataProperties",
            expected: "a map of strings",
        })?,
    };
    Ok(PackageStateChange {
        group: text("ModelPackageGroupName")?,
        package_arn: text("ModelPackageArn")?,
        version,
        status: ApprovalStatus::from_text(&text("ModelApprovalStatus")?),
        properties,
    })
}

/// Decides from the change, the watched groups and the package the target
/// endpoint serves now (`None`: no endpoint, or not from a package).
///
/// Version numbers are deliberately not compared: approving an older
/// version again is how a registry user rolls back, so it deploys.
pub fn decide(
    change: &PackageStateChange,
    watched: &WatchedGroups,
    live_package: Option<&str>,
) -> PackageDecision {
    let ignore = |reason: String| PackageDecision::Ignore { reason };
    if let Some(reason) = screen(change, watched) {
        return ignore(reason);
    }
    let is_live = live_package == Some(change.package_arn.as_str());
    match (&change.status, is_live) {
        (ApprovalStatus::Approved, true) => ignore(format!(
            "{} is already the live package (a repeated event)",
            change.package_arn
        )),
        (ApprovalStatus::Approved, false) => PackageDecision::Deploy {
            package_arn: change.package_arn.clone(),
        },
        (ApprovalStatus::Rejected, true) => PackageDecision::LeaveLive {
            package_arn: change.package_arn.clone(),
        },
        (ApprovalStatus::Rejected, false) => ignore(format!(
            "{} was rejected but is not live: nothing to change",
            change.package_arn
        )),
        (status, _) => ignore(format!(
            "{} is {status:?}: only approvals deploy",
            change.package_arn
        )),
    }
}

#[cfg(test)]
mod tests;
