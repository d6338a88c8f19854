//! A seeded fleet for the sweeper's tests: endpoints of every kind the
//! sweeper must tell apart, backdated where they should be old, InService,
//! with synthetic `AWS/SageMaker` metrics (kept small: the emulator's
//! GetMetricData slows down as stored points grow).

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_sagemaker::types::{
    CaptureMode, CaptureOption, ContainerDefinition, DataCaptureConfig, ProductionVariant,
    ProductionVariantInstanceType, ProductionVariantServerlessConfig, Tag,
};
use chrono::{Duration, Utc};
use futures::stream::{self, StreamExt};
use integration_tests::emulator_post;
use serde_json::json;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/pipeline-sagemaker-execution";
/// The bucket of the seeded endpoints' smoke-test requests.
pub const SMOKE_BUCKET: &str = "smoke-requests";

/// One kind of endpoint in the fleet.
#[derive(Debug, Clone)]
pub struct Kind {
    pub label: &'static str,
    pub count: usize,
    /// `None`: serverless (6144 MB).
    pub instance: Option<&'static str>,
    pub variants: usize,
    pub old: bool,
    pub tags: Vec<(&'static str, String)>,
    pub daily_invocations: f64,
    pub data_capture: bool,
    /// The model's execution role.
    pub role: &'static str,
}

impl Kind {
    pub fn new(label: &'static str, count: usize, instance: Option<&'static str>) -> Self {
        Kind {
            label,
            count,
            instance,
            variants: 1,
            old: true,
            tags: Vec::new(),
            daily_invocations: 0.0,
            data_capture: false,
            role: ROLE,
        }
    }

    pub fn names(&self, prefix: &str) -> Vec<String> {
        (0..self.count)
            .map(|i| format!("{prefix}-{}-{i}", self.label))
            .collect()
    }
}

fn instance_variant(name: &str, model: &str, instance: &str) -> ProductionVariant {
    ProductionVariant::builder()
        .variant_name(name)
        .model_name(model)
        .instance_type(ProductionVariantInstanceType::from(instance))
        .initial_instance_count(1)
        .build()
}

/// Creates every endpoint of `kinds` (one model and config per kind),
/// moves them InService, backdates the old ones and puts their metrics.
pub async fn seed(
    sm: &aws_sdk_sagemaker::Client,
    cw: &aws_sdk_cloudwatch::Client,
    prefix: &str,
    kinds: &[Kind],
) {
    for kind in kinds {
        let model = format!("{prefix}-{}-m", kind.label);
        let config = format!("{prefix}-{}-c", kind.label);
        sm.create_model()
            .model_name(&model)
            .execution_role_arn(kind.role)
            .primary_container(
                ContainerDefinition::builder()
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/sweep-model:1")
                    .model_data_url(format!("s3://models-{prefix}/{}/model.tar.gz", kind.label))
                    .build(),
            )
            .send()
            .await
            .expect("create model");
        let mut request = sm.create_endpoint_config().endpoint_config_name(&config);
        match kind.instance {
            Some(instance) => {
                for v in 0..kind.variants {
                    request = request.production_variants(instance_variant(
                        &format!("Variant{v}"),
                        &model,
                        instance,
                    ));
                }
            }
            None => {
                request = request.production_variants(
                    ProductionVariant::builder()
                        .variant_name("AllTraffic")
                        .model_name(&model)
                        .serverless_config(
                            ProductionVariantServerlessConfig::builder()
                                .memory_size_in_mb(6144)
                                .max_concurrency(5)
                                .build(),
                        )
                        .build(),
                )
            }
        }
        if kind.data_capture {
            request = request.data_capture_config(
                DataCaptureConfig::builder()
                    .initial_sampling_percentage(10)
                    .destination_s3_uri(format!("s3://capture-{prefix}/"))
                    .capture_options(
                        CaptureOption::builder()
                            .capture_mode(CaptureMode::Input)
                            .build(),
                    )
                    .build(),
            );
        }
        request.send().await.expect("create endpoint config");
    }
    let jobs: Vec<(Kind, String)> = kinds
        .iter()
        .flat_map(|k| k.names(prefix).into_iter().map(move |n| (k.clone(), n)))
        .collect();
    stream::iter(jobs.clone())
        .for_each_concurrent(8, |(kind, name)| async move {
            let tags: Vec<Tag> = kind
                .tags
                .iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .key(*k)
                        .value(v.replace("{name}", &name))
                        .build()
                })
                .collect();
            sm.create_endpoint()
                .endpoint_name(&name)
                .endpoint_config_name(format!("{prefix}-{}-c", kind.label))
                .set_tags(Some(tags))
                .send()
                .await
                .expect("create endpoint");
        })
        .await;
    let old = (Utc::now() - Duration::days(30)).to_rfc3339();
    // The emulator's endpoint routes act in the Region the body names.
    let region = sm.config().region().map(|r| r.to_string());
    let region = region.as_deref().unwrap_or("us-east-1");
    for (kind, name) in &jobs {
        emulator_post(
            &format!("/_emulator/endpoints/{name}/status"),
            &json!({ "status": "InService", "region": region }),
        );
        if kind.old {
            emulator_post(
                &format!("/_emulator/endpoints/{name}/creation-time"),
                &json!({ "creation_time": old, "region": region }),
            );
        }
    }
    put_metrics(cw, prefix, kinds).await;
}

fn datum(
    metric: &str,
    endpoint: &str,
    variant: &str,
    value: f64,
    unit: StandardUnit,
) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("EndpointName")
                .value(endpoint)
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("VariantName")
                .value(variant)
                .build(),
        )
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            (Utc::now() - Duration::days(2)).timestamp(),
        ))
        .value(value)
        .unit(unit)
        .build()
}

/// A week of traffic as one datapoint two days ago, with 200 ms latency
/// (serverless endpoints also report 10% peak memory use).
async fn put_metrics(cw: &aws_sdk_cloudwatch::Client, prefix: &str, kinds: &[Kind]) {
    let mut sagemaker = Vec::new();
    let mut memory = Vec::new();
    for kind in kinds.iter().filter(|k| k.daily_invocations > 0.0) {
        let variant = if kind.instance.is_some() {
            "Variant0"
        } else {
            "AllTraffic"
        };
        for name in kind.names(prefix) {
            sagemaker.push(datum(
                "Invocations",
                &name,
                variant,
                kind.daily_invocations * 7.0,
                StandardUnit::None,
            ));
            sagemaker.push(datum(
                "ModelLatency",
                &name,
                variant,
                200_000.0,
                StandardUnit::Microseconds,
            ));
            if kind.instance.is_none() {
                memory.push(datum(
                    "MemoryUtilization",
                    &name,
                    variant,
                    10.0,
                    StandardUnit::Percent,
                ));
            }
        }
    }
    for (namespace, data) in [
        ("AWS/SageMaker", sagemaker),
        ("/aws/sagemaker/Endpoints", memory),
    ] {
        for chunk in data.chunks(500) {
            cw.put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .expect("put metric data");
        }
    }
}
