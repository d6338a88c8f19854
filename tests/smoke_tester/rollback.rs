//! Rollback after a failed test: once, never looping, and never
//! redeployed by a redelivered event.

use super::*;

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
    let entry = bench.ledger_entry(&endpoint, &bad_config).await;
    assert_eq!(
        entry.outcome,
        shared::ledger::Outcome::SmokeTestFailed,
        "{entry:#?}"
    );
    assert!(
        entry
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("rolled back to {good_config}")),
        "{entry:#?}"
    );
    assert_eq!(
        report.deployment_outcome,
        Some(shared::ledger::Outcome::SmokeTestFailed)
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
async fn the_deployer_skips_a_config_that_was_rolled_back() {
    roll_back_then_redeliver(false).await;
}

/// Reliability review #11: the smoke tester's `rolled-back-from` tag write
/// fails (it is only a warning) and the failed config's upload is then
/// delivered again (the queue is at-least-once): the failed verdict the
/// tester wrote before rolling back still keeps the bad config out.
#[tokio::test]
async fn a_rolled_back_config_stays_out_when_the_rollback_mark_was_not_written() {
    roll_back_then_redeliver(true).await;
}

/// A bad config rolled back, then its upload's event delivered again;
/// `lose_rollback_mark` removes the tag the rollback wrote, as if that
/// write had failed.
async fn roll_back_then_redeliver(lose_rollback_mark: bool) {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-redeliver");
    let good_config = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    let folder = format!("models/{endpoint}/v2/");
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
    let bad_config = only(&bench.world.deploy_ok(std::slice::from_ref(&bad)).await)
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
    if lose_rollback_mark {
        let arn = bench
            .world
            .endpoint(&endpoint)
            .await
            .endpoint_arn()
            .unwrap()
            .to_string();
        bench
            .world
            .sm()
            .delete_tags()
            .resource_arn(arn)
            .tag_keys("pipeline:rolled-back-from")
            .tag_keys("pipeline:rolled-back-to")
            .send()
            .await
            .unwrap();
        assert!(!bench
            .endpoint_tags(&endpoint)
            .await
            .contains_key("pipeline:rolled-back-from"));
    }
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
    assert_eq!(
        bench.world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(good_config.as_str())
    );
}

#[tokio::test]
async fn a_stale_rollback_is_refused() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-stale");
    let c1 = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    let c2 = bench
        .deploy(&endpoint, Some(request_with_expectation()))
        .await;
    // c2's test gets a model error, but only after a while: meanwhile c3
    // is deployed and goes live.
    queue_invoke_results(
        &endpoint,
        json!([{"Error": {"Code": "ModelError", "Status": 424, "Message": "boom"}, "DelayMs": 6000}]),
    );
    let test_of_c2 = bench.run(bench.in_service_event(&endpoint, &c2));
    let deploy_c3 = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c3 = bench
            .deploy(&endpoint, Some(request_with_expectation()))
            .await;
        (c3, std::time::Instant::now())
    };
    let (report, (c3, c3_live_at)) = tokio::join!(
        async {
            let report = test_of_c2.await;
            (report, std::time::Instant::now())
        },
        deploy_c3
    );
    let (report, tested_at) = report;
    assert!(
        c3_live_at < tested_at,
        "c3 must go live while c2's test runs"
    );
    assert_ne!(c3, c1);
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(
        report.rollback.as_deref(),
        Some(format!("not rolled back: {c3} is live").as_str()),
        "{report:#?}"
    );
    assert_eq!(
        bench.world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(c3.as_str())
    );
}

#[tokio::test]
async fn a_rollback_to_overwritten_bytes_is_refused() {
    let bench = Bench::new().await;
    let endpoint = unique("smoke-bytes");
    let folder = format!("models/{endpoint}/");
    let settings =
        json!({"image_uri": bench.world.image(), "smoke_test": request_with_expectation()});
    let mut configs = Vec::new();
    // Two models uploaded to one key: c2's bytes overwrite c1's.
    for label in ["good", "bad"] {
        bench
            .world
            .upload(
                &format!("{folder}deploy.json"),
                settings.to_string().as_bytes(),
                &[],
            )
            .await;
        let artifact = bench
            .world
            .upload(
                &format!("{folder}model.tar.gz"),
                unique(label).as_bytes(),
                &[],
            )
            .await;
        let report = bench.world.deploy_ok(&[artifact]).await;
        configs.push(only(&report).endpoint_config.clone().unwrap());
        set_endpoint_status(&endpoint, "InService");
    }
    queue_invoke_results(
        &endpoint,
        json!([{"Error": {"Code": "ModelError", "Status": 424, "Message": "boom"}}]),
    );
    let report = bench
        .run(bench.in_service_event(&endpoint, &configs[1]))
        .await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let rollback = report.rollback.clone().unwrap_or_default();
    assert!(
        rollback.starts_with(&format!("not rolled back: {}", configs[0]))
            && rollback.contains("overwritten"),
        "{report:#?}"
    );
    assert_eq!(
        bench.world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(configs[1].as_str())
    );
}
