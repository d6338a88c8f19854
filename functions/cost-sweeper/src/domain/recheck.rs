//! What is re-checked right before an original is retired or replaced
//! (issue 12 item 3): its traffic since the switch was announced, read
//! afresh by the applier against the limit planned here, and its opt-out
//! tag, whose hold people are told about once. Pure code.

use crate::config::SweepConfig;
use crate::domain::eligibility;
use crate::domain::fleet::{migration_tags as tags, user_tags, EndpointView, Usage};
use crate::domain::migration::{Group, Progress};
use crate::domain::steps::{Action, HoldKind, TrafficCheck};
use chrono::{DateTime, Duration, Utc};

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn variant_names(endpoint: &EndpointView) -> Vec<String> {
    endpoint.variants.iter().map(|v| v.name.clone()).collect()
}

/// Side-by-side: callers were told to switch when the original entered
/// `awaiting-switch` (its change time). No invocation at all is allowed
/// since then, within the drain period: callers still moving in the first
/// days is what the drain period is for.
pub fn retire_check(
    original: &EndpointView,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> TrafficCheck {
    let drain_start = now - Duration::days(i64::from(config.drain_days));
    let announced = parse_time(original.tag(tags::CHANGED_AT)).unwrap_or(drain_start);
    TrafficCheck {
        variants: variant_names(original),
        since: announced.max(drain_start),
        allowed_per_day: 0,
    }
}

/// Recreate: the name keeps its callers, so traffic itself is expected;
/// what must not have returned since the migration started is more than
/// the rate at which serverless still saves what the start was decided
/// on (the break-even rule at the canary's memory, with the latency the
/// sweep saw, or 60 s a call without it). A price the sweep does not know
/// allows nothing.
pub fn replace_check(
    original: &EndpointView,
    canary: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> TrafficCheck {
    let started = parse_time(original.tag(tags::STARTED_AT)).unwrap_or(canary.created);
    let memory_mb = canary
        .variants
        .iter()
        .find_map(|v| v.serverless.as_ref().map(|s| s.memory_size_mb));
    let allowed = memory_mb
        .and_then(|mb| break_even_per_day(original, usage, mb, config))
        .unwrap_or(0.0);
    TrafficCheck {
        variants: variant_names(original),
        since: started.min(now),
        allowed_per_day: allowed.max(0.0).floor() as u64,
    }
}

/// The most invocations a day at which `endpoint` on serverless at
/// `memory_mb` still saves the minimum ratio and amount of its cost now.
fn break_even_per_day(
    endpoint: &EndpointView,
    usage: &Usage,
    memory_mb: u32,
    config: &SweepConfig,
) -> Option<f64> {
    // One invocation a day, at the latency the sweep saw (or the bound).
    let one_a_day = Usage {
        invocations: 1.0,
        ..*usage
    };
    let costs = eligibility::instance_costs(endpoint, &one_a_day, Some(memory_mb), 1.0, config);
    let (now, per_daily_call) = (costs.now?, costs.serverless?);
    let budget = (now * (1.0 - config.min_saving_ratio)).min(now - config.min_monthly_saving);
    (per_daily_call > 0.0).then(|| budget / per_daily_call)
}

/// When `next` would retire or replace an original that has opted out:
/// the hold's reason, and the notice to send if its canary does not
/// record that people were told yet.
pub fn opt_out_hold(group: &Group, next: &Progress) -> Option<(String, Option<Action>)> {
    let original = group.original?;
    if original.tag(user_tags::OPT_OUT) != Some(user_tags::OPT_OUT_VALUE)
        || original.is_serverless()
    {
        return None;
    }
    let (step, canary_arn) = match next {
        Progress::Step(action @ Action::RetireOriginal { canary_arn, .. }) => {
            (action.name(), canary_arn)
        }
        Progress::Step(action @ Action::ReplaceOriginal { canary, .. }) => {
            (action.name(), &canary.arn)
        }
        _ => return None,
    };
    let why = format!(
        "opted out by tag {}={} after the migration started: {step} held (revert or remove the tag)",
        user_tags::OPT_OUT,
        user_tags::OPT_OUT_VALUE,
    );
    let told = group
        .canary
        .is_some_and(|c| c.tag(tags::HOLD) == Some(HoldKind::OptedOut.as_str()));
    let notice = (!told).then(|| Action::Hold {
        name: original.name.clone(),
        canary_arn: canary_arn.clone(),
        kind: HoldKind::OptedOut,
        reason: format!("{}: {why}", original.name),
    });
    Some((why, notice))
}

#[cfg(test)]
#[path = "recheck_tests.rs"]
mod tests;
