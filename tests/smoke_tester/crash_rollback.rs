//! Issue 11: the smoke tester's rollback under crashes. v1 passed its
//! test; v2's model fails it, so the tester rolls the endpoint back to v1
//! under the endpoint's lease, ends v2 `smoke-test-failed` and alerts. The
//! tester dies after each of its calls on that path in turn (v2's events,
//! then those of the rollback's own update); the event it died on comes
//! again, as an EventBridge duplicate and as Lambda's retry. The end must
//! be what a run without a crash has: v1 live, v2 ended once as
//! `smoke-test-failed` saying it was rolled back to v1, v1 still
//! `deployed`, one UpdateEndpoint (no rollback loop), the lease free and
//! one alert (two only for a crash between publishing it and marking it
//! told: at-least-once, docs/deployer.md).

use super::*;
use crate::deployer::crash_world::Crashes;
use integration_tests::calls_by;
use integration_tests::crash::Budget;
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::ledger::Outcome as Ending;
use shared::smoke::ROLLED_BACK_FROM_TAG;
use smoke_tester::rollback::ROLLED_BACK_TO_TAG;

/// An endpoint tested on v1 (passed), updated to a v2 that is InService
/// now, its events not delivered yet, and whose model returns errors.
struct BrokenUpdate {
    endpoint: String,
    clock: VirtualClock,
    feed: EventFeed,
    good: String,
    bad: String,
}

const MODEL_ERROR: &str = r#"{"Error": {"Code": "ModelError", "Status": 424, "Message": "Received server error (500) from primary with message \"boom\""}}"#;

async fn broken_update(c: &Crashes, label: &str) -> BrokenUpdate {
    let endpoint = unique(label);
    let clock = VirtualClock::new(&endpoint);
    let mut feed = EventFeed::new(&endpoint);
    let good = deploy_folder(c.world(), &endpoint, "v1", Some(request_with_expectation())).await;
    clock.advance(10.0);
    queue_invoke_results(&endpoint, json!([answer(GOOD, 0)]));
    c.settle(feed.take()).await;
    let bad = deploy_folder(c.world(), &endpoint, "v2", Some(request_with_expectation())).await;
    clock.advance(10.0);
    let error: Value = serde_json::from_str(MODEL_ERROR).unwrap();
    queue_invoke_results(&endpoint, json!([error]));
    BrokenUpdate {
        endpoint,
        clock,
        feed,
        good,
        bad,
    }
}

/// v2's events, then (the rollback's update done, v1 answering well
/// again) those of the rollback, the tester dying where `budget` says.
async fn roll_back(c: &Crashes, update: &mut BrokenUpdate, budget: &mut Budget) {
    c.settle_crashing(&update.endpoint, update.feed.take(), budget)
        .await;
    queue_invoke_results(&update.endpoint, json!([answer(GOOD, 0)]));
    update.clock.advance(10.0);
    c.settle_crashing(&update.endpoint, update.feed.take(), budget)
        .await;
}

/// The ending of a run without a crash; `calls` are the tester's calls in
/// this run, `alerts` how many alerts may have gone out.
async fn check_rolled_back(
    c: &mut Crashes,
    update: &BrokenUpdate,
    calls: &[String],
    what: &str,
    alerts: usize,
) {
    let endpoint = &update.endpoint;
    let described = c.world().endpoint(endpoint).await;
    assert_eq!(
        (
            described.endpoint_status(),
            described.endpoint_config_name()
        ),
        (Some(&EndpointStatus::InService), Some(update.good.as_str())),
        "{what}: rolled back to v1"
    );
    let history = c.world().ledger_history(endpoint).await;
    let entry = |config: &str| {
        let found: Vec<_> = history.iter().filter(|e| e.config_name == config).collect();
        assert_eq!(found.len(), 1, "{what}: {history:#?}");
        found[0].clone()
    };
    assert_eq!(
        history.len(),
        2,
        "{what}: no other deployment: {history:#?}"
    );
    assert_eq!(entry(&update.good).outcome, Ending::Deployed, "{what}");
    let bad = entry(&update.bad);
    assert_eq!(bad.outcome, Ending::SmokeTestFailed, "{what}: {bad:#?}");
    let reason = bad.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!("rolled back to {}", update.good)),
        "{what}: {reason}"
    );
    let tags = c.world().tags(described.endpoint_arn().unwrap()).await;
    assert_eq!(
        (tags.get(ROLLED_BACK_FROM_TAG), tags.get(ROLLED_BACK_TO_TAG)),
        (Some(&update.bad), Some(&update.good)),
        "{what}: the deployer must skip v2's redelivered upload"
    );
    let updates = calls
        .iter()
        .filter(|c| *c == "sagemaker:UpdateEndpoint")
        .count();
    assert_eq!(updates, 1, "{what}: one rollback, no loop: {calls:?}");
    assert!(c.lease_is_free(endpoint).await, "{what}: lease held");
    let told = c.alerts_about(endpoint).await;
    assert!(
        (1..=alerts).contains(&told.len())
            && told
                .iter()
                .all(|a| a.contains("smoke-test-failed") && a.contains(&update.bad)),
        "{what}: told once: {told:#?}"
    );
}

#[tokio::test]
async fn a_rollback_with_the_smoke_tester_crashed_after_any_call_ends_in_one_outcome() {
    let mut c = Crashes::new().await;
    let tester = c.smoke_tester.clone();
    let mut update = broken_update(&c, "crash-rollback").await;
    let before = calls_by(&tester).len();
    let mut counted = Budget::unlimited();
    roll_back(&c, &mut update, &mut counted).await;
    let path = calls_by(&tester).split_off(before);
    check_rolled_back(&mut c, &update, &path, "no crash", 1).await;
    let total = counted.calls;
    assert_eq!(total, path.len(), "{path:?}");
    assert!(total >= 10, "a test and a rollback: {path:?}");

    let mut crashes = 0;
    for n in 0..total {
        let mut update = broken_update(&c, "crash-rollback").await;
        let before = calls_by(&tester).len();
        let mut budget = Budget::after(n);
        roll_back(&c, &mut update, &mut budget).await;
        let calls = calls_by(&tester).split_off(before);
        let what = match &budget.crashed {
            Some(before) => format!(
                "crashed after {n} calls ({}), before {before}",
                path[..n].join(", ")
            ),
            None => format!("finished within {n} calls"),
        };
        crashes += usize::from(budget.crashed.is_some());
        let after_publish = n > 0 && path[n - 1] == "sns:Publish";
        check_rolled_back(
            &mut c,
            &update,
            &calls,
            &what,
            1 + usize::from(after_publish),
        )
        .await;
    }
    assert!(crashes >= total - 1, "{crashes} crashes in {total} calls");
}
