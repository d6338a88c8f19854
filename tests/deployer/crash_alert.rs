//! A crash between recording a failure's ending in the ledger and
//! publishing its alert: the redelivery finds the deployment ended, yet
//! the alert must still go out, once.

use super::queue::QueueWorld;
use super::*;
use integration_tests::calls_by;
use integration_tests::crash::CrashPoint;
use shared::ledger::Outcome;
use std::time::Duration;

/// An upload through the queue to an instance-based endpoint: refused,
/// with an alert.
async fn refused_upload(q: &QueueWorld, label: &str) -> Upload {
    let endpoint = unique(label);
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(1);
    q.world.create_unmanaged_endpoint(&endpoint, variant).await;
    let upload = q.world.upload_artifact(&endpoint, "").await;
    q.notify(&upload).await;
    upload
}

fn endpoint_of(upload: &Upload) -> String {
    upload.key.split('/').nth(1).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_crash_between_the_ledger_ending_and_its_alert_still_alerts_once_on_redelivery() {
    let mut q = QueueWorld::new(Duration::from_secs(60 * 60)).await;
    let caller = q.world.stack.access_key_id("deployer");

    // A refusal without a crash: where its alert comes among its calls.
    let before = calls_by(&caller).len();
    let first = refused_upload(&q, "alert-count").await;
    let delivery = q.deliver().await;
    assert_eq!((delivery.received, delivery.failed), (1, 0), "{delivery:?}");
    let calls = calls_by(&caller).split_off(before);
    let publish = calls.iter().position(|c| c == "sns:Publish");
    let Some(publish) = publish.filter(|&p| p > 0) else {
        panic!("no alert after the ledger write: {calls:?}")
    };
    assert_eq!(calls[publish - 1], "dynamodb:UpdateItem", "{calls:?}");
    let alerts = q.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(alerts[0].contains(&endpoint_of(&first)), "{}", alerts[0]);

    // The same refusal, dying right after the ledger write that ends it.
    let upload = refused_upload(&q, "alert-crash").await;
    let endpoint = endpoint_of(&upload);
    let crash = CrashPoint::after(&caller, publish);
    let crashed = q.deliver_until(Some(&crash)).await;
    drop(crash);
    assert_eq!(
        crashed.crashed.as_deref(),
        Some("sns:Publish"),
        "{crashed:?}"
    );
    let refused = |history: Vec<shared::ledger::LedgerEntry>| {
        history
            .into_iter()
            .filter(|e| e.outcome == Outcome::Refused)
            .count()
    };
    assert_eq!(refused(q.world.ledger_history(&endpoint).await), 1);

    // The queue delivers the message again.
    let again = q.deliver().await;
    assert_eq!((again.received, again.failed), (1, 0), "{again:?}");
    assert_eq!(refused(q.world.ledger_history(&endpoint).await), 1);
    let told: Vec<_> = q
        .alerts()
        .await
        .into_iter()
        .filter(|a| a.contains(&endpoint))
        .collect();
    assert_eq!(told.len(), 1, "the refusal is alerted once: {told:#?}");

    // A further duplicate tells nothing again.
    q.notify(&upload).await;
    assert_eq!(q.deliver().await.failed, 0);
    let told = q.alerts().await;
    assert_eq!(
        told.iter().filter(|a| a.contains(&endpoint)).count(),
        1,
        "{told:#?}"
    );
}
