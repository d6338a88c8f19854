//! Service Quotas: the two serverless quotas read as the account's
//! values, AWS's defaults, or (unreadable) the documented defaults said as
//! such; and the room check describing endpoints only when the list alone
//! cannot decide.

use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::operation::list_endpoints::ListEndpointsOutput;
use aws_sdk_sagemaker::types::{
    EndpointStatus, EndpointSummary, ProductionVariantServerlessConfig, ProductionVariantSummary,
};
use aws_sdk_servicequotas::operation::get_aws_default_service_quota::GetAwsDefaultServiceQuotaOutput;
use aws_sdk_servicequotas::operation::get_service_quota::{
    GetServiceQuotaError, GetServiceQuotaOutput,
};
use aws_sdk_servicequotas::types::error::{AccessDeniedException, NoSuchResourceException};
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use shared::aws::sagemaker::SageMaker;
use shared::aws::service_quotas::{Clock, Room, ServiceQuotas, QUOTA_CACHE_TTL};
use shared::quota::{QuotaShortfall, QuotaSource};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn quota(code: &str, value: f64) -> ServiceQuota {
    ServiceQuota::builder()
        .service_code("sagemaker")
        .quota_code(code)
        .value(value)
        .build()
}

/// GetServiceQuota answering `value` for `code` (asked for service code sagemaker).
fn applied(code: &'static str, value: f64) -> Rule {
    mock!(aws_sdk_servicequotas::Client::get_service_quota)
        .match_requests(move |r| {
            r.service_code() == Some("sagemaker") && r.quota_code() == Some(code)
        })
        .then_output(move || {
            GetServiceQuotaOutput::builder()
                .quota(quota(code, value))
                .build()
        })
}

fn quotas(rules: &[&Rule]) -> ServiceQuotas {
    ServiceQuotas::new(mock_client!(
        aws_sdk_servicequotas,
        RuleMode::MatchAny,
        rules
    ))
}

/// A clock that moves only when the test moves it (the time passed).
fn manual_clock() -> (Clock, Arc<Mutex<Duration>>) {
    let start = Instant::now();
    let passed = Arc::new(Mutex::new(Duration::ZERO));
    let read = Arc::clone(&passed);
    let clock: Clock = Arc::new(move || start + *read.lock().expect("clock"));
    (clock, passed)
}

fn cached_quotas(rules: &[&Rule], clock: Clock) -> ServiceQuotas {
    quotas(rules).with_cache(QUOTA_CACHE_TTL, clock)
}

#[tokio::test]
async fn the_accounts_applied_values_are_read_for_both_quota_codes() {
    let endpoints = applied("L-99AD19BF", 50.0);
    let concurrency = applied("L-96300102", 400.0);
    let read = quotas(&[&endpoints, &concurrency])
        .serverless_quotas()
        .await;
    assert_eq!((read.endpoints.value, read.concurrency.value), (50, 400));
    assert_eq!(read.endpoints.source, QuotaSource::Applied);
    assert_eq!(read.concurrency.source, QuotaSource::Applied);
    assert_eq!((endpoints.num_calls(), concurrency.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_quota_without_an_applied_value_is_read_as_the_aws_default() {
    let none_applied = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(|| {
        GetServiceQuotaError::NoSuchResourceException(
            NoSuchResourceException::builder()
                .message("The request failed because the specified service does not exist.")
                .build(),
        )
    });
    let default = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .match_requests(|r| r.quota_code() == Some("L-99AD19BF"))
        .then_output(|| {
            GetAwsDefaultServiceQuotaOutput::builder()
                .quota(quota("L-99AD19BF", 5.0))
                .build()
        });
    let default_concurrency = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .match_requests(|r| r.quota_code() == Some("L-96300102"))
        .then_output(|| {
            GetAwsDefaultServiceQuotaOutput::builder()
                .quota(quota("L-96300102", 10.0))
                .build()
        });
    let read = quotas(&[&none_applied, &default, &default_concurrency])
        .serverless_quotas()
        .await;
    assert_eq!((read.endpoints.value, read.concurrency.value), (5, 10));
    assert_eq!(read.endpoints.source, QuotaSource::AwsDefault);
    assert_eq!(read.concurrency.source, QuotaSource::AwsDefault);
}

#[tokio::test]
async fn unreadable_quotas_are_the_documented_defaults_and_say_why() {
    let denied = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(|| {
        GetServiceQuotaError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("not authorized to perform: servicequotas:GetServiceQuota")
                .build(),
        )
    });
    let read = quotas(&[&denied]).serverless_quotas().await;
    assert_eq!((read.endpoints.value, read.concurrency.value), (5, 10));
    for value in [&read.endpoints, &read.concurrency] {
        match &value.source {
            QuotaSource::DocumentedDefault { why } => assert!(
                why.contains("GetServiceQuota") && why.contains("not authorized"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            value.to_string().contains("the documented AWS default"),
            "{value}"
        );
    }
}

fn listed(names: &[&str]) -> Rule {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    mock!(aws_sdk_sagemaker::Client::list_endpoints).then_output(move || {
        let mut out = ListEndpointsOutput::builder();
        for name in &names {
            out = out.endpoints(
                EndpointSummary::builder()
                    .endpoint_name(name)
                    .endpoint_arn(format!(
                        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
                    ))
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                    .endpoint_status(EndpointStatus::InService)
                    .build(),
            );
        }
        out.build()
    })
}

/// DescribeEndpoint of `name`: serverless at `max` when given, else instance-based.
fn described(name: &'static str, max: Option<i32>) -> Rule {
    mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .match_requests(move |r| r.endpoint_name() == Some(name))
        .then_output(move || {
            let mut variant = ProductionVariantSummary::builder().variant_name("AllTraffic");
            if let Some(max) = max {
                variant = variant.current_serverless_config(
                    ProductionVariantServerlessConfig::builder()
                        .memory_size_in_mb(2048)
                        .max_concurrency(max)
                        .build(),
                );
            } else {
                variant = variant.current_instance_count(1);
            }
            DescribeEndpointOutput::builder()
                .endpoint_name(name)
                .endpoint_arn(format!(
                    "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"
                ))
                .endpoint_config_name(format!("{name}-config"))
                .endpoint_status(EndpointStatus::InService)
                .production_variants(variant.build())
                .build()
        })
}

#[tokio::test]
async fn a_roomy_account_is_decided_from_the_list_alone() {
    let (endpoints, concurrency) = (
        applied("L-99AD19BF", 1000.0),
        applied("L-96300102", 100_000.0),
    );
    let list = listed(&["a", "b", "fraud"]);
    let describe = mock!(aws_sdk_sagemaker::Client::describe_endpoint)
        .then_output(|| DescribeEndpointOutput::builder().build());
    let sagemaker = SageMaker::new(mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&list, &describe]
    ));
    let room = quotas(&[&endpoints, &concurrency])
        .room_for(&sagemaker, "fraud", 200)
        .await
        .expect("room");
    assert_eq!(room, Room::Enough);
    assert_eq!(describe.num_calls(), 0, "2 others at 200 at worst fit");
}

#[tokio::test]
async fn a_tight_account_is_decided_from_each_endpoints_concurrency() {
    let (endpoints, concurrency) = (applied("L-99AD19BF", 5.0), applied("L-96300102", 10.0));
    let list = listed(&["a", "b", "fraud"]);
    let (a, b, fraud) = (
        described("a", Some(8)),
        described("b", None),
        described("fraud", Some(1)),
    );
    let sagemaker = SageMaker::new(mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&list, &a, &b, &fraud]
    ));
    let service_quotas = quotas(&[&endpoints, &concurrency]);
    // fraud runs 1 and asks for 2: 8 + 2 = 10 fits.
    assert_eq!(
        service_quotas
            .room_for(&sagemaker, "fraud", 2)
            .await
            .expect("room"),
        Room::Enough
    );
    // 3 does not: 8 + 3 > 10.
    match service_quotas
        .room_for(&sagemaker, "fraud", 3)
        .await
        .expect("room")
    {
        Room::Short(QuotaShortfall::Concurrency {
            wanted: 3,
            in_use: 8,
            quota,
        }) => assert_eq!(quota.value, 10),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (a.num_calls(), b.num_calls(), fraud.num_calls()),
        (2, 2, 2),
        "each endpoint described once per check"
    );
}

#[tokio::test]
async fn quota_values_are_kept_for_the_ttl_by_every_clone_and_read_again_after_it() {
    let endpoints = applied("L-99AD19BF", 50.0);
    let concurrency = applied("L-96300102", 400.0);
    let (clock, passed) = manual_clock();
    let service_quotas = cached_quotas(&[&endpoints, &concurrency], clock);
    let first = service_quotas.serverless_quotas().await;
    assert_eq!((endpoints.num_calls(), concurrency.num_calls()), (1, 1));

    // A warm invocation within the TTL (through a clone, as each consumer
    // holds one): nothing read.
    *passed.lock().unwrap() = QUOTA_CACHE_TTL - Duration::from_secs(1);
    assert_eq!(service_quotas.clone().serverless_quotas().await, first);
    assert_eq!((endpoints.num_calls(), concurrency.num_calls()), (1, 1));

    // Once the TTL has passed: read again.
    *passed.lock().unwrap() = QUOTA_CACHE_TTL;
    assert_eq!(service_quotas.serverless_quotas().await, first);
    assert_eq!((endpoints.num_calls(), concurrency.num_calls()), (2, 2));
}

#[tokio::test]
async fn unreadable_quotas_are_not_kept() {
    let denied = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_error(|| {
        GetServiceQuotaError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("not authorized to perform: servicequotas:GetServiceQuota")
                .build(),
        )
    });
    let (clock, _) = manual_clock();
    let service_quotas = cached_quotas(&[&denied], clock);
    for _ in 0..2 {
        let read = service_quotas.serverless_quotas().await;
        assert!(matches!(
            read.concurrency.source,
            QuotaSource::DocumentedDefault { .. }
        ));
    }
    assert_eq!(denied.num_calls(), 4, "read again each time");
}

#[tokio::test]
async fn the_room_check_lists_the_endpoints_every_time_and_reads_the_quotas_once() {
    let (endpoints, concurrency) = (applied("L-99AD19BF", 1000.0), applied("L-96300102", 1000.0));
    let list = listed(&["a", "fraud"]);
    let sagemaker = SageMaker::new(mock_client!(
        aws_sdk_sagemaker,
        RuleMode::MatchAny,
        &[&list]
    ));
    let (clock, _) = manual_clock();
    let service_quotas = cached_quotas(&[&endpoints, &concurrency], clock);
    for _ in 0..2 {
        let room = service_quotas.room_for(&sagemaker, "fraud", 10).await;
        assert_eq!(room.expect("room"), Room::Enough);
    }
    assert_eq!(list.num_calls(), 2, "what is used is read live");
    assert_eq!((endpoints.num_calls(), concurrency.num_calls()), (1, 1));
}
