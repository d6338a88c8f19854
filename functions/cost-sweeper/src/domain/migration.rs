//! The migration state machine: from what the resources show now (the
//! persistent endpoint, its canary, their tags), the one next step. Pure
//! code, level-triggered: every run recomputes the step from scratch, so a
//! run cut short, or two runs at once, converge on the same end state.
//!
//! The states are `state::MigrationState`; the table there says which
//! endpoint carries each.

use crate::config::{Strategy, SweepConfig};
use crate::domain::fleet::{migration_tags as tags, EndpointView, Usage};
use crate::domain::recheck;
use crate::domain::state::MigrationState;
use crate::domain::steps::{canary_ref, is_canary_of, original_ref, Action, CanaryRef, CanarySpec};
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, Utc};
use shared::smoke::{self, Verdict};

/// Where a migration stands after this run's decision.
// One short-lived value per endpoint: boxing the step would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// No migration: eligibility decides.
    NotMigrating,
    /// In flight; nothing to do until something changes.
    Waiting(String),
    /// In flight; this is the next step.
    Step(Action),
    /// Ended (completed, failed, reverted): nothing to do.
    Ended(String),
}

/// A persistent endpoint's name with what exists for it now.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    pub name: &'a str,
    /// The endpoint called `name` (the original, or its recreated self).
    pub original: Option<&'a EndpointView>,
    pub canary: Option<&'a EndpointView>,
    /// Traffic of `original`.
    pub usage: Usage,
    /// Some endpoint other than the canary runs the canary's config.
    pub canary_config_in_use_elsewhere: bool,
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn strategy_of(endpoint: &EndpointView) -> Strategy {
    endpoint
        .tag(tags::STRATEGY)
        .and_then(Strategy::parse)
        .unwrap_or(Strategy::SideBySide)
}

/// The next step of the migration of `group`, if one is under way, and
/// the notice to send when this run is the first to hold it for an
/// opt-out (`recheck::opt_out_hold`). `resume` is the canary to
/// (re)create when the original's canary is missing; the planner builds
/// it from the original's model. While the original's traffic is unknown
/// (an incomplete CloudWatch answer), no step is taken: the next run
/// decides.
pub fn progress(
    group: &Group,
    resume: Option<&CanarySpec>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> (Progress, Option<Action>) {
    let next = next_step(group, resume, config, now);
    if let Some((why, notice)) = recheck::opt_out_hold(group, &next) {
        return (Progress::Waiting(why), notice);
    }
    let progress = match (next, group.usage.gap) {
        (Progress::Step(action), Some(gap)) => Progress::Waiting(format!(
            "{}: usage unknown, so {} waits for the next run",
            gap.describe(),
            action.name()
        )),
        (next, _) => next,
    };
    (progress, None)
}

fn next_step(
    group: &Group,
    resume: Option<&CanarySpec>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Progress {
    let canary = group
        .canary
        .map(|c| canary_ref(c, group.canary_config_in_use_elsewhere));
    match group.original {
        Some(original)
            if original.is_serverless() && original.tag(tags::MIGRATION_OF) == Some(group.name) =>
        {
            replacement_progress(original, canary)
        }
        Some(original) if original.is_serverless() => Progress::NotMigrating,
        Some(original) => original_progress(original, group, canary, resume, config, now),
        None => match group.canary {
            Some(c) => orphan_canary_progress(group.name, c, canary),
            None => Progress::NotMigrating,
        },
    }
}

fn original_progress(
    original: &EndpointView,
    group: &Group,
    canary: Option<CanaryRef>,
    resume: Option<&CanarySpec>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Progress {
    let Some(tag) = original.migration_state_tag() else {
        return match group.canary {
            // A start cut short between creating the canary and recording
            // it here: eligibility decides, and a start under the same
            // names finishes it.
            Some(c) if is_canary_of(c, group.name) => Progress::NotMigrating,
            Some(c) => Progress::Waiting(format!(
                "{} claims to be its canary but {} has no migration record; left alone",
                c.name, original.name
            )),
            None => Progress::NotMigrating,
        };
    };
    let failure = || original.tag(tags::FAILURE).unwrap_or("unknown").to_string();
    let state = MigrationState::parse(tag);
    match state {
        Some(MigrationState::Failed | MigrationState::Reverted) => match canary {
            // A canary nobody was told to use, or a failed one: finish the cleanup.
            Some(c) if group.canary.is_some_and(|c| {
                c.migration_state_tag().is_none()
                    || c.migration_state() == Some(MigrationState::Replacing)
                    || c.status == EndpointStatus::Failed
            }) =>
            {
                Progress::Step(Action::RemoveCanary { canary: c })
            }
            _ if state == Some(MigrationState::Failed) => Progress::Ended(format!(
                "migration failed: {}; remove tag {} to retry",
                failure(),
                tags::STATE
            )),
            Some(c) => Progress::Ended(format!(
                "reverted to its persistent config; {} still exists: delete it once callers moved back",
                c.name
            )),
            None => Progress::Ended(format!("reverted; remove tag {} to allow migration again", tags::STATE)),
        },
        Some(MigrationState::Canary) => canary_progress(original, group, canary, resume, config, now),
        Some(MigrationState::AwaitingSwitch) => {
            let Some(c) = group.canary else {
                return fail(original, "the canary endpoint disappeared after the switch notice".into(), None);
            };
            if c.status == EndpointStatus::Failed {
                return fail(original, format!("canary {} failed: {}", c.name, reason_of(c)), canary);
            }
            let since = parse_time(original.tag(tags::CHANGED_AT)).unwrap_or(now);
            let drained_for = (now - since).num_seconds() as f64 / 86_400.0;
            if drained_for < f64::from(config.drain_days) {
                Progress::Waiting(format!(
                    "callers switching to {}: drain period {:.1} of {} days",
                    c.name, drained_for, config.drain_days
                ))
            } else if group.usage.recent_invocations > 0.0 {
                Progress::Waiting(format!(
                    "still called ({} invocations in the last {} days); waiting for callers to move to {}",
                    group.usage.recent_invocations, config.drain_days, c.name
                ))
            } else {
                Progress::Step(Action::RetireOriginal {
                    original: original_ref(original),
                    canary_arn: c.arn.clone(),
                    traffic: recheck::retire_check(original, config, now),
                })
            }
        }
        Some(MigrationState::Replacing) => match (canary, group.canary) {
            (Some(c), Some(view)) => Progress::Step(Action::ReplaceOriginal {
                original: original_ref(original),
                canary: c,
                traffic: recheck::replace_check(original, view, &group.usage, config, now),
            }),
            _ => fail(original, "the canary disappeared before the original was replaced".into(), None),
        },
        _ => Progress::Waiting(format!("unknown migration state {tag:?}; left alone")),
    }
}

fn reason_of(endpoint: &EndpointView) -> String {
    endpoint
        .failure_reason
        .clone()
        .unwrap_or_else(|| "no reason given".into())
}

fn fail(original: &EndpointView, reason: String, canary: Option<CanaryRef>) -> Progress {
    Progress::Step(Action::Fail {
        original_arn: original.arn.clone(),
        reason,
        canary,
    })
}

fn canary_progress(
    original: &EndpointView,
    group: &Group,
    canary: Option<CanaryRef>,
    resume: Option<&CanarySpec>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Progress {
    let (Some(c), Some(canary)) = (group.canary, canary) else {
        return match resume {
            Some(spec) => Progress::Step(Action::CreateCanary {
                canary: spec.clone(),
            }),
            None => fail(
                original,
                "the canary cannot be (re)created: the model could not be copied".into(),
                None,
            ),
        };
    };
    match &c.status {
        EndpointStatus::InService => {}
        EndpointStatus::Failed => {
            return fail(
                original,
                format!("canary {} failed: {}", c.name, reason_of(c)),
                Some(canary),
            )
        }
        status => return Progress::Waiting(format!("canary {} is {status}", c.name)),
    }
    match smoke::verdict_for(&c.tags, &c.config_name) {
        Some(Verdict::Passed) => match strategy_of(original) {
            Strategy::SideBySide => Progress::Step(Action::AnnounceSwitch {
                original: original_ref(original),
                canary_name: c.name.clone(),
                canary_arn: c.arn.clone(),
            }),
            Strategy::Recreate => Progress::Step(Action::ReplaceOriginal {
                original: original_ref(original),
                canary,
                traffic: recheck::replace_check(original, c, &group.usage, config, now),
            }),
        },
        Some(verdict) => fail(
            original,
            format!("canary {} smoke test: {}", c.name, verdict.as_str()),
            Some(canary),
        ),
        None => {
            let waited = (now - c.last_modified).num_minutes();
            if waited >= config.smoke_test_timeout_minutes {
                fail(
                    original,
                    format!(
                        "no smoke-test verdict for canary {} within {waited} minutes",
                        c.name
                    ),
                    Some(canary),
                )
            } else {
                Progress::Waiting(format!(
                    "canary {} InService; waiting for its smoke test",
                    c.name
                ))
            }
        }
    }
}

/// The original's name runs the serverless replacement (recreate).
fn replacement_progress(replacement: &EndpointView, canary: Option<CanaryRef>) -> Progress {
    let persistent = replacement
        .tag(tags::PERSISTENT_CONFIG)
        .unwrap_or_default()
        .to_string();
    match replacement.migration_state() {
        Some(MigrationState::Replacement) => match &replacement.status {
            EndpointStatus::InService => Progress::Step(Action::FinishReplacement {
                replacement_arn: replacement.arn.clone(),
                canary,
            }),
            EndpointStatus::Failed if !persistent.is_empty() => {
                Progress::Step(Action::RollBackReplacement {
                    name: replacement.name.clone(),
                    persistent_config: persistent,
                    canary_name: canary.map(|c| c.name),
                    reason: format!("recreated endpoint failed: {}", reason_of(replacement)),
                })
            }
            status => Progress::Waiting(format!("recreated as serverless; {status}")),
        },
        Some(MigrationState::Completed) => match canary {
            Some(c) => Progress::Step(Action::FinishReplacement {
                replacement_arn: replacement.arn.clone(),
                canary: Some(c),
            }),
            None => Progress::Ended(format!(
                "migrated to serverless (recreated); persistent config {persistent} kept"
            )),
        },
        _ => Progress::Waiting(format!(
            "recreated endpoint in state {:?}; left alone",
            replacement.migration_state_tag()
        )),
    }
}

/// The original's name is free; only its canary exists.
fn orphan_canary_progress(name: &str, c: &EndpointView, canary: Option<CanaryRef>) -> Progress {
    match (c.migration_state(), canary) {
        (Some(MigrationState::RetiringOriginal), _) => {
            Progress::Step(Action::MarkCompleted { arn: c.arn.clone() })
        }
        (Some(MigrationState::Completed), _) => {
            Progress::Ended(format!("migrated: {name} retired, callers use {}", c.name))
        }
        (Some(MigrationState::Replacing), Some(canary)) => match c.tag(tags::PERSISTENT_CONFIG) {
            Some(persistent) => Progress::Step(Action::CreateReplacement {
                name: name.to_string(),
                canary,
                persistent_config: persistent.to_string(),
            }),
            None => Progress::Waiting(format!(
                "{} lacks {}; left alone",
                c.name,
                tags::PERSISTENT_CONFIG
            )),
        },
        _ => Progress::Waiting(format!(
            "{name} is gone but its canary {} has no completion record; left alone",
            c.name
        )),
    }
}

#[cfg(test)]
#[path = "migration_guard_tests.rs"]
mod guard_tests;
#[cfg(test)]
#[path = "migration_recreate_tests.rs"]
mod recreate_tests;
#[cfg(test)]
#[path = "migration_tests.rs"]
mod tests;
