//! Builders for the planner's unit tests: endpoints as SageMaker would
//! show them, and a configuration with known prices.

use crate::config::SweepConfig;
use crate::domain::access::Allowed;
use crate::domain::fleet::{EndpointView, Usage, Variant};
use chrono::{DateTime, Duration, Utc};
use shared::aws::sagemaker::{ContainerInfo, ModelInfo, ServerlessSpec};
use std::collections::BTreeMap;

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn config() -> SweepConfig {
    SweepConfig {
        describe_concurrency: 4,
        passable_roles: Allowed::parse("arn:aws:iam::123456789012:role/exec"),
        smoke_test_buckets: Allowed::parse("requests"),
        ..SweepConfig::defaults("us-east-1")
    }
}

pub fn arn(name: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}")
}

pub fn model(name: &str) -> ModelInfo {
    ModelInfo {
        name: name.into(),
        execution_role_arn: "arn:aws:iam::123456789012:role/exec".into(),
        containers: vec![ContainerInfo {
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1".into()),
            model_data_url: Some("s3://b/model.tar.gz".into()),
            environment: BTreeMap::new(),
            mode: None,
            model_package: None,
        }],
        vpc: false,
        network_isolation: false,
    }
}

/// An idle-looking, 30-day-old, InService ml.m5.large endpoint with a
/// smoke-test request, its model described.
pub fn persistent(name: &str) -> EndpointView {
    EndpointView {
        name: name.into(),
        arn: arn(name),
        status: "InService".into(),
        failure_reason: None,
        created: now() - Duration::days(30),
        last_modified: now() - Duration::days(30),
        config_name: format!("{name}-config"),
        variants: vec![Variant {
            name: "AllTraffic".into(),
            model_name: Some(format!("{name}-model")),
            instance_type: Some("ml.m5.large".into()),
            instance_count: 1,
            serverless: None,
        }],
        data_capture: false,
        async_inference: false,
        kms_volume_key: false,
        tags: BTreeMap::from([(
            "serverless-migration:smoke-test".to_string(),
            "s3://requests/smoke.json".to_string(),
        )]),
        model: Some(model(&format!("{name}-model"))),
        config_read: true,
    }
}

pub fn serverless(name: &str, memory_mb: u32) -> EndpointView {
    let mut e = persistent(name);
    e.variants[0].instance_type = None;
    e.variants[0].instance_count = 0;
    e.variants[0].serverless = Some(ServerlessSpec {
        memory_size_mb: memory_mb,
        max_concurrency: 10,
        provisioned_concurrency: None,
    });
    e.tags.clear();
    e.model = None;
    e
}

pub fn tagged(mut e: EndpointView, pairs: &[(&str, &str)]) -> EndpointView {
    for (k, v) in pairs {
        e.tags.insert(k.to_string(), v.to_string());
    }
    e
}

pub fn usage(per_day: f64, latency_ms: f64) -> Usage {
    Usage {
        invocations: per_day * 7.0,
        recent_invocations: per_day,
        average_latency_ms: (per_day > 0.0).then_some(latency_ms),
        peak_day_invocations: per_day,
        ..Usage::default()
    }
}
