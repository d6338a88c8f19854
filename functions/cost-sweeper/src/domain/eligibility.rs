//! Which persistent endpoints may move to serverless, each rule a named
//! reason in the report, and what each side costs. Pure code.

use crate::config::{Strategy, SweepConfig};
use crate::domain::fleet::{migration_tags, user_tags, EndpointView, Usage};
use crate::domain::instances::{is_accelerated, is_arm};
use crate::domain::prices::PricedBy;
use crate::domain::pricing::{self, Provisioned, SERVERLESS_MEMORY_SIZES_MB};
use crate::domain::reasons::Reason;
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Monthly costs of one endpoint, now and on serverless.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Costs {
    pub now: Option<f64>,
    pub serverless: Option<f64>,
    /// Serverless memory the estimate (and a migration) uses.
    pub memory_mb: Option<u32>,
    /// The serverless cost is an upper bound: traffic without latency
    /// data, billed at 60 s per invocation.
    pub latency_bounded: bool,
    /// The endpoint cannot run on serverless (a structural reason): no
    /// serverless cost or saving is shown.
    pub not_applicable: bool,
    /// Which sources gave the rates used.
    pub priced_by: PricedBy,
}

impl Costs {
    pub fn saving(&self) -> Option<f64> {
        Some(self.now? - self.serverless?)
    }
}

/// The serverless settings a migration would use, from tags or the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationSettings {
    pub memory_mb: u32,
    pub max_concurrency: u32,
    pub strategy: Strategy,
}

/// Reads the per-endpoint overrides; `Err` names the bad tag.
pub fn migration_settings(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
) -> Result<Option<MigrationSettings>, Reason> {
    let bad = |key: &str, value: &str, expected: &str| Reason::BadTag {
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    };
    let memory_mb = match endpoint.tag(user_tags::MEMORY_MB) {
        Some(text) => match text.parse::<u32>() {
            Ok(mb) if SERVERLESS_MEMORY_SIZES_MB.contains(&mb) => Some(mb),
            _ => {
                return Err(bad(
                    user_tags::MEMORY_MB,
                    text,
                    "1024, 2048, 3072, 4096, 5120 or 6144",
                ))
            }
        },
        None => memory_from_use(endpoint, usage, config)?,
    };
    let max_concurrency = match endpoint.tag(user_tags::MAX_CONCURRENCY) {
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => return Err(bad(user_tags::MAX_CONCURRENCY, text, "1 to 200")),
        },
        None => config.serverless_max_concurrency,
    };
    let strategy = match endpoint.tag(user_tags::STRATEGY) {
        Some(text) => Strategy::parse(text)
            .ok_or_else(|| bad(user_tags::STRATEGY, text, "side-by-side or recreate"))?,
        None => config.default_strategy,
    };
    Ok(memory_mb.map(|memory_mb| MigrationSettings {
        memory_mb,
        max_concurrency,
        strategy,
    }))
}

/// The MaxConcurrency a migration would use: the tag when valid, else
/// the configured default (a bad tag is reported by `migration_settings`).
pub fn max_concurrency(endpoint: &EndpointView, config: &SweepConfig) -> u32 {
    endpoint
        .tag(user_tags::MAX_CONCURRENCY)
        .and_then(|text| text.parse::<u32>().ok())
        .filter(|n| (1..=200).contains(n))
        .unwrap_or(config.serverless_max_concurrency)
}

/// Serverless memory from what the model uses: the peak
/// `MemoryUtilization` of the instance (the smallest one's memory; several
/// variants are refused anyway) with headroom, rounded up to a serverless
/// size; above 6144 MB, `NeedsMoreMemory`. Without a datapoint, the
/// instance's memory rounded down (see `serverless_memory_for`). `None`
/// when the instance's memory is not in the table.
fn memory_from_use(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
) -> Result<Option<u32>, Reason> {
    let Some(memory_gib) = endpoint
        .instance_types()
        .iter()
        .filter_map(|t| config.prices.instance(t))
        .map(|spec| spec.memory_gib)
        .reduce(f64::min)
    else {
        return Ok(None);
    };
    let Some(peak) = usage.peak_memory_percent else {
        return Ok(Some(pricing::serverless_memory_for(memory_gib)));
    };
    let used_mb = peak / 100.0 * memory_gib * 1024.0;
    match pricing::serverless_size_for_use(used_mb) {
        Some(size) => Ok(Some(size)),
        None => Err(Reason::NeedsMoreMemory {
            needed_mb: pricing::memory_needed(used_mb),
        }),
    }
}

/// Days of usage the window saw: the lookback, or the endpoint's age when
/// it is younger (its metrics start at its creation), at least a minute.
pub fn observed_days(endpoint: &EndpointView, config: &SweepConfig, now: DateTime<Utc>) -> f64 {
    endpoint
        .age_days(now)
        .min(f64::from(config.lookback_days.max(1)))
        .max(1.0 / 1440.0)
}

/// Cost now (instances) and on serverless (at `memory_mb`) for an
/// instance-based endpoint, its usage seen over `days`. `None` where a
/// price is unknown.
pub fn instance_costs(
    endpoint: &EndpointView,
    usage: &Usage,
    memory_mb: Option<u32>,
    days: f64,
    config: &SweepConfig,
) -> Costs {
    let mut priced_by = PricedBy::default();
    let now = endpoint
        .variants
        .iter()
        .map(|v| {
            let hourly = config
                .prices
                .instance_hourly(&config.region, v.instance_type.as_deref()?)?;
            priced_by.add(hourly.source);
            Some(pricing::persistent_monthly(hourly.value, v.instance_count))
        })
        .sum::<Option<f64>>();
    let serverless = memory_mb.and_then(|mb| serverless_cost(usage, mb, None, days, config));
    Costs {
        now,
        serverless: serverless.map(|(cost, _)| cost),
        memory_mb,
        latency_bounded: usage.billed().bounded,
        not_applicable: false,
        priced_by: serverless.map_or(priced_by, |(_, by)| priced_by.with(by)),
    }
}

/// Serverless monthly cost of `usage` (seen over `days`) at `memory_mb`,
/// billed for `ModelLatency` + `OverheadLatency` per invocation (60 s
/// without latency data), and which sources gave its rates.
pub fn serverless_cost(
    usage: &Usage,
    memory_mb: u32,
    provisioned: Option<u32>,
    days: f64,
    config: &SweepConfig,
) -> Option<(f64, PricedBy)> {
    let (prices, region) = (&config.prices, config.region.as_str());
    let mut priced_by = PricedBy::default();
    let price = prices.serverless_gb_second(region, memory_mb)?;
    priced_by.add(price.source);
    let provisioned = match provisioned {
        Some(count) => {
            let standing = prices.provisioned_gb_second(region, memory_mb)?;
            priced_by.add(standing.source);
            let duration = prices.provisioned_duration_gb_second(region, memory_mb);
            Some(Provisioned {
                count,
                standing_gb_second: standing.value,
                duration_gb_second: duration.map(|d| d.value),
            })
        }
        None => None,
    };
    let per_month = pricing::monthly_invocations(usage.invocations, days);
    let cost = pricing::serverless_monthly(
        per_month,
        usage.billed().seconds,
        memory_mb,
        price.value,
        provisioned,
    );
    Some((cost, priced_by))
}

/// The rules that need only the endpoint, its config, tags and traffic.
/// An empty list means "describe the model next".
pub fn structural_reasons(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if endpoint.is_serverless() {
        return vec![Reason::AlreadyServerless];
    }
    if endpoint.tag(user_tags::OPT_OUT) == Some(user_tags::OPT_OUT_VALUE) {
        return vec![Reason::OptedOut];
    }
    if endpoint.status != EndpointStatus::InService {
        reasons.push(Reason::NotInService {
            status: endpoint.status.clone(),
        });
    }
    for instance_type in endpoint.instance_types() {
        if is_accelerated(instance_type) {
            reasons.push(Reason::Accelerated {
                instance_type: instance_type.into(),
            });
        } else if is_arm(instance_type) {
            reasons.push(Reason::Arm {
                instance_type: instance_type.into(),
            });
        }
    }
    if endpoint.variants.len() != 1 {
        reasons.push(Reason::MultipleVariants {
            count: endpoint.variants.len(),
        });
    }
    if endpoint.data_capture {
        reasons.push(Reason::DataCapture);
    }
    if endpoint.async_inference {
        reasons.push(Reason::AsyncInference);
    }
    if endpoint.kms_volume_key {
        reasons.push(Reason::KmsVolumeKey);
    }
    if let Some(gap) = usage.gap {
        reasons.push(Reason::MetricsIncomplete { gap });
    }
    let age_days = endpoint.age_days(now);
    if age_days < f64::from(config.grace_period_days) {
        reasons.push(Reason::TooYoung {
            age_days,
            grace_days: config.grace_period_days,
        });
    }
    reasons
}

/// The reason to leave a listed endpoint undescribed, from its tags and
/// creation time alone (three calls saved): opted out, or younger than the
/// grace period. Never for an endpoint in a migration (its own migration
/// tags, or a canary naming it in `claimed`): that needs the whole picture.
pub fn settled_before_describe(
    name: &str,
    tags: &BTreeMap<String, String>,
    created: DateTime<Utc>,
    claimed: &BTreeSet<&str>,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Option<Reason> {
    if in_migration(name, tags, claimed) {
        return None;
    }
    if tags.get(user_tags::OPT_OUT).map(String::as_str) == Some(user_tags::OPT_OUT_VALUE) {
        return Some(Reason::OptedOut);
    }
    let age_days = (now - created).num_seconds() as f64 / 86_400.0;
    (age_days < f64::from(config.grace_period_days)).then_some(Reason::TooYoung {
        age_days,
        grace_days: config.grace_period_days,
    })
}

/// True when the endpoint itself (without its config) decides: serverless
/// (nothing to migrate; its serverless settings are on the endpoint) or
/// several variants (never migrated, whatever they run). Never for an
/// endpoint in a migration (its own migration tags, or a canary naming it
/// in `claimed`): that needs the whole picture.
pub fn settled_without_config(endpoint: &EndpointView, claimed: &BTreeSet<&str>) -> bool {
    !in_migration(&endpoint.name, &endpoint.tags, claimed)
        && (endpoint.is_serverless() || endpoint.variants.len() > 1)
}

fn in_migration(name: &str, tags: &BTreeMap<String, String>, claimed: &BTreeSet<&str>) -> bool {
    [
        migration_tags::STATE,
        migration_tags::CANARY,
        migration_tags::MIGRATION_OF,
    ]
    .iter()
    .any(|key| tags.contains_key(*key))
        || claimed.contains(name)
}

/// The rules that need no model or config beyond what `structural_reasons`
/// reads: those, then break-even at the smallest serverless size (the
/// final size can only cost more). An empty list makes the endpoint a
/// candidate: describe its model next.
pub fn screen(
    endpoint: &EndpointView,
    usage: &Usage,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Vec<Reason> {
    let mut reasons = structural_reasons(endpoint, usage, config, now);
    if reasons.is_empty() {
        let smallest = SERVERLESS_MEMORY_SIZES_MB[0];
        let days = observed_days(endpoint, config, now);
        let costs = instance_costs(endpoint, usage, Some(smallest), days, config);
        reasons.extend(over_break_even(&costs, config));
    }
    reasons
}

/// `Busy` when serverless would keep more of today's cost than the
/// minimum saving ratio allows.
fn over_break_even(costs: &Costs, config: &SweepConfig) -> Option<Reason> {
    let (now, serverless, memory_mb) = (costs.now?, costs.serverless?, costs.memory_mb?);
    let max_ratio = 1.0 - config.min_saving_ratio;
    (serverless > now * max_ratio).then_some(Reason::Busy {
        serverless,
        now,
        max_ratio,
        memory_mb,
    })
}

/// The rules about the model (asked only when the structural ones pass).
pub fn model_reasons(endpoint: &EndpointView) -> Vec<Reason> {
    let Some(model) = &endpoint.model else {
        return vec![Reason::ModelUnknown];
    };
    let mut reasons = Vec::new();
    if model.containers.len() != 1 {
        reasons.push(Reason::MultiContainer {
            count: model.containers.len(),
        });
    }
    if model
        .containers
        .iter()
        .any(|c| c.mode.as_deref() == Some("MultiModel"))
    {
        reasons.push(Reason::MultiModel);
    }
    if model
        .containers
        .iter()
        .any(|c| c.model_package.is_some() || c.image.is_none())
    {
        reasons.push(Reason::ModelPackage);
    }
    if model.vpc {
        reasons.push(Reason::Vpc);
    }
    if model.network_isolation {
        reasons.push(Reason::NetworkIsolation);
    }
    reasons
}

/// The cost rules at the migration's settings: prices known, below
/// break-even, saving large enough, bursts within `MaxConcurrency`.
pub fn cost_reasons(
    endpoint: &EndpointView,
    usage: &Usage,
    costs: &Costs,
    max_concurrency: u32,
    config: &SweepConfig,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if costs.now.is_none() {
        let types = endpoint.instance_types().join(", ");
        reasons.push(Reason::PriceUnknown {
            what: format!("{types} in {}", config.region),
        });
    }
    if costs.memory_mb.is_none() {
        reasons.push(Reason::PriceUnknown {
            what: format!("the memory of {}", endpoint.instance_types().join(", ")),
        });
    } else if costs.serverless.is_none() {
        reasons.push(Reason::PriceUnknown {
            what: format!("serverless in {}", config.region),
        });
    }
    if let Some(busy) = over_break_even(costs, config) {
        // Above break-even the other rules are moot.
        reasons.push(busy);
        return reasons;
    }
    if let Some(saving) = costs.saving() {
        if saving < config.min_monthly_saving {
            reasons.push(Reason::SavingBelowMinimum {
                saving,
                minimum: config.min_monthly_saving,
            });
        }
    }
    let in_flight = usage.peak_in_flight();
    if in_flight > f64::from(max_concurrency) {
        reasons.push(Reason::BurstsOverMaxConcurrency {
            in_flight,
            max_concurrency,
            from_minute_data: usage.peak_minute_invocations.is_some(),
        });
    }
    reasons
}

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
