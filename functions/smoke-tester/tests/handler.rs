//! The smoke tester's handler with mocked AWS clients (aws-smithy-mocks):
//! claim, request lookup, calls, verdict, rollback and alert, and the
//! typed error Lambda sees, without the emulator. The endpoint's tags live
//! in a map the mocked ListTags/AddTags share, so the claim check sees the
//! claim it wrote.

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::operation::add_tags::AddTagsOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput;
use aws_sdk_sagemaker::types::{
    EndpointStatus, ProductionVariant, ProductionVariantServerlessConfig, Tag,
};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::{
    InvokeEndpointError, InvokeEndpointOutput,
};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::types::error::ModelError;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::sns::Notifier;
use shared::deployment::{ArtifactRef, DeploymentRecord, PREVIOUS_CONFIG_TAG};
use shared::smoke::{SOURCE_TAG, TESTED_CONFIG_TAG, VERDICT_TAG};
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use smoke_tester::config::SmokeTesterConfig;
use smoke_tester::invoke::Invoker;
use smoke_tester::report::{Outcome, SmokeTestReport};
use smoke_tester::tester::SmokeTester;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ENDPOINT_ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud";
const NEW_CONFIG: &str = "fraud-c-new";
const OLD_CONFIG: &str = "fraud-c-old";
const SOURCE: &str = "s3://ml-models/models/fraud/deploy.json?versionId=v7";

type Tags = Arc<Mutex<BTreeMap<String, String>>>;

/// SageMaker as the tester sees it: `fraud` InService on NEW_CONFIG, whose
/// record names SOURCE; OLD_CONFIG is a serverless config to roll back to.
struct FakeSageMaker {
    endpoint_tags: Tags,
    rules: Vec<Rule>,
}

impl FakeSageMaker {
    fn new(endpoint_tags: &[(&str, &str)]) -> Self {
        let endpoint_tags: Tags = Arc::new(Mutex::new(
            endpoint_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        let (read, write) = (endpoint_tags.clone(), endpoint_tags.clone());
        let rules = vec![
            mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_output(|| {
                DescribeEndpointOutput::builder()
                    .endpoint_name("fraud")
                    .endpoint_arn(ENDPOINT_ARN)
                    .endpoint_config_name(NEW_CONFIG)
                    .endpoint_status(EndpointStatus::InService)
                    .build()
            }),
            mock!(aws_sdk_sagemaker::Client::list_tags)
                .match_requests(|r| r.resource_arn() == Some(ENDPOINT_ARN))
                .then_compute_output(move |_| tag_list(&read.lock().unwrap())),
            mock!(aws_sdk_sagemaker::Client::add_tags)
                .match_requests(|r| r.resource_arn() == Some(ENDPOINT_ARN))
                .then_compute_output(move |r| {
                    let mut tags = write.lock().unwrap();
                    for tag in r.tags() {
                        tags.insert(
                            tag.key().unwrap_or_default().into(),
                            tag.value().unwrap_or_default().into(),
                        );
                    }
                    AddTagsOutput::builder().build()
                }),
            mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_compute_output(|r| {
                let name = r.endpoint_config_name().unwrap_or_default();
                DescribeEndpointConfigOutput::builder()
                    .endpoint_config_name(name)
                    .endpoint_config_arn(format!("arn:config/{name}"))
                    .production_variants(
                        ProductionVariant::builder()
                            .variant_name("AllTraffic")
                            .model_name(format!("{name}-model"))
                            .serverless_config(
                                ProductionVariantServerlessConfig::builder()
                                    .memory_size_in_mb(2048)
                                    .max_concurrency(10)
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            }),
            mock!(aws_sdk_sagemaker::Client::list_tags)
                .match_requests(|r| r.resource_arn() == Some("arn:config/fraud-c-new"))
                .then_output(|| {
                    let mut tags = record(NEW_CONFIG, "v2", Some(OLD_CONFIG));
                    tags.insert(SOURCE_TAG.into(), SOURCE.into());
                    tag_list(&tags)
                }),
            mock!(aws_sdk_sagemaker::Client::list_tags)
                .match_requests(|r| r.resource_arn() == Some("arn:config/fraud-c-old"))
                .then_output(|| tag_list(&record(OLD_CONFIG, "v1", None))),
        ];
        FakeSageMaker {
            endpoint_tags,
            rules,
        }
    }
}

/// A config's deployment record as tags: the artifact
/// `models/fraud/<version>/model.tar.gz` at S3 version `version`.
fn record(config: &str, version: &str, replaces: Option<&str>) -> BTreeMap<String, String> {
    DeploymentRecord {
        endpoint_name: "fraud".into(),
        model_name: format!("{config}-model"),
        config_name: config.into(),
        artifact: ArtifactRef {
            bucket: "ml-models".into(),
            key: format!("models/fraud/{version}/model.tar.gz"),
            version: version.into(),
            time: chrono::DateTime::UNIX_EPOCH,
            sequencer: None,
        },
        settings_version: None,
        replaces_config: replaces.map(str::to_string),
        smoke_test_source: None,
        shape: None,
        capacity: None,
    }
    .to_tags()
    .unwrap()
}

fn tag_list(tags: &BTreeMap<String, String>) -> ListTagsOutput {
    ListTagsOutput::builder()
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn deploy_json() -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| {
            r.key() == Some("models/fraud/deploy.json") && r.version_id() == Some("v7")
        })
        .then_output(|| {
            let document = json!({"smoke_test": {"content_type": "text/csv", "body": "1,2,3"}});
            GetObjectOutput::builder()
                .body(ByteStream::from(document.to_string().into_bytes()))
                .version_id("v7")
                .build()
        })
}

fn tester(sagemaker: &[&Rule], s3: &[&Rule], runtime: &[&Rule], sns: &[&Rule]) -> SmokeTester {
    let mut invoker = Invoker::new(mock_client!(
        aws_sdk_sagemakerruntime,
        RuleMode::MatchAny,
        runtime
    ));
    invoker.backoff = Duration::from_millis(1);
    SmokeTester {
        ledger: None,
        sagemaker: SageMaker::new(mock_client!(
            aws_sdk_sagemaker,
            RuleMode::MatchAny,
            sagemaker,
            |c| c.retry_config(aws_sdk_sagemaker::config::retry::RetryConfig::disabled())
        )),
        store: ArtifactStore::new(mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3)),
        invoker,
        outcomes: OutcomeReporter {
            ledger: None,
            notifier: Notifier::new(
                mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns),
                Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
            ),
            namespace: "Tests".into(),
        },
        config: SmokeTesterConfig {
            metrics_namespace: "Tests".into(),
            warm_invocations: 2,
            notify_topic_arn: None,
            rollback_on_failure: true,
            claim_settle: Duration::ZERO,
            claim_lease: Duration::from_secs(600),
        },
    }
}

fn in_service_event() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/sagemaker-endpoint-in-service.json"
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["detail"]["EndpointName"] = json!("fraud");
    event["detail"]["EndpointConfigName"] = json!(NEW_CONFIG);
    event
}

async fn handle(tester: &SmokeTester, payload: Value) -> Result<SmokeTestReport, Diagnostic> {
    let mut context = Context::default();
    context.request_id = "request-1".into();
    smoke_tester::handle(LambdaEvent::new(payload, context), tester)
        .await
        .map_err(Diagnostic::from)
}

fn sagemaker_refs(fake: &FakeSageMaker) -> Vec<&Rule> {
    fake.rules.iter().collect()
}

#[tokio::test]
async fn a_good_endpoint_passes_and_the_verdict_is_tagged() {
    let fake = FakeSageMaker::new(&[(MANAGED_BY_KEY, MANAGED_BY_VALUE)]);
    let (document, answer) = (
        deploy_json(),
        mock!(aws_sdk_sagemakerruntime::Client::invoke_endpoint)
            .match_requests(|r| {
                r.endpoint_name() == Some("fraud")
                    && r.content_type() == Some("text/csv")
                    && r.body().map(|b| b.as_ref()) == Some(b"1,2,3".as_slice())
            })
            .then_output(|| {
                InvokeEndpointOutput::builder()
                    .body(Blob::new(r#"{"p": 0.9}"#))
                    .content_type("application/json")
                    .build()
            }),
    );
    let tester = tester(&sagemaker_refs(&fake), &[&document], &[&answer], &[]);

    let report = handle(&tester, in_service_event()).await.unwrap();

    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    assert_eq!(report.endpoint_config.as_deref(), Some(NEW_CONFIG));
    assert_eq!(answer.num_calls(), 3, "one cold and two warm calls");
    assert_eq!(report.warm_ms.len(), 2);
    let tags = fake.endpoint_tags.lock().unwrap().clone();
    assert_eq!(tags.get(VERDICT_TAG).map(String::as_str), Some("passed"));
    assert_eq!(
        tags.get(TESTED_CONFIG_TAG).map(String::as_str),
        Some(NEW_CONFIG)
    );
}

#[tokio::test]
async fn a_model_error_rolls_back_to_the_previous_config_and_alerts() {
    model_error_rolls_back_to_the_recorded_config(OLD_CONFIG).await;
}

/// Reliability review #10: the deploy that made NEW_CONFIG died (or was
/// throttled) between UpdateEndpoint and the endpoint's `previous-config`
/// tag write, so the tag still names the config before OLD_CONFIG. The
/// rollback target comes from NEW_CONFIG's own record (written with the
/// config), so the rollback still goes to OLD_CONFIG.
#[tokio::test]
async fn a_rollback_goes_where_the_failed_config_s_record_says_not_a_stale_endpoint_tag() {
    model_error_rolls_back_to_the_recorded_config("fraud-c-older").await;
}

/// NEW_CONFIG (whose record says it replaced OLD_CONFIG) fails with a model
/// error while the endpoint's `previous-config` tag says `endpoint_tag`.
async fn model_error_rolls_back_to_the_recorded_config(endpoint_tag: &str) {
    let fake = FakeSageMaker::new(&[
        (MANAGED_BY_KEY, MANAGED_BY_VALUE),
        (PREVIOUS_CONFIG_TAG, endpoint_tag),
    ]);
    let update = mock!(aws_sdk_sagemaker::Client::update_endpoint)
        .match_requests(|r| {
            r.endpoint_name() == Some("fraud") && r.endpoint_config_name() == Some(OLD_CONFIG)
        })
        .then_output(|| UpdateEndpointOutput::builder().build());
    let mut rules = sagemaker_refs(&fake);
    rules.push(&update);
    let document = deploy_json();
    let model_error = mock!(aws_sdk_sagemakerruntime::Client::invoke_endpoint).then_error(|| {
        InvokeEndpointError::ModelError(
            ModelError::builder()
                .message("Received server error (500)")
                .original_status_code(500)
                .build(),
        )
    });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.subject() == Some("Smoke test failed: fraud"))
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    // The old config's artifact still holds the bytes it was deployed with.
    let unchanged = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| {
            r.key() == Some("models/fraud/v1/model.tar.gz") && r.version_id().is_none()
        })
        .then_output(|| HeadObjectOutput::builder().version_id("v1").build());
    let tester = tester(
        &rules,
        &[&document, &unchanged],
        &[&model_error],
        &[&publish],
    );

    let report = handle(&tester, in_service_event()).await.unwrap();

    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(
        report.reasons,
        ["cold call: the model returned an error (HTTP 500): Received server error (500)"]
    );
    assert_eq!(
        model_error.num_calls(),
        1,
        "no warm calls after a model error"
    );
    assert_eq!(
        report.rollback.as_deref(),
        Some(format!("rolled back to {OLD_CONFIG}").as_str())
    );
    assert_eq!(update.num_calls(), 1);
    assert!(report.notified);
    let tags = fake.endpoint_tags.lock().unwrap().clone();
    assert_eq!(tags.get(VERDICT_TAG).map(String::as_str), Some("failed"));
    assert_eq!(
        tags.get("pipeline:rolled-back-from").map(String::as_str),
        Some(NEW_CONFIG)
    );
}

#[tokio::test]
async fn an_aws_fault_is_a_retryable_diagnostic() {
    let throttled = mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_error(|| {
        aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointError::generic(
            aws_sdk_sagemaker::error::ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    });
    let tester = tester(&[&throttled], &[], &[], &[]);

    let diagnostic = handle(&tester, in_service_event()).await.unwrap_err();

    assert_eq!(diagnostic.error_type, "SmokeTest.Retryable");
    assert!(
        diagnostic
            .error_message
            .contains("DescribeEndpoint failed (ThrottlingException)"),
        "{}",
        diagnostic.error_message
    );
}

#[tokio::test]
async fn irrelevant_events_are_ignored_without_calling_aws() {
    // No rules: any AWS call would panic the mock.
    let tester = tester(&[], &[], &[], &[]);
    let mut updating = in_service_event();
    updating["detail"]["EndpointStatus"] = json!("UPDATING");
    for payload in [
        updating,
        json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
        json!({"hello": "world"}),
    ] {
        let report = handle(&tester, payload).await.unwrap();
        assert_eq!(report.outcome, Outcome::Ignored, "{report:#?}");
    }
}

#[tokio::test]
async fn a_failed_event_is_told_as_a_failed_create_without_other_calls() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.subject() == Some("Endpoint create failed: fraud")
                && r.message().is_some_and(|m| {
                    m.contains("create-failed") && m.contains(NEW_CONFIG) && m.contains("ping")
                })
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    // Only the alert: no SageMaker call is needed, the event says it all.
    let tester = tester(&[], &[], &[], &[&publish]);
    let mut failed = in_service_event();
    failed["detail"]["EndpointStatus"] = json!("FAILED");
    failed["detail"]["FailureReason"] = json!("ping health check failed");
    let report = handle(&tester, failed).await.unwrap();
    assert_eq!(report.outcome, Outcome::Ignored, "{report:#?}");
    assert_eq!(
        report.deployment_outcome,
        Some(shared::ledger::Outcome::CreateFailed)
    );
    assert!(report.notified);
    assert_eq!(publish.num_calls(), 1);
}
