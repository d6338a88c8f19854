//! The steps a migration takes (what the applier executes) and what they
//! need: references to the endpoints, the canary to create, its name.

use crate::config::{Strategy, SweepConfig};
use crate::domain::eligibility::MigrationSettings;
use crate::domain::fleet::{user_tags, EndpointView};
use chrono::{DateTime, Utc};
use shared::naming;
use std::collections::BTreeMap;

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

/// The re-read of an original's traffic right before it is retired or
/// replaced: `Invocations` of its `variants` from `since` to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficCheck {
    pub variants: Vec<String>,
    pub since: DateTime<Utc>,
    /// Invocations a day (counted over at least a day) that still let the
    /// step go ahead: 0 once callers were told to move (side-by-side); for
    /// a recreate, whose name keeps its callers, the rate at which
    /// serverless still saves what the migration was started for.
    pub allowed_per_day: u64,
}

/// Why a destructive step is held (each kind is announced once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    OptedOut,
    Traffic,
}

impl HoldKind {
    /// The value recorded on the canary once people were told.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::OptedOut => "opted-out",
            HoldKind::Traffic => "traffic",
        }
    }
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
        traffic: TrafficCheck,
    },
    /// Record `completed` on this endpoint.
    MarkCompleted { arn: String },
    /// Recreate: record on the canary and the original, delete the
    /// original, recreate its name from the canary's config.
    ReplaceOriginal {
        original: OriginalRef,
        canary: CanaryRef,
        traffic: TrafficCheck,
    },
    /// Tell people the migration of `name` is held (recorded on its
    /// canary, so the notice goes out once, not every run).
    Hold {
        name: String,
        canary_arn: String,
        kind: HoldKind,
        reason: String,
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
            Action::Hold { .. } => "hold",
        }
    }
}

/// The canary's name for a persistent endpoint: `<name><suffix>`, made a
/// valid SageMaker name (a stable hash when over 63 characters).
pub fn canary_name(original: &str, suffix: &str) -> String {
    naming::endpoint_name_from(&format!("{original}{suffix}"))
        .unwrap_or_else(|_| format!("c{suffix}"))
}

/// `endpoint` is the pipeline's canary of `original` (created by a
/// migration of it), not merely an endpoint with the canary's name.
pub fn is_canary_of(endpoint: &EndpointView, original: &str) -> bool {
    endpoint.tag(shared::tags::MANAGED_BY_KEY) == Some(shared::tags::MANAGED_BY_VALUE)
        && endpoint.tag(crate::domain::fleet::migration_tags::MIGRATION_OF) == Some(original)
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

pub fn original_ref(endpoint: &EndpointView) -> OriginalRef {
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
