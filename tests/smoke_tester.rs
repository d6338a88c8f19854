//! The smoke tester against deployments made by the real deployer: queued
//! InvokeEndpoint answers (good, wrong body, model error, throttling),
//! verdict tags, duplicated events, rollback without loops.

use crate::deployer::{only, World};
use aws_sdk_sagemaker::types::EndpointStatus;
use deployer::outcome::Status;
use integration_tests::{
    event_file, invocations, queue_invoke_results, set_endpoint_status, unique,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::sns::Notifier;
use smoke_tester::config::SmokeTesterConfig;
use smoke_tester::invoke::Invoker;
use smoke_tester::report::{Outcome, SmokeTestReport};
use smoke_tester::tester::SmokeTester;
use std::time::Duration;

struct Bench {
    world: World,
    tester: SmokeTester,
}

impl Bench {
    async fn new() -> Self {
        let world = World::new().await;
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let sns = aws_sdk_sns::Client::new(&config);
        let topic = sns
            .create_topic()
            .name(unique("smoke-alerts"))
            .send()
            .await
            .unwrap();
        let runtime = aws_sdk_sagemakerruntime::config::Builder::from(&config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        let mut invoker = Invoker::new(aws_sdk_sagemakerruntime::Client::from_conf(runtime));
        invoker.backoff = Duration::from_millis(10);
        let tester = SmokeTester {
            sagemaker: SageMaker::new(world.clients.sagemaker.clone()),
            store: ArtifactStore::new(world.clients.s3.clone()),
            invoker,
            notifier: Notifier::new(sns, topic.topic_arn().map(str::to_string)),
            config: SmokeTesterConfig {
                metrics_namespace: "PipelineTests".into(),
                warm_invocations: 2,
                notify_topic_arn: None,
                rollback_on_failure: true,
                claim_settle: Duration::from_millis(20),
                claim_lease: Duration::from_secs(600),
            },
        };
        Bench { world, tester }
    }

    /// Deploys `endpoint` through the deployer with a deploy.json holding
    /// `smoke_test` (if any), and brings it InService. Returns its config.
    async fn deploy(&self, endpoint: &str, smoke_test: Option<Value>) -> String {
        let mut settings = json!({"image_uri": self.world.image()});
        if let Some(smoke_test) = smoke_test {
            settings["smoke_test"] = smoke_test;
        }
        let folder = format!("models/{endpoint}/");
        self.world
            .upload(
                &format!("{folder}deploy.json"),
                settings.to_string().as_bytes(),
                &[],
            )
            .await;
        let artifact = self
            .world
            .upload(
                &format!("{folder}model.tar.gz"),
                unique("weights").as_bytes(),
                &[],
            )
            .await;
        let report = self.world.deploy_ok(&[artifact]).await;
        let outcome = only(&report);
        assert!(
            matches!(outcome.status, Status::Created | Status::Updated),
            "{outcome:#?}"
        );
        set_endpoint_status(endpoint, "InService");
        outcome.endpoint_config.clone().unwrap()
    }

    /// The IN_SERVICE event from events/, pointed at this endpoint.
    fn in_service_event(&self, endpoint: &str, config: &str) -> Value {
        let mut event = event_file("sagemaker-endpoint-in-service.json");
        event["detail"]["EndpointName"] = json!(endpoint);
        event["detail"]["EndpointConfigName"] = json!(config);
        event
    }

    async fn run(&self, payload: Value) -> SmokeTestReport {
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

fn answer(body: &str, delay_ms: u64) -> Value {
    json!({"Body": body, "ContentType": "application/json", "DelayMs": delay_ms})
}

const GOOD: &str = r#"{"probabilities": [[0.97, 0.02, 0.01]]}"#;

fn request_with_expectation() -> Value {
    json!({"content_type": "text/csv", "accept": "application/json", "body": "5.1,3.5,1.4,0.2",
           "expect": {"json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}})
}

#[tokio::test]
async fn a_good_endpoint_passes_with_cold_and_warm_latencies_and_is_tested_once() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-ok");
    let config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(&endpoint, json!([answer(GOOD, 300), answer(GOOD, 0)]));

    let report = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    let cold = report.cold_start_ms.unwrap();
    let warm = report.warm_p50_ms.unwrap();
    assert!(
        cold >= 300.0,
        "cold call waited for the simulated cold start: {cold}"
    );
    assert!(warm < cold, "warm {warm} < cold {cold}");
    assert_eq!(report.warm_ms.len(), 2);
    assert_eq!(report.response_bytes, Some(GOOD.len()));

    let calls = invocations(&endpoint);
    assert_eq!(calls.len(), 3, "one cold and two warm calls: {calls:#?}");
    assert_eq!(calls[0]["ContentType"], "text/csv");
    assert_eq!(calls[0]["Accept"], "application/json");
    assert_eq!(calls[0]["Body"], "5.1,3.5,1.4,0.2");

    let tags = bench.endpoint_tags(&endpoint).await;
    assert_eq!(
        tags.get("pipeline:smoke-test").map(String::as_str),
        Some("passed")
    );
    assert_eq!(tags.get("pipeline:smoke-tested-config"), Some(&config));

    // SageMaker may send the event again: the same config is not re-tested.
    let again = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(again.outcome, Outcome::Ignored);
    assert!(
        again.reasons[0].contains("already tested"),
        "{:?}",
        again.reasons
    );
    assert_eq!(invocations(&endpoint).len(), 3);
}

#[tokio::test]
async fn concurrent_duplicate_events_test_the_config_once() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-twins");
    let config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(&endpoint, json!([answer(GOOD, 0)]));
    let event = bench.in_service_event(&endpoint, &config);
    let reports = futures::future::join_all((0..3).map(|_| bench.run(event.clone()))).await;
    let tested = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Passed)
        .count();
    assert_eq!(tested, 1, "{reports:#?}");
    assert_eq!(invocations(&endpoint).len(), 3);
}

#[tokio::test]
async fn a_wrong_body_fails_and_a_first_deployment_is_reported_not_rolled_back() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-wrong");
    let config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(&endpoint, json!([answer(r#"{"labels": ["setosa"]}"#, 0)]));
    let report = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert!(
        report.reasons[0].contains("no number at /probabilities/0/0"),
        "{:?}",
        report.reasons
    );
    assert!(
        report
            .rollback
            .as_deref()
            .unwrap()
            .contains("first deployment"),
        "{report:#?}"
    );
    assert!(report.notified, "the failure was published to SNS");
    let tags = bench.endpoint_tags(&endpoint).await;
    assert_eq!(
        tags.get("pipeline:smoke-test").map(String::as_str),
        Some("failed")
    );
}

#[tokio::test]
async fn a_model_error_rolls_back_once_and_never_loops() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-rollback");
    let good_config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(&endpoint, json!([answer(GOOD, 0)]));
    assert_eq!(
        bench
            .run(bench.in_service_event(&endpoint, &good_config))
            .await
            .outcome,
        Outcome::Passed
    );

    // A new model whose container fails.
    let bad_config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    assert_ne!(bad_config, good_config);
    queue_invoke_results(
        &endpoint,
        json!([{"Error": {"Code": "ModelError", "Status": 424, "Message": "Received server error (500) from primary with message \"boom\""}}]),
    );
    let report = bench
        .run(bench.in_service_event(&endpoint, &bad_config))
        .await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert!(
        report.reasons[0].contains("the model returned an error (HTTP 500)"),
        "{:?}",
        report.reasons
    );
    assert_eq!(
        report.rollback.as_deref(),
        Some(format!("rolled back to {good_config}").as_str())
    );
    // A model error is an answer, not a reason to retry: one call, no warm ones.
    let calls_after_failure = invocations(&endpoint).len();
    let described = bench.world.endpoint(&endpoint).await;
    assert_eq!(described.endpoint_config_name(), Some(good_config.as_str()));
    assert_eq!(described.endpoint_status(), Some(&EndpointStatus::Updating));

    // The duplicate of the failed config's event: endpoint busy, nothing done.
    let duplicate = bench
        .run(bench.in_service_event(&endpoint, &bad_config))
        .await;
    assert_eq!(duplicate.outcome, Outcome::Ignored, "{duplicate:#?}");

    // Back on the good config, which now fails too: reported, no second rollback.
    set_endpoint_status(&endpoint, "InService");
    let after = bench
        .run(bench.in_service_event(&endpoint, &good_config))
        .await;
    assert_eq!(after.outcome, Outcome::Failed, "{after:#?}");
    assert!(
        after
            .rollback
            .as_deref()
            .unwrap()
            .contains("result of a rollback"),
        "{after:#?}"
    );
    assert_eq!(
        bench.world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(good_config.as_str())
    );
    assert_eq!(invocations(&endpoint).len(), calls_after_failure + 1);

    // The deployer will not redeploy the rolled-back config from a redelivered event.
    let tags = bench.endpoint_tags(&endpoint).await;
    assert_eq!(tags.get("pipeline:rolled-back-from"), Some(&bad_config));
}

#[tokio::test]
async fn throttling_is_retried_and_the_test_still_passes() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-throttle");
    let config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(
        &endpoint,
        json!([{"Error": {"Code": "ThrottlingException", "Status": 400, "Message": "Rate exceeded"}}, answer(GOOD, 0)]),
    );
    let report = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    assert_eq!(
        invocations(&endpoint).len(),
        4,
        "one throttled attempt, then cold + 2 warm"
    );
}

#[tokio::test]
async fn without_a_recorded_request_the_endpoint_is_not_tested() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-none");
    let config = bench.deploy(&endpoint, None).await;
    let report = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(report.outcome, Outcome::NotTested, "{report:#?}");
    assert!(
        report.reasons[0].contains("no smoke_test request"),
        "{:?}",
        report.reasons
    );
    assert!(invocations(&endpoint).is_empty());
    let tags = bench.endpoint_tags(&endpoint).await;
    assert_eq!(
        tags.get("pipeline:smoke-test").map(String::as_str),
        Some("not-tested")
    );
}

#[tokio::test]
async fn irrelevant_events_are_a_no_op() {
    let bench = Bench::new().await;
    for (file, expected) in [
        ("sagemaker-endpoint-unmanaged.json", "not managed"),
        ("sagemaker-endpoint-failed.json", "FAILED"),
    ] {
        let report = bench.run(event_file(file)).await;
        assert_eq!(report.outcome, Outcome::Ignored);
        assert!(
            report.reasons[0].contains(expected),
            "{file}: {:?}",
            report.reasons
        );
    }
    let unknown = bench.in_service_event(&unique("smoke-ghost"), "ghost-config");
    let report = bench.run(unknown).await;
    assert!(
        report.reasons[0].contains("does not exist"),
        "{:?}",
        report.reasons
    );
    let report = bench.run(json!({"detail-type": "SageMaker Endpoint State Change", "source": "aws.sagemaker", "detail": 3})).await;
    assert!(
        report.reasons[0].contains("no detail"),
        "{:?}",
        report.reasons
    );
}

#[tokio::test]
async fn a_direct_invocation_can_force_a_retest() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-direct");
    let config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    queue_invoke_results(&endpoint, json!([answer(GOOD, 0)]));
    assert_eq!(
        bench
            .run(bench.in_service_event(&endpoint, &config))
            .await
            .outcome,
        Outcome::Passed
    );
    let mut direct = event_file("smoke-test-direct.json");
    direct["endpoint_name"] = json!(endpoint);
    let report = bench.run(direct).await;
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    assert_eq!(invocations(&endpoint).len(), 6);
}

#[tokio::test]
async fn the_deployer_skips_a_config_that_was_rolled_back() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-redeliver");
    let good_config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    let folder = format!("models/{endpoint}/");
    let settings =
        json!({"image_uri": bench.world.image(), "smoke_test": request_with_expectation()});
    bench
        .world
        .upload(
            &format!("{folder}deploy.json"),
            settings.to_string().as_bytes(),
            &[],
        )
        .await;
    let bad = bench
        .world
        .upload(
            &format!("{folder}model.tar.gz"),
            unique("bad").as_bytes(),
            &[],
        )
        .await;
    let bad_config = only(&bench.world.deploy_ok(&[bad.clone()]).await)
        .endpoint_config
        .clone()
        .unwrap();
    set_endpoint_status(&endpoint, "InService");
    queue_invoke_results(
        &endpoint,
        json!([{"Error": {"Code": "ModelError", "Status": 424, "Message": "boom"}}]),
    );
    let report = bench
        .run(bench.in_service_event(&endpoint, &bad_config))
        .await;
    assert_eq!(
        report.rollback.as_deref(),
        Some(format!("rolled back to {good_config}").as_str()),
        "{report:#?}"
    );
    set_endpoint_status(&endpoint, "InService");
    let redelivered = bench.world.deploy_ok(&[bad]).await;
    assert_eq!(
        only(&redelivered).status,
        Status::Skipped,
        "{redelivered:#?}"
    );
    assert!(
        only(&redelivered).message.contains("rolled back"),
        "{}",
        only(&redelivered).message
    );
}
