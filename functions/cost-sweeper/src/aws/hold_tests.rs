//! The re-checks right before an original is deleted, against mocked
//! SageMaker, CloudWatch and SNS: traffic since the switch was announced
//! (or the recreate started) holds the step, people are told once.

use crate::aws::apply::tests::{
    described, drained_since_yesterday, hold_recorded, notifying, now, orders, CANARY_ARN,
};
use crate::aws::apply::{Applied, Applier};
use crate::aws::metrics::MetricsReader;
use crate::domain::fleet::migration_tags as tags;
use crate::domain::state::MigrationState;
use crate::domain::steps::{Action, CanaryRef, HoldKind, TrafficCheck};
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
use aws_sdk_sagemaker::operation::add_tags::AddTagsOutput;
use aws_sdk_sagemaker::operation::delete_endpoint::DeleteEndpointOutput;
use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
use aws_sdk_sagemaker::types::Tag;
use aws_sdk_sagemaker::Client;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use std::collections::BTreeMap;

const ORDERS_ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders";

fn tags_of(arn: &'static str, pairs: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Client::list_tags)
        .match_requests(move |r| r.resource_arn() == Some(arn))
        .then_output(move || {
            let mut out = ListTagsOutput::builder();
            for (k, v) in pairs {
                out = out.tags(Tag::builder().key(*k).value(*v).build());
            }
            out.build()
        })
}

/// CloudWatch answering `invocations` for the one series read (an hour
/// ago), with `status`.
fn cloudwatch(invocations: f64, status: StatusCode) -> (Rule, MetricsReader) {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(move || {
        GetMetricDataOutput::builder()
            .metric_data_results(
                MetricDataResult::builder()
                    .id("q0")
                    .timestamps(aws_smithy_types::DateTime::from_secs(
                        (now() - chrono::Duration::hours(1)).timestamp(),
                    ))
                    .values(invocations)
                    .status_code(status.clone())
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&rule]);
    (rule, MetricsReader::new(client))
}

struct World {
    applier: Applier,
    read: Rule,
    deleted: Rule,
    published: Rule,
    told: Rule,
    other_tags: Rule,
}

/// `orders` InService on its config in `state`, its canary carrying
/// `canary_tags`; CloudWatch answers `invocations`.
fn world(
    state: MigrationState,
    canary_tags: &'static [(&'static str, &'static str)],
    invocations: f64,
    status: StatusCode,
) -> World {
    let original = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders"))
        .then_output(|| described("orders", "orders-config"));
    let canary = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders-serverless"))
        .then_output(|| described("orders-serverless", "orders-serverless-cfg"));
    let original_tags = tags_of(
        ORDERS_ARN,
        match state {
            MigrationState::AwaitingSwitch => &[(tags::STATE, "awaiting-switch")],
            _ => &[(tags::STATE, "canary")],
        },
    );
    let canary_listed = tags_of(CANARY_ARN, canary_tags);
    let told = hold_recorded("traffic");
    let other_tags = mock!(Client::add_tags).then_output(|| AddTagsOutput::builder().build());
    let deleted =
        mock!(Client::delete_endpoint).then_output(|| DeleteEndpointOutput::builder().build());
    let published = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m1").build());
    let sagemaker = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[
            &original,
            &canary,
            &original_tags,
            &canary_listed,
            &told,
            &other_tags,
            &deleted
        ]
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&published]);
    let (read, metrics) = cloudwatch(invocations, status);
    World {
        applier: Applier {
            metrics,
            ..notifying(sns, sagemaker)
        },
        read,
        deleted,
        published,
        told,
        other_tags,
    }
}

fn retire() -> Action {
    Action::RetireOriginal {
        original: orders(),
        canary_arn: CANARY_ARN.into(),
        traffic: drained_since_yesterday(),
    }
}

fn replace(allowed_per_day: u64) -> Action {
    Action::ReplaceOriginal {
        original: orders(),
        canary: CanaryRef {
            name: "orders-serverless".into(),
            arn: CANARY_ARN.into(),
            config_name: "orders-serverless-cfg".into(),
            model_name: Some("orders-serverless-cfg".into()),
            config_in_use_elsewhere: false,
            user_tags: BTreeMap::new(),
        },
        traffic: TrafficCheck {
            variants: vec!["AllTraffic".into()],
            since: now() - chrono::Duration::hours(2),
            allowed_per_day,
        },
    }
}

fn held(applied: Result<Applied, shared::aws::AwsError>, what: &str) {
    match applied {
        Ok(Applied::Skipped(why)) => {
            assert!(why.contains(what), "{why}");
            assert!(why.contains("held"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn traffic_since_the_switch_holds_the_retirement_and_people_are_told() {
    let w = world(
        MigrationState::AwaitingSwitch,
        &[],
        3.0,
        StatusCode::Complete,
    );
    held(w.applier.apply(&retire(), now()).await, "3 invocations");
    assert_eq!(w.read.num_calls(), 1, "traffic read afresh");
    assert_eq!(w.deleted.num_calls(), 0, "not deleted");
    assert_eq!(w.published.num_calls(), 1, "people are told it is held");
    assert_eq!(w.told.num_calls(), 1, "the canary records that they were");
    assert_eq!(w.other_tags.num_calls(), 0, "no migration state changed");
}

#[tokio::test]
async fn a_hold_people_were_told_about_is_not_announced_again() {
    let w = world(
        MigrationState::AwaitingSwitch,
        &[(tags::HOLD, "traffic")],
        3.0,
        StatusCode::Complete,
    );
    held(w.applier.apply(&retire(), now()).await, "3 invocations");
    assert_eq!(w.deleted.num_calls(), 0, "not deleted");
    assert_eq!(w.published.num_calls(), 0, "told once, on an earlier run");
    assert_eq!(w.told.num_calls(), 0);
}

#[tokio::test]
async fn an_incomplete_answer_about_traffic_holds_without_a_notice() {
    let w = world(
        MigrationState::AwaitingSwitch,
        &[],
        0.0,
        StatusCode::PartialData,
    );
    match w.applier.apply(&retire(), now()).await {
        Ok(Applied::Skipped(why)) => assert!(why.contains("next run"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.deleted.num_calls(),
        0,
        "unknown traffic is not no traffic"
    );
    assert_eq!(
        w.published.num_calls(),
        0,
        "nothing to tell: the next run reads again"
    );
}

#[tokio::test]
async fn no_call_since_the_switch_lets_the_retirement_go_ahead() {
    let w = world(
        MigrationState::AwaitingSwitch,
        &[],
        0.0,
        StatusCode::Complete,
    );
    let applied = w.applier.apply(&retire(), now()).await;
    assert!(matches!(applied, Ok(Applied::Done(_))), "{applied:?}");
    assert_eq!(w.deleted.num_calls(), 1);
    assert_eq!(w.published.num_calls(), 0);
}

#[tokio::test]
async fn traffic_over_the_break_even_rate_since_the_start_holds_a_recreate() {
    // 100 a day allowed (counted over at least a day); 500 in two hours.
    let w = world(MigrationState::Canary, &[], 500.0, StatusCode::Complete);
    held(
        w.applier.apply(&replace(100), now()).await,
        "500 invocations",
    );
    assert_eq!(w.deleted.num_calls(), 0, "not replaced");
    assert_eq!(w.published.num_calls(), 1);
    assert_eq!(w.told.num_calls(), 1);
}

#[tokio::test]
async fn a_held_step_is_announced_once_by_the_hold_step() {
    let w = world(
        MigrationState::AwaitingSwitch,
        &[],
        0.0,
        StatusCode::Complete,
    );
    let hold = Action::Hold {
        name: "orders".into(),
        canary_arn: CANARY_ARN.into(),
        kind: HoldKind::Traffic,
        reason: "orders: held".into(),
    };
    let applied = w.applier.apply(&hold, now()).await;
    assert!(matches!(applied, Ok(Applied::Done(_))), "{applied:?}");
    assert_eq!(w.published.num_calls(), 1);
    assert_eq!(w.told.num_calls(), 1, "recorded on the canary");
    assert_eq!(w.deleted.num_calls(), 0);
}
