//! Verdicts: passing, failing bodies, throttling, no request, irrelevant
//! events, duplicated events and forced re-tests.

use super::*;
use integration_tests::Clients;

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
    let report = bench
        .run(event_file("sagemaker-endpoint-unmanaged.json"))
        .await;
    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.reasons[0].contains("not managed"), "{report:#?}");
    // Statuses that end no deployment (the rule sends every status).
    for status in ["CREATING", "UPDATING", "DELETING"] {
        let mut event = bench.in_service_event(&unique("smoke-busy"), "c");
        event["detail"]["EndpointStatus"] = json!(status);
        let report = bench.run(event).await;
        assert_eq!(report.outcome, Outcome::Ignored);
        assert!(report.reasons[0].contains(status), "{report:#?}");
        assert_eq!(report.deployment_outcome, None);
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
async fn a_migration_canary_reads_its_request_from_a_listed_smoke_test_bucket() {
    // The sweeper gives a canary's config the request its original named
    // (serverless-migration:smoke-test=s3://<bucket>/...): another bucket,
    // which the stack lists in SmokeTestBuckets so the smoke tester may read it.
    let requests = unique("smoke-requests").to_ascii_lowercase();
    let setup = Clients::new().await;
    setup
        .s3
        .create_bucket()
        .bucket(&requests)
        .send()
        .await
        .expect("create the requests bucket");
    let document =
        json!({"smoke_test": {"content_type": "text/csv", "body_s3_key": "canary/body.csv"}});
    setup
        .put(
            &requests,
            "canary/request.json",
            document.to_string().as_bytes(),
            &[],
        )
        .await;
    setup
        .put(&requests, "canary/body.csv", b"6.3,2.9,5.6,1.8", &[])
        .await;
    let bench =
        Bench::with_world(World::with_parameters(&[("SmokeTestBuckets", requests.as_str())]).await)
            .await;
    let endpoint = unique("smoke-canary");
    let config = bench.deploy(&endpoint, None).await;
    let config_arn = bench.world.config_arn(&config).await;
    bench
        .world
        .sm()
        .add_tags()
        .resource_arn(&config_arn)
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key(shared::smoke::SOURCE_TAG)
                .value(format!("s3://{requests}/canary/request.json"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    queue_invoke_results(&endpoint, json!([answer(GOOD, 0)]));

    let report = bench.run(bench.in_service_event(&endpoint, &config)).await;
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    let calls = invocations(&endpoint);
    assert_eq!(calls[0]["Body"], "6.3,2.9,5.6,1.8", "{calls:#?}");
}
