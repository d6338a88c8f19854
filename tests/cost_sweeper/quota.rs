//! Issue 12 item 3: the recreate strategy checks the Region's serverless
//! quotas before it deletes the original. Here the sweeper's account has
//! no applied values (Service Quotas answers NoSuchResourceException), so
//! AWS's defaults hold: 10 total concurrency, all of it taken by the
//! canary (the sweeper's default max concurrency is 10), and 5 endpoints.
//! The replacement would need 10 more: held, the original left running
//! on its config.

use super::world::World;
use super::{fleet, SMOKE};
use cost_sweeper::report::StepStatus;
use fleet::Kind;
use integration_tests::emulator_post;
use serde_json::json;

#[tokio::test]
async fn a_replacement_the_serverless_quota_cannot_hold_is_held_and_nothing_is_deleted() {
    let world = World::new("sweepquota").await;
    let mut recreate = Kind::new("rq", 1, Some("ml.c5.xlarge"));
    recreate.tags = vec![
        (SMOKE.0, SMOKE.1.to_string()),
        ("serverless-migration:strategy", "recreate".into()),
    ];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &[recreate]).await;
    let original = format!("{}-rq-0", world.prefix);
    let canary = format!("{original}-serverless");
    let started = world.sweep(false).await;
    assert_eq!(started.migrations_started, 1, "{:#?}", started.steps);
    world.smoke_tester_verdict(&canary, "passed").await;
    let created = world
        .sm()
        .describe_endpoint()
        .endpoint_name(&original)
        .send()
        .await
        .expect("original")
        .creation_time()
        .copied();

    emulator_post(
        "/_emulator/service-quotas/faults",
        &json!({"caller": world.caller, "operation": "GetServiceQuota",
                "error": {"Code": "NoSuchResourceException", "Status": 400,
                          "Message": "The request failed because the specified service does not exist."}}),
    );
    let report = world.sweep(false).await;
    let step = report
        .steps
        .iter()
        .find(|s| s.endpoint == original)
        .unwrap_or_else(|| panic!("no step for {original}: {:#?}", report.steps));
    assert_eq!(step.step, "replace-original");
    assert_eq!(step.status, StepStatus::Skipped, "{step:#?}");
    for part in [
        "serverless quota",
        &format!("{original} is not deleted"),
        "AWS's default",
    ] {
        assert!(
            step.message.contains(part),
            "{part:?} missing from: {}",
            step.message
        );
    }
    // Concurrency is short whatever else runs here; in a Region shared
    // with other tests the endpoint count (5) may be short first.
    assert!(
        ["L-96300102", "L-99AD19BF"]
            .iter()
            .any(|code| step.message.contains(code)),
        "{}",
        step.message
    );
    let now = world
        .sm()
        .describe_endpoint()
        .endpoint_name(&original)
        .send()
        .await
        .expect("the original still exists");
    assert_eq!(
        now.creation_time().copied(),
        created,
        "never deleted and recreated"
    );
    assert_eq!(
        world.config_of(&original).await,
        format!("{}-rq-c", world.prefix)
    );
    assert!(world.exists(&canary).await, "the canary stays");
    assert_eq!(
        world
            .tags(&original)
            .await
            .get("pipeline:migration-state")
            .map(String::as_str),
        Some("canary"),
        "no replacing state recorded"
    );
}
