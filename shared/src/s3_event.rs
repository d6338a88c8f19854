//! S3 event records, one at a time.
//!
//! The handler receives the raw JSON and parses each record on its own, so a
//! malformed record fails alone instead of failing the whole invocation
//! before any record is looked at.

use aws_lambda_events::s3::S3EventRecord;
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::cmp::Ordering;

/// File name of a model artifact.
pub const ARTIFACT_FILE: &str = "model.tar.gz";
/// File name of the sidecar settings file.
pub const SIDECAR_FILE: &str = "deploy.json";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not an S3 notification: it has no \"Records\" array (the deployer is triggered by S3 ObjectCreated events)")]
    NotAnS3Event,
    #[error("record {index} is not a valid S3 event record: {reason}")]
    MalformedRecord { index: usize, reason: String },
    #[error("record {index} has event {event_name:?}; only ObjectCreated:* events deploy models")]
    WrongEventType { index: usize, event_name: String },
    #[error("record {index}: object key {key:?} is not valid URL encoding ({reason})")]
    BadKeyEncoding {
        index: usize,
        key: String,
        reason: String,
    },
}

/// What an uploaded object means to the deployer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRole {
    /// `.../model.tar.gz`: deploy this artifact.
    Artifact,
    /// `.../deploy.json`: redeploy the artifact next to it with new settings.
    Sidecar,
}

/// One `ObjectCreated` record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub index: usize,
    pub bucket: String,
    /// Decoded key, as the SDK wants it.
    pub key: String,
    pub version_id: Option<String>,
    /// ETag without quotes.
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    pub event_time: DateTime<Utc>,
}

impl ObjectCreated {
    /// `Some(role)` when the key names a file the deployer acts on.
    pub fn role(&self) -> Option<ObjectRole> {
        let file = self.key.rsplit('/').next().unwrap_or(&self.key);
        match file {
            ARTIFACT_FILE => Some(ObjectRole::Artifact),
            SIDECAR_FILE => Some(ObjectRole::Sidecar),
            _ => None,
        }
    }

    /// The S3 "folder" of the key, with its trailing slash (empty at the root).
    pub fn folder(&self) -> &str {
        folder_of(&self.key)
    }
}

/// The folder part of a key, trailing slash included.
pub fn folder_of(key: &str) -> &str {
    match key.rfind('/') {
        Some(pos) => &key[..=pos],
        None => "",
    }
}

/// Splits a Lambda payload into its S3 records.
pub fn records(payload: &Value) -> Result<&[Value], EventError> {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or(EventError::NotAnS3Event)
}

/// Parses and decodes record number `index`.
pub fn parse_record(index: usize, raw: &Value) -> Result<ObjectCreated, EventError> {
    let record: S3EventRecord =
        serde_json::from_value(raw.clone()).map_err(|e| EventError::MalformedRecord {
            index,
            reason: e.to_string(),
        })?;
    let event_name = record.event_name.clone().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated:") {
        return Err(EventError::WrongEventType { index, event_name });
    }
    let missing = |field: &str| EventError::MalformedRecord {
        index,
        reason: format!("missing {field}"),
    };
    let bucket = record
        .s3
        .bucket
        .name
        .filter(|b| !b.is_empty())
        .ok_or_else(|| missing("s3.bucket.name"))?;
    let raw_key = record
        .s3
        .object
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| missing("s3.object.key"))?;
    let key = decode_key(&raw_key).map_err(|reason| EventError::BadKeyEncoding {
        index,
        key: raw_key.clone(),
        reason,
    })?;
    Ok(ObjectCreated {
        index,
        bucket,
        key,
        version_id: record.s3.object.version_id.filter(|v| !v.is_empty()),
        etag: record
            .s3
            .object
            .e_tag
            .map(|e| e.trim_matches('"').to_string()),
        sequencer: record.s3.object.sequencer.filter(|s| !s.is_empty()),
        event_time: record.event_time,
    })
}

/// Decodes an S3 notification key: `+` is a space, `%XX` an escaped byte.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let plus_as_space = raw.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| format!("not UTF-8 after decoding: {e}"))
}

/// Orders two sequencers of the *same key*: left-pad the shorter hex string
/// with zeros, then compare. Sequencers of different keys mean nothing
/// relative to each other.
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    let a = format!("{a:0>width$}").to_ascii_uppercase();
    let b = format!("{b:0>width$}").to_ascii_uppercase();
    a.cmp(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(key: &str, event_name: &str) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-28T10:00:00.000Z", "eventName": event_name,
            "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
              "bucket": {"name": "models-bucket", "arn": "arn:aws:s3:::models-bucket"},
              "object": {"key": key, "size": 10, "eTag": "abc", "versionId": "v1", "sequencer": "0A1B"}}
        })
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("models/fraud+detector/v%C3%A9/model.tar.gz").unwrap(),
            "models/fraud detector/vé/model.tar.gz"
        );
        // A literal plus is sent as %2B.
        assert_eq!(decode_key("a%2Bb").unwrap(), "a+b");
        assert!(decode_key("bad%FF").is_err());
    }

    #[test]
    fn parses_an_object_created_record() {
        let parsed =
            parse_record(0, &record("models/a+b/model.tar.gz", "ObjectCreated:Put")).unwrap();
        assert_eq!(parsed.key, "models/a b/model.tar.gz");
        assert_eq!(parsed.bucket, "models-bucket");
        assert_eq!(parsed.role(), Some(ObjectRole::Artifact));
        assert_eq!(parsed.folder(), "models/a b/");
        assert_eq!(parsed.sequencer.as_deref(), Some("0A1B"));
    }

    #[test]
    fn roles_follow_the_file_name() {
        let role = |key: &str| {
            parse_record(0, &record(key, "ObjectCreated:Put"))
                .unwrap()
                .role()
        };
        assert_eq!(role("m/deploy.json"), Some(ObjectRole::Sidecar));
        assert_eq!(role("model.tar.gz"), Some(ObjectRole::Artifact));
        assert_eq!(role("m/my-model.tar.gz"), None);
        assert_eq!(role("m/model.tar.gz.bak"), None);
    }

    #[test]
    fn other_event_types_are_refused() {
        let err = parse_record(2, &record("m/model.tar.gz", "ObjectRemoved:Delete")).unwrap_err();
        assert_eq!(
            err,
            EventError::WrongEventType {
                index: 2,
                event_name: "ObjectRemoved:Delete".into()
            }
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let mut raw = record("m/model.tar.gz", "ObjectCreated:Put");
        raw["s3"]["bucket"].as_object_mut().unwrap().remove("name");
        let err = parse_record(0, &raw).unwrap_err();
        assert!(err.to_string().contains("s3.bucket.name"), "{err}");
        let err = parse_record(1, &json!({"eventName": "ObjectCreated:Put"})).unwrap_err();
        assert!(matches!(err, EventError::MalformedRecord { index: 1, .. }));
    }

    #[test]
    fn payload_without_records_is_not_an_s3_event() {
        assert_eq!(
            records(&json!({"detail": {}})).unwrap_err(),
            EventError::NotAnS3Event
        );
        assert_eq!(records(&json!({"Records": []})).unwrap().len(), 0);
    }

    #[test]
    fn sequencers_compare_after_left_padding() {
        assert_eq!(compare_sequencers("0A", "A"), Ordering::Equal);
        assert_eq!(compare_sequencers("FF", "100"), Ordering::Less);
        assert_eq!(compare_sequencers("0055B1", "0055B0"), Ordering::Greater);
        assert_eq!(compare_sequencers("0055b1", "0055B1"), Ordering::Equal);
    }
}
