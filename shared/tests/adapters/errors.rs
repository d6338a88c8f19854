//! How failed calls end after the SDK's own retries: throttling and server
//! faults are retried by the SDK and, if they persist, surface as retryable;
//! quota and validation errors are not retried and say what is wrong.

use crate::support::{
    http, s3, s3_error, sagemaker, sagemaker_error, sagemaker_ok, ENDPOINT_ARN, MAX_ATTEMPTS,
};
use aws_sdk_sagemaker::types::EndpointStatus;
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::mock;
use serde_json::json;
use shared::aws::sagemaker::ServerlessSpec;
use shared::aws::{load_sdk_config, AwsErrorKind};
use std::collections::BTreeMap;

fn throttled() -> aws_sdk_sagemaker::config::http::HttpResponse {
    sagemaker_error(400, "ThrottlingException", "Rate exceeded")
}

fn in_service() -> aws_sdk_sagemaker::config::http::HttpResponse {
    sagemaker_ok(json!({
        "EndpointName": "churn-model",
        "EndpointArn": ENDPOINT_ARN,
        "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
        "EndpointStatus": "InService",
        "CreationTime": 1718000000.0,
        "LastModifiedTime": 1718000000.0
    }))
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_until_it_succeeds() {
    let rule = mock!(Client::describe_endpoint)
        .sequence()
        .http_response(throttled)
        .times(2)
        .http_response(in_service)
        .build();
    let (sm, sent) = sagemaker(&[&rule]);

    let info = sm
        .describe_endpoint("churn-model")
        .await
        .unwrap()
        .expect("endpoint exists");

    assert_eq!(info.status, EndpointStatus::InService);
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(
        sent.requests().len(),
        3,
        "two throttled attempts, then the successful one"
    );
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_throttled_and_retryable() {
    let rule = mock!(Client::describe_endpoint)
        .sequence()
        .http_response(throttled)
        .times(MAX_ATTEMPTS as usize)
        .build();
    let (sm, sent) = sagemaker(&[&rule]);

    let err = sm.describe_endpoint("churn-model").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Throttled);
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(err.message, "Rate exceeded");
    assert!(err.is_retryable());
    assert_eq!(sent.requests().len(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn service_unavailable_that_persists_is_transient_and_retryable() {
    let rule = mock!(Client::describe_endpoint)
        .sequence()
        .http_response(|| sagemaker_error(503, "ServiceUnavailable", "Service Unavailable"))
        .times(MAX_ATTEMPTS as usize)
        .build();
    let (sm, sent) = sagemaker(&[&rule]);

    let err = sm.describe_endpoint("churn-model").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Transient);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("temporary"), "{err}");
    assert_eq!(
        sent.requests().len(),
        MAX_ATTEMPTS as usize,
        "the SDK retried every attempt"
    );
}

#[tokio::test]
async fn internal_failure_is_retried_then_succeeds() {
    let rule = mock!(Client::describe_endpoint)
        .sequence()
        .http_response(|| sagemaker_error(500, "InternalFailure", "An internal error occurred."))
        .http_response(in_service)
        .build();
    let (sm, sent) = sagemaker(&[&rule]);

    assert!(sm.describe_endpoint("churn-model").await.unwrap().is_some());
    assert_eq!(sent.requests().len(), 2);
}

#[tokio::test]
async fn internal_failure_that_persists_is_transient() {
    let rule = mock!(Client::update_endpoint)
        .sequence()
        .http_response(|| sagemaker_error(500, "InternalFailure", "An internal error occurred."))
        .times(MAX_ATTEMPTS as usize)
        .build();
    let (sm, _) = sagemaker(&[&rule]);

    let err = sm.update_endpoint("churn-model", "c").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Transient);
    assert_eq!(err.code.as_deref(), Some("InternalFailure"));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_bare_502_from_a_proxy_is_transient() {
    let rule = mock!(Client::describe_endpoint)
        .sequence()
        .http_response(|| http(502, &[], ""))
        .times(MAX_ATTEMPTS as usize)
        .build();
    let (sm, _) = sagemaker(&[&rule]);

    let err = sm.describe_endpoint("churn-model").await.unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Transient, "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn resource_limit_exceeded_is_limit_exceeded_not_retried_and_names_the_quota() {
    let message =
        "The account-level service limit 'maximum number of serverless endpoints' is 5 Endpoints, \
                   with current utilization of 5 Endpoints and a request delta of 1 Endpoints. \
                   Please use AWS Service Quotas to request an increase for this quota.";
    let rule = mock!(aws_sdk_sagemaker::Client::create_endpoint)
        .then_http_response(move || sagemaker_error(400, "ResourceLimitExceeded", message));
    let (sm, sent) = sagemaker(&[&rule]);

    let err = sm
        .create_endpoint("churn-model", "c", &BTreeMap::new())
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::LimitExceeded);
    assert_eq!(err.code.as_deref(), Some("ResourceLimitExceeded"));
    assert!(!err.is_retryable());
    let shown = err.to_string();
    assert!(
        shown.starts_with("CreateEndpoint failed (ResourceLimitExceeded): The account-level"),
        "{shown}"
    );
    assert!(shown.contains("an account quota is exhausted"), "{shown}");
    assert!(shown.contains("Service Quotas"), "{shown}");
    assert_eq!(sent.requests().len(), 1, "a quota error is not retried");
}

#[tokio::test]
async fn a_validation_error_is_rejected_and_not_retried() {
    let message = "1 validation error detected: Value '7000' at \
                   'productionVariants.1.member.serverlessConfig.memorySizeInMB' failed to satisfy \
                   constraint: Member must have value less than or equal to 6144";
    let rule = mock!(Client::create_endpoint_config)
        .then_http_response(move || sagemaker_error(400, "ValidationException", message));
    let (sm, sent) = sagemaker(&[&rule]);
    let spec = ServerlessSpec {
        memory_size_mb: 7000,
        max_concurrency: 5,
        provisioned_concurrency: None,
    };

    let result = sm
        .create_serverless_config("c", "m", &spec, &BTreeMap::new())
        .await;

    let err = result.expect_err("a rejected config is not Created");
    assert_eq!(err.kind, AwsErrorKind::Rejected);
    assert_eq!(err.message, message);
    assert!(!err.is_retryable());
    assert_eq!(sent.requests().len(), 1);
}

#[tokio::test]
async fn s3_slow_down_that_persists_is_throttled() {
    let rule = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_response(|| s3_error(503, "SlowDown", "Please reduce your request rate."))
        .times(MAX_ATTEMPTS as usize)
        .build();
    let (store, sent) = s3(&[&rule]);

    let err = store
        .get_small("models-bucket", "churn-model/deploy.json", 1024)
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::Throttled, "{err:?}");
    assert_eq!(err.code.as_deref(), Some("SlowDown"));
    assert!(err.is_retryable());
    assert_eq!(sent.requests().len(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn load_sdk_config_allows_five_attempts_and_honours_aws_endpoint_url() {
    // Only this test touches the environment; everything else uses mocks.
    std::env::set_var("AWS_REGION", "eu-west-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");

    let config = load_sdk_config().await;

    assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(5));
    assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
    assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
}
