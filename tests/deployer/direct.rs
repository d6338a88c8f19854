//! S3 events sent straight to the function (a local invoke, `events/`),
//! not through the deploy queue: every upload still ends in one reported
//! outcome.

use super::queue::QueueWorld;
use super::*;
use std::time::Duration;

#[tokio::test]
async fn a_refusal_of_an_event_sent_straight_to_the_function_is_recorded_and_told_once() {
    let q = QueueWorld::new(Duration::from_secs(60 * 60)).await;
    let endpoint = unique("direct-refused");
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(1);
    q.world.create_unmanaged_endpoint(&endpoint, variant).await;
    let upload = q.world.upload_artifact(&endpoint, "").await;
    // Not through the queue: an S3 notification invoking the function (a
    // local invoke, events/), which Lambda retries when it fails.
    let direct = || {
        deployer::dispatch(
            LambdaEvent::new(s3_event(std::slice::from_ref(&upload)), Context::default()),
            &q.consumer,
        )
    };
    let failed = direct().await.expect_err("refused");
    assert!(!failed.retryable(), "{failed}");
    let refused: Vec<_> = q
        .world
        .ledger_history(&endpoint)
        .await
        .into_iter()
        .filter(|e| e.outcome == shared::ledger::Outcome::Refused)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    let reason = refused[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("instance-based") && reason.contains(&upload.key),
        "{reason}"
    );
    // Lambda's retry of the same event: refused again, told once.
    direct().await.expect_err("refused again");
    assert_eq!(
        q.world
            .ledger_history(&endpoint)
            .await
            .iter()
            .filter(|e| e.outcome == shared::ledger::Outcome::Refused)
            .count(),
        1
    );
    let alerts = q.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("refused") && alerts[0].contains(&endpoint),
        "{}",
        alerts[0]
    );
}
