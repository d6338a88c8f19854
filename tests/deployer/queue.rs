//! The deploy queue, driven the way Lambda's event source mapping drives
//! it: receive a batch from the emulator's SQS, invoke the handler with it,
//! delete what it did not report as failed, leave the failures (whose
//! visibility the handler changed) for a later receive. "Time passes" by
//! making the postponed messages visible again, never by sleeping.

use super::alerts::{create_queue, queue_arn, AlertInbox};
use super::*;
use deployer::config::QueueConfig;
use deployer::queue::QueueConsumer;
use integration_tests::crash::{CrashPoint, Run};
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::sns::Notifier;
use shared::aws::sqs::DeployQueue;
use std::time::Duration;

/// A deploy queue in front of the deployer, and a second queue subscribed
/// to the alert topic so tests can read what was published.
pub(super) struct QueueWorld {
    pub(super) world: World,
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) queue_url: String,
    pub(super) queue_arn: String,
    /// The alert topic, as the deployer's NOTIFY_TOPIC_ARN.
    pub(super) topic_arn: String,
    pub(super) alerts: AlertInbox,
    pub(super) consumer: QueueConsumer,
    /// Receipt handles of the messages the handler asked to see again.
    pub(super) postponed: Vec<String>,
}

/// What one delivery did.
#[derive(Debug)]
pub(super) struct Delivery {
    pub(super) received: usize,
    pub(super) failed: usize,
    /// The call the handler died before (tests/deployer/crash.rs), if
    /// it crashed: nothing was deleted.
    pub(super) crashed: Option<String>,
    /// The calls it made, when run under a crash point that it never reached.
    pub(super) calls: usize,
}

impl QueueWorld {
    pub(super) async fn new(max_deploy_wait: Duration) -> Self {
        let world = World::new().await;
        let config = shared::aws::load_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        // Named as the stack names them; the deployer calls them as itself.
        let queue_url = create_queue(&sqs, &format!("{}-DeployQueue", world.stack.name)).await;
        let deploys_arn = queue_arn(&sqs, &queue_url).await;
        let alerts = AlertInbox::new(&world).await;
        let deployer_config = world.stack.function_config("deployer").await;
        let consumer = QueueConsumer {
            deployer: world.deployer.clone(),
            queue: Some(DeployQueue::new(
                aws_sdk_sqs::Client::new(&deployer_config),
                queue_url.clone(),
            )),
            outcomes: OutcomeReporter {
                ledger: world.deployer.ledger.clone(),
                notifier: Notifier::new(
                    aws_sdk_sns::Client::new(&deployer_config),
                    Some(alerts.topic.clone()),
                ),
                namespace: shared::emf::DEFAULT_NAMESPACE.into(),
            },
            config: QueueConfig {
                queue_url: Some(queue_url.clone()),
                max_deploy_wait,
                notify_topic_arn: None,
                metrics_namespace: shared::emf::DEFAULT_NAMESPACE.into(),
            },
        };
        QueueWorld {
            world,
            sqs,
            queue_url,
            queue_arn: deploys_arn,
            topic_arn: alerts.topic.clone(),
            alerts,
            consumer,
            postponed: Vec::new(),
        }
    }

    /// What S3 puts on the queue for an upload.
    pub(super) async fn notify(&self, upload: &Upload) {
        self.send(&s3_event(std::slice::from_ref(upload)).to_string())
            .await;
    }

    async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send message");
    }

    /// One poll of the event source mapping.
    pub(super) async fn deliver(&mut self) -> Delivery {
        self.deliver_until(None).await
    }

    /// One poll whose handler dies at `crash` (if it gets that far): the
    /// mapping then deletes nothing, and the batch comes back once its
    /// visibility ends (at once, in these queues).
    pub(super) async fn deliver_until(&mut self, crash: Option<&CrashPoint>) -> Delivery {
        let Some(batch) = self.receive(None).await else {
            return Delivery {
                received: 0,
                failed: 0,
                crashed: None,
                calls: 0,
            };
        };
        let received = batch.messages.len();
        let handled = deployer::dispatch(
            LambdaEvent::new(batch.event.clone(), Context::default()),
            &self.consumer,
        );
        let (handled, calls) = match crash {
            None => (handled.await, 0),
            Some(point) => match point.run(handled).await {
                Run::Finished { out, calls } => (out, calls),
                Run::Crashed { before } => {
                    // Hidden for as long as it was (postponed or not).
                    let receipts = batch.messages.iter().filter_map(|m| m.receipt_handle());
                    self.postponed.extend(receipts.map(str::to_string));
                    return Delivery {
                        received,
                        failed: 0,
                        crashed: Some(before),
                        calls: 0,
                    };
                }
            },
        };
        let response =
            handled.unwrap_or_else(|e| panic!("a queue batch never fails as a whole: {e}"));
        let failed = self.conclude(&batch, &response).await;
        Delivery {
            received,
            failed,
            crashed: None,
            calls,
        }
    }

    /// Messages published to the alert topic so far.
    pub(super) async fn alerts(&self) -> Vec<String> {
        self.alerts.received().await
    }

    async fn memory_of_live_config(&self, endpoint: &str) -> Option<i32> {
        let described = self.world.endpoint(endpoint).await;
        let config = self
            .world
            .sm()
            .describe_endpoint_config()
            .endpoint_config_name(described.endpoint_config_name().unwrap())
            .send()
            .await
            .unwrap();
        config.production_variants()[0]
            .serverless_config()
            .and_then(|s| s.memory_size_in_mb())
    }
}

#[tokio::test]
async fn deploy_json_edited_while_creating_ends_with_the_new_settings_live() {
    let mut q = QueueWorld::new(Duration::from_secs(2 * 60 * 60)).await;
    let endpoint = unique("queued");
    let artifact = q.world.upload_artifact(&endpoint, "v1/").await;
    q.notify(&artifact).await;
    let first = q.deliver().await;
    assert_eq!((first.received, first.failed), (1, 0), "{first:?}");
    assert_eq!(q.memory_of_live_config(&endpoint).await, Some(2048));

    // Still Creating when the user raises the memory.
    let settings = q
        .world
        .upload(
            &format!("models/{endpoint}/v1/deploy.json"),
            br#"{"memory_size_mb": 4096}"#,
            &[],
        )
        .await;
    q.notify(&settings).await;
    let busy = q.deliver().await;
    assert_eq!((busy.received, busy.failed), (1, 1), "{busy:?}");
    // Postponed: the test queues have no visibility timeout of their own,
    // so only the handler's postponement keeps the message out of sight.
    let early = q.deliver().await;
    assert_eq!(early.received, 0, "{early:?}");

    // Still busy on the next try: postponed again, not lost.
    q.time_passes().await;
    let still_busy = q.deliver().await;
    assert_eq!((still_busy.received, still_busy.failed), (1, 1));

    set_endpoint_status(&endpoint, "InService");
    q.time_passes().await;
    let applied = q.deliver().await;
    assert_eq!((applied.received, applied.failed), (1, 0), "{applied:?}");
    set_endpoint_status(&endpoint, "InService");
    assert_eq!(q.memory_of_live_config(&endpoint).await, Some(4096));
    assert_eq!(q.deliver().await.received, 0, "the queue is empty");
    assert!(q.alerts().await.is_empty(), "nothing to alert about");
}

#[tokio::test]
async fn an_endpoint_busy_past_the_maximum_wait_abandons_the_upload_with_an_alert() {
    let mut q = QueueWorld::new(Duration::from_secs(60 * 60)).await;
    let endpoint = unique("abandon");
    // Both uploads were made hours ago; their events waited (a backlog).
    let mut first = q.world.upload_artifact(&endpoint, "v1/").await;
    first.event_time -= chrono::Duration::hours(3);
    q.notify(&first).await;
    assert_eq!(q.deliver().await.failed, 0);

    // The newer one finds the endpoint still Creating, past the maximum wait.
    let mut late = q.world.upload_artifact(&endpoint, "v2/").await;
    late.event_time -= chrono::Duration::hours(2);
    q.notify(&late).await;
    let delivery = q.deliver().await;
    assert_eq!((delivery.received, delivery.failed), (1, 0), "{delivery:?}");
    assert_eq!(
        q.deliver().await.received,
        0,
        "the message is finished with"
    );

    let alerts = q.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains(&format!(
            "models/{endpoint}/v2/model.tar.gz was not deployed"
        )) && alerts[0].contains("longer than MAX_DEPLOY_WAIT_MINUTES allows (60)")
            && alerts[0].contains("is Creating"),
        "{}",
        alerts[0]
    );
    // Recorded once in the ledger: the same upload abandoned again (S3
    // delivered its notification twice) is not alerted twice.
    let abandoned: Vec<_> = q
        .world
        .ledger_history(&endpoint)
        .await
        .into_iter()
        .filter(|e| e.outcome == shared::ledger::Outcome::Abandoned)
        .collect();
    assert_eq!(abandoned.len(), 1, "{abandoned:#?}");
    assert!(
        abandoned[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("MAX_DEPLOY_WAIT_MINUTES"),
        "{abandoned:#?}"
    );
    q.notify(&late).await;
    assert_eq!(q.deliver().await.failed, 0);
    // (The alert queue hides nothing: the first alert is read again.)
    assert_eq!(q.alerts().await.len(), 1, "told once");
}

#[tokio::test]
async fn s3_test_events_are_consumed_and_garbage_is_refused_with_an_alert() {
    let mut q = QueueWorld::new(Duration::from_secs(60)).await;
    q.send(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-28T10:00:00.000Z","Bucket":"b"}"#)
        .await;
    q.send("not json").await;
    let delivery = q.deliver().await;
    assert_eq!((delivery.received, delivery.failed), (2, 0), "{delivery:?}");
    let alerts = q.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("not an S3 notification (not JSON"),
        "{}",
        alerts[0]
    );
}
