//! The named reasons an endpoint is not migrated: a stable code for
//! reports and tests, and a sentence for people.

use crate::domain::fleet::{user_tags, MetricsGap};
use aws_sdk_sagemaker::types::EndpointStatus;

/// Why an endpoint is not migrated. `code()` is stable (reports, tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    AlreadyServerless,
    NotInService {
        status: EndpointStatus,
    },
    Accelerated {
        instance_type: String,
    },
    Arm {
        instance_type: String,
    },
    MultipleVariants {
        count: usize,
    },
    DataCapture,
    AsyncInference,
    KmsVolumeKey,
    OptedOut,
    TooYoung {
        age_days: f64,
        grace_days: u32,
    },
    /// Serverless at the observed usage would cost more than the largest
    /// share of today's cost a migration may keep (the break-even ratio).
    Busy {
        serverless: f64,
        now: f64,
        max_ratio: f64,
        memory_mb: u32,
    },
    /// The busiest minute would need more concurrent invocations than the
    /// serverless endpoint may run (requests above it are throttled).
    BurstsOverMaxConcurrency {
        in_flight: f64,
        max_concurrency: u32,
        from_minute_data: bool,
    },
    /// The model's peak memory use with headroom is above 6144 MB.
    NeedsMoreMemory {
        needed_mb: f64,
    },
    ModelUnknown,
    MultiContainer {
        count: usize,
    },
    MultiModel,
    ModelPackage,
    Vpc,
    NetworkIsolation,
    PriceUnknown {
        what: String,
    },
    SavingBelowMinimum {
        saving: f64,
        minimum: f64,
    },
    BadTag {
        key: String,
        value: String,
        expected: String,
    },
    NoSmokeTestRequest,
    MetricsIncomplete {
        gap: MetricsGap,
    },
    /// The model's execution role is not one the sweeper may pass.
    RoleNotPassable {
        role: String,
    },
    /// The smoke-test request's bucket is not one the smoke tester may read.
    SmokeRequestUnreadable {
        bucket: String,
    },
    /// An endpoint that is not this migration's canary has the canary's name.
    CanaryNameTaken {
        name: String,
    },
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::AlreadyServerless => "already-serverless",
            Reason::NotInService { .. } => "not-in-service",
            Reason::Accelerated { .. } => "gpu-or-accelerator",
            Reason::Arm { .. } => "arm-instance",
            Reason::MultipleVariants { .. } => "multiple-variants",
            Reason::DataCapture => "data-capture",
            Reason::AsyncInference => "async-inference",
            Reason::KmsVolumeKey => "kms-volume-key",
            Reason::OptedOut => "opted-out",
            Reason::TooYoung { .. } => "too-young",
            Reason::Busy { .. } => "busy",
            Reason::ModelUnknown => "model-unknown",
            Reason::MultiContainer { .. } => "multi-container",
            Reason::MultiModel => "multi-model",
            Reason::ModelPackage => "model-package",
            Reason::Vpc => "vpc-config",
            Reason::NetworkIsolation => "network-isolation",
            Reason::PriceUnknown { .. } => "price-unknown",
            Reason::BurstsOverMaxConcurrency { .. } => "bursts-over-max-concurrency",
            Reason::NeedsMoreMemory { .. } => "needs-more-memory",
            Reason::SavingBelowMinimum { .. } => "saving-below-minimum",
            Reason::BadTag { .. } => "bad-tag",
            Reason::NoSmokeTestRequest => "no-smoke-test-request",
            Reason::MetricsIncomplete { .. } => "metrics-incomplete",
            Reason::RoleNotPassable { .. } => "role-not-passable",
            Reason::SmokeRequestUnreadable { .. } => "smoke-request-unreadable",
            Reason::CanaryNameTaken { .. } => "canary-name-taken",
        }
    }

    /// True when the endpoint cannot run on serverless whatever it costs:
    /// its row shows no serverless cost or saving ("n/a").
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            Reason::AlreadyServerless
                | Reason::Accelerated { .. }
                | Reason::Arm { .. }
                | Reason::MultipleVariants { .. }
                | Reason::DataCapture
                | Reason::AsyncInference
                | Reason::KmsVolumeKey
                | Reason::MultiContainer { .. }
                | Reason::MultiModel
                | Reason::ModelPackage
                | Reason::Vpc
                | Reason::NetworkIsolation
                | Reason::NeedsMoreMemory { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Reason::AlreadyServerless => "already serverless".into(),
            Reason::NotInService { status } => format!("endpoint is {status}"),
            Reason::Accelerated { instance_type } => {
                format!("{instance_type} is a GPU/accelerator instance; serverless is CPU only")
            }
            Reason::Arm { instance_type } => {
                format!("{instance_type} is Graviton (arm64); serverless runs x86 images")
            }
            Reason::MultipleVariants { count } => {
                format!("{count} production variants; serverless allows one")
            }
            Reason::DataCapture => "data capture is on; serverless does not support it".into(),
            Reason::AsyncInference => {
                "asynchronous inference config; serverless does not support it".into()
            }
            Reason::KmsVolumeKey => "KMS volume key; serverless does not support it".into(),
            Reason::OptedOut => format!(
                "opted out by tag {}={}",
                user_tags::OPT_OUT,
                user_tags::OPT_OUT_VALUE
            ),
            Reason::TooYoung {
                age_days,
                grace_days,
            } => {
                format!("{age_days:.1} days old; metrics are complete after {grace_days} days")
            }
            Reason::Busy {
                serverless,
                now,
                max_ratio,
                memory_mb,
            } => format!(
                "serverless at {memory_mb} MB would cost ${serverless:.2}/month, {:.0}% of today's ${now:.2} \
                 (break-even ratio; a migration may keep at most {:.0}%)",
                serverless / now * 100.0,
                max_ratio * 100.0
            ),
            Reason::BurstsOverMaxConcurrency {
                in_flight,
                max_concurrency,
                from_minute_data,
            } => format!(
                "{in_flight:.1} invocations in flight in the busiest {} (peak x billed duration), \
                 above MaxConcurrency {max_concurrency}: serverless would throttle",
                if *from_minute_data { "minute" } else { "day, read as one minute" }
            ),
            Reason::NeedsMoreMemory { needed_mb } => format!(
                "peak memory use with headroom is {needed_mb:.0} MB, above serverless's 6144 MB"
            ),
            Reason::ModelUnknown => "its model could not be described".into(),
            Reason::MultiContainer { count } => {
                format!("{count} containers (inference pipeline); serverless runs one")
            }
            Reason::MultiModel => "multi-model endpoint; serverless does not support it".into(),
            Reason::ModelPackage => {
                "model package container; serverless does not support Marketplace packages".into()
            }
            Reason::Vpc => "model has a VPC config; serverless does not support it".into(),
            Reason::NetworkIsolation => {
                "model uses network isolation; serverless does not support it".into()
            }
            Reason::PriceUnknown { what } => {
                format!("no price for {what} in the price table (set PRICING_FILE)")
            }
            Reason::SavingBelowMinimum { saving, minimum } => {
                format!("saving ${saving:.2}/month is below the minimum ${minimum:.2}")
            }
            Reason::BadTag {
                key,
                value,
                expected,
            } => format!("tag {key}={value} is invalid: expected {expected}"),
            Reason::MetricsIncomplete { gap } => format!(
                "{}: usage unknown, so nothing is decided on it; retried next run",
                gap.describe()
            ),
            Reason::RoleNotPassable { role } => format!(
                "the model runs with execution role {role}, which this stack may not pass \
                 (the canary is a copy of the model with the same role): add it to the \
                 stack parameter MigratableModelRoleArns"
            ),
            Reason::SmokeRequestUnreadable { bucket } => format!(
                "the smoke-test request is in bucket {bucket}, which the smoke tester may not \
                 read: add {bucket} to the stack parameter SmokeTestBuckets (or move the \
                 request to the models bucket)"
            ),
            Reason::CanaryNameTaken { name } => format!(
                "an endpoint called {name} (the canary's name) exists and is not this \
                 migration's canary: rename or delete it, or set CANARY_SUFFIX"
            ),
            Reason::NoSmokeTestRequest => format!(
                "no smoke-test request: tag {}=s3://bucket/key.json to enable migration",
                user_tags::SMOKE_TEST
            ),
        }
    }
}
