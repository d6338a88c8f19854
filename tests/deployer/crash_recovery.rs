//! Issue 11: the recovery path under crashes. An endpoint the pipeline
//! created ended `Failed` (a marked artifact); a newer upload, through the
//! deploy queue, deletes it, waits through SageMaker's `Deleting` window
//! and creates it again; the state-change events go to the smoke tester
//! (FAILED tells the failed create, IN_SERVICE tests the new one). The
//! deployer, then the smoke tester, dies after each of its calls on that
//! path in turn; the queue, or Lambda's retry, brings the work back. The
//! end must be what a run without a crash has: the newer deployment
//! `deployed` and live (one new ledger entry), the failed one still
//! `create-failed` with its one alert and no other, no Model or config
//! beyond those two deployments', and the lease free.

use super::crash_world::Crashes;
use super::*;
use integration_tests::calls_by;
use integration_tests::crash::Budget;
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::ledger::Outcome;

const REASON: &str =
    "The primary container for production variant AllTraffic did not pass the ping health check.";

/// Which function dies on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Deployer,
    SmokeTester,
}

/// An endpoint whose create ended `Failed`, its events not delivered yet.
struct Failed {
    endpoint: String,
    clock: VirtualClock,
    feed: EventFeed,
    config: String,
}

impl Crashes {
    async fn failed_endpoint(&self, label: &str) -> Failed {
        let endpoint = unique(label);
        let clock = VirtualClock::new(&endpoint);
        let feed = EventFeed::new(&endpoint);
        let world = self.world();
        let broken = world.upload_broken_artifact(&endpoint, "v1/", REASON).await;
        let created = world.deploy_ok(&[broken]).await;
        let config = only(&created).endpoint_config.clone().unwrap();
        clock.advance(8.0);
        Failed {
            endpoint,
            clock,
            feed,
            config,
        }
    }

    /// Polls the deploy queue until it is empty, as the event source
    /// mapping does; a message postponed while the endpoint is `Deleting`
    /// comes back once its backoff has passed, by which time (2 virtual
    /// minutes) the deletion has ended. Stops at a crash.
    async fn drain_queue(&mut self, failed: &Failed, budget: &mut Budget) {
        for _ in 0..6 {
            let point = budget.point(&self.deployer);
            let delivery = self.q.deliver_until(point.as_ref()).await;
            drop(point);
            budget.spent(delivery.calls, delivery.crashed.clone());
            if delivery.crashed.is_some() || delivery.received == 0 {
                return;
            }
            if delivery.failed > 0 {
                failed.clock.advance(2.0);
                self.q.time_passes().await;
            }
        }
        panic!("the deploy queue never emptied");
    }

    /// The recovery, with `victim` dying where `budget` says.
    async fn recover(&mut self, failed: &mut Failed, victim: Victim, budget: &mut Budget) {
        // The failed create is told (FAILED), then the user uploads a fix.
        self.deliver_events(failed, victim, budget).await;
        let fixed = self.world().upload_artifact(&failed.endpoint, "v2/").await;
        self.q.notify(&fixed).await;
        if victim == Victim::Deployer {
            self.drain_queue(failed, budget).await;
            if budget.crashed.is_some() {
                // The batch comes back once its visibility ends.
                self.lease_lapses(&failed.endpoint).await;
                self.q.time_passes().await;
            }
        }
        self.drain_queue(failed, &mut Budget::unlimited()).await;
        failed.clock.advance(10.0);
        self.deliver_events(failed, victim, budget).await;
    }

    async fn deliver_events(&self, failed: &mut Failed, victim: Victim, budget: &mut Budget) {
        let events = failed.feed.take();
        match victim {
            Victim::SmokeTester => self.settle_crashing(&failed.endpoint, events, budget).await,
            Victim::Deployer => self.settle(events).await,
        }
    }

    /// The ending of a run without a crash. `alerts`: how many times the
    /// failed create may have been told (twice only for a crash between
    /// publishing its alert and marking it told: at-least-once).
    async fn check_recovered(&mut self, failed: &Failed, what: &str, alerts: usize) {
        let world = self.world();
        let endpoint = &failed.endpoint;
        let described = world.sm().describe_endpoint().endpoint_name(endpoint);
        let described = described.send().await;
        let described = described.unwrap_or_else(|e| panic!("{what}: no endpoint: {e:?}"));
        assert_eq!(status_of(&described), "InService", "{what}");
        let live = described
            .endpoint_config_name()
            .unwrap_or_default()
            .to_string();
        assert_ne!(live, failed.config, "{what}: recreated on the new config");
        let history = world.ledger_history(endpoint).await;
        let ended = |config: &str| {
            history
                .iter()
                .filter(|e| e.config_name == config)
                .map(|e| e.outcome)
                .collect::<Vec<_>>()
        };
        assert_eq!(history.len(), 2, "{what}: one new deployment: {history:#?}");
        assert_eq!(ended(&failed.config), [Outcome::CreateFailed], "{what}");
        assert_eq!(ended(&live), [Outcome::Deployed], "{what}: {history:#?}");
        let mut configs = vec![failed.config.clone(), live];
        configs.sort();
        assert_eq!(world.names("config", endpoint).await, configs, "{what}");
        assert_eq!(world.names("model", endpoint).await.len(), 2, "{what}");
        assert!(self.lease_is_free(endpoint).await, "{what}: lease held");
        let told = self.alerts_about(endpoint).await;
        assert!(
            (1..=alerts).contains(&told.len())
                && told
                    .iter()
                    .all(|a| a.contains("create-failed") && a.contains(REASON)),
            "{what}: the failed create told once: {told:#?}"
        );
    }

    async fn recovery_crashed_at_every_call(&mut self, victim: Victim, label: &str) {
        let caller = match victim {
            Victim::Deployer => self.deployer.clone(),
            Victim::SmokeTester => self.smoke_tester.clone(),
        };
        let mut failed = self.failed_endpoint(label).await;
        let before = calls_by(&caller).len();
        let mut counted = Budget::unlimited();
        self.recover(&mut failed, victim, &mut counted).await;
        let path = calls_by(&caller).split_off(before);
        self.check_recovered(&failed, "no crash", 1).await;
        let total = counted.calls;
        assert_eq!(total, path.len(), "{path:?}");
        assert!(total >= 8, "{victim:?} makes at least 8 calls: {path:?}");

        let mut crashes = 0;
        for n in 0..total {
            let mut failed = self.failed_endpoint(label).await;
            let mut budget = Budget::after(n);
            self.recover(&mut failed, victim, &mut budget).await;
            let what = match &budget.crashed {
                Some(before) => format!("{victim:?}: crashed after {n} calls, before {before}"),
                None => format!("{victim:?}: finished within {n} calls"),
            };
            crashes += usize::from(budget.crashed.is_some());
            // At least once: the alert published, the crash before it is marked told.
            let after_publish = n > 0 && path[n - 1] == "sns:Publish";
            self.check_recovered(&failed, &what, 1 + usize::from(after_publish))
                .await;
        }
        assert!(
            crashes >= total - 1,
            "{victim:?}: {crashes} crashes in {total} calls"
        );
    }
}

#[tokio::test]
async fn a_recovery_with_the_deployer_crashed_after_any_call_ends_in_one_outcome() {
    Crashes::new()
        .await
        .recovery_crashed_at_every_call(Victim::Deployer, "crash-recover")
        .await;
}

#[tokio::test]
async fn a_recovery_with_the_smoke_tester_crashed_after_any_call_ends_in_one_outcome() {
    Crashes::new()
        .await
        .recovery_crashed_at_every_call(Victim::SmokeTester, "crash-recover-told")
        .await;
}
