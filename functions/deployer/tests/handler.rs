//! The deployer's handler with mocked AWS clients (aws-smithy-mocks): what
//! an S3 event turns into, call by call, without the emulator. The
//! emulator tier (tests/deployer) covers the same paths against a running
//! SageMaker imitation.

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_sagemaker::error::ErrorMetadata;
use aws_sdk_sagemaker::operation::create_endpoint::CreateEndpointOutput;
use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput;
use aws_sdk_sagemaker::operation::create_model::CreateModelOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::{
    DescribeEndpointError, DescribeEndpointOutput,
};
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::list_endpoints::ListEndpointsOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::types::{
    EndpointStatus, ProductionVariant, ProductionVariantServerlessConfig, Tag,
};
use aws_sdk_servicequotas::operation::get_service_quota::GetServiceQuotaOutput;
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::{DateTime, Utc};
use deployer::config::DeployerConfig;
use deployer::deploy::Deployer;
use deployer::outcome::Status;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::service_quotas::ServiceQuotas;
use shared::deployment::{ArtifactRef, DeploymentRecord};
use shared::settings::SettingsLayer;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const BUCKET: &str = "ml-models";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1";
const ENDPOINT_ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud";

fn deployer(sagemaker: &[&Rule], s3: &[&Rule]) -> Deployer {
    // The quota pre-flight before a create or update: an account with room
    // (quotas well above an empty Region's use).
    let region = mock!(aws_sdk_sagemaker::Client::list_endpoints)
        .then_output(|| ListEndpointsOutput::builder().build());
    let quota = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_output(|| {
        GetServiceQuotaOutput::builder()
            .quota(ServiceQuota::builder().value(1000.0).build())
            .build()
    });
    let mut sagemaker = sagemaker.to_vec();
    sagemaker.push(&region);
    Deployer {
        sagemaker: SageMaker::new(mock_client!(
            aws_sdk_sagemaker,
            RuleMode::MatchAny,
            &sagemaker
        )),
        quotas: ServiceQuotas::new(mock_client!(
            aws_sdk_servicequotas,
            RuleMode::MatchAny,
            &[&quota]
        )),
        store: ArtifactStore::new(mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3)),
        config: DeployerConfig {
            region: "us-east-1".into(),
            execution_role_arn: "arn:aws:iam::123456789012:role/sagemaker".into(),
            models_prefix: "models/".into(),
            defaults: SettingsLayer::default(),
            keep_superseded: 2,
            packed_prefix: "packed/".into(),
            watched_groups: shared::model_package::WatchedGroups::default(),
        },
        ledger: None,
    }
}

/// An S3 notification built from events/s3-put-model.json.
fn s3_event(keys: &[&str]) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/s3-put-model.json"
    );
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let records: Vec<Value> = keys
        .iter()
        .map(|key| {
            let mut record = sample["Records"][0].clone();
            record["s3"]["bucket"]["name"] = json!(BUCKET);
            record["s3"]["object"]["key"] = json!(key);
            record["s3"]["object"]["versionId"] = json!("v2");
            record
        })
        .collect();
    json!({ "Records": records })
}

async fn handle(deployer: &Deployer, event: Value) -> Result<Vec<(Status, String)>, Diagnostic> {
    match deployer::handle(LambdaEvent::new(event, Context::default()), deployer).await {
        Ok(report) => Ok(report
            .results
            .into_iter()
            .map(|r| (r.status, r.message))
            .collect()),
        Err(failed) => Err(failed.into()),
    }
}

fn the_artifact() -> Rule {
    mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| r.key() == Some("models/fraud/model.tar.gz"))
        .then_output(|| {
            HeadObjectOutput::builder()
                .version_id("v2")
                .e_tag("\"abc\"")
                .content_length(10)
                .metadata("image-uri", IMAGE)
                .build()
        })
}

fn no_deploy_json() -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .then_error(|| GetObjectError::generic(ErrorMetadata::builder().code("NoSuchKey").build()))
}

fn no_endpoint() -> Rule {
    mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_error(|| {
        DescribeEndpointError::generic(
            ErrorMetadata::builder()
                .code("ValidationException")
                .message("Could not find endpoint \"fraud\".")
                .build(),
        )
    })
}

fn tags(pairs: BTreeMap<String, String>) -> ListTagsOutput {
    let list: Vec<Tag> = pairs
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    ListTagsOutput::builder().set_tags(Some(list)).build()
}

/// The one variant of a pipeline config: AllTraffic, 2048 MB, 10 concurrent.
fn serverless_variant(model: &str) -> ProductionVariant {
    let serverless = ProductionVariantServerlessConfig::builder()
        .max_concurrency(10)
        .memory_size_in_mb(2048);
    ProductionVariant::builder()
        .serverless_config(serverless.build())
        .model_name(model)
        .variant_name("AllTraffic")
        .build()
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().into()
}

#[tokio::test]
async fn an_artifact_event_creates_model_config_and_endpoint() {
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let (m, c, e) = (sent.clone(), sent.clone(), sent.clone());
    let create_model =
        mock!(aws_sdk_sagemaker::Client::create_model).then_compute_output(move |r| {
            let container = r.primary_container().unwrap();
            m.lock().unwrap().push(format!(
                "model {} {}",
                container.image().unwrap(),
                container.model_data_url().unwrap()
            ));
            CreateModelOutput::builder().build()
        });
    let create_config = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
        .then_compute_output(move |r| {
            let serverless = r.production_variants()[0].serverless_config().unwrap();
            let key = r
                .tags()
                .iter()
                .find(|t| t.key() == Some("pipeline:artifact-key"))
                .and_then(|t| t.value());
            c.lock().unwrap().push(format!(
                "config {} {:?} {:?} {key:?}",
                r.endpoint_config_name().unwrap(),
                serverless.memory_size_in_mb(),
                serverless.max_concurrency(),
            ));
            CreateEndpointConfigOutput::builder().build()
        });
    let create_endpoint =
        mock!(aws_sdk_sagemaker::Client::create_endpoint).then_compute_output(move |r| {
            e.lock().unwrap().push(format!(
                "endpoint {} {}",
                r.endpoint_name().unwrap(),
                r.endpoint_config_name().unwrap()
            ));
            CreateEndpointOutput::builder().build()
        });
    let (artifact, sidecar, describe) = (the_artifact(), no_deploy_json(), no_endpoint());
    // This deploy packs no code and prunes no Model, so the endpoint's
    // packed-code folder is not listed (docs/deployer.md); the rule only
    // counts a list that should not happen.
    let packed = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.prefix() == Some("packed/fraud/"))
        .then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        });
    let deployer = deployer(
        &[&describe, &create_model, &create_config, &create_endpoint],
        &[&artifact, &sidecar, &packed],
    );

    let results = handle(&deployer, s3_event(&["models/fraud/model.tar.gz"]))
        .await
        .unwrap();

    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, Status::Created, "{results:?}");
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(
        sent[0],
        format!("model {IMAGE} s3://{BUCKET}/models/fraud/model.tar.gz")
    );
    let config = sent[1].split(' ').nth(1).unwrap();
    assert!(config.starts_with("fraud-"), "{config}");
    assert!(
        sent[1].ends_with("Some(2048) Some(10) Some(\"models/fraud/model.tar.gz\")"),
        "{}",
        sent[1]
    );
    assert_eq!(sent[2], format!("endpoint fraud {config}"));
    // Pruning after the create found no endpoint to prune around.
    assert_eq!(describe.num_calls(), 2);
    assert_eq!(packed.num_calls(), 0, "no packed code: no sweep");
}

/// The deployment the endpoint runs before the event: config fraud-c-old.
fn old_deployment() -> DeploymentRecord {
    DeploymentRecord {
        endpoint_name: "fraud".into(),
        model_name: "fraud-m-old".into(),
        config_name: "fraud-c-old".into(),
        artifact: ArtifactRef {
            bucket: BUCKET.into(),
            key: "models/fraud/model.tar.gz".into(),
            version: "v1".into(),
            time: time("2026-11-28T09:00:00Z"),
            sequencer: Some("0062D8A4C1B7E9F300".into()),
        },
        settings_version: None,
        replaces_config: None,
        smoke_test_source: None,
        shape: None,
        capacity: None,
    }
}

/// Describe rules for endpoint "fraud" in `status` running the pipeline's
/// config fraud-c-old, and ListTags rules: `endpoint_tags` on the endpoint,
/// [`old_deployment`]'s record on the config.
fn existing_endpoint(status: EndpointStatus, endpoint_tags: BTreeMap<String, String>) -> [Rule; 4] {
    let describe = mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_output(move || {
        DescribeEndpointOutput::builder()
            .endpoint_name("fraud")
            .endpoint_arn(ENDPOINT_ARN)
            .endpoint_config_name("fraud-c-old")
            .endpoint_status(status.clone())
            .build()
    });
    let describe_config =
        mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(|| {
            DescribeEndpointConfigOutput::builder()
                .endpoint_config_name("fraud-c-old")
                .endpoint_config_arn(
                    "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/fraud-c-old",
                )
                .production_variants(serverless_variant("fraud-m-old"))
                .build()
        });
    let record_tags = old_deployment().to_tags().unwrap();
    let on_endpoint = mock!(aws_sdk_sagemaker::Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(ENDPOINT_ARN))
        .then_output(move || tags(endpoint_tags.clone()));
    let on_config = mock!(aws_sdk_sagemaker::Client::list_tags)
        .match_requests(|r| r.resource_arn() != Some(ENDPOINT_ARN))
        .then_output(move || tags(record_tags.clone()));
    [describe, describe_config, on_endpoint, on_config]
}

#[tokio::test]
async fn a_busy_endpoint_fails_retryably_and_a_bad_record_fails_alone() {
    let managed = BTreeMap::from([(MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string())]);
    let [describe, describe_config, endpoint_tags, config_tags] =
        existing_endpoint(EndpointStatus::Creating, managed);
    let (artifact, sidecar) = (the_artifact(), no_deploy_json());
    // No Create*/Update rule: any such call would panic the mock.
    let deployer = deployer(
        &[&describe, &describe_config, &endpoint_tags, &config_tags],
        &[&artifact, &sidecar],
    );
    let mut event = s3_event(&["models/fraud/model.tar.gz", "models/other/model.tar.gz"]);
    event["Records"][1]["eventName"] = json!("ObjectRemoved:Delete");

    let diagnostic = handle(&deployer, event).await.unwrap_err();

    assert_eq!(diagnostic.error_type, "Deploy.Retryable");
    let message = &diagnostic.error_message;
    assert!(message.starts_with("2 of 2 records failed"), "{message}");
    assert!(
        message.contains("record 0: endpoint fraud: is Creating"),
        "{message}"
    );
    assert!(
        message.contains("record 1 has event \"ObjectRemoved:Delete\""),
        "{message}"
    );
}

#[tokio::test]
async fn an_event_that_is_not_from_s3_fails_without_calling_aws() {
    // No rules at all: any AWS call would panic the mock.
    let deployer = deployer(&[], &[]);
    let diagnostic = handle(&deployer, json!({"detail-type": "Scheduled Event"}))
        .await
        .unwrap_err();
    assert_eq!(
        (diagnostic.error_type.as_str(), diagnostic.error_message.as_str()),
        ("Deploy.NonRetryable", "1 of 1 records failed: record 0: the event is not an S3 notification: it has no \"Records\" array (the deployer is triggered by S3 ObjectCreated events)")
    );
}

#[tokio::test]
async fn files_that_are_not_artifacts_are_skipped_without_calling_aws() {
    let deployer = deployer(&[], &[]);
    let results = handle(&deployer, s3_event(&["models/fraud/README.md"]))
        .await
        .unwrap();
    assert_eq!(results[0].0, Status::Skipped);
    assert!(
        results[0].1.contains("is not a model artifact"),
        "{results:?}"
    );
}

#[tokio::test]
async fn an_endpoint_without_its_own_managed_by_tag_is_refused_and_nothing_is_created() {
    // The config is the pipeline's, but the endpoint carries no managed-by
    // tag: the deployer's role may not update it, so it must not try.
    let others = BTreeMap::from([("team".to_string(), "fraud".to_string())]);
    let [describe, describe_config, endpoint_tags, config_tags] =
        existing_endpoint(EndpointStatus::InService, others);
    let create_model = mock!(aws_sdk_sagemaker::Client::create_model)
        .then_output(|| CreateModelOutput::builder().build());
    let create_config = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
        .then_output(|| CreateEndpointConfigOutput::builder().build());
    let update = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .then_output(|| UpdateEndpointOutput::builder().build());
    let (artifact, sidecar) = (the_artifact(), no_deploy_json());
    let deployer = deployer(
        &[
            &describe,
            &describe_config,
            &endpoint_tags,
            &config_tags,
            &create_model,
            &create_config,
            &update,
        ],
        &[&artifact, &sidecar],
    );

    let diagnostic = handle(&deployer, s3_event(&["models/fraud/model.tar.gz"])).await;

    let calls = (
        create_model.num_calls(),
        create_config.num_calls(),
        update.num_calls(),
    );
    assert_eq!(calls, (0, 0, 0), "nothing may be created or updated");
    let diagnostic = diagnostic.unwrap_err();
    assert_eq!(diagnostic.error_type, "Deploy.NonRetryable");
    let message = &diagnostic.error_message;
    assert!(
        message.contains(&format!(
            "record 0: endpoint fraud: has no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag"
        )),
        "{message}"
    );
    assert!(message.contains("fraud-c-old"), "{message}");
}
