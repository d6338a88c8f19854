use super::*;
use crate::test_support::{config, now, persistent, serverless, tagged, usage};

#[test]
fn a_retirement_rechecks_every_call_since_the_switch_within_the_drain_period() {
    let at = |days: i64| (now() - Duration::days(days)).to_rfc3339();
    let long_ago = tagged(persistent("orders"), &[(tags::CHANGED_AT, &at(3))]);
    let check = retire_check(&long_ago, &config(), now());
    assert_eq!(check.variants, ["AllTraffic"]);
    assert_eq!(
        check.since,
        now() - Duration::days(i64::from(config().drain_days))
    );
    assert_eq!(
        check.allowed_per_day, 0,
        "callers were told to move: no call allowed"
    );
    let recent = (now() - Duration::hours(2)).to_rfc3339();
    let just_announced = tagged(persistent("orders"), &[(tags::CHANGED_AT, &recent)]);
    assert_eq!(
        retire_check(&just_announced, &config(), now()).since,
        now() - Duration::hours(2)
    );
}

#[test]
fn a_recreate_allows_traffic_up_to_the_break_even_rate_since_its_start() {
    let started = now() - Duration::hours(5);
    let o = tagged(
        persistent("orders"),
        &[(tags::STARTED_AT, &started.to_rfc3339())],
    );
    let c = serverless("orders-serverless", 6144);
    // ml.m5.large $0.115/h (730 h) against 6 GB at $0.00002/GB-s: saving
    // at least 25% leaves $62.96 a month; a call a day of 200 ms costs
    // 730/24 x 0.2 s x 6 GB x $0.00002 = $0.00073 a month.
    let check = replace_check(&o, &c, &usage(10.0, 200.0), &config(), now());
    assert_eq!(check.since, started);
    let expected = 0.115 * 730.0 * 0.75 / (730.0 / 24.0 * 0.2 * 6.0 * 0.00002);
    assert!(
        (check.allowed_per_day as f64 - expected).abs() <= 1.0,
        "{} vs {expected}",
        check.allowed_per_day
    );
    // No latency seen: 60 s a call bounds the cost, so far fewer calls.
    let bounded = replace_check(&o, &c, &Usage::default(), &config(), now());
    let expected = 0.115 * 730.0 * 0.75 / (730.0 / 24.0 * 60.0 * 6.0 * 0.00002);
    assert!(
        (bounded.allowed_per_day as f64 - expected).abs() <= 1.0,
        "{bounded:?}"
    );
    // A price the sweep does not know allows no call at all.
    let mut unpriced = o.clone();
    unpriced.variants[0].instance_type = Some("ml.x9.unknown".into());
    let none = replace_check(&unpriced, &c, &usage(10.0, 200.0), &config(), now());
    assert_eq!(none.allowed_per_day, 0);
}
