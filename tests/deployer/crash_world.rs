//! What the crash tests share (tests/deployer/crash*.rs,
//! tests/smoke_tester/crash_rollback.rs): one stack with its deploy queue
//! and smoke tester; the endpoint's lease as a crash leaves it; the smoke
//! tester dying at a crash point, its event then delivered again as Lambda
//! retries an asynchronous invocation; and the alerts told per endpoint.

use super::queue::QueueWorld;
use super::*;
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::crash::Budget;
use shared::lease::UNKNOWN_DEADLINE_LEASE;
use shared::ledger::{LEASE_ENTRY, PARTITION_KEY, SORT_KEY};
use smoke_tester::report::SmokeTestReport;
use smoke_tester::tester::SmokeTester;
use std::collections::BTreeMap;

pub(crate) struct Crashes {
    pub(super) q: QueueWorld,
    pub(crate) tester: SmokeTester,
    /// The access key ids the deployer and the smoke tester sign with
    /// (their crash points' callers).
    pub(crate) deployer: String,
    pub(crate) smoke_tester: String,
    dynamodb: aws_sdk_dynamodb::Client,
    /// Alerts read off the topic's queue, by the endpoint they name.
    told: BTreeMap<String, Vec<String>>,
}

impl Crashes {
    pub(crate) async fn new() -> Self {
        let q = QueueWorld::new(std::time::Duration::from_secs(2 * 60 * 60)).await;
        let tester = crate::smoke_tester::tester_for(&q.world).await;
        let deployer = q.world.stack.access_key_id("deployer");
        let smoke_tester = q.world.stack.access_key_id("smoke-tester");
        let dynamodb = aws_sdk_dynamodb::Client::new(&shared::aws::load_sdk_config().await);
        Crashes {
            q,
            tester,
            deployer,
            smoke_tester,
            dynamodb,
            told: BTreeMap::new(),
        }
    }

    /// A crash ends the container, so every delivery in these tests starts
    /// in a fresh one: nothing kept from an earlier invocation (the quota
    /// values the deployer caches for warm invocations), and a run's calls
    /// are counted as a cold container makes them.
    pub(crate) async fn new_container(&mut self) {
        let sdk = self.q.world.stack.function_config("deployer").await;
        let quotas = shared::aws::service_quotas::ServiceQuotas::from_config(&sdk);
        self.q.world.deployer.quotas = quotas.clone();
        self.q.consumer.deployer.quotas = quotas;
    }

    pub(crate) fn world(&self) -> &World {
        &self.q.world
    }

    /// The smoke tester handles one event as the invocation `request_id`.
    pub(crate) async fn test(&self, event: Value, request_id: &str) -> SmokeTestReport {
        let mut context = Context::default();
        context.request_id = request_id.to_string();
        smoke_tester::handle(LambdaEvent::new(event, context), &self.tester)
            .await
            .expect("smoke test ran")
    }

    /// State-change events, delivered to the smoke tester in order.
    pub(crate) async fn settle(&self, events: Vec<Value>) {
        for event in events {
            self.test(event, &unique("request")).await;
        }
    }

    /// Delivers `events` in order to the smoke tester, which dies where
    /// `budget` says. The event it died on then comes again twice: as an
    /// EventBridge duplicate (another invocation) and as Lambda's retry of
    /// the failed asynchronous invocation, which keeps its request id, once
    /// any lease the dead one held has lapsed. The rest follow uncrashed.
    pub(crate) async fn settle_crashing(
        &self,
        endpoint: &str,
        events: Vec<Value>,
        budget: &mut Budget,
    ) {
        for event in events {
            let request_id = unique("request");
            let caller = self.smoke_tester.clone();
            let ran = budget
                .run(&caller, self.test(event.clone(), &request_id))
                .await;
            if ran.is_none() {
                self.lease_lapses(endpoint).await;
                self.test(event.clone(), &unique("request")).await;
                self.test(event, &request_id).await;
            }
        }
    }

    /// The lease item's expiry, if there is one.
    pub(crate) async fn lease_expiry(&self, endpoint: &str) -> Option<i64> {
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

    /// A lease a crashed attempt held lapses by itself within its TTL; the
    /// redelivery comes later than that (time passes: its expiry is moved
    /// into the past, as the clock would).
    pub(crate) async fn lease_lapses(&self, endpoint: &str) {
        let Some(expires) = self.lease_expiry(endpoint).await else {
            return;
        };
        let now = Utc::now().timestamp();
        let ttl = UNKNOWN_DEADLINE_LEASE.as_secs() as i64;
        assert!(
            expires <= now + ttl,
            "the crashed attempt's lease would outlive its TTL: {expires} > {now} + {ttl}"
        );
        self.move_lease_expiry(endpoint, now - 1).await;
    }

    /// Sets the lease's expiry (seconds since the epoch): time passing
    /// for a lease whose holder is gone.
    pub(crate) async fn move_lease_expiry(&self, endpoint: &str, expires_at: i64) {
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

    /// No lease on the endpoint is held any more.
    pub(crate) async fn lease_is_free(&self, endpoint: &str) -> bool {
        self.lease_expiry(endpoint)
            .await
            .is_none_or(|expires| expires < Utc::now().timestamp())
    }

    /// The alerts told about `endpoint` so far (the topic's queue is
    /// drained, so any number of alerts over a test is counted).
    pub(crate) async fn alerts_about(&mut self, endpoint: &str) -> Vec<String> {
        loop {
            let read = self.q.alerts.take().await;
            if read.is_empty() {
                break;
            }
            for alert in read {
                let about = alert
                    .lines()
                    .find_map(|l| l.strip_prefix("Endpoint: "))
                    .unwrap_or_default()
                    .to_string();
                self.told.entry(about).or_default().push(alert);
            }
        }
        self.told.get(endpoint).cloned().unwrap_or_default()
    }
}
