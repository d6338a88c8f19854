//! The S3 calls the pipeline makes on the models bucket.

use super::{AwsError, AwsErrorKind};
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Largest deploy.json the deployer reads; settings files are tiny, and a
/// bound keeps a mistaken upload from eating the function's memory.
pub const MAX_SETTINGS_BYTES: i64 = 64 * 1024;

/// The two ends of an object and its size ([`ArtifactStore::ends`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEnds {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    pub size: u64,
}

/// "Not found" (the object or that version) is `None`.
pub(super) fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.kind == AwsErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_body(
    body: aws_sdk_s3::primitives::ByteStream,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, AwsError> {
    let bytes = body.collect().await.map_err(|e| AwsError {
        operation: "GetObject",
        kind: AwsErrorKind::Transient,
        code: None,
        message: format!("reading s3://{bucket}/{key}: {e}"),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

/// What HeadObject says about one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub version_id: Option<String>,
    /// Without quotes.
    pub etag: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub size: i64,
    /// User metadata (`x-amz-meta-*`, prefix removed, names lower-case).
    pub metadata: BTreeMap<String, String>,
}

impl ObjectInfo {
    /// The identity of this version: its version id, or its ETag when the
    /// bucket is not versioned.
    pub fn version(&self) -> Option<&str> {
        self.version_id
            .as_deref()
            .filter(|v| *v != "null")
            .or(self.etag.as_deref())
    }
}

/// A small object read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallObject {
    pub bytes: Vec<u8>,
    /// Version id, or ETag in an unversioned bucket.
    pub version: Option<String>,
    /// The S3 version id alone, to fetch this exact version again.
    pub version_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ArtifactStore {
    pub(super) client: Client,
}

pub(super) fn strip_quotes(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// An S3 timestamp (LastModified) as a UTC time.
pub(super) fn s3_time(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl ArtifactStore {
    pub fn new(client: Client) -> Self {
        ArtifactStore { client }
    }

    /// HeadObject; `None` when the object (or that version) does not exist.
    pub async fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectInfo>, AwsError> {
        let result = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("HeadObject", e));
        let Some(out) = found(result)? else {
            return Ok(None);
        };
        Ok(Some(ObjectInfo {
            version_id: out.version_id().map(str::to_string),
            etag: out.e_tag().map(strip_quotes),
            last_modified: out.last_modified().and_then(s3_time),
            size: out.content_length().unwrap_or_default(),
            metadata: out
                .metadata()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }

    /// The first `head` and last `tail` bytes of the current object and
    /// its size (two ranged GETs: S3 answers one range per request);
    /// `None` when absent. Enough to read a gzip file's header and its
    /// CRC-32 and ISIZE trailer without downloading it.
    pub async fn ends(
        &self,
        bucket: &str,
        key: &str,
        (head, tail): (u64, u64),
    ) -> Result<Option<ObjectEnds>, AwsError> {
        let mut parts = Vec::with_capacity(2);
        let mut size = 0;
        for range in [
            format!("bytes=0-{}", head.saturating_sub(1)),
            format!("bytes=-{tail}"),
        ] {
            let result = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(range)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetObject", e));
            let Some(out) = found(result)? else {
                return Ok(None);
            };
            // "bytes 0-1/12345": the total after the slash.
            size = out
                .content_range()
                .and_then(|r| r.rsplit('/').next())
                .and_then(|total| total.parse().ok())
                .unwrap_or(size);
            parts.push(read_body(out.body, bucket, key).await?);
        }
        let tail = parts.pop().unwrap_or_default();
        let head = parts.pop().unwrap_or_default();
        Ok(Some(ObjectEnds { head, tail, size }))
    }

    /// Reads a small object whole (at most `max_bytes`); `None` when absent.
    pub async fn get_small(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: i64,
    ) -> Result<Option<SmallObject>, AwsError> {
        self.get_small_version(bucket, key, None, max_bytes).await
    }

    /// Like [`get_small`](Self::get_small), for one version of the object.
    pub async fn get_small_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: i64,
    ) -> Result<Option<SmallObject>, AwsError> {
        let result = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", e));
        let Some(out) = found(result)? else {
            return Ok(None);
        };
        if out.content_length().unwrap_or_default() > max_bytes {
            return Err(AwsError {
                operation: "GetObject",
                kind: AwsErrorKind::Rejected,
                code: None,
                message: format!("s3://{bucket}/{key} is larger than {max_bytes} bytes"),
            });
        }
        let version_id = out
            .version_id()
            .filter(|v| *v != "null")
            .map(str::to_string);
        let version = version_id.clone().or_else(|| out.e_tag().map(strip_quotes));
        Ok(Some(SmallObject {
            bytes: read_body(out.body, bucket, key).await?,
            version,
            version_id,
        }))
    }

    /// Writes a small object whole (a report), replacing any object of that key.
    pub async fn put_small(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", e))?;
        Ok(())
    }

    /// Deletes the current object of `key` (absent is fine). In the
    /// versioned models bucket this leaves a delete marker: the bytes stay
    /// as a noncurrent version until the bucket's lifecycle rule expires
    /// them, so a mistaken delete can still be undone.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteObject", e))?;
        Ok(())
    }
}
