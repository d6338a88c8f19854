//! The fleet read against a mocked SageMaker: Search records stand for
//! DescribeEndpoint only while they match the listing; configs are read
//! once each and only where the endpoint itself does not decide.

use super::*;
use crate::domain::eligibility::settled_without_config;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::search::{SearchError, SearchOutput};
use aws_sdk_sagemaker::types::{
    Endpoint, EndpointStatus, ProductionVariant, ProductionVariantInstanceType,
    ProductionVariantServerlessConfig, ProductionVariantSummary, SearchRecord,
};
use aws_sdk_sagemaker::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::DateTime as SmithyTime;
use chrono::{DateTime, Utc};

const CREATED: i64 = 1_700_000_000;
const CHANGED: i64 = 1_700_100_000;

fn arn(name: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}")
}

fn listed(name: &str, last_modified: i64) -> EndpointSummary {
    EndpointSummary {
        name: name.into(),
        arn: arn(name),
        created: DateTime::<Utc>::from_timestamp(CREATED, 0).unwrap(),
        last_modified: DateTime::<Utc>::from_timestamp(last_modified, 0).unwrap(),
        status: EndpointStatus::InService,
    }
}

fn serverless_variant() -> ProductionVariantSummary {
    ProductionVariantSummary::builder()
        .variant_name("AllTraffic")
        .current_serverless_config(
            ProductionVariantServerlessConfig::builder()
                .memory_size_in_mb(2048)
                .max_concurrency(10)
                .build(),
        )
        .build()
}

fn instance_variant(name: &str) -> ProductionVariantSummary {
    ProductionVariantSummary::builder()
        .variant_name(name)
        .current_instance_count(1)
        .build()
}

fn record(name: &str, last_modified: i64, variants: Vec<ProductionVariantSummary>) -> Endpoint {
    Endpoint::builder()
        .endpoint_name(name)
        .endpoint_arn(arn(name))
        .endpoint_config_name(format!("{name}-config"))
        .endpoint_status(EndpointStatus::InService)
        .creation_time(SmithyTime::from_secs(CREATED))
        .last_modified_time(SmithyTime::from_secs(last_modified))
        .set_production_variants(Some(variants))
        .build()
}

fn described(
    name: &str,
    config: &str,
    last_modified: i64,
    variants: Vec<ProductionVariantSummary>,
) -> DescribeEndpointOutput {
    DescribeEndpointOutput::builder()
        .endpoint_name(name)
        .endpoint_arn(arn(name))
        .endpoint_config_name(config)
        .endpoint_status(EndpointStatus::InService)
        .creation_time(SmithyTime::from_secs(CREATED))
        .last_modified_time(SmithyTime::from_secs(last_modified))
        .set_production_variants(Some(variants))
        .build()
}

fn found(records: Vec<Endpoint>) -> SearchOutput {
    SearchOutput::builder()
        .set_results(Some(
            records
                .into_iter()
                .map(|e| SearchRecord::builder().endpoint(e).build())
                .collect(),
        ))
        .build()
}

fn observer(client: Client) -> Observer {
    Observer::new(SageMaker::new(client))
}

async fn observe(observer: &Observer, listed: &[EndpointSummary]) -> Observed<EndpointView> {
    let none = BTreeSet::new();
    observer
        .observe(
            listed,
            None,
            &Tags::new(),
            |v| settled_without_config(v, &none),
            4,
        )
        .await
}

#[tokio::test]
async fn a_search_record_older_than_the_listing_is_described_instead() {
    // The index still has the endpoint serverless; it was changed since to
    // two instance variants.
    let search = mock!(Client::search)
        .then_output(|| found(vec![record("a", CREATED, vec![serverless_variant()])]));
    let describe = mock!(Client::describe_endpoint).then_output(|| {
        described(
            "a",
            "a-config-2",
            CHANGED,
            vec![instance_variant("Blue"), instance_variant("Green")],
        )
    });
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, &[&search, &describe]);
    let (views, errors) = observe(&observer(client), &[listed("a", CHANGED)]).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(views[0].config_name, "a-config-2");
    assert_eq!(views[0].variants.len(), 2);
    assert!(!views[0].is_serverless());
}

#[tokio::test]
async fn when_search_fails_every_endpoint_is_described() {
    let search = mock!(Client::search).then_error(|| {
        SearchError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: sagemaker:Search")
                .build(),
        )
    });
    let describe = mock!(Client::describe_endpoint)
        .then_output(|| described("s", "s-config", CREATED, vec![serverless_variant()]));
    let client = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, &[&search, &describe]);
    let (views, errors) = observe(&observer(client), &[listed("s", CREATED)]).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(describe.num_calls(), 1);
    assert!(views[0].is_serverless());
    assert_eq!(
        views[0].variants[0]
            .serverless
            .as_ref()
            .map(|s| s.memory_size_mb),
        Some(2048)
    );
}

#[tokio::test]
async fn current_records_need_no_describe_and_a_shared_config_is_read_once() {
    let search = mock!(Client::search).then_output(|| {
        let shared = |name: &str| {
            let mut e = record(name, CREATED, vec![instance_variant("AllTraffic")]);
            e.endpoint_config_name = Some("shared-config".into());
            e
        };
        found(vec![
            shared("a"),
            shared("b"),
            record("s", CREATED, vec![serverless_variant()]),
        ])
    });
    let describe =
        mock!(Client::describe_endpoint).then_output(|| DescribeEndpointOutput::builder().build());
    let config = mock!(Client::describe_endpoint_config).then_output(|| {
        DescribeEndpointConfigOutput::builder()
            .endpoint_config_name("shared-config")
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name("m")
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .initial_instance_count(1)
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&search, &describe, &config]
    );
    let listing = [
        listed("a", CREATED),
        listed("b", CREATED),
        listed("s", CREATED),
    ];
    let (views, errors) = observe(&observer(client), &listing).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(describe.num_calls(), 0);
    // One config for a and b; none for the serverless s.
    assert_eq!(config.num_calls(), 1);
    assert_eq!(views.len(), 3);
    assert_eq!(
        views[0].variants[0].instance_type.as_deref(),
        Some("ml.m5.large")
    );
    assert!(views[0].config_read);
    assert!(!views[2].config_read);
}
