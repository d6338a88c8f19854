//! The reads the cost sweeper observes the fleet with: an endpoint's
//! times, instance counts and data capture; a config's variants; a model's
//! containers; every page of ListEndpoints and of a Search for endpoints.

use crate::support::{sagemaker, sagemaker_error, sagemaker_ok, CONFIG_ARN, ENDPOINT_ARN};
use aws_sdk_sagemaker::types::EndpointStatus;
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::mock;
use chrono::{TimeZone, Utc};
use serde_json::json;
use shared::aws::sagemaker::{ContainerInfo, ServerlessSpec, VariantSpec};
use std::collections::BTreeMap;

#[tokio::test]
async fn endpoint_detail_has_times_counts_and_data_capture() {
    let rule = mock!(Client::describe_endpoint).then_http_response(|| {
        sagemaker_ok(json!({
            "EndpointName": "churn-model",
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": "churn-model-config",
            "ProductionVariants": [
                { "VariantName": "AllTraffic", "CurrentInstanceCount": 2 },
                { "VariantName": "Shadow" }
            ],
            "DataCaptureConfig": { "EnableCapture": true },
            "EndpointStatus": "InService",
            "CreationTime": 1718000000,
            "LastModifiedTime": 1718000500
        }))
    });
    let (sm, _) = sagemaker(&[&rule]);

    let detail = sm
        .describe_endpoint_detail("churn-model")
        .await
        .unwrap()
        .expect("endpoint exists");
    assert_eq!(detail.info.status, EndpointStatus::InService);
    assert_eq!(detail.info.config_name, "churn-model-config");
    assert_eq!(detail.created, Utc.timestamp_opt(1_718_000_000, 0).unwrap());
    assert_eq!(
        detail.last_modified,
        Utc.timestamp_opt(1_718_000_500, 0).unwrap()
    );
    assert_eq!(
        detail.current_instance_counts,
        BTreeMap::from([("AllTraffic".to_string(), 2)])
    );
    assert!(detail.data_capture);
}

#[tokio::test]
async fn config_detail_has_each_variant_and_the_unsupported_features() {
    let rule = mock!(Client::describe_endpoint_config).then_http_response(|| {
        sagemaker_ok(json!({
            "EndpointConfigName": "churn-model-config",
            "EndpointConfigArn": CONFIG_ARN,
            "ProductionVariants": [
                { "VariantName": "AllTraffic", "ModelName": "m1",
                  "InstanceType": "ml.m5.large", "InitialInstanceCount": 1 },
                { "VariantName": "Serverless", "ModelName": "m2",
                  "ServerlessConfig": { "MemorySizeInMB": 2048, "MaxConcurrency": 5 } }
            ],
            "DataCaptureConfig": {
                "InitialSamplingPercentage": 10,
                "DestinationS3Uri": "s3://capture/",
                "CaptureOptions": [{ "CaptureMode": "Input" }]
            },
            "AsyncInferenceConfig": { "OutputConfig": { "S3OutputPath": "s3://out/" } },
            "KmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
            "CreationTime": 1718000000
        }))
    });
    let (sm, _) = sagemaker(&[&rule]);

    let detail = sm
        .describe_endpoint_config_detail("churn-model-config")
        .await
        .unwrap()
        .expect("config exists");
    assert_eq!(detail.info.variant_count, 2);
    assert_eq!(
        detail.variants,
        vec![
            VariantSpec {
                name: "AllTraffic".into(),
                model_name: Some("m1".into()),
                instance_type: Some("ml.m5.large".into()),
                initial_instance_count: Some(1),
                serverless: None,
            },
            VariantSpec {
                name: "Serverless".into(),
                model_name: Some("m2".into()),
                instance_type: None,
                initial_instance_count: None,
                serverless: Some(ServerlessSpec {
                    memory_size_mb: 2048,
                    max_concurrency: 5,
                    provisioned_concurrency: None,
                }),
            },
        ]
    );
    assert!(detail.data_capture);
    assert!(detail.async_inference);
    assert!(detail.kms_volume_key);
}

#[tokio::test]
async fn a_model_lists_its_primary_container_first_and_a_missing_one_is_none() {
    let found = mock!(Client::describe_model)
        .match_requests(|r| r.model_name() == Some("m1"))
        .then_http_response(|| {
            sagemaker_ok(json!({
                "ModelName": "m1",
                "ModelArn": "arn:aws:sagemaker:eu-west-1:123456789012:model/m1",
                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "PrimaryContainer": {
                    "Image": "img:1", "ModelDataUrl": "s3://b/m.tar.gz",
                    "Environment": { "A": "1" }, "Mode": "MultiModel"
                },
                "VpcConfig": { "SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"] },
                "EnableNetworkIsolation": true,
                "CreationTime": 1718000000
            }))
        });
    let missing = mock!(Client::describe_model).then_http_response(|| {
        sagemaker_error(400, "ValidationException", "Could not find model \"m9\".")
    });
    let (sm, _) = sagemaker(&[&found, &missing]);

    let model = sm
        .describe_model("m1")
        .await
        .unwrap()
        .expect("model exists");
    assert_eq!(
        model.execution_role_arn,
        "arn:aws:iam::123456789012:role/exec"
    );
    assert_eq!(
        model.containers,
        vec![ContainerInfo {
            image: Some("img:1".into()),
            model_data_url: Some("s3://b/m.tar.gz".into()),
            environment: BTreeMap::from([("A".to_string(), "1".to_string())]),
            mode: Some("MultiModel".into()),
            model_package: None,
        }]
    );
    assert!(model.vpc);
    assert!(model.network_isolation);
    assert_eq!(sm.describe_model("m9").await, Ok(None));
}

#[tokio::test]
async fn list_endpoints_follows_every_page_with_the_name_filter() {
    let first = mock!(Client::list_endpoints)
        .match_requests(|r| r.next_token().is_none())
        .then_http_response(|| {
            sagemaker_ok(json!({
                "Endpoints": [{ "EndpointName": "a", "EndpointArn": "arn:a",
                    "CreationTime": 1718000000, "LastModifiedTime": 1718000000,
                    "EndpointStatus": "InService" }],
                "NextToken": "t1"
            }))
        });
    let second = mock!(Client::list_endpoints)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_http_response(|| {
            sagemaker_ok(json!({
                "Endpoints": [{ "EndpointName": "b", "EndpointArn": "arn:b",
                    "CreationTime": 1718000000, "LastModifiedTime": 1718000000,
                    "EndpointStatus": "Creating" }]
            }))
        });
    let (sm, sent) = sagemaker(&[&first, &second]);

    let listed = sm.list_endpoints(Some("churn")).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(listed[1].arn, "arn:b");
    let requests = sent.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].json()["NameContains"], "churn");
    assert_eq!(requests[0].json()["MaxResults"], 100);
}

#[tokio::test]
async fn search_reads_every_endpoint_page_by_page_with_the_name_filter() {
    let first = mock!(Client::search)
        .match_requests(|r| r.next_token().is_none())
        .then_http_response(|| {
            sagemaker_ok(json!({
                "Results": [{ "Endpoint": {
                    "EndpointName": "churn-a", "EndpointArn": "arn:a",
                    "EndpointConfigName": "churn-a-config",
                    "ProductionVariants": [
                        { "VariantName": "Blue", "CurrentInstanceCount": 2 },
                        { "VariantName": "Green", "CurrentInstanceCount": 1 }
                    ],
                    "EndpointStatus": "InService",
                    "CreationTime": 1718000000, "LastModifiedTime": 1718000500,
                    "Tags": [{ "Key": "team", "Value": "ml" }]
                }}],
                "NextToken": "t1"
            }))
        });
    let second = mock!(Client::search)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_http_response(|| {
            sagemaker_ok(json!({
                "Results": [{ "Endpoint": {
                    "EndpointName": "churn-s", "EndpointArn": "arn:s",
                    "EndpointConfigName": "churn-s-config",
                    "ProductionVariants": [{ "VariantName": "AllTraffic",
                        "CurrentServerlessConfig": { "MemorySizeInMB": 3072, "MaxConcurrency": 5 } }],
                    "EndpointStatus": "Updating",
                    "CreationTime": 1718000000, "LastModifiedTime": 1718000900
                }}]
            }))
        });
    let (sm, sent) = sagemaker(&[&first, &second]);

    let found = sm.search_endpoints(Some("churn")).await.unwrap();
    assert_eq!(found.len(), 2);
    let (a, s) = (&found[0], &found[1]);
    assert_eq!(a.info.arn, "arn:a");
    assert_eq!(a.info.config_name, "churn-a-config");
    assert_eq!(
        a.last_modified,
        Utc.timestamp_opt(1_718_000_500, 0).unwrap()
    );
    let names: Vec<&str> = a.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Blue", "Green"]);
    assert_eq!(a.variants[0].current_instance_count, Some(2));
    assert_eq!(a.current_instance_counts.get("Green"), Some(&1));
    assert_eq!(s.info.status, EndpointStatus::Updating);
    assert_eq!(
        s.variants[0].serverless,
        Some(ServerlessSpec {
            memory_size_mb: 3072,
            max_concurrency: 5,
            provisioned_concurrency: None
        })
    );
    let requests = sent.requests();
    assert_eq!(requests.len(), 2);
    let body = requests[0].json();
    assert_eq!(body["Resource"], "Endpoint");
    assert_eq!(body["MaxResults"], 100);
    assert_eq!(
        body["SearchExpression"]["Filters"][0],
        json!({"Name": "EndpointName", "Operator": "Contains", "Value": "churn"})
    );
}
