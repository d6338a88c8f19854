//! The report's rows: one per endpoint, what it costs and what happens to
//! it; and how a row is built for each kind of endpoint.

use crate::config::SweepConfig;
use crate::domain::eligibility::{self, Costs};
use crate::domain::fleet::{EndpointView, Usage};
use crate::domain::prices::PricedBy;
use crate::domain::pricing;
use crate::domain::reasons::Reason;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Eligible: a migration starts (or would, in a dry run).
    Migrate,
    /// Eligible, but this run's limit of new migrations is reached.
    Deferred,
    /// A migration in flight takes its next step.
    Advance,
    /// A migration in flight waits for something (endpoint status, smoke test, drain).
    Wait,
    /// A migration ended (completed, failed, reverted).
    Ended,
    /// Not eligible; the reasons say why.
    Skip,
    /// Serverless: kept, with advice.
    Keep,
    /// A canary (its migration is reported on the original's row).
    Canary,
    /// Could not be observed.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonOut {
    pub code: &'static str,
    pub detail: String,
}

impl From<&Reason> for ReasonOut {
    fn from(reason: &Reason) -> Self {
        ReasonOut {
            code: reason.code(),
            detail: reason.describe(),
        }
    }
}

/// One endpoint in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub endpoint: String,
    pub status: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub invocations: f64,
    pub average_latency_ms: Option<f64>,
    pub monthly_cost_now: Option<f64>,
    pub monthly_cost_serverless: Option<f64>,
    pub monthly_saving: Option<f64>,
    pub serverless_memory_mb: Option<u32>,
    /// The endpoint cannot run on serverless: its serverless cost and
    /// saving are "n/a", not unknown and never zero.
    pub serverless_not_applicable: bool,
    /// Which sources priced this row (see the report's `prices` for how old).
    pub priced_by: PricedBy,
    pub decision: Decision,
    pub reasons: Vec<ReasonOut>,
    pub migration_state: Option<String>,
    pub step: Option<&'static str>,
    pub note: String,
}

pub(crate) fn base_row(endpoint: &EndpointView, usage: &Usage) -> Row {
    Row {
        status: endpoint.status.as_str().to_string(),
        instance_type: if endpoint.is_serverless() {
            "serverless".into()
        } else {
            endpoint.instance_types().join("+")
        },
        instance_count: endpoint.instance_count(),
        invocations: usage.invocations,
        average_latency_ms: usage.average_latency_ms,
        migration_state: endpoint.migration_state_tag().map(str::to_string),
        note: if endpoint.config_read || endpoint.is_serverless() {
            String::new()
        } else {
            "config not described: decided from the endpoint (several variants)".into()
        },
        ..empty_row(&endpoint.name)
    }
}

/// A row that says nothing yet but its endpoint's name: skipped, unpriced.
fn empty_row(name: &str) -> Row {
    Row {
        endpoint: name.to_string(),
        status: String::new(),
        instance_type: String::new(),
        instance_count: 0,
        invocations: 0.0,
        average_latency_ms: None,
        monthly_cost_now: None,
        monthly_cost_serverless: None,
        monthly_saving: None,
        serverless_memory_mb: None,
        serverless_not_applicable: false,
        priced_by: PricedBy::default(),
        decision: Decision::Skip,
        reasons: Vec::new(),
        migration_state: None,
        step: None,
        note: String::new(),
    }
}

/// An endpoint settled without describing it (`settled_before_describe`):
/// its name and why; nothing else was read.
pub(crate) fn undescribed_row(name: &str, reason: &Reason) -> Row {
    Row {
        reasons: vec![ReasonOut::from(reason)],
        note: "not described: decided from its tags and creation time".into(),
        ..empty_row(name)
    }
}

pub(crate) fn with_costs(mut row: Row, costs: &Costs) -> Row {
    row.monthly_cost_now = costs.now;
    row.monthly_cost_serverless = costs.serverless;
    row.monthly_saving = costs.saving();
    row.serverless_memory_mb = costs.memory_mb;
    row.serverless_not_applicable = costs.not_applicable;
    if costs.latency_bounded && !costs.not_applicable {
        row.note = "serverless cost is an upper bound: no latency data, 60 s per invocation".into();
    }
    row.priced_by = costs.priced_by;
    row
}

/// Serverless endpoints: what they cost, and advice (never acted on): an
/// instance would be cheaper; the memory could shrink.
pub(crate) fn serverless_row(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Row {
    let mut row = base_row(endpoint, usage);
    row.decision = Decision::Keep;
    let Some(spec) = endpoint.variants.first().and_then(|v| v.serverless.clone()) else {
        return row;
    };
    row.serverless_memory_mb = Some(spec.memory_size_mb);
    let priced = eligibility::serverless_cost(
        usage,
        spec.memory_size_mb,
        spec.provisioned_concurrency,
        eligibility::observed_days(endpoint, config, now),
        config,
    );
    let cost = priced.map(|(cost, _)| cost);
    row.monthly_cost_now = cost;
    row.monthly_cost_serverless = cost;
    row.priced_by = priced.map(|(_, by)| by).unwrap_or_default();
    let mut advice = Vec::new();
    if let (Some(cost), Some((instance, hourly))) = (
        cost,
        config
            .prices
            .cheapest_instance_with(&config.region, spec.memory_size_mb),
    ) {
        let instance_cost = pricing::persistent_monthly(hourly.value, 1);
        if instance_cost < cost {
            advice.push(format!(
                "break-even passed: {instance} would cost ${instance_cost:.2}/month against ${cost:.2} on serverless"
            ));
        }
    }
    if let Some(peak) = usage.peak_memory_percent {
        let used_mb = peak / 100.0 * f64::from(spec.memory_size_mb);
        let smaller = pricing::smallest_memory_for_use(used_mb);
        if smaller < spec.memory_size_mb {
            advice.push(format!(
                "memory could shrink to {smaller} MB (peak use {used_mb:.0} of {} MB)",
                spec.memory_size_mb
            ));
        }
    }
    row.note = advice.join("; ");
    row
}

/// The expected unavailability of a recreate: about as long as the canary
/// (the same config) took to become InService, plus the deletion.
pub(crate) fn unavailability(canary: &EndpointView) -> String {
    let seconds = (canary.last_modified - canary.created).num_seconds().max(0);
    format!(
        "recreate: unavailable from the deletion until the new endpoint is InService, expected about {seconds} s \
         (the canary's own creation time) plus the deletion"
    )
}
