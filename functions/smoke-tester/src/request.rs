//! Finding the request recorded with a deployment: the endpoint config's
//! `pipeline:smoke-test-source` tag names a JSON document (the deploy.json
//! version that was deployed) whose `smoke_test` object says what to send,
//! or the model package of a Model Registry deployment.

use crate::invoke::Payload;
use serde_json::Value;
use shared::aws::s3::{ArtifactStore, MAX_SETTINGS_BYTES};
use shared::aws::sagemaker::SageMaker;
use shared::aws::AwsError;
use shared::model_package::is_package_arn;
use shared::settings::{SmokeTestBody, SmokeTestRequest};
use shared::smoke::{parse_source_uri, SOURCE_TAG};
use shared::tags::decode_value;
use std::collections::BTreeMap;

/// Serverless Inference caps request payloads at 4 MB.
pub const MAX_PAYLOAD_BYTES: i64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Found {
        request: Box<SmokeTestRequest>,
        payload: Payload,
        source: String,
    },
    /// Nothing to send: the test is "not tested", never an invented payload.
    NotRecorded { why: String },
}

fn not_recorded(why: impl Into<String>) -> Lookup {
    Lookup::NotRecorded { why: why.into() }
}

/// Reads the request named by a config's tags.
pub async fn find_request(
    store: &ArtifactStore,
    sagemaker: &SageMaker,
    config_tags: &BTreeMap<String, String>,
) -> Result<Lookup, AwsError> {
    let Some(source) = config_tags.get(SOURCE_TAG).and_then(|v| decode_value(v)) else {
        return Ok(not_recorded(
            "the deployment recorded no smoke_test request (add one to deploy.json)",
        ));
    };
    if is_package_arn(&source) {
        return package_request(sagemaker, source).await;
    }
    let Some((bucket, key, version)) = parse_source_uri(&source) else {
        return Ok(not_recorded(format!(
            "{SOURCE_TAG} = {source:?} is not an s3:// URI"
        )));
    };
    let Some(document) = store
        .get_small_version(&bucket, &key, version.as_deref(), MAX_SETTINGS_BYTES)
        .await?
    else {
        return Ok(not_recorded(format!("{source} no longer exists")));
    };
    let request = match parse_document(&document.bytes) {
        Ok(request) => request,
        Err(why) => return Ok(not_recorded(format!("{source}: {why}"))),
    };
    let body = match &request.body {
        SmokeTestBody::Inline(text) => text.as_bytes().to_vec(),
        SmokeTestBody::S3Key(body_key) => {
            match store.get_small(&bucket, body_key, MAX_PAYLOAD_BYTES).await {
                Ok(Some(object)) => object.bytes,
                Ok(None) => {
                    return Ok(not_recorded(format!(
                        "the request body s3://{bucket}/{body_key} does not exist"
                    )))
                }
                Err(e) if e.kind == shared::aws::AwsErrorKind::Rejected => {
                    return Ok(not_recorded(format!(
                        "the request body s3://{bucket}/{body_key} is over the 4 MB payload limit"
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    };
    let payload = Payload {
        content_type: request.content_type.clone(),
        accept: request.accept.clone(),
        body,
    };
    Ok(Lookup::Found {
        request: Box::new(request),
        payload,
        source,
    })
}

/// A Model Registry deployment's request: the package's `smoke_test`
/// property (JSON text), with an inline body (a package has no bucket of
/// its own to name a body key in).
async fn package_request(sagemaker: &SageMaker, source: String) -> Result<Lookup, AwsError> {
    let Some(package) = sagemaker.describe_model_package(&source).await? else {
        return Ok(not_recorded(format!("{source} no longer exists")));
    };
    let Some(text) = package.properties.get("smoke_test") else {
        return Ok(not_recorded(format!("{source} has no smoke_test property")));
    };
    let request = match serde_json::from_str::<Value>(text)
        .map_err(|e| format!("not JSON: {e}"))
        .and_then(|v| SmokeTestRequest::from_json(&v).map_err(|e| e.to_string()))
    {
        Ok(request) => request,
        Err(why) => return Ok(not_recorded(format!("{source}: smoke_test {why}"))),
    };
    let SmokeTestBody::Inline(text) = &request.body else {
        return Ok(not_recorded(format!(
            "{source}: a model package's smoke_test body must be inline text"
        )));
    };
    let payload = Payload {
        content_type: request.content_type.clone(),
        accept: request.accept.clone(),
        body: text.as_bytes().to_vec(),
    };
    Ok(Lookup::Found {
        request: Box::new(request),
        payload,
        source,
    })
}

/// The `smoke_test` object of a document, validated as the deployer validates it.
pub fn parse_document(bytes: &[u8]) -> Result<SmokeTestRequest, String> {
    let document: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let section = document
        .get("smoke_test")
        .ok_or("it has no smoke_test object")?;
    SmokeTestRequest::from_json(section).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoke_test_section_is_read_from_a_deploy_json() {
        let doc = br#"{"memory_size_mb": 2048, "smoke_test": {"content_type": "text/csv", "body": "1,2", "accept": "application/json"}}"#;
        let request = parse_document(doc).unwrap();
        assert_eq!(request.content_type, "text/csv");
        assert_eq!(request.accept.as_deref(), Some("application/json"));
        assert_eq!(request.body, SmokeTestBody::Inline("1,2".into()));
    }

    #[test]
    fn documents_without_a_request_say_why() {
        assert_eq!(
            parse_document(b"{}").unwrap_err(),
            "it has no smoke_test object"
        );
        assert!(parse_document(b"nope").unwrap_err().starts_with("not JSON"));
        assert!(parse_document(br#"{"smoke_test": {"body": "x"}}"#)
            .unwrap_err()
            .contains("content_type"));
    }
}
