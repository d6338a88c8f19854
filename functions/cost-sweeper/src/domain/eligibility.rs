//! Which persistent endpoints may move to serverless, each rule a named
//! reason in the report, and what each side costs. Pure code.

use crate::config::{Strategy, SweepConfig};
use crate::domain::fleet::{user_tags, EndpointView, Usage};
use crate::domain::instances::{is_accelerated, is_arm};
use crate::domain::pricing::{self, SERVERLESS_MEMORY_SIZES_MB};
use crate::domain::reasons::Reason;
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, Utc};

/// Monthly costs of one endpoint, now and on serverless.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Costs {
    pub now: Option<f64>,
    pub serverless: Option<f64>,
    /// Serverless memory the estimate (and a migration) uses.
    pub memory_mb: Option<u32>,
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
        None => {
            // The smallest instance's memory (several variants are refused anyway).
            let memory = endpoint
                .instance_types()
                .iter()
                .filter_map(|t| config.prices.instance(t))
                .map(|spec| spec.memory_gib)
                .reduce(f64::min);
            memory.map(pricing::serverless_memory_for)
        }
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

/// Cost now (instances) and on serverless (at `memory_mb`) for an
/// instance-based endpoint. `None` where a price or latency is unknown.
pub fn instance_costs(
    endpoint: &EndpointView,
    usage: &Usage,
    memory_mb: Option<u32>,
    config: &SweepConfig,
) -> Costs {
    let now = endpoint
        .variants
        .iter()
        .map(|v| {
            let hourly = config
                .prices
                .instance_hourly(&config.region, v.instance_type.as_deref()?)?;
            Some(pricing::persistent_monthly(hourly, v.instance_count))
        })
        .sum::<Option<f64>>();
    let serverless = memory_mb.and_then(|mb| serverless_cost(usage, mb, None, config));
    Costs {
        now,
        serverless,
        memory_mb,
    }
}

/// Serverless monthly cost of `usage` at `memory_mb`.
pub fn serverless_cost(
    usage: &Usage,
    memory_mb: u32,
    provisioned: Option<u32>,
    config: &SweepConfig,
) -> Option<f64> {
    let price = config.prices.serverless_gb_second(&config.region)?;
    let provisioned = match provisioned {
        Some(count) => Some((count, config.prices.provisioned_gb_second(&config.region)?)),
        None => None,
    };
    let seconds = if usage.invocations > 0.0 {
        usage.average_latency_ms? / 1000.0
    } else {
        0.0
    };
    let per_month = pricing::monthly_invocations(usage.invocations, config.lookback_days);
    Some(pricing::serverless_monthly(
        per_month,
        seconds,
        memory_mb,
        price,
        provisioned,
    ))
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
    let daily = usage.invocations / f64::from(config.lookback_days.max(1));
    if daily > config.idle_max_daily_invocations {
        reasons.push(Reason::Busy {
            daily_invocations: daily,
            threshold: config.idle_max_daily_invocations,
        });
    }
    reasons
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

/// The cost rules: prices known, latency known, saving large enough.
pub fn cost_reasons(
    endpoint: &EndpointView,
    usage: &Usage,
    costs: &Costs,
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
        if usage.invocations > 0.0 && usage.average_latency_ms.is_none() {
            reasons.push(Reason::LatencyUnknown);
        } else {
            reasons.push(Reason::PriceUnknown {
                what: format!("serverless in {}", config.region),
            });
        }
    }
    if let Some(saving) = costs.saving() {
        if saving < config.min_monthly_saving {
            reasons.push(Reason::SavingBelowMinimum {
                saving,
                minimum: config.min_monthly_saving,
            });
        }
    }
    reasons
}

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
