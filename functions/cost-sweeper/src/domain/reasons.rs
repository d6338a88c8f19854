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
    Busy {
        daily_invocations: f64,
        threshold: f64,
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
    LatencyUnknown,
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
            Reason::LatencyUnknown => "latency-unknown",
            Reason::SavingBelowMinimum { .. } => "saving-below-minimum",
            Reason::BadTag { .. } => "bad-tag",
            Reason::NoSmokeTestRequest => "no-smoke-test-request",
            Reason::MetricsIncomplete { .. } => "metrics-incomplete",
        }
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
                daily_invocations,
                threshold,
            } => {
                format!("{daily_invocations:.0} invocations/day, above the idle threshold of {threshold:.0}")
            }
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
            Reason::LatencyUnknown => {
                "invocations but no ModelLatency datapoints: serverless cost unknown".into()
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
            Reason::NoSmokeTestRequest => format!(
                "no smoke-test request: tag {}=s3://bucket/key.json to enable migration",
                user_tags::SMOKE_TEST
            ),
        }
    }
}
