//! `SageMaker` reads, lists and deletes: what comes back from the service is
//! mapped faithfully, "not found" is an answer rather than an error, and
//! list calls follow every page.

use crate::support::{
    sagemaker, sagemaker_error, sagemaker_ok, CONFIG_ARN, ENDPOINT_ARN, MODEL_ARN,
};
use aws_sdk_sagemaker::operation::list_endpoint_configs::ListEndpointConfigsOutput;
use aws_sdk_sagemaker::operation::list_models::ListModelsOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::types::{EndpointConfigSummary, EndpointStatus, ModelSummary, Tag};
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::mock;
use chrono::{TimeZone, Utc};
use serde_json::json;
use shared::aws::sagemaker::{EndpointConfigInfo, EndpointInfo, ServerlessCapacity};
use shared::aws::AwsErrorKind;
use std::collections::BTreeMap;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

#[tokio::test]
async fn describe_endpoint_returns_none_when_sagemaker_cannot_find_it() {
    let rule = mock!(Client::describe_endpoint).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Could not find endpoint \"{ENDPOINT_ARN}\"."),
        )
    });
    let (sm, sent) = sagemaker(&[&rule]);

    assert_eq!(sm.describe_endpoint("churn-model").await, Ok(None));
    let request = sent.single();
    assert_eq!(
        request.target.as_deref(),
        Some("SageMaker.DescribeEndpoint")
    );
    assert_eq!(request.json(), json!({ "EndpointName": "churn-model" }));
}

#[tokio::test]
async fn describe_endpoint_maps_an_update_in_progress() {
    let rule = mock!(Client::describe_endpoint).then_http_response(|| {
        sagemaker_ok(json!({
            "EndpointName": "churn-model",
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
            "ProductionVariants": [{
                "VariantName": "AllTraffic",
                "CurrentServerlessConfig": { "MemorySizeInMB": 2048, "MaxConcurrency": 5 }
            }],
            "EndpointStatus": "Updating",
            "CreationTime": 1718000000.123,
            "LastModifiedTime": 1718000500.456,
            "PendingDeploymentSummary": {
                "EndpointConfigName": "churn-model-r-99aa88bb77cc",
                "StartTime": 1718000500.0,
                "ProductionVariants": [{ "VariantName": "AllTraffic", "VariantStatus": [] }]
            }
        }))
    });
    let (sm, _) = sagemaker(&[&rule]);

    let info = sm
        .describe_endpoint("churn-model")
        .await
        .unwrap()
        .expect("endpoint exists");
    assert_eq!(
        info,
        EndpointInfo {
            name: "churn-model".into(),
            arn: ENDPOINT_ARN.into(),
            status: EndpointStatus::Updating,
            config_name: "churn-model-r-0a1b2c3d4e5f".into(),
            pending_config_name: Some("churn-model-r-99aa88bb77cc".into()),
            failure_reason: None,
            // The variant's DesiredServerlessConfig, else its current one.
            capacity: Some(ServerlessCapacity {
                max_concurrency: 5,
                provisioned_concurrency: None,
            }),
        }
    );
    assert!(info.is_busy());
}

#[tokio::test]
async fn describe_endpoint_maps_a_failed_endpoint_and_its_reason() {
    let reason = "Image size 12345678901 is greater than supported size 10737418240";
    let rule = mock!(Client::describe_endpoint).then_http_response(move || {
        sagemaker_ok(json!({
            "EndpointName": "churn-model",
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
            "EndpointStatus": "Failed",
            "FailureReason": reason,
            "CreationTime": 1718000000.0,
            "LastModifiedTime": 1718000900.0
        }))
    });
    let (sm, _) = sagemaker(&[&rule]);

    let info = sm.describe_endpoint("churn-model").await.unwrap().unwrap();
    assert_eq!(info.status, EndpointStatus::Failed);
    assert_eq!(info.failure_reason.as_deref(), Some(reason));
    assert_eq!(info.pending_config_name, None);
    assert_eq!(info.config_name, "churn-model-r-0a1b2c3d4e5f");
    assert!(!info.is_busy());
}

#[tokio::test]
async fn describe_endpoint_config_tells_serverless_from_instance_variants() {
    let serverless = mock!(Client::describe_endpoint_config).then_http_response(|| {
        sagemaker_ok(json!({
            "EndpointConfigName": "churn-model-r-0a1b2c3d4e5f",
            "EndpointConfigArn": CONFIG_ARN,
            "ProductionVariants": [{
                "VariantName": "AllTraffic",
                "ModelName": "churn-model-r-0a1b2c3d4e5f",
                "ServerlessConfig": { "MemorySizeInMB": 2048, "MaxConcurrency": 5 }
            }],
            "CreationTime": 1718000000.0
        }))
    });
    let instances = mock!(Client::describe_endpoint_config).then_http_response(|| {
        sagemaker_ok(json!({
            "EndpointConfigName": "hand-made",
            "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/hand-made",
            "ProductionVariants": [
                { "VariantName": "A", "ModelName": "m-a", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1 },
                { "VariantName": "B", "ModelName": "m-b", "ServerlessConfig": { "MemorySizeInMB": 1024, "MaxConcurrency": 1 } }
            ],
            "CreationTime": 1718000000.0
        }))
    });
    let missing = mock!(Client::describe_endpoint_config).then_http_response(|| {
        sagemaker_error(
            400,
            "ValidationException",
            &format!("Could not find endpoint configuration \"{CONFIG_ARN}\"."),
        )
    });
    let (sm, _) = sagemaker(&[&serverless, &instances, &missing]);

    assert_eq!(
        sm.describe_endpoint_config("churn-model-r-0a1b2c3d4e5f")
            .await
            .unwrap(),
        Some(EndpointConfigInfo {
            name: "churn-model-r-0a1b2c3d4e5f".into(),
            arn: CONFIG_ARN.into(),
            serverless: true,
            variant_count: 1,
            model_names: vec!["churn-model-r-0a1b2c3d4e5f".into()],
        })
    );
    let mixed = sm
        .describe_endpoint_config("hand-made")
        .await
        .unwrap()
        .unwrap();
    assert!(!mixed.serverless);
    assert_eq!(mixed.variant_count, 2);
    assert_eq!(mixed.model_names, ["m-a", "m-b"]);
    assert_eq!(
        sm.describe_endpoint_config("churn-model-r-0a1b2c3d4e5f")
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn list_tags_follows_next_token_to_the_last_page() {
    let first = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(CONFIG_ARN) && r.next_token().is_none())
        .then_output(|| {
            ListTagsOutput::builder()
                .tags(tag("managed-by", "serverless-deployer"))
                .tags(tag("endpoint", "churn-model"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::list_tags)
        .match_requests(|r| {
            r.resource_arn() == Some(CONFIG_ARN) && r.next_token() == Some("page-2")
        })
        .then_output(|| {
            ListTagsOutput::builder()
                .tags(tag("artifact-version", "v7"))
                .build()
        });
    let (sm, sent) = sagemaker(&[&first, &second]);

    let tags = sm.list_tags(CONFIG_ARN).await.unwrap();
    let expected: BTreeMap<String, String> = [
        ("artifact-version", "v7"),
        ("endpoint", "churn-model"),
        ("managed-by", "serverless-deployer"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(tags, expected);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    let requests = sent.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].json()["NextToken"], "page-2");
}

#[tokio::test]
async fn list_endpoint_configs_follows_next_token_and_maps_creation_time() {
    let summary = |name: &str, secs: i64| {
        EndpointConfigSummary::builder()
            .endpoint_config_name(name)
            .endpoint_config_arn(format!(
                "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/{name}"
            ))
            .creation_time(aws_smithy_types::DateTime::from_secs(secs))
            .build()
    };
    let first = mock!(Client::list_endpoint_configs)
        .match_requests(|r| r.name_contains() == Some("churn-model-r-") && r.next_token().is_none())
        .then_output(move || {
            ListEndpointConfigsOutput::builder()
                .endpoint_configs(summary("churn-model-r-000000000001", 1_718_000_000))
                .endpoint_configs(summary("churn-model-r-000000000002", 1_718_000_100))
                .next_token("cfg-page-2")
                .build()
        });
    let second = mock!(Client::list_endpoint_configs)
        .match_requests(|r| {
            r.name_contains() == Some("churn-model-r-") && r.next_token() == Some("cfg-page-2")
        })
        .then_output(move || {
            ListEndpointConfigsOutput::builder()
                .endpoint_configs(summary("churn-model-r-000000000003", 1_718_000_200))
                .build()
        });
    let (sm, sent) = sagemaker(&[&first, &second]);

    let found = sm.list_endpoint_configs("churn-model-r-").await.unwrap();
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "churn-model-r-000000000001",
            "churn-model-r-000000000002",
            "churn-model-r-000000000003"
        ]
    );
    assert_eq!(
        found[2].arn,
        "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/churn-model-r-000000000003"
    );
    assert_eq!(
        found[0].created,
        Utc.timestamp_opt(1_718_000_000, 0).unwrap()
    );
    assert_eq!(sent.requests().len(), 2);
}

#[tokio::test]
async fn list_models_follows_next_token() {
    let model = |name: &str| {
        ModelSummary::builder()
            .model_name(name)
            .model_arn(format!(
                "arn:aws:sagemaker:eu-west-1:123456789012:model/{name}"
            ))
            .creation_time(aws_smithy_types::DateTime::from_secs(1_718_000_000))
            .build()
    };
    let first = mock!(Client::list_models)
        .match_requests(|r| r.name_contains() == Some("churn-model-r-") && r.next_token().is_none())
        .then_output(move || {
            ListModelsOutput::builder()
                .models(model("churn-model-r-a"))
                .next_token("m2")
                .build()
        });
    let second = mock!(Client::list_models)
        .match_requests(|r| r.next_token() == Some("m2"))
        .then_output(move || {
            ListModelsOutput::builder()
                .models(model("churn-model-r-b"))
                .build()
        });
    let (sm, _) = sagemaker(&[&first, &second]);

    let found = sm.list_models("churn-model-r-").await.unwrap();
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["churn-model-r-a", "churn-model-r-b"]);
}

#[tokio::test]
async fn delete_model_treats_could_not_find_model_as_deleted() {
    let rule = mock!(Client::delete_model)
        .match_requests(|r| r.model_name() == Some("churn-model-r-0a1b2c3d4e5f"))
        .then_http_response(|| {
            sagemaker_error(
                400,
                "ValidationException",
                &format!("Could not find model \"{MODEL_ARN}\"."),
            )
        });
    let (sm, _) = sagemaker(&[&rule]);

    assert_eq!(sm.delete_model("churn-model-r-0a1b2c3d4e5f").await, Ok(()));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn delete_endpoint_config_treats_could_not_find_config_as_deleted() {
    let rule = mock!(Client::delete_endpoint_config)
        .match_requests(|r| r.endpoint_config_name() == Some("churn-model-r-0a1b2c3d4e5f"))
        .then_http_response(|| {
            sagemaker_error(
                400,
                "ValidationException",
                &format!("Could not find endpoint configuration \"{CONFIG_ARN}\"."),
            )
        });
    let (sm, _) = sagemaker(&[&rule]);

    assert_eq!(
        sm.delete_endpoint_config("churn-model-r-0a1b2c3d4e5f")
            .await,
        Ok(())
    );
}

#[tokio::test]
async fn delete_model_still_fails_when_the_model_is_in_use_or_forbidden() {
    let rule = mock!(Client::delete_model).then_http_response(|| {
        sagemaker_error(
            400,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/deployer/fn is not authorized to perform: sagemaker:DeleteModel",
        )
    });
    let (sm, _) = sagemaker(&[&rule]);

    let err = sm
        .delete_model("churn-model-r-0a1b2c3d4e5f")
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Rejected);
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(err.operation, "DeleteModel");
    assert!(!err.is_retryable());
}
