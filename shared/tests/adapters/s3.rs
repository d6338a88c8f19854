//! `ArtifactStore`: HeadObject and small GetObject reads, including the
//! shapes S3 really answers with (404 HEAD without a body, quoted ETags,
//! the literal version id "null" of an unversioned bucket).

use crate::support::{http, s3, s3_error};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_mocks::mock;
use chrono::{TimeZone, Utc};
use shared::aws::s3::{ObjectInfo, SmallObject, MAX_SETTINGS_BYTES};
use shared::aws::AwsErrorKind;
use std::collections::BTreeMap;

const BUCKET: &str = "models-bucket";
const KEY: &str = "churn-model/model.tar.gz";
const VERSION: &str = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY";
const ETAG: &str = "9b2cf535f27731c974343645a3985328";

#[tokio::test]
async fn head_returns_none_for_a_404_without_body() {
    let rule = mock!(Client::head_object).then_http_response(|| {
        http(
            404,
            &[
                ("content-type", "application/xml"),
                ("x-amz-request-id", "4442587FB7D0A2F9"),
            ],
            "",
        )
    });
    let (store, sent) = s3(&[&rule]);

    assert_eq!(store.head(BUCKET, KEY, None).await, Ok(None));
    let request = sent.single();
    assert_eq!(request.method, "HEAD");
    assert!(
        request.uri.contains("churn-model/model.tar.gz"),
        "{}",
        request.uri
    );
}

#[tokio::test]
async fn head_maps_metadata_version_etag_size_and_time_from_the_wire() {
    let rule = mock!(Client::head_object)
        .match_requests(|r| {
            r.bucket() == Some(BUCKET) && r.key() == Some(KEY) && r.version_id() == Some(VERSION)
        })
        .then_http_response(|| {
            http(
                200,
                &[
                    ("etag", "\"9b2cf535f27731c974343645a3985328\""),
                    ("x-amz-version-id", VERSION),
                    ("last-modified", "Mon, 10 Jun 2024 06:13:20 GMT"),
                    ("content-length", "5242880"),
                    ("content-type", "application/x-tar"),
                    ("x-amz-meta-Memory-Size-MB", "3072"),
                    ("x-amz-meta-endpoint-name", "churn-model"),
                ],
                "",
            )
        });
    let (store, sent) = s3(&[&rule]);

    let info = store
        .head(BUCKET, KEY, Some(VERSION))
        .await
        .unwrap()
        .expect("object exists");

    assert_eq!(
        info,
        ObjectInfo {
            version_id: Some(VERSION.into()),
            etag: Some(ETAG.into()),
            last_modified: Some(Utc.with_ymd_and_hms(2024, 6, 10, 6, 13, 20).unwrap()),
            size: 5_242_880,
            metadata: [("endpoint-name", "churn-model"), ("memory-size-mb", "3072")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    );
    assert_eq!(info.version(), Some(VERSION));
    assert!(sent.single().uri.contains(&format!("versionId={VERSION}")));
}

#[tokio::test]
async fn head_lower_cases_metadata_names() {
    let rule = mock!(Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .e_tag("\"abc\"")
            .metadata("Endpoint-Name", "churn-model")
            .metadata("MAX-CONCURRENCY", "5")
            .build()
    });
    let (store, _) = s3(&[&rule]);

    let info = store.head(BUCKET, KEY, None).await.unwrap().unwrap();

    let names: Vec<&str> = info.metadata.keys().map(String::as_str).collect();
    assert_eq!(names, ["endpoint-name", "max-concurrency"]);
    assert_eq!(info.metadata["max-concurrency"], "5");
    assert_eq!(info.etag.as_deref(), Some("abc"));
}

#[tokio::test]
async fn head_of_an_unversioned_object_identifies_it_by_etag() {
    let rule = mock!(Client::head_object).then_http_response(|| {
        http(
            200,
            &[
                ("etag", "\"9b2cf535f27731c974343645a3985328\""),
                ("x-amz-version-id", "null"),
            ],
            "",
        )
    });
    let (store, _) = s3(&[&rule]);

    let info = store.head(BUCKET, KEY, None).await.unwrap().unwrap();

    assert_eq!(info.version_id.as_deref(), Some("null"));
    assert_eq!(info.version(), Some(ETAG));
}

#[test]
fn object_version_ignores_the_null_version_id() {
    let mut info = ObjectInfo {
        version_id: Some("null".into()),
        etag: Some(ETAG.into()),
        last_modified: None,
        size: 1,
        metadata: BTreeMap::new(),
    };
    assert_eq!(info.version(), Some(ETAG));
    info.version_id = Some(VERSION.into());
    assert_eq!(info.version(), Some(VERSION));
    info.version_id = None;
    assert_eq!(info.version(), Some(ETAG));
    info.etag = None;
    assert_eq!(info.version(), None);
}

#[tokio::test]
async fn head_that_is_forbidden_is_an_error_not_a_missing_object() {
    // Without s3:ListBucket, S3 answers 403 (not 404) for a missing key.
    let rule = mock!(Client::head_object).then_http_response(|| http(403, &[], ""));
    let (store, _) = s3(&[&rule]);

    let err = store.head(BUCKET, KEY, None).await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Rejected, "{err:?}");
    assert_eq!(err.operation, "HeadObject");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn get_small_returns_none_for_no_such_key() {
    let rule = mock!(Client::get_object)
        .match_requests(|r| {
            r.bucket() == Some(BUCKET) && r.key() == Some("churn-model/deploy.json")
        })
        .then_http_response(|| s3_error(404, "NoSuchKey", "The specified key does not exist."));
    let (store, _) = s3(&[&rule]);

    assert_eq!(
        store
            .get_small(BUCKET, "churn-model/deploy.json", MAX_SETTINGS_BYTES)
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn get_small_that_is_denied_is_an_error_not_a_missing_object() {
    // A deploy.json the function may not read must not silently mean "defaults".
    let rule = mock!(Client::get_object)
        .then_http_response(|| s3_error(403, "AccessDenied", "Access Denied"));
    let (store, sent) = s3(&[&rule]);

    let err = store
        .get_small(BUCKET, "churn-model/deploy.json", MAX_SETTINGS_BYTES)
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Rejected);
    assert_eq!(err.code.as_deref(), Some("AccessDenied"));
    assert_eq!(sent.requests().len(), 1);
}

#[tokio::test]
async fn get_small_reads_the_body_and_its_version() {
    let body = br#"{"memory_size_mb": 4096}"#;
    let rule = mock!(Client::get_object).then_http_response(move || {
        http(
            200,
            &[
                ("etag", "\"d41d8cd98f00b204e9800998ecf8427e\""),
                ("x-amz-version-id", "null"),
                ("content-length", &body.len().to_string()),
                ("content-type", "application/json"),
            ],
            std::str::from_utf8(body).unwrap(),
        )
    });
    let (store, _) = s3(&[&rule]);

    let object = store
        .get_small(BUCKET, "churn-model/deploy.json", MAX_SETTINGS_BYTES)
        .await
        .unwrap();

    assert_eq!(
        object,
        Some(SmallObject {
            bytes: body.to_vec(),
            version: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            version_id: None,
        })
    );
}

#[tokio::test]
async fn get_small_prefers_the_version_id_when_versioned() {
    let rule = mock!(Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .version_id(VERSION)
            .e_tag("\"abc\"")
            .content_length(2)
            .body(ByteStream::from_static(b"{}"))
            .build()
    });
    let (store, _) = s3(&[&rule]);

    let object = store.get_small(BUCKET, "k", 1024).await.unwrap().unwrap();

    assert_eq!(object.version.as_deref(), Some(VERSION));
    assert_eq!(object.bytes, b"{}");
}

#[tokio::test]
async fn get_small_refuses_an_object_larger_than_the_limit() {
    let size = (MAX_SETTINGS_BYTES + 1) as usize;
    let rule = mock!(Client::get_object).then_http_response(move || {
        http(
            200,
            &[("etag", "\"abc\""), ("content-length", &size.to_string())],
            &"x".repeat(size),
        )
    });
    let (store, _) = s3(&[&rule]);

    let err = store
        .get_small(BUCKET, "churn-model/deploy.json", MAX_SETTINGS_BYTES)
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Rejected);
    assert_eq!(err.operation, "GetObject");
    assert!(
        err.message
            .contains("s3://models-bucket/churn-model/deploy.json"),
        "{}",
        err.message
    );
    assert!(err.message.contains("65536"), "{}", err.message);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn get_small_accepts_an_object_exactly_at_the_limit() {
    let rule = mock!(Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .content_length(4)
            .body(ByteStream::from_static(b"1234"))
            .build()
    });
    let (store, _) = s3(&[&rule]);

    let object = store.get_small(BUCKET, "k", 4).await.unwrap().unwrap();

    assert_eq!(object.bytes, b"1234");
    assert_eq!(object.version, None);
}
