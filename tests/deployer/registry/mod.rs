//! Issue 13 item 3: Model Registry approvals. Packages are registered and
//! approved in the emulator's registry, whose "SageMaker Model Package
//! State Change" events (its feed, as EventBridge would deliver them) go
//! through the deploy queue's consumer to the deployer; endpoint events go
//! to the smoke tester. Nothing is deleted on a rejection. This module
//! holds the fixture; `approvals` the scenarios.

mod approvals;
mod rejection;

use super::alerts::AlertInbox;
use super::*;
use crate::smoke_tester::Bench;
use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sagemaker::types::{
    InferenceSpecification, ModelApprovalStatus, ModelPackageContainerDefinition,
};
use deployer::config::QueueConfig;
use deployer::outcome::RecordOutcome;
use deployer::queue::{QueueConsumer, Verdict};
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::sns::Notifier;
use shared::ledger::{LedgerEntry, Outcome as Ending};
use shared::model_package::WatchedGroups;
use smoke_tester::report::SmokeTestReport;
use std::time::Duration;

/// A stack watching one package group, its deploy-queue consumer and the
/// smoke tester.
pub(super) struct Registry {
    bench: Bench,
    consumer: QueueConsumer,
    group: String,
    pub(super) feed: EventFeed,
    delivered: Vec<Value>,
    alerts: AlertInbox,
}

/// An endpoint packages are deployed to, on its own virtual clock, with
/// its state-change feed.
pub(super) struct Target {
    pub(super) name: String,
    pub(super) clock: VirtualClock,
    feed: EventFeed,
}

impl Target {
    pub(super) fn new(label: &str) -> Self {
        let name = unique(label);
        Target {
            clock: VirtualClock::new(&name),
            feed: EventFeed::new(&name),
            name,
        }
    }
}

impl Registry {
    pub(super) async fn new() -> Self {
        let group = unique("iris-models").to_ascii_lowercase();
        let mut world = World::with_parameters(&[("ModelPackageGroups", group.as_str())]).await;
        world.deployer.config.watched_groups = WatchedGroups::from_env_value(&group);
        let deployer_config = world.stack.function_config("deployer").await;
        let alerts = AlertInbox::new(&world).await;
        let consumer = QueueConsumer {
            deployer: world.deployer.clone(),
            queue: None,
            outcomes: OutcomeReporter {
                ledger: world.deployer.ledger.clone(),
                notifier: Notifier::new(
                    aws_sdk_sns::Client::new(&deployer_config),
                    Some(alerts.topic.clone()),
                ),
                namespace: shared::emf::DEFAULT_NAMESPACE.into(),
            },
            config: QueueConfig {
                queue_url: None,
                max_deploy_wait: Duration::from_secs(2 * 60 * 60),
                notify_topic_arn: None,
                metrics_namespace: shared::emf::DEFAULT_NAMESPACE.into(),
            },
        };
        world
            .sm()
            .create_model_package_group()
            .model_package_group_name(&group)
            .send()
            .await
            .expect("create package group");
        let feed = EventFeed::new(&format!("model-package-group/{group}"));
        Registry {
            bench: Bench::with_world(world).await,
            consumer,
            group,
            feed,
            delivered: Vec::new(),
            alerts,
        }
    }

    /// Everything published to the stack's alert topic so far.
    pub(super) async fn alerts(&self) -> Vec<String> {
        self.alerts.received().await
    }

    pub(super) fn world(&self) -> &World {
        &self.bench.world
    }

    /// Uploads a model and registers it as the group's next version
    /// (PendingManualApproval) with these CustomerMetadataProperties.
    pub(super) async fn register(&self, properties: &[(&str, &str)]) -> String {
        let world = self.world();
        let key = format!("registry/{}/model.tar.gz", unique("v"));
        world.upload(&key, unique("weights").as_bytes(), &[]).await;
        let container = ModelPackageContainerDefinition::builder()
            .image(world.image())
            .model_data_url(format!("s3://{}/{key}", world.bucket))
            .build();
        let spec = InferenceSpecification::builder()
            .containers(container)
            .supported_content_types("text/csv")
            .supported_response_mime_types("application/json")
            .build();
        let mut request = world
            .sm()
            .create_model_package()
            .model_package_group_name(&self.group)
            .inference_specification(spec);
        for (k, v) in properties {
            request = request.customer_metadata_properties(*k, *v);
        }
        request
            .send()
            .await
            .expect("register package")
            .model_package_arn()
            .expect("package arn")
            .to_string()
    }

    pub(super) async fn set_status(&self, arn: &str, status: ModelApprovalStatus) {
        self.world()
            .sm()
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(status)
            .send()
            .await
            .expect("update approval");
    }

    /// Delivers the registry's new events through the deploy queue's
    /// consumer, one message each (EventBridge's SQS target): what it
    /// concluded for each.
    pub(super) async fn deliver(&mut self) -> Vec<(Verdict, Vec<RecordOutcome>)> {
        self.delivered = self.feed.take();
        self.redeliver().await
    }

    /// The events of the last [`Registry::deliver`] once more.
    pub(super) async fn redeliver(&self) -> Vec<(Verdict, Vec<RecordOutcome>)> {
        let mut out = Vec::new();
        for event in &self.delivered {
            let message: SqsMessage = serde_json::from_value(json!({
                "messageId": unique("message"),
                "receiptHandle": unique("receipt"),
                "body": event.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }))
            .expect("an SQS message");
            out.push(self.consumer.judge(&message, Utc::now(), None).await);
        }
        out
    }

    /// The one deployment record of the events just delivered (the others
    /// must be ignored events: the package's registration).
    pub(super) async fn deploy(&mut self) -> RecordOutcome {
        let delivered = self.deliver().await;
        let acted: Vec<&RecordOutcome> = delivered
            .iter()
            .flat_map(|(_, records)| records)
            .filter(|r| r.status != Status::Skipped)
            .collect();
        assert_eq!(acted.len(), 1, "{delivered:#?}");
        acted[0].clone()
    }

    /// Approves the package and delivers what follows: the one deployment.
    pub(super) async fn approve(&mut self, arn: &str) -> RecordOutcome {
        self.set_status(arn, ModelApprovalStatus::Approved).await;
        self.deploy().await
    }

    /// Settles the endpoint and gives its state-change events to the
    /// smoke tester; its reports.
    pub(super) async fn settle(&self, target: &mut Target) -> Vec<SmokeTestReport> {
        target.clock.advance(8.0);
        let mut reports = Vec::new();
        for event in target.feed.take() {
            reports.push(self.bench.run(event).await);
        }
        reports
    }

    pub(super) async fn ledger_entry(&self, endpoint: &str, config: &str) -> LedgerEntry {
        self.world()
            .ledger_history(endpoint)
            .await
            .into_iter()
            .find(|e| e.config_name == config)
            .unwrap_or_else(|| panic!("no ledger entry for {config}"))
    }

    pub(super) async fn outcome_of(&self, endpoint: &str, config: &str) -> Ending {
        self.ledger_entry(endpoint, config).await.outcome
    }

    pub(super) async fn model_package_of(&self, model: &str) -> Option<String> {
        let described = self
            .world()
            .sm()
            .describe_model()
            .model_name(model)
            .send()
            .await
            .expect("model exists");
        described
            .containers()
            .first()
            .or(described.primary_container())
            .and_then(|c| c.model_package_name())
            .map(str::to_string)
    }

    /// The SageMaker calls of this stack's deployer whose name starts so.
    fn calls(&self, prefix: &str) -> Vec<String> {
        integration_tests::calls_by(&self.world().stack.access_key_id("deployer"))
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect()
    }

    pub(super) fn deletes(&self) -> Vec<String> {
        self.calls("sagemaker:Delete")
    }

    pub(super) fn creates(&self) -> Vec<String> {
        self.calls("sagemaker:Create")
    }
}
