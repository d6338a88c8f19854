//! Issue 12 item 4: the planner's arithmetic on real-looking usage (rate
//! over the endpoint's age, billed duration, the 60 s bound, break-even,
//! bursts, memory from use, and n/a savings on structural skips).

use super::*;
use crate::domain::pricing::{self as p};
use crate::test_support::{config, now, persistent, usage};
use chrono::Duration;

fn only(endpoint: EndpointView, traffic: Usage) -> Row {
    let name = endpoint.name.clone();
    let mut c = config();
    c.grace_period_days = 0;
    let planned = plan(&[endpoint], &HashMap::from([(name, traffic)]), &c, now());
    planned.rows[0].clone()
}

fn codes(row: &Row) -> Vec<&'static str> {
    row.reasons.iter().map(|r| r.code).collect()
}

fn m5_large() -> f64 {
    p::persistent_monthly(0.115, 1)
}

/// Serverless monthly cost of `per_day` calls of `seconds` at `gb`, at the
/// us-east-1 rate.
fn on_serverless(per_day: f64, seconds: f64, gb: f64) -> f64 {
    per_day * 730.0 / 24.0 * seconds * gb * 0.00002
}

#[test]
fn a_young_endpoints_rate_is_divided_over_its_age_not_the_lookback() {
    // 3.5 days old, 7-day lookback: 3,500 calls seen is 1,000 a day.
    let mut e = persistent("young");
    e.created = now() - Duration::hours(84);
    let seen = Usage {
        invocations: 3_500.0,
        recent_invocations: 1_000.0,
        average_latency_ms: Some(200.0),
        peak_memory_percent: Some(20.0),
        ..Usage::default()
    };
    let r = only(e, seen);
    let expected = on_serverless(1_000.0, 0.2, 2.0);
    let got = r.monthly_cost_serverless.unwrap();
    assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
}

#[test]
fn a_20k_a_day_endpoint_far_below_break_even_is_migrated_not_busy() {
    // 20,000 calls a day at 200 ms: about $4.87/month at 2 GB against
    // $83.95 for the ml.m5.large; the old fixed 1,000/day said "busy".
    let mut traffic = usage(20_000.0, 200.0);
    traffic.peak_memory_percent = Some(20.0);
    // Spread out: 30 in the busiest minute (0.1 in flight).
    traffic.peak_minute_invocations = Some(30.0);
    let r = only(persistent("steady"), traffic);
    assert_eq!(r.decision, Decision::Migrate, "{:?}", r.reasons);
    let expected = on_serverless(20_000.0, 0.2, 2.0);
    assert!((r.monthly_cost_serverless.unwrap() - expected).abs() < 1e-6);
    assert!((r.monthly_cost_now.unwrap() - m5_large()).abs() < 1e-9);
}

#[test]
fn above_break_even_is_busy() {
    // 400,000 a day at 200 ms at 2 GB: $97.33/month > $83.95.
    let mut traffic = usage(400_000.0, 200.0);
    traffic.peak_memory_percent = Some(20.0);
    let r = only(persistent("hot"), traffic);
    assert_eq!(codes(&r), ["busy"]);
}

#[test]
fn the_ratio_minimum_refuses_a_saving_too_small_a_share_of_the_cost() {
    // 250,000 a day at 200 ms at 2 GB: $60.83 of $83.95, saving $23 (above
    // the $10 minimum) but only 28% of the cost.
    let mut traffic = usage(250_000.0, 200.0);
    traffic.peak_memory_percent = Some(20.0);
    let mut c = config();
    c.grace_period_days = 0;
    c.min_saving_ratio = 0.5;
    let planned = plan(
        &[persistent("x")],
        &HashMap::from([("x".to_string(), traffic)]),
        &c,
        now(),
    );
    assert_eq!(codes(&planned.rows[0]), ["busy"]);
}

#[test]
fn traffic_without_latency_is_bounded_at_60_s_per_call() {
    // 10 calls a day, no latency datapoint: even at 60 s each (2 GB) it is
    // $0.73/month against $83.95, so it migrates on that bound.
    let mut traffic = usage(10.0, 0.0);
    traffic.average_latency_ms = None;
    traffic.peak_memory_percent = Some(20.0);
    let r = only(persistent("quiet"), traffic);
    assert_eq!(r.decision, Decision::Migrate, "{:?}", r.reasons);
    let bound = on_serverless(10.0, 60.0, 2.0);
    assert!((r.monthly_cost_serverless.unwrap() - bound).abs() < 1e-6);
    // 2,000 a day at the bound would cost $146: not migrated.
    let mut traffic = usage(2_000.0, 0.0);
    traffic.average_latency_ms = None;
    traffic.peak_memory_percent = Some(20.0);
    let r = only(persistent("unknown"), traffic);
    assert_eq!(codes(&r), ["busy"]);
}

#[test]
fn memory_is_peak_use_with_headroom_rounded_up() {
    // ml.m5.large has 8 GiB: 35% is 2,867 MB, x1.25 = 3,584 MB -> 4096.
    let mut traffic = usage(10.0, 100.0);
    traffic.peak_memory_percent = Some(35.0);
    let r = only(persistent("m"), traffic);
    assert_eq!(r.serverless_memory_mb, Some(4096));
    // 10% is 819 MB, x1.25 = 1,024 MB -> 1024.
    traffic.peak_memory_percent = Some(10.0);
    assert_eq!(
        only(persistent("m"), traffic).serverless_memory_mb,
        Some(1024)
    );
}

#[test]
fn a_model_using_more_than_serverless_offers_needs_more_memory() {
    // 80% of 8 GiB = 6,554 MB, x1.25 = 8,192 MB > 6,144.
    let mut traffic = usage(10.0, 100.0);
    traffic.peak_memory_percent = Some(80.0);
    let r = only(persistent("big"), traffic);
    assert_eq!(codes(&r), ["needs-more-memory"]);
}

#[test]
fn structural_skips_show_no_serverless_cost_or_saving() {
    let mut e = persistent("gpu");
    e.variants[0].instance_type = Some("ml.g4dn.xlarge".into());
    let r = only(e, usage(0.0, 0.0));
    assert_eq!(codes(&r), ["gpu-or-accelerator"]);
    assert!(r.monthly_cost_now.unwrap() > 0.0);
    assert_eq!(r.monthly_cost_serverless, None);
    assert_eq!(r.monthly_saving, None);
}

#[test]
fn billed_duration_adds_the_overhead_latency() {
    let mut traffic = usage(1_000.0, 200.0);
    traffic.average_overhead_ms = Some(50.0);
    traffic.peak_memory_percent = Some(20.0);
    let r = only(persistent("o"), traffic);
    let expected = on_serverless(1_000.0, 0.25, 2.0);
    assert!((r.monthly_cost_serverless.unwrap() - expected).abs() < 1e-6);
}

#[test]
fn bursts_over_max_concurrency_are_refused() {
    // 100 calls a day, but 4,000 of a day's calls in its busiest minute at
    // 200 ms: 4,000 / 60 s x 0.2 s = 13.3 in flight > MaxConcurrency 10.
    let mut traffic = usage(100.0, 200.0);
    traffic.peak_memory_percent = Some(20.0);
    traffic.peak_minute_invocations = Some(4_000.0);
    let r = only(persistent("bursty"), traffic);
    assert_eq!(codes(&r), ["bursts-over-max-concurrency"]);
    // 2,400 in a minute is 8 in flight: fine.
    traffic.peak_minute_invocations = Some(2_400.0);
    assert_eq!(
        only(persistent("bursty"), traffic).decision,
        Decision::Migrate
    );
}

#[test]
fn without_minute_data_the_busiest_day_bounds_the_busiest_minute() {
    // 700 calls on one day and no minute series: at worst all in one
    // minute: 700 / 60 x 0.2 = 2.3 in flight, within 10.
    let mut traffic = usage(100.0, 200.0);
    traffic.peak_memory_percent = Some(20.0);
    traffic.peak_day_invocations = 700.0;
    assert_eq!(only(persistent("p"), traffic).decision, Decision::Migrate);
    // 6,000 on one day could be 20 in flight: the minute series must say.
    traffic.peak_day_invocations = 6_000.0;
    let r = only(persistent("p"), traffic);
    assert_eq!(codes(&r), ["bursts-over-max-concurrency"]);
}
