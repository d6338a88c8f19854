//! The whole sweep's decisions: one row per endpoint (what it costs, what
//! happens to it, why) and the steps to apply. Pure code.

use crate::config::Strategy;
use crate::config::SweepConfig;
use crate::domain::access;
use crate::domain::eligibility::{self, Costs};
use crate::domain::fleet::{migration_tags, EndpointView, Usage};
use crate::domain::migration::{self, Group, Progress};
use crate::domain::reasons::Reason;
use crate::domain::rows::{
    base_row, serverless_row, unavailability, with_costs, Decision, ReasonOut, Row,
};
use crate::domain::state::MigrationState;
use crate::domain::steps::{self, Action, CanarySpec, OriginalRef};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// A step to apply, for the endpoint whose row it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub endpoint: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub rows: Vec<Row>,
    pub steps: Vec<Planned>,
}

/// True when the endpoint's model must be described before planning: it
/// passes every rule that does not need it (the serverless memory it would
/// get included: a model is not read for an endpoint that memory rule
/// already rules out), or its canary must be rebuilt.
pub fn needs_model(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> bool {
    if endpoint.is_serverless() {
        return false;
    }
    match endpoint.migration_state_tag() {
        Some(_) => endpoint.migration_state() == Some(MigrationState::Canary),
        None => {
            eligibility::screen(endpoint, usage, config, now).is_empty()
                && eligibility::migration_settings(endpoint, usage, config).is_ok()
        }
    }
}

/// True when a candidate's busiest day, read as one minute, would be over
/// its MaxConcurrency: its per-minute series must say whether it bursts.
pub fn needs_peak_minute(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> bool {
    endpoint.migration_state_tag().is_none()
        && usage.peak_minute_invocations.is_none()
        && usage.peak_in_flight() > f64::from(eligibility::max_concurrency(endpoint, config))
        && needs_model(endpoint, usage, config, now)
}

/// Costs and reasons for an instance-based endpoint with no migration.
fn evaluate(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> (Costs, Vec<Reason>, Option<CanarySpec>) {
    let mut reasons = eligibility::screen(endpoint, usage, config, now);
    let settings = eligibility::migration_settings(endpoint, usage, config);
    // The model is asked about only where it was described (`needs_model`).
    if reasons.is_empty() && settings.is_ok() {
        reasons.extend(eligibility::model_reasons(endpoint));
    }
    let settings = match settings {
        Ok(settings) => settings,
        Err(why) => {
            reasons.push(why);
            None
        }
    };
    let not_applicable = reasons.iter().any(Reason::is_structural);
    let memory = settings.as_ref().map(|s| s.memory_mb);
    let days = eligibility::observed_days(endpoint, config, now);
    let mut costs = eligibility::instance_costs(
        endpoint,
        usage,
        memory.filter(|_| !not_applicable),
        days,
        config,
    );
    costs.not_applicable = not_applicable;
    if reasons.is_empty() {
        let max_concurrency = settings
            .as_ref()
            .map_or(config.serverless_max_concurrency, |s| s.max_concurrency);
        reasons.extend(eligibility::cost_reasons(
            endpoint,
            usage,
            &costs,
            max_concurrency,
            config,
        ));
    }
    let spec = settings.and_then(|s| steps::canary_spec(endpoint, &s, config));
    if reasons.is_empty() {
        match &spec {
            None => reasons.push(Reason::ModelUnknown),
            Some(s) if s.smoke_test_source.is_none() => reasons.push(Reason::NoSmokeTestRequest),
            Some(s) => reasons.extend(access::access_reasons(s, config)),
        }
    }
    (costs, reasons, spec)
}

/// Plans the sweep over `endpoints` (with `usage` by endpoint name).
pub fn plan(
    endpoints: &[EndpointView],
    usage: &HashMap<String, Usage>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Plan {
    let index = FleetIndex::new(endpoints);
    let zero = Usage::default();
    let usage_of = |name: &str| usage.get(name).copied().unwrap_or(zero);

    let mut plan = Plan::default();
    let mut candidates: Vec<(f64, Row, CanarySpec, OriginalRef)> = Vec::new();
    let mut group_names: Vec<&str> = endpoints
        .iter()
        .filter(|e| {
            e.tag(migration_tags::MIGRATION_OF)
                .is_none_or(|of| of == e.name)
        })
        .map(|e| e.name.as_str())
        .collect();
    group_names.extend(
        index
            .canaries
            .keys()
            .filter(|n| !index.by_name.contains_key(*n)),
    );

    for name in group_names {
        let group = group_with(name, &index, usage_of(name));
        let (original, canary) = (group.original, group.canary);
        let resume = original
            .filter(|o| o.migration_state() == Some(MigrationState::Canary))
            .and_then(|o| evaluate(o, &group.usage, config, now).2);
        let (progress, notice) = migration::progress(&group, resume.as_ref(), config, now);
        if let Some(action) = notice {
            plan.steps.push(Planned {
                endpoint: name.to_string(),
                action,
            });
        }
        if let Some(c) = canary {
            let mut row = serverless_row(c, &usage_of(&c.name), config, now);
            row.decision = Decision::Canary;
            row.note = format!("canary of {name}");
            if original.is_none() {
                apply_progress(&mut row, &progress, &mut plan.steps);
            }
            plan.rows.push(row);
        }
        let Some(original) = original else { continue };
        let usage = group.usage;
        if original.is_serverless() {
            let mut row = serverless_row(original, &usage, config, now);
            apply_progress(&mut row, &progress, &mut plan.steps);
            plan.rows.push(row);
            continue;
        }
        if progress != Progress::NotMigrating {
            let (costs, _, _) = evaluate(original, &usage, config, now);
            let mut row = with_costs(base_row(original, &usage), &costs);
            apply_progress(&mut row, &progress, &mut plan.steps);
            if let (Progress::Step(Action::ReplaceOriginal { .. }), Some(c)) = (&progress, canary) {
                row.note = unavailability(c);
            }
            plan.rows.push(row);
            continue;
        }
        let (costs, mut reasons, spec) = evaluate(original, &usage, config, now);
        if let Some(taken) = spec
            .as_ref()
            .and_then(|s| canary_name_taken(s, &index))
            .filter(|_| reasons.is_empty())
        {
            reasons.push(taken);
        }
        let mut row = with_costs(base_row(original, &usage), &costs);
        match (reasons.is_empty(), spec) {
            (true, Some(spec)) => {
                row.decision = Decision::Migrate;
                let original_ref = OriginalRef {
                    name: original.name.clone(),
                    arn: original.arn.clone(),
                    config_name: original.config_name.clone(),
                };
                candidates.push((costs.saving().unwrap_or(0.0), row, spec, original_ref));
            }
            _ => {
                row.reasons = reasons.iter().map(ReasonOut::from).collect();
                plan.rows.push(row);
            }
        }
    }

    // The largest savings first; the rest wait for a later run.
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.endpoint.cmp(&b.1.endpoint))
    });
    for (index, (_, mut row, spec, original)) in candidates.into_iter().enumerate() {
        if index < config.max_new_migrations {
            row.step = Some("start");
            let bound = std::mem::take(&mut row.note);
            row.note = format!(
                "{} migration to {} ({} MB){}{}{bound}",
                spec.strategy.as_str(),
                spec.endpoint_name,
                spec.memory_mb,
                if spec.strategy == Strategy::Recreate {
                    "; the name is unavailable for a few minutes while it is recreated"
                } else {
                    ""
                },
                if bound.is_empty() { "" } else { "; " },
            );
            plan.steps.push(Planned {
                endpoint: row.endpoint.clone(),
                action: Action::Start {
                    original,
                    canary: spec,
                },
            });
        } else {
            row.decision = Decision::Deferred;
            row.note = format!(
                "limit of {} new migrations per run reached",
                config.max_new_migrations
            );
        }
        plan.rows.push(row);
    }
    plan.rows.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    plan
}

/// Creating `spec`'s canary would find another endpoint under its name
/// (someone's own, or another original's canary): "already exists" is not
/// success then, so the migration is not started.
fn canary_name_taken(spec: &CanarySpec, index: &FleetIndex) -> Option<Reason> {
    let existing = index.by_name.get(spec.endpoint_name.as_str())?;
    (!steps::is_canary_of(existing, &spec.original)).then(|| Reason::CanaryNameTaken {
        name: spec.endpoint_name.clone(),
    })
}

/// The migration group of `name` among `endpoints` (for a revert).
pub fn group_for<'a>(endpoints: &'a [EndpointView], name: &'a str) -> Group<'a> {
    group_with(name, &FleetIndex::new(endpoints), Usage::default())
}

/// Lookups over the whole fleet, built once per plan.
struct FleetIndex<'a> {
    by_name: HashMap<&'a str, &'a EndpointView>,
    /// Endpoints by the endpoint config they run.
    config_users: HashMap<&'a str, Vec<&'a str>>,
    /// Canaries by the name of the endpoint they migrate.
    canaries: BTreeMap<&'a str, &'a EndpointView>,
}

impl<'a> FleetIndex<'a> {
    fn new(endpoints: &'a [EndpointView]) -> Self {
        let by_name = endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
        let mut config_users: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut canaries: BTreeMap<&str, &EndpointView> = BTreeMap::new();
        for e in endpoints {
            config_users
                .entry(e.config_name.as_str())
                .or_default()
                .push(e.name.as_str());
            if let Some(of) = e
                .tag(migration_tags::MIGRATION_OF)
                .filter(|of| *of != e.name)
            {
                canaries.entry(of).or_insert(e);
            }
        }
        FleetIndex {
            by_name,
            config_users,
            canaries,
        }
    }
}

fn group_with<'a>(name: &'a str, index: &FleetIndex<'a>, usage: Usage) -> Group<'a> {
    let FleetIndex {
        by_name,
        config_users,
        canaries,
    } = index;
    let original = by_name.get(name).copied();
    // The canary the original names, else any endpoint claiming to be one.
    let canary = original
        .and_then(|o| o.tag(migration_tags::CANARY))
        .and_then(|c| by_name.get(c).copied())
        .filter(|c| c.tag(migration_tags::MIGRATION_OF) == Some(name) && c.name != name)
        .or_else(|| canaries.get(name).copied());
    let canary_config_in_use_elsewhere = canary.is_some_and(|c| {
        config_users
            .get(c.config_name.as_str())
            .is_some_and(|users| users.iter().any(|u| *u != c.name))
    });
    Group {
        name,
        original,
        canary,
        usage,
        canary_config_in_use_elsewhere,
    }
}

fn apply_progress(row: &mut Row, progress: &Progress, steps: &mut Vec<Planned>) {
    match progress {
        Progress::NotMigrating => {}
        Progress::Waiting(why) => {
            row.decision = Decision::Wait;
            row.note = why.clone();
        }
        Progress::Ended(why) => {
            row.decision = Decision::Ended;
            row.note = why.clone();
        }
        Progress::Step(action) => {
            row.decision = Decision::Advance;
            row.step = Some(action.name());
            steps.push(Planned {
                endpoint: row.endpoint.clone(),
                action: action.clone(),
            });
        }
    }
}

#[cfg(test)]
#[path = "plan_start_tests.rs"]
mod start_tests;
#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "arithmetic_tests.rs"]
mod arithmetic_tests;
