//! Benchmark only (issue 6, item 4): the cost sweeper's own cost. One
//! process sweeps a synthetic fleet of `--endpoints N` served by an
//! in-process fake of SageMaker, CloudWatch and the Price List API (its
//! `GetProducts` pages, so pricing is part of what is measured) that answers with zero
//! latency, `--runs R` times, through the handler's code path
//! (`cost_sweeper::sweeper::handle` with a scheduled event, dry run), and prints one
//! JSON line: wall and CPU time per run, the fake's share of it, peak RSS
//! (VmHWM: run each fleet size in a fresh process), API calls by operation
//! (the sweeper's tally and the requests the fake answered),
//! GetMetricData calls against ceil(series / 500), and the calls per
//! non-candidate endpoint: every call except those naming a candidate
//! (migrate or deferred) endpoint, its config or its model, over the
//! endpoints that are not candidates (fleet-wide calls are all charged to
//! them).
//!
//!     cargo run -p sweep-fake-bench -- --endpoints 1000 --runs 5

mod cbor;
mod fake;
mod prices;

use aws_config::BehaviorVersion;
use aws_sdk_sagemaker::config::{Credentials, Region};
use aws_smithy_types::retry::RetryConfig;
use cost_sweeper::config::SweepConfig;
use cost_sweeper::domain::access::Allowed;
use cost_sweeper::domain::rows::Decision;
use cost_sweeper::sweeper::{self, SweepFailed, Sweeper};
use fake::{FakeAws, ACCOUNT};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: a whole number"))
        })
        .unwrap_or(default)
}

/// User + system CPU time of the whole process (all threads), in ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// A /proc/self/status field in MB (VmHWM: peak RSS; VmRSS: current).
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn counts_since(
    now: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    now.iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoints = arg(&args, "--endpoints", 100);
    let runs = arg(&args, "--runs", 3).max(1);

    let fake = FakeAws::new(endpoints);
    let tally = fake.tally.clone();
    // As shared::aws::load_sdk_config, with the fake as the HTTP client.
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
        .endpoint_url("http://fake-aws.invalid")
        .http_client(fake)
        .load()
        .await;
    let mut config =
        SweepConfig::from_env(Some("us-east-1".into())).expect("sweeper configuration");
    // As template.yaml sets them for the fake fleet's role and bucket.
    config.passable_roles = Allowed::parse(&format!("arn:aws:iam::{ACCOUNT}:role/bench-sagemaker"));
    config.smoke_test_buckets = Allowed::parse(&format!("bench-models-{ACCOUNT}"));
    assert!(
        config.dry_run,
        "the benchmark sweeps in dry run only (unset DRY_RUN)"
    );
    let sweeper = Sweeper::new(&sdk_config, config);
    let rss_init_mb = status_mb("VmRSS:");

    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut fake_ms = Vec::new();
    let mut last = None;
    let per_endpoint = || {
        tally
            .per_endpoint
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    };
    for _ in 0..runs {
        let requests_before = tally.requests.lock().map(|m| m.clone()).unwrap_or_default();
        let named_before = per_endpoint();
        let fake_before = tally.answer_nanos.load(Ordering::Relaxed);
        let event = LambdaEvent::new(
            json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
            Context::default(),
        );
        let cpu_before = cpu_ms();
        let started = Instant::now();
        let outcome = sweeper::handle(event, &sweeper).await;
        walls.push(started.elapsed().as_secs_f64() * 1000.0);
        cpus.push(cpu_ms() - cpu_before);
        fake_ms.push((tally.answer_nanos.load(Ordering::Relaxed) - fake_before) as f64 / 1e6);
        let report = match outcome {
            Ok(report) => report,
            Err(SweepFailed::Partial(report)) => *report,
            Err(e) => panic!("{e}"),
        };
        let requests_now = tally.requests.lock().map(|m| m.clone()).unwrap_or_default();
        let named: Vec<u64> = per_endpoint()
            .iter()
            .zip(&named_before)
            .map(|(now, before)| now - before)
            .collect();
        last = Some((report, counts_since(&requests_now, &requests_before), named));
    }
    let (report, requests, named) = last.expect("at least one run");
    let candidates: Vec<usize> = report
        .rows
        .iter()
        .filter(|r| matches!(r.decision, Decision::Migrate | Decision::Deferred))
        .filter_map(|r| fake::index_of(&r.endpoint))
        .collect();
    let calls: u64 = report.api_calls.values().sum();
    let for_candidates: u64 = candidates.iter().filter_map(|i| named.get(*i)).sum();
    let non_candidates = endpoints.saturating_sub(candidates.len());
    let per_non_candidate =
        (non_candidates > 0).then(|| (calls - for_candidates) as f64 / non_candidates as f64);
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in report.rows.iter().flat_map(|r| &r.reasons) {
        *reasons.entry(reason.code).or_insert(0) += 1;
    }
    // One digest of every row's decision and reason codes: two builds that
    // decide the same for every endpoint print the same digest.
    let mut digest = std::hash::DefaultHasher::new();
    for row in &report.rows {
        let codes: Vec<&str> = row.reasons.iter().map(|r| r.code).collect();
        (&row.endpoint, format!("{:?}", row.decision), codes).hash(&mut digest);
    }
    let gmd = report.api_calls.get("GetMetricData").copied().unwrap_or(0);
    let out = json!({
        "endpoints": endpoints,
        "runs": runs,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "listed": report.endpoints,
        "series": report.metric_series,
        "calls": report.api_calls,
        "requests": requests,
        "get_metric_data": gmd,
        "get_metric_data_bound": report.metric_series.div_ceil(500),
        "decisions": report.decisions,
        // Where the rates came from: rows the price list priced (in part).
        "prices": report.prices,
        "rows_priced_by_price_list": report.rows.iter().filter(|r| r.priced_by.price_list).count(),
        "decision_digest": format!("{:016x}", digest.finish()),
        "reasons": reasons,
        "candidates": report.candidates,
        "calls_total": calls,
        "calls_for_candidates": for_candidates,
        "per_endpoint": calls as f64 / endpoints.max(1) as f64,
        "per_non_candidate": per_non_candidate,
        "errors": report.errors.len(),
        "wall_ms": walls,
        "cpu_ms": cpus,
        "fake_ms": fake_ms,
        "rss_init_mb": rss_init_mb,
        "rss_mb": status_mb("VmHWM:"),
    });
    println!("SWEEP_FAKE_RESULT {out}");
}
