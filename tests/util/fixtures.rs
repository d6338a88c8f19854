//! S3 event fixtures: the files in `events/`, pointed at a test's objects.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One uploaded object as an S3 notification describes it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub etag: String,
    pub sequencer: String,
    pub event_time: DateTime<Utc>,
}

/// URL-encodes a key the way S3 notifications do (space as `+`).
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// An S3 put event with one record per upload, built from
/// `events/s3-put-model.json` so the shape stays the real one.
pub fn s3_event(uploads: &[Upload]) -> Value {
    let template = super::event_file("s3-put-model.json")["Records"][0].clone();
    let records: Vec<Value> = uploads
        .iter()
        .map(|u| {
            let mut record = template.clone();
            record["eventTime"] = json!(u
                .event_time
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            record["s3"]["bucket"]["name"] = json!(u.bucket);
            record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{}", u.bucket));
            record["s3"]["object"]["key"] = json!(encode_key(&u.key));
            record["s3"]["object"]["versionId"] = json!(u.version_id);
            record["s3"]["object"]["eTag"] = json!(u.etag);
            record["s3"]["object"]["sequencer"] = json!(u.sequencer);
            record
        })
        .collect();
    json!({ "Records": records })
}
