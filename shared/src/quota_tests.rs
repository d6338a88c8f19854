use super::*;

fn quotas(endpoints: u32, concurrency: u32) -> ServerlessQuotas {
    ServerlessQuotas {
        endpoints: QuotaValue {
            quota: ServerlessQuota::Endpoints,
            value: endpoints,
            source: QuotaSource::Applied,
        },
        concurrency: QuotaValue {
            quota: ServerlessQuota::TotalConcurrency,
            value: concurrency,
            source: QuotaSource::Applied,
        },
    }
}

fn usage(endpoints: u32, concurrency: u32, target: Option<u32>) -> ServerlessUsage {
    ServerlessUsage {
        endpoints,
        concurrency,
        target,
    }
}

#[test]
fn a_new_endpoint_needs_one_endpoint_and_its_concurrency_and_the_limits_are_inclusive() {
    let q = quotas(5, 10);
    assert_eq!(check_room(&q, &usage(4, 5, None), 5), Ok(()));
    assert!(matches!(
        check_room(&q, &usage(5, 5, None), 1),
        Err(QuotaShortfall::Endpoints { in_use: 5, .. })
    ));
    assert!(matches!(
        check_room(&q, &usage(4, 5, None), 6),
        Err(QuotaShortfall::Concurrency {
            wanted: 6,
            in_use: 5,
            ..
        })
    ));
}

#[test]
fn an_existing_serverless_endpoint_counts_only_when_it_grows() {
    let q = quotas(1, 10);
    // Other endpoints hold 8; the endpoint itself runs 2 and its own count
    // is already within the endpoint quota.
    assert_eq!(check_room(&q, &usage(1, 8, Some(2)), 2), Ok(()));
    assert_eq!(check_room(&q, &usage(1, 8, Some(2)), 1), Ok(()));
    // Growing to 3 needs 8 + 3 = 11 > 10.
    assert!(matches!(
        check_room(&q, &usage(1, 8, Some(2)), 3),
        Err(QuotaShortfall::Concurrency { wanted: 3, .. })
    ));
    // Over quota already (the quota was lowered): keeping the value is fine.
    assert_eq!(check_room(&q, &usage(3, 30, Some(5)), 5), Ok(()));
}

#[test]
fn the_worst_case_bound_decides_without_describing_only_when_it_is_safe() {
    let q = quotas(1000, 100_000);
    assert!(fits_at_worst(&q, 400, 200));
    // 500 endpoints at 200 each + 1 = 100,001 > 100,000.
    assert!(!fits_at_worst(&q, 500, 1));
    assert!(!fits_at_worst(&quotas(5, 10), 0, 11));
    assert!(fits_at_worst(&quotas(5, 10), 0, 10));
    assert!(!fits_at_worst(&quotas(5, 10_000), 5, 1));
}

#[test]
fn messages_name_the_quota_its_code_and_where_the_value_came_from() {
    let fallback = ServerlessQuotas {
        endpoints: QuotaValue::documented_default(ServerlessQuota::Endpoints, "AccessDenied"),
        concurrency: QuotaValue::documented_default(
            ServerlessQuota::TotalConcurrency,
            "GetServiceQuota failed (AccessDeniedException): not authorized",
        ),
    };
    assert_eq!(fallback.endpoints.value, 5);
    assert_eq!(fallback.concurrency.value, 10);
    let shown = check_room(&fallback, &usage(0, 6, None), 5)
        .unwrap_err()
        .to_string();
    for part in [
        "max concurrency of 5",
        "hold 6",
        "10 (Service Quotas L-96300102",
        "Maximum total concurrency that can be allocated across all serverless endpoints",
        "the documented AWS default, assumed because Service Quotas could not be read",
        "not authorized",
    ] {
        assert!(shown.contains(part), "{part:?} missing from: {shown}");
    }
    let applied = check_room(&quotas(2, 100), &usage(2, 4, None), 1)
        .unwrap_err()
        .to_string();
    assert!(
        applied.contains("2 other serverless endpoints")
            && applied.contains("L-99AD19BF")
            && applied.contains("the account's value"),
        "{applied}"
    );
    let aws_default = QuotaValue {
        quota: ServerlessQuota::Endpoints,
        value: 5,
        source: QuotaSource::AwsDefault,
    };
    assert!(aws_default.to_string().contains("AWS's default"));
}
