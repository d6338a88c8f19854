//! The smoke tester against deployments made by the real deployer: queued
//! InvokeEndpoint answers (good, wrong body, model error, throttling),
//! verdict tags, duplicated events, rollback without loops.

mod crash_rollback;
mod outcomes;
mod rollback;
mod verdicts;

use crate::deployer::{only, World};
use aws_sdk_sagemaker::types::EndpointStatus;
use deployer::outcome::Status;
use integration_tests::{
    event_file, invocations, queue_invoke_results, set_endpoint_status, unique,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::dynamodb::Ledger;
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::sns::Notifier;
use smoke_tester::config::SmokeTesterConfig;
use smoke_tester::invoke::Invoker;
use smoke_tester::report::{Outcome, SmokeTestReport};
use smoke_tester::tester::SmokeTester;
use std::time::Duration;

pub(crate) struct Bench {
    pub(crate) world: World,
    tester: SmokeTester,
}

impl Bench {
    async fn new() -> Self {
        Self::with_world(World::new().await).await
    }

    pub(crate) async fn with_world(world: World) -> Self {
        let tester = tester_for(&world).await;
        Bench { world, tester }
    }
}

/// A smoke tester for `world`'s stack, calling AWS as itself.
pub(crate) async fn tester_for(world: &World) -> SmokeTester {
    let setup = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let topic = aws_sdk_sns::Client::new(&setup)
        .create_topic()
        .name(world.stack.topic_name())
        .send()
        .await
        .unwrap();
    // The smoke tester calls AWS as itself (tests/policy evaluates it).
    let config = world.stack.function_config("smoke-tester").await;
    let runtime = aws_sdk_sagemakerruntime::config::Builder::from(&config)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let mut invoker = Invoker::new(aws_sdk_sagemakerruntime::Client::from_conf(runtime));
    invoker.backoff = Duration::from_millis(10);
    SmokeTester {
        // The deployer's ledger, reached as the smoke tester.
        ledger: Some(Ledger::new(
            aws_sdk_dynamodb::Client::new(&config),
            world.stack.ledger_table(),
        )),
        sagemaker: SageMaker::new(aws_sdk_sagemaker::Client::new(&config)),
        store: ArtifactStore::new(aws_sdk_s3::Client::new(&config)),
        invoker,
        outcomes: OutcomeReporter {
            // The same table, reached as the smoke tester (policy-evaluated).
            ledger: world.deployer.ledger.as_ref().map(|_| {
                Ledger::new(
                    aws_sdk_dynamodb::Client::new(&config),
                    world.stack.ledger_table(),
                )
            }),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(&config),
                topic.topic_arn().map(str::to_string),
            ),
            namespace: "PipelineTests".into(),
        },
        config: SmokeTesterConfig {
            metrics_namespace: "PipelineTests".into(),
            warm_invocations: 2,
            notify_topic_arn: None,
            rollback_on_failure: true,
            claim_settle: Duration::from_millis(20),
            claim_lease: Duration::from_secs(600),
        },
    }
}

impl Bench {
    /// Deploys `endpoint` through the deployer with a deploy.json holding
    /// `smoke_test` (if any), and brings it InService. Returns its config.
    async fn deploy(&self, endpoint: &str, smoke_test: Option<Value>) -> String {
        // Each model in its own folder (docs/deployer.md's recommended
        // layout): a rollback may only go back to bytes that are still there.
        let config = deploy_folder(&self.world, endpoint, &unique("v"), smoke_test).await;
        set_endpoint_status(endpoint, "InService");
        config
    }

    /// The IN_SERVICE event from events/, pointed at this endpoint.
    fn in_service_event(&self, endpoint: &str, config: &str) -> Value {
        let mut event = event_file("sagemaker-endpoint-in-service.json");
        event["detail"]["EndpointName"] = json!(endpoint);
        event["detail"]["EndpointConfigName"] = json!(config);
        event
    }

    pub(crate) async fn run(&self, payload: Value) -> SmokeTestReport {
        let mut context = Context::default();
        context.request_id = unique("request");
        smoke_tester::handle(LambdaEvent::new(payload, context), &self.tester)
            .await
            .expect("smoke test ran")
    }

    async fn endpoint_tags(&self, endpoint: &str) -> std::collections::BTreeMap<String, String> {
        let arn = self
            .world
            .endpoint(endpoint)
            .await
            .endpoint_arn()
            .unwrap()
            .to_string();
        self.world.tags(&arn).await
    }
}

/// Deploys `models/<endpoint>/<folder>/` (a deploy.json holding
/// `smoke_test`, if any, and a model) through the deployer; returns its config.
pub(crate) async fn deploy_folder(
    world: &World,
    endpoint: &str,
    folder: &str,
    smoke_test: Option<Value>,
) -> String {
    let mut settings = json!({"image_uri": world.image()});
    if let Some(smoke_test) = smoke_test {
        settings["smoke_test"] = smoke_test;
    }
    let folder = format!("models/{endpoint}/{folder}/");
    let deploy_json = settings.to_string();
    world
        .upload(&format!("{folder}deploy.json"), deploy_json.as_bytes(), &[])
        .await;
    let model = unique("weights");
    let artifact = world
        .upload(&format!("{folder}model.tar.gz"), model.as_bytes(), &[])
        .await;
    let report = world.deploy_ok(&[artifact]).await;
    let outcome = only(&report);
    assert!(
        matches!(outcome.status, Status::Created | Status::Updated),
        "{outcome:#?}"
    );
    outcome.endpoint_config.clone().unwrap()
}

fn answer(body: &str, delay_ms: u64) -> Value {
    json!({"Body": body, "ContentType": "application/json", "DelayMs": delay_ms})
}

const GOOD: &str = r#"{"probabilities": [[0.97, 0.02, 0.01]]}"#;

fn request_with_expectation() -> Value {
    json!({"content_type": "text/csv", "accept": "application/json", "body": "5.1,3.5,1.4,0.2",
           "expect": {"json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}})
}
