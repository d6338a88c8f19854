//! The emulator's endpoint lifecycle on AWS's timing (docs/emulator.md,
//! "Lifecycle on AWS's timing"): a virtual clock per endpoint that tests
//! advance in minutes, artifacts marked to fail a create or roll an update
//! back, and the feed of "SageMaker Endpoint State Change" events that tests
//! deliver themselves (duplicates included).

use crate::{emulator_get, emulator_post};
use serde_json::{json, Value};

/// S3 user metadata on a model artifact that makes SageMaker fail with its
/// value as `FailureReason`: a create ends `Failed`, an update is rolled
/// back to the old config (`InService`, `FailureReason` set).
pub const FAILURE_METADATA: &str = "emulator-failure";

/// One endpoint's virtual clock. Once opted in (before or after the endpoint
/// exists), CreateEndpoint / UpdateEndpoint leave it `Creating` / `Updating`
/// until [`VirtualClock::advance`] has moved the clock past the set minutes;
/// other tests' clocks never move it.
pub struct VirtualClock {
    endpoint: String,
}

impl VirtualClock {
    /// AWS-like defaults: creates take 8 minutes, updates 6, deletes 2.
    pub fn new(endpoint: &str) -> Self {
        Self::with(endpoint, json!({}))
    }

    /// `settings`: `{"create_minutes": m, "update_minutes": m, "delete_minutes": m,
    /// "duplicate_events": n}` (each optional; a deleted endpoint stays
    /// `Deleting` for `delete_minutes`, default 2; `duplicate_events` sends
    /// every event n more times).
    pub fn with(endpoint: &str, settings: Value) -> Self {
        emulator_post(
            &format!("/_emulator/endpoints/{endpoint}/lifecycle"),
            &settings,
        );
        VirtualClock {
            endpoint: endpoint.to_string(),
        }
    }

    /// Moves the clock; returns the events of the transitions this caused
    /// (also in the [`EventFeed`]).
    pub fn advance(&self, minutes: f64) -> Vec<Value> {
        let out = emulator_post(
            &format!("/_emulator/endpoints/{}/advance", self.endpoint),
            &json!({ "minutes": minutes }),
        );
        out["Events"].as_array().cloned().unwrap_or_default()
    }

    /// Minutes on this endpoint's clock so far.
    pub fn minutes(&self) -> f64 {
        let out = emulator_get(&format!("/_emulator/endpoints/{}/lifecycle", self.endpoint));
        out["Clock"]["VirtualMinutes"].as_f64().unwrap_or_default()
    }
}

/// Ends a pending `Creating` / `Updating` now, as SageMaker would (marked
/// artifacts fail or roll back), for endpoints without a virtual clock.
/// Returns false when nothing was pending.
pub fn settle_endpoint(endpoint: &str) -> bool {
    let out = emulator_post(
        &format!("/_emulator/endpoints/{endpoint}/settle"),
        &json!({}),
    );
    out["Settled"].as_bool().unwrap_or(false)
}

/// The state-change events of one endpoint, read in order: each
/// [`EventFeed::take`] returns what arrived since the last one.
pub struct EventFeed {
    endpoint: String,
    after: u64,
}

impl EventFeed {
    /// Starts at the endpoint's first event.
    pub fn new(endpoint: &str) -> Self {
        EventFeed {
            endpoint: endpoint.to_string(),
            after: 0,
        }
    }

    /// The EventBridge events (as delivered to a Lambda function) since the
    /// last call.
    pub fn take(&mut self) -> Vec<Value> {
        let out = emulator_get(&format!(
            "/_emulator/events?endpoint={}&after={}",
            self.endpoint, self.after
        ));
        self.after = out["Last"].as_u64().unwrap_or(self.after);
        out["Events"].as_array().cloned().unwrap_or_default()
    }
}

/// `detail.EndpointStatus` of each event (`CREATING`, `IN_SERVICE`, `FAILED`, ...).
pub fn statuses(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["detail"]["EndpointStatus"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}
