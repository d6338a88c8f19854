//! The recreate steps against a mocked SageMaker: what happens when the
//! replacement cannot be created after the original was deleted.

use super::*;
use crate::aws::apply::tests::{
    applier, described, now, quiet_metrics, quotas, serverless_described,
};
use aws_sdk_sagemaker::operation::create_endpoint::{CreateEndpointError, CreateEndpointOutput};
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointError;
use aws_sdk_sagemaker::operation::list_endpoints::ListEndpointsOutput;
use aws_sdk_sagemaker::types::EndpointSummary;
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

#[tokio::test]
async fn a_failed_replacement_create_restores_the_original_at_once() {
    let original_described = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders"))
        .sequence()
        .output(|| described("orders", "orders-config"))
        .error(gone)
        .build();
    let listed = mock!(Client::list_tags).then_output(|| {
        aws_sdk_sagemaker::operation::list_tags::ListTagsOutput::builder()
            .tags(
                aws_sdk_sagemaker::types::Tag::builder()
                    .key(tags::STATE)
                    .value(MigrationState::Canary.as_str())
                    .build(),
            )
            .build()
    });
    let replacement_refused = mock!(Client::create_endpoint)
        .match_requests(|r| r.endpoint_config_name() == Some("orders-serverless-cfg"))
        .then_error(|| {
            CreateEndpointError::generic(
                ErrorMetadata::builder()
                    .code("ResourceLimitExceeded")
                    .message("serverless endpoints per account exceeded")
                    .build(),
            )
        });
    let restored = mock!(Client::create_endpoint)
        .match_requests(|r| {
            r.endpoint_config_name() == Some("orders-config")
                && r.tags().iter().any(|t| {
                    t.key() == Some(tags::STATE)
                        && t.value() == Some(MigrationState::Failed.as_str())
                })
        })
        .then_output(|| {
            CreateEndpointOutput::builder()
                .endpoint_arn("arn:orders")
                .build()
        });
    let applied = replace_with(
        &[
            &original_described,
            &listed,
            &replacement_refused,
            &restored,
        ],
        None,
    )
    .await;
    assert_eq!(replacement_refused.num_calls(), 1);
    assert_eq!(restored.num_calls(), 1, "the original is recreated at once");
    match applied {
        Ok(Applied::Done(message)) => {
            assert!(
                message.contains("recreated orders from its persistent config orders-config"),
                "{message}"
            );
            assert!(message.contains("ResourceLimitExceeded"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

fn orders() -> (OriginalRef, CanaryRef) {
    let original = OriginalRef {
        name: "orders".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders".into(),
        config_name: "orders-config".into(),
    };
    let canary = CanaryRef {
        name: "orders-serverless".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/orders-serverless".into(),
        config_name: "orders-serverless-cfg".into(),
        model_name: Some("orders-serverless-cfg".into()),
        config_in_use_elsewhere: false,
        user_tags: BTreeMap::new(),
    };
    (original, canary)
}

/// DescribeEndpoint's answer once `orders` is gone.
fn gone() -> DescribeEndpointError {
    DescribeEndpointError::generic(
        ErrorMetadata::builder()
            .code("ValidationException")
            .message("Could not find endpoint \"orders\".")
            .build(),
    )
}

/// Replaces `orders` by its InService canary, SageMaker answering by
/// `rules` (the original's reads and the creates) and accepting the canary
/// reads, the Region's listing, tag writes and the delete.
async fn replace_with(
    rules: &[&aws_smithy_mocks::Rule],
    deadline: Option<tokio::time::Instant>,
) -> Result<Applied, AwsError> {
    let canary_described = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders-serverless"))
        .then_output(|| serverless_described("orders-serverless", "orders-serverless-cfg", 5));
    let region =
        mock!(Client::list_endpoints).then_output(|| endpoints(&["orders", "orders-serverless"]));
    let tagged = mock!(Client::add_tags)
        .then_output(|| aws_sdk_sagemaker::operation::add_tags::AddTagsOutput::builder().build());
    let deleted = mock!(Client::delete_endpoint).then_output(|| {
        aws_sdk_sagemaker::operation::delete_endpoint::DeleteEndpointOutput::builder().build()
    });
    let mut all = rules.to_vec();
    all.extend([&canary_described, &region, &tagged, &deleted]);
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, all);
    let (original, canary) = orders();
    let applier = Applier {
        metrics: quiet_metrics(),
        deadline,
        ..applier(client)
    };
    applier
        .replace_original(&original, &canary, &no_traffic(), now())
        .await
}

/// No call since the canary started: traffic holds nothing.
fn no_traffic() -> TrafficCheck {
    TrafficCheck {
        variants: vec!["AllTraffic".into()],
        since: now() - chrono::Duration::hours(2),
        allowed_per_day: 0,
    }
}

fn endpoints(names: &[&str]) -> ListEndpointsOutput {
    let mut out = ListEndpointsOutput::builder();
    for name in names {
        out = out.endpoints(
            EndpointSummary::builder()
                .endpoint_name(*name)
                .endpoint_arn(format!(
                    "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
                ))
                .creation_time(aws_smithy_types::DateTime::from_secs(0))
                .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                .endpoint_status(EndpointStatus::InService)
                .build(),
        );
    }
    out.build()
}

/// Issue 12 item 3: the recreate strategy checks the serverless quotas
/// before it deletes the original. The canary already holds 10 of the 10
/// the account may allocate; its replacement (another 10, next to it)
/// does not fit: held with the quota named, nothing deleted or recorded.
#[tokio::test]
async fn a_replacement_the_serverless_quota_cannot_hold_leaves_the_original_in_place() {
    let original_described = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders"))
        .then_output(|| described("orders", "orders-config"));
    let canary_described = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders-serverless"))
        .then_output(|| serverless_described("orders-serverless", "orders-serverless-cfg", 10));
    let region = mock!(Client::list_endpoints)
        .then_output(|| endpoints(&["orders", "orders-serverless", "billing"]));
    let billing = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("billing"))
        .then_output(|| described("billing", "billing-config"));
    let listed = mock!(Client::list_tags)
        .then_output(|| aws_sdk_sagemaker::operation::list_tags::ListTagsOutput::builder().build());
    let tagged = mock!(Client::add_tags)
        .then_output(|| aws_sdk_sagemaker::operation::add_tags::AddTagsOutput::builder().build());
    let deleted = mock!(Client::delete_endpoint).then_output(|| {
        aws_sdk_sagemaker::operation::delete_endpoint::DeleteEndpointOutput::builder().build()
    });
    let created = mock!(Client::create_endpoint).then_output(|| {
        CreateEndpointOutput::builder()
            .endpoint_arn("arn:orders")
            .build()
    });
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[
            &original_described,
            &canary_described,
            &billing,
            &region,
            &listed,
            &tagged,
            &deleted,
            &created
        ]
    );
    let applier = Applier {
        metrics: quiet_metrics(),
        quotas: quotas(5.0, 10.0),
        ..applier(client)
    };
    let (original, canary) = orders();
    let applied = applier
        .replace_original(&original, &canary, &no_traffic(), now())
        .await;
    assert_eq!(deleted.num_calls(), 0, "the original is not deleted");
    assert_eq!(created.num_calls(), 0, "nothing is created");
    assert_eq!(tagged.num_calls(), 0, "nothing is recorded");
    match applied {
        Ok(Applied::Skipped(why)) => {
            for part in [
                "orders is not deleted",
                "L-96300102",
                "hold 10",
                "the account's value",
            ] {
                assert!(why.contains(part), "{part:?} missing from: {why}");
            }
        }
        other => panic!("{other:?}"),
    }
}

/// The original as DescribeEndpoint shows it while SageMaker deletes it.
fn deleting(name: &str) -> aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput {
    let mut out = described(name, "orders-config");
    out.endpoint_status = Some(EndpointStatus::Deleting);
    out
}

/// A recreate whose original shows `Deleting` for `polls` reads (2 s
/// apart) after the delete, then is gone; the replacement is accepted.
/// Returns the step's answer and how many replacements were created.
async fn replace_while_deleting(
    polls: usize,
    deadline: Option<tokio::time::Instant>,
) -> (Result<Applied, AwsError>, usize) {
    let original_described = mock!(Client::describe_endpoint)
        .match_requests(|r| r.endpoint_name() == Some("orders"))
        .sequence()
        .output(|| described("orders", "orders-config"))
        .output(|| deleting("orders"))
        .times(polls)
        .error(gone)
        .repeatedly()
        .build();
    let listed = mock!(Client::list_tags)
        .then_output(|| aws_sdk_sagemaker::operation::list_tags::ListTagsOutput::builder().build());
    let replacement = mock!(Client::create_endpoint)
        .match_requests(|r| r.endpoint_config_name() == Some("orders-serverless-cfg"))
        .then_output(|| {
            CreateEndpointOutput::builder()
                .endpoint_arn("arn:orders")
                .build()
        });
    let applied = replace_with(&[&original_described, &listed, &replacement], deadline).await;
    (applied, replacement.num_calls())
}

/// Reliability review #22: AWS often shows a deleted endpoint `Deleting`
/// for more than a minute. The replacement must still follow in the same
/// run (the name is down meanwhile), not a schedule period (a day) later.
#[tokio::test(start_paused = true)]
async fn a_replacement_follows_an_original_that_takes_minutes_to_delete() {
    // Deleting for about 3 minutes; the invocation has 14 minutes left.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(14 * 60);
    let (applied, created) = replace_while_deleting(90, Some(deadline)).await;
    assert!(matches!(applied, Ok(Applied::Done(_))), "{applied:?}");
    assert_eq!(created, 1, "the replacement is created in the same run");
}

/// The wait never outlasts the invocation: with too little time left the
/// step stops waiting (the next run creates the replacement) rather than
/// being killed by Lambda's timeout mid-step.
#[tokio::test(start_paused = true)]
async fn the_wait_for_a_deletion_ends_before_the_invocation_does() {
    let start = tokio::time::Instant::now();
    let deadline = start + std::time::Duration::from_secs(150);
    let (applied, created) = replace_while_deleting(90, Some(deadline)).await;
    match applied {
        Ok(Applied::Skipped(why)) => assert!(why.contains("still deleting"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(created, 0);
    assert!(
        tokio::time::Instant::now() < deadline,
        "waited past the invocation's end"
    );
}
