//! The cost sweeper over a seeded fleet (>= 200 endpoints of every kind it
//! must tell apart, with synthetic CloudWatch metrics): the dry run's plan,
//! repeated apply runs converging (the smoke tester's verdicts simulated by
//! tagging canaries as it does), recreate, revert, and two sweeps at once.
//! Each test sweeps only its own fleet (a unique name prefix as the
//! sweeper's endpoint-name filter), so it shares the emulator safely.

#[path = "cost_sweeper/access.rs"]
mod access;
#[path = "cost_sweeper/fleet.rs"]
mod fleet;
#[path = "cost_sweeper/prices.rs"]
mod prices;
#[path = "cost_sweeper/quota.rs"]
mod quota;
#[path = "cost_sweeper/recheck.rs"]
mod recheck;
#[path = "cost_sweeper/world.rs"]
mod world;

use chrono::{Duration, Utc};
use cost_sweeper::domain::rows::{Decision, Row};
use cost_sweeper::report::{StepStatus, SweepReport};
use fleet::Kind;
use integration_tests::{event_file, set_endpoint_status};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use std::collections::BTreeMap;
use world::World;

pub(crate) const SMOKE: (&str, &str) = (
    "serverless-migration:smoke-test",
    "s3://smoke-requests/{name}.json",
);

pub(crate) fn row<'a>(report: &'a SweepReport, name: &str) -> &'a Row {
    report
        .rows
        .iter()
        .find(|r| r.endpoint == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn first_reason(report: &SweepReport, name: &str) -> &'static str {
    row(report, name)
        .reasons
        .first()
        .map(|r| r.code)
        .unwrap_or("none")
}

/// 206 endpoints: 5 idle and eligible, and every reason not to migrate.
fn big_fleet() -> Vec<Kind> {
    let smoke = vec![(SMOKE.0, SMOKE.1.to_string())];
    let mut idle = Kind::new("idle", 5, Some("ml.m5.large"));
    idle.tags = smoke.clone();
    idle.daily_invocations = 100.0;
    let no_request = Kind::new("norequest", 20, Some("ml.c5.large"));
    let mut busy = Kind::new("busy", 40, Some("ml.m5.xlarge"));
    busy.tags = smoke.clone();
    // Above break-even even at 1 GB: 2,000,000 a day of 200 ms would cost
    // $243/month on serverless against $167.90 for the ml.m5.xlarge.
    busy.daily_invocations = 2_000_000.0;
    let mut young = Kind::new("young", 40, Some("ml.m5.large"));
    young.old = false;
    young.tags = smoke.clone();
    let mut gpu = Kind::new("gpu", 20, Some("ml.g4dn.xlarge"));
    gpu.tags = smoke.clone();
    let mut multi = Kind::new("multi", 20, Some("ml.m5.large"));
    multi.variants = 2;
    multi.tags = smoke.clone();
    let mut opted_out = Kind::new("optout", 20, Some("ml.m5.large"));
    opted_out.tags = vec![
        (SMOKE.0, SMOKE.1.to_string()),
        ("serverless-migration", "exclude".into()),
    ];
    let mut capture = Kind::new("capture", 10, Some("ml.m5.large"));
    capture.data_capture = true;
    capture.tags = smoke.clone();
    let mut unpriced = Kind::new("unpriced", 10, Some("ml.m5d.xlarge"));
    unpriced.tags = smoke;
    let mut hot = Kind::new("hotserverless", 2, None);
    hot.daily_invocations = 300_000.0;
    let quiet = Kind::new("serverless", 19, None);
    vec![
        idle, no_request, busy, young, gpu, multi, opted_out, capture, unpriced, hot, quiet,
    ]
}

#[tokio::test]
async fn a_fleet_dry_run_plans_and_repeated_runs_converge() {
    let world = World::new("sweep").await;
    let kinds = big_fleet();
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &kinds).await;
    let p = &world.prefix;

    // The dry run: the expected plan, and nothing changed.
    let dry = world.sweep(true).await;
    assert_eq!(dry.endpoints, 206);
    for (label, reason) in [
        ("norequest", "no-smoke-test-request"),
        ("busy", "busy"),
        ("young", "too-young"),
        ("gpu", "gpu-or-accelerator"),
        ("multi", "multiple-variants"),
        ("optout", "opted-out"),
        ("capture", "data-capture"),
        ("unpriced", "price-unknown"),
    ] {
        for i in [0, 9] {
            assert_eq!(
                first_reason(&dry, &format!("{p}-{label}-{i}")),
                reason,
                "{label}"
            );
        }
    }
    let decisions: Vec<Decision> = (0..5)
        .map(|i| row(&dry, &format!("{p}-idle-{i}")).decision)
        .collect();
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Migrate)
            .count(),
        3
    );
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Deferred)
            .count(),
        2
    );
    let idle = row(&dry, &format!("{p}-idle-0"));
    assert_eq!(idle.invocations, 700.0);
    assert_eq!(idle.average_latency_ms, Some(200.0));
    assert!(idle.monthly_saving.unwrap() > 80.0, "{idle:?}");
    assert!(row(&dry, &format!("{p}-hotserverless-0"))
        .note
        .contains("break-even passed"));
    assert!(row(&dry, &format!("{p}-hotserverless-0"))
        .note
        .contains("memory could shrink"));
    assert!(dry.steps.iter().all(|s| s.status == StepStatus::Planned));
    assert_eq!(dry.candidates, 5);
    // Tags in bulk (no ListTags); the 20 opted-out and 40 young endpoints
    // are settled from them and their creation time, never described.
    assert_eq!(dry.api_calls.get("ListTags"), None);
    assert!(dry.api_calls.contains_key("GetResources"));
    // What each of the other 146 runs comes from Search, 100 a call
    // (before: one DescribeEndpoint each, 146); configs are read once each
    // and only where the endpoint itself does not decide: not for the
    // multi-variant and serverless kinds (before: 9 configs, now 6).
    assert_eq!(dry.api_calls.get("DescribeEndpoint"), None);
    assert_eq!(dry.api_calls.get("Search"), Some(&3));
    assert_eq!(dry.api_calls.get("DescribeEndpointConfig"), Some(&6));
    assert_eq!(
        dry.api_calls.get("GetMetricData"),
        Some(&(dry.metric_series.div_ceil(500) as u64))
    );
    // Models are described only where every cheaper rule passed: the idle
    // ones, those without a smoke-test request and the unpriced ones.
    assert_eq!(dry.api_calls.get("DescribeModel"), Some(&35));
    assert!(!world.exists(&format!("{p}-idle-0-serverless")).await);
    let location = dry.report_location.clone().expect("report written");
    let key = location.trim_start_matches(&format!("s3://{}/", world.report_bucket));
    assert!(key.starts_with("reports/"), "{key}");
    let markdown = world.object_text(&location).await;
    assert!(
        markdown.contains(&format!("| {p}-gpu-0 | ml.g4dn.xlarge |")),
        "{markdown}"
    );

    // Apply until nothing is left to do. Canaries pass their smoke test,
    // except idle-4's. The drain period (a day) is simulated by moving the
    // switch notice's time back two days: the metrics hold no invocations
    // in the last day, so the originals have drained.
    for _ in 0..8 {
        let report = world.sweep(false).await;
        if report.steps.is_empty() {
            break;
        }
        for i in 0..5 {
            let (original, canary) = (format!("{p}-idle-{i}"), format!("{p}-idle-{i}-serverless"));
            if world.exists(&canary).await
                && !world
                    .tags(&canary)
                    .await
                    .contains_key("pipeline:smoke-test")
            {
                world
                    .smoke_tester_verdict(&canary, if i == 4 { "failed" } else { "passed" })
                    .await;
            }
            if world.exists(&original).await
                && world
                    .tags(&original)
                    .await
                    .get("pipeline:migration-state")
                    .map(String::as_str)
                    == Some("awaiting-switch")
            {
                world
                    .tag(
                        &original,
                        "pipeline:migration-changed-at",
                        &(Utc::now() - Duration::days(2)).to_rfc3339(),
                    )
                    .await;
            }
        }
    }
    let settled = world.sweep(false).await;
    assert!(settled.steps.is_empty(), "converged: {:#?}", settled.steps);
    assert!(
        !settled.rows.iter().any(|r| r.decision == Decision::Wait),
        "nothing left waiting"
    );

    for i in 0..4 {
        let (original, canary) = (format!("{p}-idle-{i}"), format!("{p}-idle-{i}-serverless"));
        assert!(!world.exists(&original).await, "{original} retired");
        let tags = world.tags(&canary).await;
        assert_eq!(
            tags.get("pipeline:migration-state").map(String::as_str),
            Some("completed")
        );
        assert_eq!(
            tags.get("pipeline:persistent-config"),
            Some(&format!("{p}-idle-c"))
        );
        assert_eq!(
            tags.get("managed-by").map(String::as_str),
            Some("sagemaker-serverless-pipeline")
        );
    }
    // The persistent config is kept for revert.
    world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(format!("{p}-idle-c"))
        .send()
        .await
        .unwrap();
    // The failed canary is gone and its reason recorded; not retried.
    let failed = world.tags(&format!("{p}-idle-4")).await;
    assert_eq!(
        failed.get("pipeline:migration-state").map(String::as_str),
        Some("failed")
    );
    assert!(
        failed["pipeline:migration-failure"].contains("smoke test"),
        "{failed:?}"
    );
    assert!(!world.exists(&format!("{p}-idle-4-serverless")).await);
    assert_eq!(
        row(&settled, &format!("{p}-idle-4")).decision,
        Decision::Ended
    );
    // Nothing else was touched.
    for label in [
        "norequest",
        "busy",
        "young",
        "gpu",
        "multi",
        "optout",
        "capture",
        "unpriced",
    ] {
        let name = format!("{p}-{label}-3");
        assert_eq!(world.config_of(&name).await, format!("{p}-{label}-c"));
        assert!(
            !world
                .tags(&name)
                .await
                .contains_key("pipeline:migration-state"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn recreate_keeps_the_name_revert_restores_it_and_overlapping_sweeps_do_not_double() {
    let world = World::new("sweeprc").await;
    let mut recreate = Kind::new("rc", 1, Some("ml.c5.xlarge"));
    recreate.tags = vec![
        (SMOKE.0, SMOKE.1.to_string()),
        ("serverless-migration:strategy", "recreate".into()),
        ("team", "risk".into()),
    ];
    let mut side = Kind::new("sbs", 1, Some("ml.m5.large"));
    side.tags = vec![(SMOKE.0, SMOKE.1.to_string())];
    fleet::seed(
        world.sm(),
        &world.cloudwatch,
        &world.prefix,
        &[recreate, side],
    )
    .await;
    let (rc, sbs) = (
        format!("{}-rc-0", world.prefix),
        format!("{}-sbs-0", world.prefix),
    );

    // Two sweeps at once start each migration once.
    let (a, b) = tokio::join!(world.sweep(false), world.sweep(false));
    // Whichever run got there second found the records or "already exists".
    assert!(a.migrations_started + b.migrations_started >= 2);
    let canaries = world
        .sm()
        .list_endpoints()
        .name_contains(format!("{rc}-serverless"))
        .send()
        .await
        .unwrap();
    assert_eq!(canaries.endpoints().len(), 1);

    world
        .smoke_tester_verdict(&format!("{rc}-serverless"), "passed")
        .await;
    world
        .smoke_tester_verdict(&format!("{sbs}-serverless"), "passed")
        .await;
    let report = world.sweep(false).await;
    let steps: BTreeMap<&str, &str> = report
        .steps
        .iter()
        .map(|s| (s.endpoint.as_str(), s.step))
        .collect();
    assert_eq!(steps.get(rc.as_str()), Some(&"replace-original"));
    assert_eq!(steps.get(sbs.as_str()), Some(&"announce-switch"));
    // Same name, now serverless, carrying the team's tags.
    let tags = world.tags(&rc).await;
    assert_eq!(
        tags.get("pipeline:migration-state").map(String::as_str),
        Some("replacement")
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("risk"));
    assert_eq!(
        world.config_of(&rc).await,
        world.config_of(&format!("{rc}-serverless")).await
    );

    set_endpoint_status(&rc, "InService");
    let report = world.sweep(false).await;
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.endpoint == rc && s.step == "finish-replacement"),
        "{:#?}",
        report.steps
    );
    assert!(
        !world.exists(&format!("{rc}-serverless")).await,
        "canary endpoint removed"
    );
    assert_eq!(
        world
            .tags(&rc)
            .await
            .get("pipeline:migration-state")
            .map(String::as_str),
        Some("completed")
    );

    // Revert by direct invocation: back on the kept persistent config.
    let mut revert = event_file("sweep-revert.json");
    revert["revert"] = json!(rc);
    let reverted =
        cost_sweeper::sweeper::handle(LambdaEvent::new(revert, Context::default()), &world.sweeper)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reverted.steps[0].step, "revert-in-place");
    assert_eq!(world.config_of(&rc).await, format!("{}-rc-c", world.prefix));
    assert_eq!(
        world
            .tags(&rc)
            .await
            .get("pipeline:migration-state")
            .map(String::as_str),
        Some("reverted")
    );

    // A scheduled event is a dry run by default here: it plans, changes nothing.
    let scheduled = cost_sweeper::sweeper::handle(
        LambdaEvent::new(event_file("scheduled-sweep.json"), Context::default()),
        &world.sweeper,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(scheduled.dry_run);
    assert_eq!(row(&scheduled, &rc).decision, Decision::Ended);
    assert_eq!(row(&scheduled, &sbs).decision, Decision::Wait);
}
