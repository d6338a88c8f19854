//! The start of a migration against a mocked SageMaker: nothing is
//! recorded on the original until its canary has been created.

use super::*;
use crate::config::Strategy;
use crate::domain::steps::TrafficCheck;
use aws_sdk_sagemaker::operation::add_tags::AddTagsOutput;
use aws_sdk_sagemaker::operation::create_endpoint::CreateEndpointOutput;
use aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput;
use aws_sdk_sagemaker::operation::create_model::{CreateModelError, CreateModelOutput};
use aws_sdk_sagemaker::operation::delete_endpoint::DeleteEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::types::Tag;
use aws_sdk_sagemaker::Client;
use aws_sdk_servicequotas::operation::get_service_quota::GetServiceQuotaOutput;
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use std::collections::BTreeMap;

pub(crate) fn applier(sagemaker: Client) -> Applier {
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .build(),
    );
    Applier {
        sagemaker: SageMaker::new(sagemaker),
        notifier: Notifier::new(sns, None),
        metrics: no_metrics(),
        quotas: quotas(1000.0, 100_000.0),
        deadline: None,
    }
}

/// A CloudWatch client for steps that must not read metrics (no rule:
/// any call fails the test's step).
pub(crate) fn no_metrics() -> MetricsReader {
    MetricsReader::new(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]))
}

/// CloudWatch with no datapoint for any series: no traffic.
pub(crate) fn quiet_metrics() -> MetricsReader {
    let none = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
    });
    MetricsReader::new(mock_client!(
        aws_sdk_cloudwatch,
        RuleMode::MatchAny,
        &[&none]
    ))
}

/// Service Quotas answering the account's values of the two serverless
/// quotas: `endpoints` (L-99AD19BF) and `concurrency` (L-96300102).
pub(crate) fn quotas(endpoints: f64, concurrency: f64) -> ServiceQuotas {
    let value = |code: &'static str, value: f64| {
        mock!(aws_sdk_servicequotas::Client::get_service_quota)
            .match_requests(move |r| r.quota_code() == Some(code))
            .then_output(move || {
                GetServiceQuotaOutput::builder()
                    .quota(
                        ServiceQuota::builder()
                            .quota_code(code)
                            .value(value)
                            .build(),
                    )
                    .build()
            })
    };
    let rules = [
        value("L-99AD19BF", endpoints),
        value("L-96300102", concurrency),
    ];
    ServiceQuotas::new(mock_client!(
        aws_sdk_servicequotas,
        RuleMode::MatchAny,
        &[&rules[0], &rules[1]]
    ))
}

/// An InService serverless endpoint at `max_concurrency`, as
/// DescribeEndpoint shows it.
pub(crate) fn serverless_described(
    name: &str,
    config: &str,
    max_concurrency: i32,
) -> DescribeEndpointOutput {
    let variant = aws_sdk_sagemaker::types::ProductionVariantSummary::builder()
        .variant_name("AllTraffic")
        .current_serverless_config(
            aws_sdk_sagemaker::types::ProductionVariantServerlessConfig::builder()
                .memory_size_in_mb(2048)
                .max_concurrency(max_concurrency)
                .build(),
        )
        .build();
    let mut out = described(name, config);
    out.production_variants = Some(vec![variant]);
    out
}

fn start() -> Action {
    Action::Start {
        original: OriginalRef {
            name: "orders".into(),
            arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders".into(),
            config_name: "orders-config".into(),
        },
        canary: CanarySpec {
            original: "orders".into(),
            endpoint_name: "orders-serverless".into(),
            model_name: "orders-serverless-r1".into(),
            config_name: "orders-serverless-r1".into(),
            persistent_config: "orders-config".into(),
            strategy: Strategy::SideBySide,
            memory_mb: 6144,
            max_concurrency: 10,
            smoke_test_source: Some("s3://requests/smoke.json".into()),
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1".into(),
            model_data_url: Some("s3://b/model.tar.gz".into()),
            environment: BTreeMap::new(),
            execution_role_arn: "arn:aws:iam::123456789012:role/team".into(),
            user_tags: BTreeMap::new(),
        },
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

#[tokio::test]
async fn a_refused_first_create_leaves_the_original_untagged() {
    let refused = mock!(Client::create_model).then_error(|| {
        CreateModelError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: iam:PassRole")
                .build(),
        )
    });
    let tagged = mock!(Client::add_tags).then_output(|| AddTagsOutput::builder().build());
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, &[&refused, &tagged]);
    let applied = applier(client).apply(&start(), now()).await;
    assert!(applied.is_err(), "{applied:?}");
    assert_eq!(refused.num_calls(), 1);
    assert_eq!(
        tagged.num_calls(),
        0,
        "the original is tagged only once its canary exists"
    );
}

#[tokio::test]
async fn the_original_records_the_migration_once_its_canary_exists() {
    let model = mock!(Client::create_model).then_output(|| CreateModelOutput::builder().build());
    let config = mock!(Client::create_endpoint_config)
        .then_output(|| CreateEndpointConfigOutput::builder().build());
    let endpoint = mock!(Client::create_endpoint).then_output(|| {
        CreateEndpointOutput::builder()
            .endpoint_arn("arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders-serverless")
            .build()
    });
    let recorded = mock!(Client::add_tags)
        .match_requests(|r| {
            r.resource_arn() == Some("arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders")
                && r.tags().iter().any(|t| {
                    t.key() == Some(tags::STATE)
                        && t.value() == Some(MigrationState::Canary.as_str())
                })
        })
        .then_output(|| AddTagsOutput::builder().build());
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&model, &config, &endpoint, &recorded]
    );
    let applied = applier(client).apply(&start(), now()).await;
    assert!(matches!(applied, Ok(Applied::Done(_))), "{applied:?}");
    assert_eq!(endpoint.num_calls(), 1);
    assert_eq!(recorded.num_calls(), 1);
}

pub(crate) fn described(name: &str, config: &str) -> DescribeEndpointOutput {
    DescribeEndpointOutput::builder()
        .endpoint_name(name)
        .endpoint_arn(format!(
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
        ))
        .endpoint_config_name(config)
        .endpoint_status(aws_sdk_sagemaker::types::EndpointStatus::InService)
        .build()
}

fn opted_out_tags(state: MigrationState) -> ListTagsOutput {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    ListTagsOutput::builder()
        .tags(tag(tags::STATE, state.as_str()))
        .tags(tag("serverless-migration", "exclude"))
        .build()
}

pub(crate) fn notifying(sns: aws_sdk_sns::Client, sagemaker: Client) -> Applier {
    Applier {
        sagemaker: SageMaker::new(sagemaker),
        notifier: Notifier::new(sns, Some("arn:aws:sns:us-east-1:123456789012:t".into())),
        metrics: no_metrics(),
        quotas: quotas(1000.0, 100_000.0),
        deadline: None,
    }
}

pub(crate) const CANARY_ARN: &str =
    "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders-serverless";

/// The one tag write a hold makes: on the canary, that people were told.
pub(crate) fn hold_recorded(kind: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::add_tags)
        .match_requests(move |r| {
            r.resource_arn() == Some(CANARY_ARN)
                && r.tags().len() == 1
                && r.tags()[0].key() == Some(tags::HOLD)
                && r.tags()[0].value() == Some(kind)
        })
        .then_output(|| AddTagsOutput::builder().build())
}

/// The traffic check a retirement carries: no call since a day ago.
pub(crate) fn drained_since_yesterday() -> TrafficCheck {
    TrafficCheck {
        variants: vec!["AllTraffic".into()],
        since: now() - chrono::Duration::days(1),
        allowed_per_day: 0,
    }
}

pub(crate) fn orders() -> OriginalRef {
    OriginalRef {
        name: "orders".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders".into(),
        config_name: "orders-config".into(),
    }
}

/// An original opted out between the sweep's read and the step: the
/// re-read right before the delete holds it, and people are told.
#[tokio::test]
async fn an_original_opted_out_just_before_its_retirement_is_held_and_notified() {
    let original =
        mock!(Client::describe_endpoint).then_output(|| described("orders", "orders-config"));
    let listed =
        mock!(Client::list_tags).then_output(|| opted_out_tags(MigrationState::AwaitingSwitch));
    let told = hold_recorded("opted-out");
    let tagged = mock!(Client::add_tags).then_output(|| AddTagsOutput::builder().build());
    let deleted =
        mock!(Client::delete_endpoint).then_output(|| DeleteEndpointOutput::builder().build());
    let published = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m1").build());
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&original, &listed, &told, &tagged, &deleted]
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&published]);
    let retire = Action::RetireOriginal {
        original: orders(),
        canary_arn: CANARY_ARN.into(),
        traffic: drained_since_yesterday(),
    };
    let applied = notifying(sns, sagemaker).apply(&retire, now()).await;
    match applied {
        Ok(Applied::Skipped(why)) => assert!(why.contains("opted out"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(deleted.num_calls(), 0, "not deleted");
    assert_eq!(tagged.num_calls(), 0, "nothing recorded");
    assert_eq!(published.num_calls(), 1, "people are told it is held");
    assert_eq!(told.num_calls(), 1, "and the canary records that they were");
}

#[tokio::test]
async fn an_original_opted_out_just_before_its_replacement_is_held_and_notified() {
    let original = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders"))
        .then_output(|| described("orders", "orders-config"));
    let canary = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders-serverless"))
        .then_output(|| described("orders-serverless", "orders-serverless-cfg"));
    let listed = mock!(Client::list_tags).then_output(|| opted_out_tags(MigrationState::Canary));
    let told = hold_recorded("opted-out");
    let tagged = mock!(Client::add_tags).then_output(|| AddTagsOutput::builder().build());
    let deleted =
        mock!(Client::delete_endpoint).then_output(|| DeleteEndpointOutput::builder().build());
    let published = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m1").build());
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&original, &canary, &listed, &told, &tagged, &deleted]
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&published]);
    let replace = Action::ReplaceOriginal {
        original: orders(),
        canary: CanaryRef {
            name: "orders-serverless".into(),
            arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders-serverless".into(),
            config_name: "orders-serverless-cfg".into(),
            model_name: Some("orders-serverless-cfg".into()),
            config_in_use_elsewhere: false,
            user_tags: BTreeMap::new(),
        },
        traffic: drained_since_yesterday(),
    };
    let applied = notifying(sns, sagemaker).apply(&replace, now()).await;
    match applied {
        Ok(Applied::Skipped(why)) => assert!(why.contains("opted out"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(deleted.num_calls(), 0, "not deleted");
    assert_eq!(tagged.num_calls(), 0, "nothing recorded");
    assert_eq!(published.num_calls(), 1, "people are told it is held");
    assert_eq!(told.num_calls(), 1, "and the canary records that they were");
}
