//! The pending alert against mocked DynamoDB and SNS: a failed publish
//! leaves the ending standing with its alert pending (nothing taken back),
//! and the next report of that deployment publishes it once.

use super::*;
use crate::ledger::Outcome;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

const SUBJECT: &str = "Deploy refused: fraud";

fn reporter(dynamodb: &[&Rule], sns: &[&Rule]) -> OutcomeReporter {
    let table = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb);
    let topic = mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns);
    OutcomeReporter {
        ledger: Some(Ledger::new(table, "ledger")),
        notifier: Notifier::new(topic, Some("arn:aws:sns:us-east-1:1:alerts".into())),
        namespace: "Test".into(),
    }
}

fn refused() -> Ending {
    Ending::new("fraud", "fraud-c1", Outcome::Refused).because("instance-based")
}

/// The ending's write: it carries the alert, and asks for the old item
/// when its condition fails.
fn ends() -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.update_expression()
                .is_some_and(|e| e.contains("alert_subject = :as"))
                && r.expression_attribute_values()
                    .and_then(|v| v.get(":as"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == SUBJECT)
                && r.return_values_on_condition_check_failure()
                    == Some(&ReturnValuesOnConditionCheckFailure::AllOld)
        })
        .then_output(|| UpdateItemOutput::builder().build())
}

/// The ending's write finding the deployment ended, its alert `pending`.
fn ended(pending: bool) -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.condition_expression()
                .is_some_and(|c| c.contains(":running"))
        })
        .then_error(move || {
            let mut old = ConditionalCheckFailedException::builder()
                .item("outcome", AttributeValue::S("refused".into()));
            if pending {
                old = old
                    .item("alert_subject", AttributeValue::S(SUBJECT.into()))
                    .item(
                        "alert_message",
                        AttributeValue::S("Outcome: refused".into()),
                    );
            }
            UpdateItemError::ConditionalCheckFailedException(old.build())
        })
}

fn cleared() -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.update_expression() == Some("REMOVE alert_subject, alert_message"))
        .then_output(|| UpdateItemOutput::builder().build())
}

fn published() -> Rule {
    mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.subject() == Some(SUBJECT))
        .then_output(|| PublishOutput::builder().message_id("m-1").build())
}

#[tokio::test]
async fn a_failed_publish_leaves_the_alert_pending_and_takes_nothing_back() {
    let (ends, cleared) = (ends(), cleared());
    let down = mock!(aws_sdk_sns::Client::publish).then_error(|| {
        PublishError::generic(
            aws_sdk_sns::error::ErrorMetadata::builder()
                .code("InternalError")
                .build(),
        )
    });
    let outcomes = reporter(&[&ends, &cleared], &[&down]);
    assert!(outcomes.report_outcome(&refused()).await.is_err());
    assert_eq!((ends.num_calls(), down.num_calls()), (1, 1));
    assert_eq!(cleared.num_calls(), 0, "still pending");
}

#[tokio::test]
async fn a_later_report_publishes_a_pending_alert_then_clears_it() {
    let (ended, cleared, published) = (ended(true), cleared(), published());
    let outcomes = reporter(&[&cleared, &ended], &[&published]);
    let told = outcomes.report_outcome(&refused()).await.unwrap();
    assert_eq!(told, Told::Now { alerted: true });
    assert_eq!(
        (
            ended.num_calls(),
            published.num_calls(),
            cleared.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn an_ended_deployment_whose_alert_was_told_tells_nothing() {
    let (ended, published) = (ended(false), published());
    let outcomes = reporter(&[&ended], &[&published]);
    let told = outcomes.report_outcome(&refused()).await.unwrap();
    assert_eq!(told, Told::Already);
    assert_eq!((ended.num_calls(), published.num_calls()), (1, 0));
}

#[tokio::test]
async fn a_report_told_now_publishes_once_and_clears() {
    let (ends, cleared, published) = (ends(), cleared(), published());
    let outcomes = reporter(&[&ends, &cleared], &[&published]);
    let told = outcomes.report_outcome(&refused()).await.unwrap();
    assert_eq!(told, Told::Now { alerted: true });
    assert_eq!(
        (ends.num_calls(), published.num_calls(), cleared.num_calls()),
        (1, 1, 1)
    );
}
