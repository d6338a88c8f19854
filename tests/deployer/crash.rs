//! Issue 11: a crash between any two AWS calls of a deploy still ends in
//! one outcome once the event is delivered again. For every N, the
//! emulator serves the deployer's first N calls and the deployer dies at
//! the next one (integration_tests::crash); the same event is then
//! delivered again (Lambda's retry of a direct event, or the queue's
//! message coming back), the endpoint settles, its state-change events go
//! to the smoke tester, and the deployment must have exactly the ending a
//! run without a crash has: the intended config live, one `deployed`
//! entry in the ledger and none left open, no Model or EndpointConfig
//! beyond what that run keeps, and no lease held past its TTL.

use super::crash_world::Crashes;
use super::*;
use integration_tests::crash::{CrashPoint, Run};
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::ledger::Outcome;

/// Which deploy is crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scenario {
    /// A first upload, sent straight to the function.
    First,
    /// A second upload over a deployed, tested endpoint.
    Update,
    /// A second upload over an endpoint whose first deployment went
    /// InService but was not tested yet (its event comes late): the update
    /// ends it `superseded`.
    UpdateBeforeTest,
    /// A first upload through the deploy queue.
    Queued,
    /// A deploy.json changing only the concurrency of a tested deployment
    /// (applied in place: no new model or config).
    Capacity,
}

/// What one run left: the endpoint and the deployments it should show.
pub(super) struct Attempt {
    pub(super) endpoint: String,
    pub(super) clock: VirtualClock,
    pub(super) feed: EventFeed,
    /// Earlier deployments (updates) and how they should end.
    pub(super) earlier: Vec<(String, Outcome)>,
    pub(super) upload: Upload,
}

impl Crashes {
    /// A new endpoint on a virtual clock, ready for the crashed deploy.
    pub(super) async fn prepare(&mut self, scenario: Scenario, label: &str) -> Attempt {
        let endpoint = unique(label);
        let clock = VirtualClock::new(&endpoint);
        let mut feed = EventFeed::new(&endpoint);
        let mut earlier = Vec::new();
        let update = matches!(
            scenario,
            Scenario::Update | Scenario::UpdateBeforeTest | Scenario::Capacity
        );
        if update {
            let settings = json!({"image_uri": self.world().image(), "max_concurrency": 5});
            self.world().upload_settings(&endpoint, &settings).await;
            // A concurrency change is a deploy.json beside the same artifact.
            let folder = if scenario == Scenario::Capacity {
                ""
            } else {
                "v1/"
            };
            let v1 = self.world().upload_artifact(&endpoint, folder).await;
            let first = self.world().deploy_ok(&[v1]).await;
            let config = only(&first).endpoint_config.clone().unwrap();
            clock.advance(10.0);
            if scenario != Scenario::UpdateBeforeTest {
                self.settle(feed.take()).await;
                earlier.push((config, Outcome::Deployed));
            } else {
                earlier.push((config, Outcome::Superseded));
            }
        }
        let upload = match scenario {
            Scenario::Capacity => {
                let settings = json!({"image_uri": self.world().image(), "max_concurrency": 20});
                self.world().upload_settings(&endpoint, &settings).await
            }
            _ if update => self.world().upload_artifact(&endpoint, "v2/").await,
            _ => self.world().upload_artifact(&endpoint, "v1/").await,
        };
        if scenario == Scenario::Queued {
            self.q.notify(&upload).await;
        }
        Attempt {
            endpoint,
            clock,
            feed,
            earlier,
            upload,
        }
    }

    /// Delivers the attempt's event with the deployer dying at `crash`;
    /// returns whether it died, and how many calls it made if not.
    async fn deliver(
        &mut self,
        scenario: Scenario,
        attempt: &Attempt,
        crash: &CrashPoint,
    ) -> Run<()> {
        self.new_container().await;
        if scenario == Scenario::Queued {
            let delivery = self.q.deliver_until(Some(crash)).await;
            assert_eq!(delivery.received, 1, "{delivery:?}");
            if let Some(before) = delivery.crashed {
                return Run::Crashed { before };
            }
            assert_eq!(delivery.failed, 0, "{delivery:?}");
            return Run::Finished {
                out: (),
                calls: delivery.calls,
            };
        }
        let event = s3_event(std::slice::from_ref(&attempt.upload));
        match crash.run(self.world().deploy(event)).await {
            Run::Finished { out, calls } => {
                out.unwrap_or_else(|r| panic!("deploy failed: {r:#?}"));
                Run::Finished { out: (), calls }
            }
            Run::Crashed { before } => Run::Crashed { before },
        }
    }

    /// The same event again, with no crash.
    async fn redeliver(&mut self, scenario: Scenario, attempt: &Attempt) {
        self.new_container().await;
        if scenario == Scenario::Queued {
            let delivery = self.q.deliver_until(None).await;
            assert_eq!((delivery.received, delivery.failed), (1, 0), "{delivery:?}");
            return;
        }
        self.world()
            .deploy_ok(std::slice::from_ref(&attempt.upload))
            .await;
    }

    /// The ending a run without a crash has; `what` names the run.
    pub(super) async fn check(&mut self, attempt: &Attempt, what: &str) {
        let world = self.world();
        let endpoint = &attempt.endpoint;
        let described = world.endpoint(endpoint).await;
        assert_eq!(status_of(&described), "InService", "{what}");
        let live = described.endpoint_config_name().unwrap_or_default();
        let history = world.ledger_history(endpoint).await;
        let is_earlier = |config: &str| attempt.earlier.iter().any(|(c, _)| c == config);
        for (config, outcome) in &attempt.earlier {
            let entry = history.iter().find(|e| &e.config_name == config);
            assert_eq!(
                entry.map(|e| e.outcome),
                Some(*outcome),
                "{what}: {history:#?}"
            );
        }
        let new: Vec<_> = history
            .iter()
            .filter(|e| !is_earlier(&e.config_name))
            .collect();
        assert_eq!(new.len(), 1, "{what}: one new deployment: {history:#?}");
        assert_eq!(new[0].outcome, Outcome::Deployed, "{what}: {history:#?}");
        let mut configs: Vec<String> = attempt.earlier.iter().map(|(c, _)| c.clone()).collect();
        if new[0].capacity_change.is_some() {
            // In place: the tested config keeps running, with the new concurrency.
            assert_eq!(Some(live), configs.first().map(String::as_str), "{what}");
            let variant = &described.production_variants()[0];
            let current = variant.current_serverless_config().unwrap();
            assert_eq!(current.max_concurrency(), Some(20), "{what}");
        } else {
            assert_eq!(
                new[0].config_name, live,
                "{what}: the new deployment is live"
            );
            configs.push(live.to_string());
        }
        configs.sort();
        assert_eq!(world.names("config", endpoint).await, configs, "{what}");
        assert_eq!(
            world.names("model", endpoint).await.len(),
            configs.len(),
            "{what}"
        );
        assert!(
            self.lease_is_free(endpoint).await,
            "{what}: the lease is still held"
        );
        let told = self.alerts_about(endpoint).await;
        assert!(told.is_empty(), "{what}: nothing to alert about: {told:#?}");
    }

    /// Crashes the scenario's deploy after each of its calls in turn.
    async fn at_every_call(&mut self, scenario: Scenario, label: &str) {
        // A run without a crash: how many calls the deploy makes.
        let attempt = self.prepare(scenario, label).await;
        let unbounded = CrashPoint::after(&self.deployer, usize::MAX >> 8);
        let total = match self.deliver(scenario, &attempt, &unbounded).await {
            Run::Finished { calls, .. } => calls,
            Run::Crashed { before } => panic!("crashed without a crash point at {before}"),
        };
        drop(unbounded);
        attempt.clock.advance(10.0);
        let mut attempt = attempt;
        self.settle(attempt.feed.take()).await;
        self.check(&attempt, "no crash").await;
        assert!(total >= 8, "a deploy makes at least 8 calls: {total}");

        let mut crashed_before = Vec::new();
        for n in 0..total {
            let mut attempt = self.prepare(scenario, label).await;
            let crash = CrashPoint::after(&self.deployer, n);
            let run = self.deliver(scenario, &attempt, &crash).await;
            drop(crash);
            let what = match &run {
                Run::Crashed { before } => {
                    format!("{scenario:?}: crashed after {n} calls, before {before}")
                }
                Run::Finished { .. } => format!("{scenario:?}: finished within {n} calls"),
            };
            if let Run::Crashed { before } = &run {
                crashed_before.push(before.clone());
                self.lease_lapses(&attempt.endpoint).await;
                self.redeliver(scenario, &attempt).await;
            }
            attempt.clock.advance(10.0);
            self.settle(attempt.feed.take()).await;
            self.check(&attempt, &what).await;
        }
        assert!(
            crashed_before.len() >= total - 1,
            "{scenario:?}: crashed at {crashed_before:?} of {total} calls"
        );
    }
}

#[tokio::test]
async fn a_first_deploy_crashed_after_any_call_ends_in_one_outcome_on_redelivery() {
    Crashes::new()
        .await
        .at_every_call(Scenario::First, "crash-first")
        .await;
}

#[tokio::test]
async fn an_update_crashed_after_any_call_ends_in_one_outcome_on_redelivery() {
    Crashes::new()
        .await
        .at_every_call(Scenario::Update, "crash-update")
        .await;
}

#[tokio::test]
async fn a_queued_deploy_crashed_after_any_call_ends_in_one_outcome_on_redelivery() {
    Crashes::new()
        .await
        .at_every_call(Scenario::Queued, "crash-queued")
        .await;
}

#[tokio::test]
async fn an_update_of_an_untested_deployment_crashed_after_any_call_ends_both_on_redelivery() {
    Crashes::new()
        .await
        .at_every_call(Scenario::UpdateBeforeTest, "crash-untested")
        .await;
}

#[tokio::test]
async fn a_concurrency_change_crashed_after_any_call_ends_in_one_outcome_on_redelivery() {
    Crashes::new()
        .await
        .at_every_call(Scenario::Capacity, "crash-capacity")
        .await;
}
