//! The deployment record: what an endpoint config was built from, stored as
//! tags on the config itself when it is created (atomically, so a crash can
//! never leave a config without its record). The deployer reads it to order
//! deployments; the smoke tester reads it to find the request to send.

use crate::aws::sagemaker::ServerlessCapacity;
use crate::tags::{self, MANAGED_BY_KEY, MANAGED_BY_VALUE};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

pub const ENDPOINT_TAG: &str = "pipeline:endpoint";
pub const MODEL_TAG: &str = "pipeline:model";
pub const ARTIFACT_BUCKET_TAG: &str = "pipeline:artifact-bucket";
pub const ARTIFACT_KEY_TAG: &str = "pipeline:artifact-key";
pub const ARTIFACT_KEY_HASH_TAG: &str = "pipeline:artifact-key-hash";
pub const ARTIFACT_VERSION_TAG: &str = "pipeline:artifact-version";
pub const ARTIFACT_TIME_TAG: &str = "pipeline:artifact-time";
pub const SEQUENCER_TAG: &str = "pipeline:s3-sequencer";
pub const SETTINGS_VERSION_TAG: &str = "pipeline:settings-version";
pub const REPLACES_CONFIG_TAG: &str = "pipeline:replaces-config";
/// Hash of everything in a config except its concurrency: two configs with
/// the same shape differ only in what UpdateEndpointWeightsAndCapacities
/// can change in place.
pub const SHAPE_TAG: &str = "pipeline:shape";
/// On the endpoint: the serverless concurrency last set in place.
pub const CAPACITY_TAG: &str = "pipeline:capacity";
/// On the endpoint: the config it ran before the last update (for rollback).
pub const PREVIOUS_CONFIG_TAG: &str = "pipeline:previous-config";

/// One version of one artifact object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactRef {
    pub bucket: String,
    pub key: String,
    /// The S3 version id, or the ETag in an unversioned bucket.
    pub version: String,
    /// When S3 stored it (event time, or Last-Modified).
    pub time: DateTime<Utc>,
    /// The S3 event sequencer, when the deploy came from the artifact's own event.
    pub sequencer: Option<String>,
}

impl ArtifactRef {
    pub fn s3_url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// For a Model Registry deployment, the model package it deployed: its
    /// `version` is then the package's ARN (a package version pins the
    /// model as an S3 version id pins an upload; bucket and key are the
    /// package's ModelDataUrl).
    pub fn model_package(&self) -> Option<&str> {
        crate::model_package::is_package_arn(&self.version).then_some(self.version.as_str())
    }

    /// Short hash of bucket and key: compares "same object key" through a tag
    /// even when the key itself had to be encoded.
    pub fn key_hash(&self) -> String {
        crate::naming::revision_hash(&[&self.bucket, &self.key])
    }
}

/// Everything the pipeline records about one endpoint config it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentRecord {
    pub endpoint_name: String,
    pub model_name: String,
    pub config_name: String,
    pub artifact: ArtifactRef,
    /// Version id (or ETag) of the deploy.json used, if there was one.
    pub settings_version: Option<String>,
    /// The endpoint's config when this one was made, if it had one.
    pub replaces_config: Option<String>,
    /// Where the smoke-test request is (see [`crate::smoke::SOURCE_TAG`]).
    pub smoke_test_source: Option<String>,
    /// See [`SHAPE_TAG`]; `None` on configs made before it was recorded
    /// (they are never changed in place).
    pub shape: Option<String>,
    /// The concurrency the settings ask for. Not stored in tags (the
    /// config's `ServerlessConfig` holds it): `None` when read back.
    pub capacity: Option<ServerlessCapacity>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("artifact key {key:?} is too long to record in a tag (at most 256 characters, or 189 when it has characters other than letters, digits, spaces and _ . : / = + - @); use a shorter key")]
pub struct KeyTooLong {
    pub key: String,
}

/// The value of [`CAPACITY_TAG`].
pub fn capacity_tag_value(capacity: &ServerlessCapacity) -> String {
    match capacity.provisioned_concurrency {
        Some(p) => format!(
            "max-concurrency={} provisioned-concurrency={p}",
            capacity.max_concurrency
        ),
        None => format!("max-concurrency={}", capacity.max_concurrency),
    }
}

impl DeploymentRecord {
    /// Tags for the endpoint config (the record itself).
    pub fn to_tags(&self) -> Result<BTreeMap<String, String>, KeyTooLong> {
        let key = tags::encode_value(&self.artifact.key).ok_or_else(|| KeyTooLong {
            key: self.artifact.key.clone(),
        })?;
        let mut out = BTreeMap::from([
            (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
            (ENDPOINT_TAG.to_string(), self.endpoint_name.clone()),
            (MODEL_TAG.to_string(), self.model_name.clone()),
            (
                ARTIFACT_BUCKET_TAG.to_string(),
                self.artifact.bucket.clone(),
            ),
            (ARTIFACT_KEY_TAG.to_string(), key),
            (ARTIFACT_KEY_HASH_TAG.to_string(), self.artifact.key_hash()),
            (
                ARTIFACT_VERSION_TAG.to_string(),
                tag_safe(&self.artifact.version),
            ),
            (
                ARTIFACT_TIME_TAG.to_string(),
                self.artifact
                    .time
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
        ]);
        if let Some(sequencer) = &self.artifact.sequencer {
            out.insert(SEQUENCER_TAG.to_string(), tag_safe(sequencer));
        }
        if let Some(version) = &self.settings_version {
            out.insert(SETTINGS_VERSION_TAG.to_string(), tag_safe(version));
        }
        if let Some(previous) = &self.replaces_config {
            out.insert(REPLACES_CONFIG_TAG.to_string(), previous.clone());
        }
        if let Some(shape) = &self.shape {
            out.insert(SHAPE_TAG.to_string(), shape.clone());
        }
        if let Some(source) = &self.smoke_test_source {
            let encoded = tags::encode_value(source).ok_or_else(|| KeyTooLong {
                key: source.clone(),
            })?;
            out.insert(crate::smoke::SOURCE_TAG.to_string(), encoded);
        }
        Ok(out)
    }

    /// Reads a record back from a config's tags; `None` when the config was
    /// not created by this pipeline (or its record is unreadable).
    pub fn from_tags(config_name: &str, tags_on_config: &BTreeMap<String, String>) -> Option<Self> {
        let get = |key: &str| tags_on_config.get(key).cloned();
        if get(MANAGED_BY_KEY).as_deref() != Some(MANAGED_BY_VALUE) {
            return None;
        }
        let time = DateTime::parse_from_rfc3339(&get(ARTIFACT_TIME_TAG)?)
            .ok()?
            .with_timezone(&Utc);
        Some(DeploymentRecord {
            endpoint_name: get(ENDPOINT_TAG)?,
            model_name: get(MODEL_TAG)?,
            config_name: config_name.to_string(),
            artifact: ArtifactRef {
                bucket: get(ARTIFACT_BUCKET_TAG)?,
                key: tags::decode_value(&get(ARTIFACT_KEY_TAG)?)?,
                version: get(ARTIFACT_VERSION_TAG)?,
                time,
                sequencer: get(SEQUENCER_TAG),
            },
            settings_version: get(SETTINGS_VERSION_TAG),
            replaces_config: get(REPLACES_CONFIG_TAG),
            smoke_test_source: get(crate::smoke::SOURCE_TAG).and_then(|v| tags::decode_value(&v)),
            shape: get(SHAPE_TAG),
            capacity: None,
        })
    }
}

/// S3 version ids and ETags are tag-safe in practice; this keeps a strange
/// one from failing the whole CreateEndpointConfig call.
fn tag_safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if tags::is_tag_text(&c.to_string()) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.chars().take(tags::MAX_VALUE_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> DeploymentRecord {
        DeploymentRecord {
            endpoint_name: "fraud".into(),
            model_name: "fraud-aaaaaaaaaaaa".into(),
            config_name: "fraud-bbbbbbbbbbbb".into(),
            artifact: ArtifactRef {
                bucket: "models".into(),
                key: "models/fraud (new)/model.tar.gz".into(),
                version: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into(),
                time: DateTime::parse_from_rfc3339("2026-11-28T10:00:00.123Z")
                    .unwrap()
                    .with_timezone(&Utc),
                sequencer: Some("0055AED6DCD90281E5".into()),
            },
            settings_version: Some("v2".into()),
            replaces_config: Some("fraud-cccccccccccc".into()),
            smoke_test_source: Some(
                "s3://models/models/fraud (new)/deploy.json?versionId=v2".into(),
            ),
            shape: Some("0a1b2c3d4e5f".into()),
            capacity: None,
        }
    }

    #[test]
    fn round_trips_through_tags() {
        let original = record();
        let tags_on_config = original.to_tags().unwrap();
        assert!(tags_on_config
            .iter()
            .all(|(k, v)| tags::is_tag_text(k) && tags::is_tag_text(v)));
        assert_eq!(
            DeploymentRecord::from_tags(&original.config_name, &tags_on_config),
            Some(original)
        );
    }

    #[test]
    fn configs_without_the_managed_tag_have_no_record() {
        let mut tags_on_config = record().to_tags().unwrap();
        tags_on_config.remove(MANAGED_BY_KEY);
        assert_eq!(DeploymentRecord::from_tags("x", &tags_on_config), None);
    }

    #[test]
    fn keys_too_long_for_a_tag_are_refused() {
        let mut long = record();
        long.artifact.key = format!("{}/model.tar.gz", "k".repeat(300));
        assert!(long.to_tags().is_err());
    }
}
