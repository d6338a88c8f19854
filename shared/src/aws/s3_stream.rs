//! The S3 calls that move code and archives as streams: listing a code
//! folder, reading an object chunk by chunk, and writing one as a
//! multipart upload (so no object is ever held whole in memory).

use super::s3::{found, s3_time, strip_quotes, ArtifactStore};
use super::{AwsError, AwsErrorKind};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// When it was written (for a multipart upload: when the upload began).
    pub last_modified: Option<DateTime<Utc>>,
}

/// An object being read: its body as a stream of chunks.
pub struct Streamed {
    pub body: ByteStream,
    pub size: u64,
}

/// A multipart upload in progress (see [`ArtifactStore::start_upload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    parts: Vec<(i32, String)>,
}

impl Upload {
    pub fn parts(&self) -> usize {
        self.parts.len()
    }
}

/// A read of code whose ETag changed since it was listed: the archive
/// would mix versions, so the deploy is retried and lists again.
fn changed_is_transient(mut e: AwsError) -> AwsError {
    if e.code.as_deref() == Some("PreconditionFailed") {
        e.kind = AwsErrorKind::Transient;
        e.message = format!(
            "{} (the object changed while it was being packed)",
            e.message
        );
    }
    e
}

impl ArtifactStore {
    /// Every object below `prefix` (all pages), in key order.
    pub async fn list_folder(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_string(),
                    size: u64::try_from(o.size().unwrap_or_default()).unwrap_or(0),
                    etag: o.e_tag().map(strip_quotes).unwrap_or_default(),
                    last_modified: o.last_modified().and_then(s3_time),
                })
            }));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Opens the current object for reading, only if its ETag is still
    /// `etag` (when given); `None` when absent.
    pub async fn stream(
        &self,
        bucket: &str,
        key: &str,
        etag: Option<&str>,
    ) -> Result<Option<Streamed>, AwsError> {
        let result = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(etag.map(|e| format!("\"{e}\"")))
            .send()
            .await
            .map_err(|e| changed_is_transient(AwsError::from_sdk("GetObject", e)));
        Ok(found(result)?.map(|out| Streamed {
            size: u64::try_from(out.content_length().unwrap_or_default()).unwrap_or(0),
            body: out.body,
        }))
    }

    /// Starts a multipart upload of `key`.
    pub async fn start_upload(&self, bucket: &str, key: &str) -> Result<Upload, AwsError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/gzip")
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateMultipartUpload", e))?;
        let upload_id = out
            .upload_id()
            .map(str::to_string)
            .ok_or_else(|| AwsError {
                operation: "CreateMultipartUpload",
                kind: AwsErrorKind::Transient,
                code: None,
                message: format!("no upload id for s3://{bucket}/{key}"),
            })?;
        Ok(Upload {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id,
            parts: Vec::new(),
        })
    }

    /// Uploads the next part (parts are numbered in the order sent).
    pub async fn upload_part(&self, upload: &mut Upload, data: Vec<u8>) -> Result<(), AwsError> {
        let number = i32::try_from(upload.parts.len() + 1).unwrap_or(i32::MAX);
        let out = self
            .client
            .upload_part()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UploadPart", e))?;
        let etag = out.e_tag().map(str::to_string).unwrap_or_default();
        upload.parts.push((number, etag));
        Ok(())
    }

    /// Makes the object from the parts sent; until then nothing is visible
    /// under the key.
    pub async fn complete_upload(&self, upload: Upload) -> Result<(), AwsError> {
        let parts = upload
            .parts
            .iter()
            .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CompleteMultipartUpload", e))?;
        Ok(())
    }

    /// Drops the parts of an upload that will not be completed (S3 bills
    /// for them until then; the bucket's lifecycle rule catches crashes).
    pub async fn abort_upload(&self, upload: &Upload) -> Result<(), AwsError> {
        self.client
            .abort_multipart_upload()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AbortMultipartUpload", e))?;
        Ok(())
    }
}
