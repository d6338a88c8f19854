//! `SageMaker` creates and updates: the request on the wire carries exactly
//! what the pipeline means, and a racing twin's "already existing" answer is
//! success (`Created::AlreadyExisted`).

use crate::support::{sagemaker, sagemaker_error, CONFIG_ARN, ENDPOINT_ARN, MODEL_ARN};
use aws_sdk_sagemaker::operation::add_tags::AddTagsOutput;
use aws_sdk_sagemaker::operation::create_endpoint::CreateEndpointOutput;
use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput;
use aws_sdk_sagemaker::operation::create_model::CreateModelOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::mock;
use serde_json::json;
use shared::aws::sagemaker::{Created, ServerlessSpec, VARIANT_NAME};
use shared::aws::AwsErrorKind;
use std::collections::BTreeMap;

const ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker-execution";
const IMAGE: &str =
    "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310";
const MODEL_DATA: &str = "s3://models-bucket/churn-model/model.tar.gz";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tags() -> BTreeMap<String, String> {
    map(&[
        ("managed-by", "serverless-deployer"),
        ("endpoint", "churn-model"),
    ])
}

/// Tags as the wire carries them (BTreeMap order).
fn wire_tags() -> serde_json::Value {
    json!([
        { "Key": "endpoint", "Value": "churn-model" },
        { "Key": "managed-by", "Value": "serverless-deployer" }
    ])
}

#[tokio::test]
async fn create_model_sends_container_role_and_tags_and_reports_new() {
    let rule = mock!(Client::create_model)
        .match_requests(|r| r.model_name() == Some("churn-model-r-0a1b2c3d4e5f"))
        .then_output(|| CreateModelOutput::builder().model_arn(MODEL_ARN).build());
    let (sm, sent) = sagemaker(&[&rule]);

    let env = map(&[("SAGEMAKER_PROGRAM", "inference.py"), ("LOG_LEVEL", "info")]);
    let result = sm
        .create_model(
            "churn-model-r-0a1b2c3d4e5f",
            IMAGE,
            MODEL_DATA,
            &env,
            ROLE,
            &tags(),
        )
        .await;

    assert_eq!(result, Ok(Created::New));
    let request = sent.single();
    assert_eq!(request.target.as_deref(), Some("SageMaker.CreateModel"));
    assert_eq!(
        request.json(),
        json!({
            "ModelName": "churn-model-r-0a1b2c3d4e5f",
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {
                "Image": IMAGE,
                "ModelDataUrl": MODEL_DATA,
                "Environment": { "LOG_LEVEL": "info", "SAGEMAKER_PROGRAM": "inference.py" }
            },
            "Tags": wire_tags()
        })
    );
}

#[tokio::test]
async fn create_model_omits_an_empty_environment() {
    let rule = mock!(Client::create_model)
        .match_requests(|r| {
            r.primary_container()
                .is_some_and(|c| c.environment().is_none())
        })
        .then_output(|| CreateModelOutput::builder().model_arn(MODEL_ARN).build());
    let (sm, sent) = sagemaker(&[&rule]);

    sm.create_model("m", IMAGE, MODEL_DATA, &BTreeMap::new(), ROLE, &tags())
        .await
        .unwrap();

    let body = sent.single().json();
    assert_eq!(
        body["PrimaryContainer"],
        json!({ "Image": IMAGE, "ModelDataUrl": MODEL_DATA })
    );
}

#[tokio::test]
async fn create_model_reports_an_already_existing_model() {
    let rule = mock!(Client::create_model).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Cannot create already existing model \"{MODEL_ARN}\"."),
        )
    });
    let (sm, sent) = sagemaker(&[&rule]);

    let result = sm
        .create_model("m", IMAGE, MODEL_DATA, &BTreeMap::new(), ROLE, &tags())
        .await;

    assert_eq!(result, Ok(Created::AlreadyExisted));
    assert_eq!(
        sent.requests().len(),
        1,
        "a validation error is not retried"
    );
}

#[tokio::test]
async fn create_serverless_config_sends_one_all_traffic_serverless_variant() {
    let rule = mock!(Client::create_endpoint_config)
        .match_requests(|r| {
            let variants = r.production_variants();
            variants.len() == 1
                && variants[0].variant_name() == Some(VARIANT_NAME)
                && variants[0]
                    .serverless_config()
                    .is_some_and(|s| s.provisioned_concurrency().is_none())
        })
        .then_output(|| {
            CreateEndpointConfigOutput::builder()
                .endpoint_config_arn(CONFIG_ARN)
                .build()
        });
    let (sm, sent) = sagemaker(&[&rule]);
    let spec = ServerlessSpec {
        memory_size_mb: 2048,
        max_concurrency: 5,
        provisioned_concurrency: None,
    };

    let result = sm
        .create_serverless_config(
            "churn-model-r-0a1b2c3d4e5f",
            "churn-model-r-m",
            &spec,
            &tags(),
        )
        .await;

    assert_eq!(result, Ok(Created::New));
    let request = sent.single();
    assert_eq!(
        request.target.as_deref(),
        Some("SageMaker.CreateEndpointConfig")
    );
    assert_eq!(
        request.json(),
        json!({
            "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
            "ProductionVariants": [{
                "VariantName": "AllTraffic",
                "ModelName": "churn-model-r-m",
                "ServerlessConfig": { "MemorySizeInMB": 2048, "MaxConcurrency": 5 }
            }],
            "Tags": wire_tags()
        })
    );
}

#[tokio::test]
async fn create_serverless_config_sends_provisioned_concurrency_when_set() {
    let rule = mock!(Client::create_endpoint_config)
        .match_requests(|r| {
            r.production_variants()[0]
                .serverless_config()
                .is_some_and(|s| s.provisioned_concurrency() == Some(2))
        })
        .then_output(|| {
            CreateEndpointConfigOutput::builder()
                .endpoint_config_arn(CONFIG_ARN)
                .build()
        });
    let (sm, sent) = sagemaker(&[&rule]);
    let spec = ServerlessSpec {
        memory_size_mb: 6144,
        max_concurrency: 200,
        provisioned_concurrency: Some(2),
    };

    sm.create_serverless_config("c", "m", &spec, &tags())
        .await
        .unwrap();

    let body = sent.single().json();
    assert_eq!(
        body["ProductionVariants"][0]["ServerlessConfig"],
        json!({ "MemorySizeInMB": 6144, "MaxConcurrency": 200, "ProvisionedConcurrency": 2 })
    );
}

#[tokio::test]
async fn create_serverless_config_reports_an_already_existing_config() {
    let rule = mock!(Client::create_endpoint_config).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Cannot create already existing endpoint configuration \"{CONFIG_ARN}\"."),
        )
    });
    let (sm, _) = sagemaker(&[&rule]);
    let spec = ServerlessSpec {
        memory_size_mb: 2048,
        max_concurrency: 5,
        provisioned_concurrency: None,
    };

    assert_eq!(
        sm.create_serverless_config("c", "m", &spec, &tags()).await,
        Ok(Created::AlreadyExisted)
    );
}

#[tokio::test]
async fn create_endpoint_sends_name_config_and_tags_and_reports_new() {
    let rule = mock!(Client::create_endpoint)
        .match_requests(|r| {
            r.endpoint_name() == Some("churn-model")
                && r.endpoint_config_name() == Some("churn-model-r-0a1b2c3d4e5f")
        })
        .then_output(|| {
            CreateEndpointOutput::builder()
                .endpoint_arn(ENDPOINT_ARN)
                .build()
        });
    let (sm, sent) = sagemaker(&[&rule]);

    let result = sm
        .create_endpoint("churn-model", "churn-model-r-0a1b2c3d4e5f", &tags())
        .await;

    assert_eq!(result, Ok(Created::New));
    assert_eq!(
        sent.single().json(),
        json!({
            "EndpointName": "churn-model",
            "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
            "Tags": wire_tags()
        })
    );
}

#[tokio::test]
async fn create_endpoint_reports_an_already_existing_endpoint() {
    let rule = mock!(Client::create_endpoint).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Cannot create already existing endpoint \"{ENDPOINT_ARN}\"."),
        )
    });
    let (sm, _) = sagemaker(&[&rule]);

    assert_eq!(
        sm.create_endpoint("churn-model", "c", &tags()).await,
        Ok(Created::AlreadyExisted)
    );
}

#[tokio::test]
async fn update_endpoint_of_an_in_progress_endpoint_is_in_progress_and_retryable() {
    let rule = mock!(Client::update_endpoint).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Cannot update in-progress endpoint \"{ENDPOINT_ARN}\"."),
        )
    });
    let (sm, sent) = sagemaker(&[&rule]);

    let err = sm
        .update_endpoint("churn-model", "churn-model-r-99aa88bb77cc")
        .await
        .unwrap_err();

    assert_eq!(err.kind, AwsErrorKind::InProgress);
    assert!(err.is_retryable());
    assert_eq!(err.operation, "UpdateEndpoint");
    assert_eq!(err.code.as_deref(), Some("ValidationException"));
    assert_eq!(
        err.message,
        format!("Cannot update in-progress endpoint \"{ENDPOINT_ARN}\".")
    );
    assert!(err.to_string().contains("temporary"), "{err}");
    assert_eq!(
        sent.requests().len(),
        1,
        "the SDK does not retry it; the caller does, later"
    );
}

#[tokio::test]
async fn update_endpoint_sends_the_new_config() {
    let rule = mock!(Client::update_endpoint).then_output(|| {
        UpdateEndpointOutput::builder()
            .endpoint_arn(ENDPOINT_ARN)
            .build()
    });
    let (sm, sent) = sagemaker(&[&rule]);

    sm.update_endpoint("churn-model", "churn-model-r-99aa88bb77cc")
        .await
        .unwrap();

    let request = sent.single();
    assert_eq!(request.target.as_deref(), Some("SageMaker.UpdateEndpoint"));
    assert_eq!(
        request.json(),
        json!({ "EndpointName": "churn-model", "EndpointConfigName": "churn-model-r-99aa88bb77cc" })
    );
}

#[tokio::test]
async fn add_tags_sends_every_tag_to_the_resource() {
    let rule = mock!(Client::add_tags)
        .match_requests(|r| r.resource_arn() == Some(ENDPOINT_ARN))
        .then_output(|| AddTagsOutput::builder().build());
    let (sm, sent) = sagemaker(&[&rule]);

    sm.add_tags(ENDPOINT_ARN, &tags()).await.unwrap();

    assert_eq!(
        sent.single().json(),
        json!({ "ResourceArn": ENDPOINT_ARN, "Tags": wire_tags() })
    );
}
