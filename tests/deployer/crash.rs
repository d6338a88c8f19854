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

use super::queue::QueueWorld;
use super::*;
use aws_sdk_dynamodb::types::AttributeValue;
use deployer::lease::LEASE_TTL;
use integration_tests::crash::{CrashPoint, Run};
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use shared::ledger::{Outcome, LEASE_ENTRY, PARTITION_KEY, SORT_KEY};
use smoke_tester::tester::SmokeTester;

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

pub(super) struct Crashes {
    pub(super) q: QueueWorld,
    tester: SmokeTester,
    pub(super) caller: String,
    dynamodb: aws_sdk_dynamodb::Client,
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
    pub(super) async fn new() -> Self {
        let q = QueueWorld::new(std::time::Duration::from_secs(2 * 60 * 60)).await;
        let tester = crate::smoke_tester::tester_for(&q.world).await;
        let caller = q.world.stack.access_key_id("deployer");
        let dynamodb = aws_sdk_dynamodb::Client::new(&shared::aws::load_sdk_config().await);
        Crashes {
            q,
            tester,
            caller,
            dynamodb,
        }
    }

    pub(super) fn world(&self) -> &World {
        &self.q.world
    }

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
                self.settle(&mut feed).await;
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
        if scenario == Scenario::Queued {
            let delivery = self.q.deliver_until(None).await;
            assert_eq!((delivery.received, delivery.failed), (1, 0), "{delivery:?}");
            return;
        }
        self.world()
            .deploy_ok(std::slice::from_ref(&attempt.upload))
            .await;
    }

    /// The endpoint's state-change events, delivered to the smoke tester.
    pub(super) async fn settle(&self, feed: &mut EventFeed) {
        for event in feed.take() {
            let mut context = Context::default();
            context.request_id = unique("request");
            smoke_tester::handle(LambdaEvent::new(event, context), &self.tester)
                .await
                .expect("smoke test ran");
        }
    }

    /// The lease item's expiry, if there is one.
    pub(super) async fn lease_expiry(&self, endpoint: &str) -> Option<i64> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(self.world().stack.ledger_table())
            .key(PARTITION_KEY, AttributeValue::S(endpoint.into()))
            .key(SORT_KEY, AttributeValue::S(LEASE_ENTRY.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("read the lease")
            .item?;
        item.get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
    }

    /// A lease the crashed attempt held lapses by itself within its TTL;
    /// the redelivery comes later than that (time passes: its expiry is
    /// moved into the past, as the clock would).
    pub(super) async fn lease_lapses(&self, endpoint: &str) {
        let Some(expires) = self.lease_expiry(endpoint).await else {
            return;
        };
        let now = Utc::now().timestamp();
        let ttl = LEASE_TTL.as_secs() as i64;
        assert!(
            expires <= now + ttl,
            "the crashed attempt's lease would outlive its TTL: {expires} > {now} + {ttl}"
        );
        self.move_lease_expiry(endpoint, now - 1).await;
    }

    /// Sets the lease's expiry (seconds since the epoch): time passing
    /// for a lease whose holder is gone.
    pub(super) async fn move_lease_expiry(&self, endpoint: &str, expires_at: i64) {
        self.dynamodb
            .update_item()
            .table_name(self.world().stack.ledger_table())
            .key(PARTITION_KEY, AttributeValue::S(endpoint.into()))
            .key(SORT_KEY, AttributeValue::S(LEASE_ENTRY.into()))
            .update_expression("SET expires_at = :at")
            .expression_attribute_values(":at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .expect("move the lease's expiry");
    }

    /// The ending a run without a crash has; `what` names the run.
    pub(super) async fn check(&self, attempt: &Attempt, what: &str) {
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
        if let Some(expires) = self.lease_expiry(endpoint).await {
            assert!(
                expires < Utc::now().timestamp(),
                "{what}: the lease is still held"
            );
        }
    }

    /// Crashes the scenario's deploy after each of its calls in turn.
    async fn at_every_call(&mut self, scenario: Scenario, label: &str) {
        // A run without a crash: how many calls the deploy makes.
        let attempt = self.prepare(scenario, label).await;
        let unbounded = CrashPoint::after(&self.caller, usize::MAX >> 8);
        let total = match self.deliver(scenario, &attempt, &unbounded).await {
            Run::Finished { calls, .. } => calls,
            Run::Crashed { before } => panic!("crashed without a crash point at {before}"),
        };
        drop(unbounded);
        attempt.clock.advance(10.0);
        let mut attempt = attempt;
        self.settle(&mut attempt.feed).await;
        self.check(&attempt, "no crash").await;
        assert!(total >= 8, "a deploy makes at least 8 calls: {total}");

        let mut crashed_before = Vec::new();
        for n in 0..total {
            let mut attempt = self.prepare(scenario, label).await;
            let crash = CrashPoint::after(&self.caller, n);
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
            self.settle(&mut attempt.feed).await;
            self.check(&attempt, &what).await;
        }
        assert!(
            crashed_before.len() >= total - 1,
            "{scenario:?}: crashed at {crashed_before:?} of {total} calls"
        );
        assert!(self.q.alerts().await.is_empty(), "nothing to alert about");
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
