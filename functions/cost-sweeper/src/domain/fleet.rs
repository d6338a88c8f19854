//! What the sweep sees: endpoints with their config, model and tags, and
//! their traffic. Plain data, filled by `observe` and `metrics`, read by the
//! pure planner.

use crate::domain::state::MigrationState;
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, Utc};
use shared::aws::sagemaker::{ModelInfo, ServerlessSpec};
use std::collections::BTreeMap;

/// The tags people set on a persistent endpoint to steer the sweeper.
pub mod user_tags {
    /// `exclude` keeps the sweeper away from the endpoint for good.
    pub const OPT_OUT: &str = "serverless-migration";
    pub const OPT_OUT_VALUE: &str = "exclude";
    /// `s3://bucket/key.json[?versionId=...]`: a document whose
    /// `smoke_test` object is the request that proves the canary works.
    /// Without it no canary is created (it could never pass).
    pub const SMOKE_TEST: &str = "serverless-migration:smoke-test";
    /// `side-by-side` (default) or `recreate`.
    pub const STRATEGY: &str = "serverless-migration:strategy";
    /// Serverless memory for the migration: 1024, 2048, ..., 6144.
    pub const MEMORY_MB: &str = "serverless-migration:memory-mb";
    /// Serverless max concurrency for the migration: 1 to 200.
    pub const MAX_CONCURRENCY: &str = "serverless-migration:max-concurrency";
}

/// The tags the sweeper writes: the state of each migration lives on the
/// AWS resources, so any run (or two at once) can pick it up.
pub mod migration_tags {
    pub const STATE: &str = "pipeline:migration-state";
    /// On the persistent endpoint: its canary's name.
    pub const CANARY: &str = "pipeline:migration-canary";
    /// On a canary (and a recreated endpoint): the persistent endpoint it
    /// replaces. The smoke tester only reports on such endpoints, never
    /// rolls them back.
    pub const MIGRATION_OF: &str = shared::smoke::MIGRATION_OF_TAG;
    pub const STRATEGY: &str = "pipeline:migration-strategy";
    pub const STARTED_AT: &str = "pipeline:migration-started-at";
    /// When the state last changed (switch notice, failure, ...).
    pub const CHANGED_AT: &str = "pipeline:migration-changed-at";
    pub const FAILURE: &str = "pipeline:migration-failure";
    /// On a canary: the hold of its original's last step people were told
    /// about (`opted-out`, `traffic`), so the notice is sent once.
    pub const HOLD: &str = "pipeline:migration-hold";
    /// The persistent endpoint's config, kept for revert.
    pub const PERSISTENT_CONFIG: &str = "pipeline:persistent-config";
}

/// Observed state of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointView {
    pub name: String,
    pub arn: String,
    /// `InService`, `Creating`, `Failed`, ... (`Unknown` for a status this
    /// SDK version does not know yet).
    pub status: EndpointStatus,
    pub failure_reason: Option<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub config_name: String,
    pub variants: Vec<Variant>,
    pub data_capture: bool,
    pub async_inference: bool,
    /// A KMS key for the instance's storage volume (serverless has none).
    pub kms_volume_key: bool,
    pub tags: BTreeMap<String, String>,
    /// Described only for endpoints that may be migrated.
    pub model: Option<ModelInfo>,
    /// The endpoint config was read: variants carry instance types and
    /// models, and async inference and the volume key are known. Without
    /// it (an endpoint settled from what the endpoint itself shows, see
    /// `eligibility::settled_without_config`) they read as absent.
    pub config_read: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    pub model_name: Option<String>,
    pub instance_type: Option<String>,
    pub instance_count: u32,
    pub serverless: Option<ServerlessSpec>,
}

impl EndpointView {
    /// Every variant is serverless.
    pub fn is_serverless(&self) -> bool {
        !self.variants.is_empty() && self.variants.iter().all(|v| v.serverless.is_some())
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The migration state tag as written (possibly a value this version
    /// does not know).
    pub fn migration_state_tag(&self) -> Option<&str> {
        self.tag(migration_tags::STATE)
    }

    /// The migration state, when the tag names a known one.
    pub fn migration_state(&self) -> Option<MigrationState> {
        self.migration_state_tag().and_then(MigrationState::parse)
    }

    pub fn instance_count(&self) -> u32 {
        self.variants.iter().map(|v| v.instance_count).sum()
    }

    /// Instance types of the variants, in order, without repeats.
    pub fn instance_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = Vec::new();
        for variant in &self.variants {
            if let Some(t) = variant.instance_type.as_deref() {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        types
    }

    pub fn age_days(&self, now: DateTime<Utc>) -> f64 {
        (now - self.created).num_seconds() as f64 / 86_400.0
    }
}

/// Traffic of one endpoint (all variants) over the lookback window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// `Invocations` (sum) over the lookback window; no datapoints is 0.
    pub invocations: f64,
    /// `Invocations` over the last drain period.
    pub recent_invocations: f64,
    /// `ModelLatency` averaged over invocations, in milliseconds; `None`
    /// when there was traffic but no latency datapoint.
    pub average_latency_ms: Option<f64>,
    /// `OverheadLatency` averaged the same way (billed too: SageMaker's
    /// own time, cold starts included).
    pub average_overhead_ms: Option<f64>,
    /// The most invocations of any one day of the window: an upper bound
    /// of the busiest minute when no minute series was read.
    pub peak_day_invocations: f64,
    /// The most invocations of any one minute, when that series was read.
    pub peak_minute_invocations: Option<f64>,
    /// Peak `MemoryUtilization` (percent of the instance's or the
    /// serverless size's memory).
    pub peak_memory_percent: Option<f64>,
    /// CloudWatch's answer for one of the endpoint's series was not
    /// complete: the numbers above may be too low, so nothing is decided
    /// on them this run.
    pub gap: Option<MetricsGap>,
}

/// The longest a serverless invocation may run: the bound on the billed
/// duration when there was traffic but no latency datapoint.
pub const MAX_INVOCATION_SECONDS: f64 = 60.0;

/// Billed seconds per invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Billed {
    pub seconds: f64,
    /// `MAX_INVOCATION_SECONDS`, for want of latency data.
    pub bounded: bool,
}

impl Usage {
    /// What serverless bills per invocation: `ModelLatency` plus
    /// `OverheadLatency`; 60 s (the invocation limit) when traffic came
    /// with no latency datapoint, so a cost built on it is an upper bound.
    pub fn billed(&self) -> Billed {
        match self.average_latency_ms {
            _ if self.invocations <= 0.0 => Billed {
                seconds: 0.0,
                bounded: false,
            },
            Some(model) => Billed {
                seconds: (model + self.average_overhead_ms.unwrap_or(0.0)) / 1000.0,
                bounded: false,
            },
            None => Billed {
                seconds: MAX_INVOCATION_SECONDS,
                bounded: true,
            },
        }
    }

    /// Invocations in flight in the busiest minute (Little's law: arrival
    /// rate x time in the system); the busiest day stands in for the
    /// busiest minute when that series was not read (an upper bound).
    pub fn peak_in_flight(&self) -> f64 {
        let peak = self
            .peak_minute_invocations
            .unwrap_or(self.peak_day_invocations);
        peak / 60.0 * self.billed().seconds
    }
}

/// Why CloudWatch's answer for a series cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsGap {
    /// `StatusCode` `PartialData` on the last page.
    PartialData,
    /// `StatusCode` `InternalError`, `Forbidden`, or one this version does
    /// not know.
    Error,
    /// A message in the answer (e.g. `MaxMetricsExceeded`).
    Message,
}

impl MetricsGap {
    pub fn describe(self) -> &'static str {
        match self {
            MetricsGap::PartialData => "CloudWatch answered PartialData",
            MetricsGap::Error => "CloudWatch answered an error status",
            MetricsGap::Message => {
                "CloudWatch's answer carried a message (e.g. MaxMetricsExceeded)"
            }
        }
    }
}
