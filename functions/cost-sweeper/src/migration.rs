//! The migration state machine: from what the resources show now (the
//! persistent endpoint, its canary, their tags), the one next step. Pure
//! code, level-triggered: every run recomputes the step from scratch, so a
//! run cut short, or two runs at once, converge on the same end state.
//!
//! States (tag `pipeline:migration-state`), on the endpoint that carries the
//! migration at that point:
//!
//! | state | on | meaning |
//! |---|---|---|
//! | `canary` | original | canary being created / smoke-tested |
//! | `awaiting-switch` | original + canary | canary passed, callers told to switch; draining |
//! | `retiring-original` | canary | original drained; being deleted |
//! | `replacing` | canary (+ original) | recreate: original being deleted and recreated |
//! | `replacement` | new endpoint | recreate: same name, serverless, not yet InService |
//! | `completed` | canary / new endpoint | done |
//! | `failed` | original | canary failed (reason in `pipeline:migration-failure`); not retried |
//! | `reverted` | original | put back on its persistent config; not migrated again |

use crate::config::{Strategy, SweepConfig};
use crate::eligibility::MigrationSettings;
use crate::fleet::{migration_tags as tags, user_tags, EndpointView, Usage};
use chrono::{DateTime, Utc};
use shared::naming;
use shared::smoke::{self, Verdict};
use std::collections::BTreeMap;

pub mod state {
    pub const CANARY: &str = "canary";
    pub const AWAITING_SWITCH: &str = "awaiting-switch";
    pub const RETIRING_ORIGINAL: &str = "retiring-original";
    pub const REPLACING: &str = "replacing";
    pub const REPLACEMENT: &str = "replacement";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const REVERTED: &str = "reverted";
}

/// The persistent endpoint as a step needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRef {
    pub name: String,
    pub arn: String,
    pub config_name: String,
}

/// An existing canary as a step needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryRef {
    pub name: String,
    pub arn: String,
    pub config_name: String,
    pub model_name: Option<String>,
    /// Another endpoint (a recreated original) runs the canary's config:
    /// then it and its model must stay.
    pub config_in_use_elsewhere: bool,
    pub user_tags: BTreeMap<String, String>,
}

/// Everything needed to create a canary; names are deterministic, so
/// creating twice finds "already exists" and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanarySpec {
    pub original: String,
    pub endpoint_name: String,
    pub model_name: String,
    pub config_name: String,
    pub persistent_config: String,
    pub strategy: Strategy,
    pub memory_mb: u32,
    pub max_concurrency: u32,
    pub smoke_test_source: Option<String>,
    pub image: String,
    pub model_data_url: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub execution_role_arn: String,
    /// The original's own tags (cost allocation, owners), copied over.
    pub user_tags: BTreeMap<String, String>,
}

/// One step of one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Record the intent on the original, then create the canary.
    Start {
        original: OriginalRef,
        canary: CanarySpec,
    },
    /// Create whatever of the canary is missing (a Start cut short).
    CreateCanary { canary: CanarySpec },
    /// Record the failure on the original, then remove the canary.
    Fail {
        original_arn: String,
        reason: String,
        canary: Option<CanaryRef>,
    },
    /// Remove a canary no caller was told to use.
    RemoveCanary { canary: CanaryRef },
    /// Side-by-side: tell callers to switch; the original starts draining.
    /// Both endpoints record it (the canary is now in use: never removed
    /// as an unused canary).
    AnnounceSwitch {
        original: OriginalRef,
        canary_name: String,
        canary_arn: String,
    },
    /// Side-by-side: the original drained. Record on the canary, re-check,
    /// delete the original (its config is kept for revert).
    RetireOriginal {
        original: OriginalRef,
        canary_arn: String,
    },
    /// Record `completed` on this endpoint.
    MarkCompleted { arn: String },
    /// Recreate: record on the canary and the original, delete the
    /// original, recreate its name from the canary's config.
    ReplaceOriginal {
        original: OriginalRef,
        canary: CanaryRef,
    },
    /// Recreate: the original is gone; create its name from the canary's config.
    CreateReplacement {
        name: String,
        canary: CanaryRef,
        persistent_config: String,
    },
    /// Recreate: the new endpoint is InService; remove the canary endpoint
    /// (its config stays: the new endpoint runs it).
    FinishReplacement {
        replacement_arn: String,
        canary: Option<CanaryRef>,
    },
    /// Recreate: the new endpoint failed; recreate the name from the kept
    /// persistent config and record the failure.
    RollBackReplacement {
        name: String,
        persistent_config: String,
        canary_name: Option<String>,
        reason: String,
    },
    /// Revert of a recreated endpoint: update it back to its persistent
    /// config (AWS allows serverless -> instance updates).
    RevertInPlace {
        name: String,
        arn: String,
        persistent_config: String,
    },
    /// Revert once the original is gone: recreate it from its config.
    RecreateOriginal {
        name: String,
        persistent_config: String,
        canary_name: Option<String>,
    },
    /// Revert while the original still runs: stop the migration.
    Abort {
        original_arn: String,
        canary: Option<CanaryRef>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Start { .. } => "start",
            Action::CreateCanary { .. } => "create-canary",
            Action::Fail { .. } => "fail",
            Action::RemoveCanary { .. } => "remove-canary",
            Action::AnnounceSwitch { .. } => "announce-switch",
            Action::RetireOriginal { .. } => "retire-original",
            Action::MarkCompleted { .. } => "mark-completed",
            Action::ReplaceOriginal { .. } => "replace-original",
            Action::CreateReplacement { .. } => "create-replacement",
            Action::FinishReplacement { .. } => "finish-replacement",
            Action::RollBackReplacement { .. } => "roll-back-replacement",
            Action::RevertInPlace { .. } => "revert-in-place",
            Action::RecreateOriginal { .. } => "recreate-original",
            Action::Abort { .. } => "abort",
        }
    }
}

/// Where a migration stands after this run's decision.
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

/// The canary's name for a persistent endpoint: `<name><suffix>`, made a
/// valid SageMaker name (a stable hash when over 63 characters).
pub fn canary_name(original: &str, suffix: &str) -> String {
    naming::endpoint_name_from(&format!("{original}{suffix}"))
        .unwrap_or_else(|_| format!("c{suffix}"))
}

/// The canary for `original`, or `None` when the model cannot be copied.
pub fn canary_spec(
    original: &EndpointView,
    settings: &MigrationSettings,
    config: &SweepConfig,
) -> Option<CanarySpec> {
    let model = original.model.as_ref()?;
    let container = model.containers.first()?;
    let endpoint_name = canary_name(&original.name, &config.canary_suffix);
    let revision = naming::revision_hash(&[
        &original.name,
        &original.config_name,
        &model.name,
        &settings.memory_mb.to_string(),
        &settings.max_concurrency.to_string(),
    ]);
    let resource_name = naming::revision_name(&endpoint_name, &revision);
    Some(CanarySpec {
        original: original.name.clone(),
        endpoint_name,
        model_name: resource_name.clone(),
        config_name: resource_name,
        persistent_config: original.config_name.clone(),
        strategy: settings.strategy,
        memory_mb: settings.memory_mb,
        max_concurrency: settings.max_concurrency,
        smoke_test_source: original.tag(user_tags::SMOKE_TEST).map(str::to_string),
        image: container.image.clone()?,
        model_data_url: container.model_data_url.clone(),
        environment: container.environment.clone(),
        execution_role_arn: model.execution_role_arn.clone(),
        user_tags: carried_tags(&original.tags),
    })
}

fn original_ref(endpoint: &EndpointView) -> OriginalRef {
    OriginalRef {
        name: endpoint.name.clone(),
        arn: endpoint.arn.clone(),
        config_name: endpoint.config_name.clone(),
    }
}

pub fn canary_ref(canary: &EndpointView, config_in_use_elsewhere: bool) -> CanaryRef {
    CanaryRef {
        name: canary.name.clone(),
        arn: canary.arn.clone(),
        config_name: canary.config_name.clone(),
        model_name: canary.variants.first().and_then(|v| v.model_name.clone()),
        config_in_use_elsewhere,
        user_tags: carried_tags(&canary.tags),
    }
}

/// Tags people set (cost allocation, owners, opt-ins), without AWS's and
/// the pipeline's own: carried over to the endpoints a migration creates.
pub fn carried_tags(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| !shared::tags::is_reserved_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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

/// The next step of the migration of `group`, if one is under way.
/// `resume` is the canary to (re)create when the original's canary is
/// missing; the planner builds it from the original's model.
pub fn progress(
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
    let Some(state) = original.migration_state() else {
        return match group.canary {
            Some(c) => Progress::Waiting(format!(
                "{} claims to be its canary but {} has no migration record; left alone",
                c.name, original.name
            )),
            None => Progress::NotMigrating,
        };
    };
    let failure = || original.tag(tags::FAILURE).unwrap_or("unknown").to_string();
    match state {
        state::FAILED | state::REVERTED => match canary {
            // A canary nobody was told to use: finish the cleanup.
            Some(c) if group.canary.and_then(|c| c.migration_state()).is_none()
                || group.canary.and_then(|c| c.migration_state()) == Some(state::REPLACING) =>
            {
                Progress::Step(Action::RemoveCanary { canary: c })
            }
            _ if state == state::FAILED => Progress::Ended(format!(
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
        state::CANARY => canary_progress(original, group, canary, resume, config, now),
        state::AWAITING_SWITCH => {
            let Some(c) = group.canary else {
                return fail(original, "the canary endpoint disappeared after the switch notice".into(), None);
            };
            if c.status == "Failed" {
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
                })
            }
        }
        state::REPLACING => match canary {
            Some(c) => Progress::Step(Action::ReplaceOriginal {
                original: original_ref(original),
                canary: c,
            }),
            None => fail(original, "the canary disappeared before the original was replaced".into(), None),
        },
        other => Progress::Waiting(format!("unknown migration state {other:?}; left alone")),
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
    match c.status.as_str() {
        "InService" => {}
        "Failed" => {
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
        Some(state::REPLACEMENT) => match replacement.status.as_str() {
            "InService" => Progress::Step(Action::FinishReplacement {
                replacement_arn: replacement.arn.clone(),
                canary,
            }),
            "Failed" if !persistent.is_empty() => Progress::Step(Action::RollBackReplacement {
                name: replacement.name.clone(),
                persistent_config: persistent,
                canary_name: canary.map(|c| c.name),
                reason: format!("recreated endpoint failed: {}", reason_of(replacement)),
            }),
            status => Progress::Waiting(format!("recreated as serverless; {status}")),
        },
        Some(state::COMPLETED) => match canary {
            Some(c) => Progress::Step(Action::FinishReplacement {
                replacement_arn: replacement.arn.clone(),
                canary: Some(c),
            }),
            None => Progress::Ended(format!(
                "migrated to serverless (recreated); persistent config {persistent} kept"
            )),
        },
        other => Progress::Waiting(format!("recreated endpoint in state {other:?}; left alone")),
    }
}

/// The original's name is free; only its canary exists.
fn orphan_canary_progress(name: &str, c: &EndpointView, canary: Option<CanaryRef>) -> Progress {
    match (c.migration_state(), canary) {
        (Some(state::RETIRING_ORIGINAL), _) => {
            Progress::Step(Action::MarkCompleted { arn: c.arn.clone() })
        }
        (Some(state::COMPLETED), _) => {
            Progress::Ended(format!("migrated: {name} retired, callers use {}", c.name))
        }
        (Some(state::REPLACING), Some(canary)) => match c.tag(tags::PERSISTENT_CONFIG) {
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

/// The step that puts `group` back on its persistent config (direct
/// invocation), or why there is none.
pub fn revert(group: &Group) -> Result<Action, String> {
    let canary = group
        .canary
        .map(|c| canary_ref(c, group.canary_config_in_use_elsewhere));
    let persistent_from_canary = group.canary.and_then(|c| c.tag(tags::PERSISTENT_CONFIG));
    match group.original {
        Some(original)
            if original.is_serverless() && original.tag(tags::MIGRATION_OF) == Some(group.name) =>
        {
            match original.tag(tags::PERSISTENT_CONFIG) {
                Some(persistent) => Ok(Action::RevertInPlace {
                    name: original.name.clone(),
                    arn: original.arn.clone(),
                    persistent_config: persistent.to_string(),
                }),
                None => Err(format!(
                    "{} has no {} tag: nothing to revert to",
                    original.name,
                    tags::PERSISTENT_CONFIG
                )),
            }
        }
        Some(original) if original.is_serverless() => {
            Err(format!("{} was not migrated by the sweeper", original.name))
        }
        Some(original) => match original.migration_state() {
            Some(state::CANARY | state::AWAITING_SWITCH | state::FAILED | state::REPLACING) => {
                Ok(Action::Abort {
                    original_arn: original.arn.clone(),
                    // Once callers were told to switch, the canary may be in use: keep it.
                    canary: canary
                        .filter(|_| original.migration_state() != Some(state::AWAITING_SWITCH)),
                })
            }
            Some(state::REVERTED) => Err(format!("{} is already reverted", original.name)),
            _ => Err(format!(
                "{} is not being migrated: it already runs its persistent config",
                original.name
            )),
        },
        None => match persistent_from_canary {
            Some(persistent) => Ok(Action::RecreateOriginal {
                name: group.name.to_string(),
                persistent_config: persistent.to_string(),
                canary_name: group.canary.map(|c| c.name.clone()),
            }),
            None => Err(format!(
                "no endpoint {} and no migration record to revert",
                group.name
            )),
        },
    }
}

#[cfg(test)]
#[path = "migration_tests.rs"]
mod tests;
