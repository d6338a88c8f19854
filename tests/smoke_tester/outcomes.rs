//! Every deployment ends in one recorded outcome, told once: the
//! "SageMaker Endpoint State Change" events of the emulator's feed are
//! delivered to the smoke tester as EventBridge would deliver them (every
//! status, duplicates included), and the ledger and the alert topic show
//! what was concluded.

use super::*;
use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::fixtures::s3_event;
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::ledger::{LedgerEntry, Outcome as Ending};

/// A queue subscribed to the bench's alert topic, to read what was published.
async fn alert_queue(bench: &Bench) -> (aws_sdk_sqs::Client, String) {
    let config = shared::aws::load_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap();
    let topic = sns
        .create_topic()
        .name(bench.world.stack.topic_name())
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (sqs, url)
}

async fn alerts(queue: &(aws_sdk_sqs::Client, String)) -> Vec<String> {
    let out = queue
        .0
        .receive_message()
        .queue_url(&queue.1)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_string))
        .collect()
}

impl Bench {
    /// Delivers every event of the feed since the last call to the smoke tester.
    async fn deliver(&self, feed: &mut EventFeed) -> Vec<SmokeTestReport> {
        let mut reports = Vec::new();
        for event in feed.take() {
            reports.push(self.run(event).await);
        }
        reports
    }

    pub(super) async fn ledger_entry(&self, endpoint: &str, config: &str) -> LedgerEntry {
        self.world
            .ledger_history(endpoint)
            .await
            .into_iter()
            .find(|e| e.config_name == config)
            .unwrap_or_else(|| panic!("no ledger entry for {config}"))
    }
}

#[tokio::test]
async fn a_failed_create_is_reported_and_the_next_upload_recovers_the_endpoint() {
    let bench = Bench::new().await;
    let queue = alert_queue(&bench).await;
    let endpoint = unique("outcome-create");
    let reason = "The primary container for production variant AllTraffic did not pass the ping health check.";
    let clock = VirtualClock::with(&endpoint, json!({"duplicate_events": 1}));
    let mut feed = EventFeed::new(&endpoint);
    let broken = bench
        .world
        .upload_broken_artifact(&endpoint, "v1/", reason)
        .await;
    let created = bench.world.deploy_ok(&[broken]).await;
    let failed_config = only(&created).endpoint_config.clone().unwrap();
    clock.advance(8.0);
    bench.deliver(&mut feed).await;

    let entry = bench.ledger_entry(&endpoint, &failed_config).await;
    assert_eq!(entry.outcome, Ending::CreateFailed, "{entry:#?}");
    assert_eq!(entry.reason.as_deref(), Some(reason));
    let told = alerts(&queue).await;
    assert_eq!(told.len(), 1, "one alert for two FAILED events: {told:#?}");
    assert!(
        told[0].contains("create-failed")
            && told[0].contains(reason)
            && told[0].contains(&endpoint),
        "{}",
        told[0]
    );

    // The next upload recovers it, with no manual step.
    let fixed = bench.world.upload_artifact(&endpoint, "v2/").await;
    // The failed endpoint is deleted; it is `Deleting` for two virtual
    // minutes, during which the upload waits (retryable), then created.
    let waiting = bench
        .world
        .deploy(s3_event(std::slice::from_ref(&fixed)))
        .await
        .expect_err("waits while Deleting");
    assert_eq!(only(&waiting).retryable, Some(true), "{waiting:#?}");
    clock.advance(2.0);
    bench.deliver(&mut feed).await;
    let recreated = bench.world.deploy_ok(&[fixed]).await;
    assert_eq!(only(&recreated).status, Status::Created, "{recreated:#?}");
    let new_config = only(&recreated).endpoint_config.clone().unwrap();
    clock.advance(8.0);
    bench.deliver(&mut feed).await;
    let described = bench.world.endpoint(&endpoint).await;
    assert_eq!(
        described.endpoint_status(),
        Some(&EndpointStatus::InService)
    );
    assert_eq!(described.endpoint_config_name(), Some(new_config.as_str()));
    let entry = bench.ledger_entry(&endpoint, &new_config).await;
    assert_eq!(entry.outcome, Ending::Deployed, "{entry:#?}");
    assert_eq!(
        bench.ledger_entry(&endpoint, &failed_config).await.outcome,
        Ending::CreateFailed
    );
    assert!(
        alerts(&queue).await.is_empty(),
        "nothing more to alert about"
    );
}

#[tokio::test]
async fn an_update_sagemaker_rolled_back_is_reported_with_its_failure_reason() {
    let bench = Bench::new().await;
    let queue = alert_queue(&bench).await;
    let endpoint = unique("outcome-rollback");
    let reason = "Model failed to load: torch.load raised an error.";
    let clock = VirtualClock::with(&endpoint, json!({"duplicate_events": 1}));
    let mut feed = EventFeed::new(&endpoint);
    let first = bench
        .world
        .deploy_ok(&[bench.world.upload_artifact(&endpoint, "").await])
        .await;
    let good_config = only(&first).endpoint_config.clone().unwrap();
    clock.advance(8.0);
    bench.deliver(&mut feed).await;
    assert_eq!(
        bench.ledger_entry(&endpoint, &good_config).await.outcome,
        Ending::Deployed
    );

    let broken = bench
        .world
        .upload_broken_artifact(&endpoint, "", reason)
        .await;
    let second = bench.world.deploy_ok(&[broken]).await;
    assert_eq!(only(&second).status, Status::Updated, "{second:#?}");
    let bad_config = only(&second).endpoint_config.clone().unwrap();
    clock.advance(6.0);
    let reports = bench.deliver(&mut feed).await;
    assert_eq!(reports.len(), 4, "UPDATING and IN_SERVICE, each twice");

    let entry = bench.ledger_entry(&endpoint, &bad_config).await;
    assert_eq!(
        entry.outcome,
        Ending::UpdateRolledBackBySagemaker,
        "{entry:#?}"
    );
    assert_eq!(entry.reason.as_deref(), Some(reason));
    assert_eq!(
        bench.ledger_entry(&endpoint, &good_config).await.outcome,
        Ending::Deployed,
        "the config serving again keeps its outcome"
    );
    let told = alerts(&queue).await;
    assert_eq!(told.len(), 1, "one alert for two events: {told:#?}");
    assert!(
        told[0].contains("update-rolled-back-by-sagemaker")
            && told[0].contains(reason)
            && told[0].contains(&good_config),
        "{}",
        told[0]
    );
    // The old config is not tested again.
    assert_eq!(
        bench.world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(good_config.as_str())
    );
}
