use super::*;
use crate::domain::fleet::migration_tags as t;
use crate::test_support::{config, now, persistent, serverless, tagged, usage};

fn row<'a>(plan: &'a Plan, name: &str) -> &'a Row {
    plan.rows
        .iter()
        .find(|r| r.endpoint == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn codes(row: &Row) -> Vec<&'static str> {
    row.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn at_most_n_new_migrations_largest_savings_first() {
    let mut fleet = Vec::new();
    let mut traffic = HashMap::new();
    for (name, instance) in [
        ("a", "ml.m5.large"),
        ("b", "ml.m5.xlarge"),
        ("c", "ml.c5.large"),
        ("d", "ml.m5.2xlarge"),
    ] {
        let mut e = persistent(name);
        e.variants[0].instance_type = Some(instance.into());
        fleet.push(e);
        traffic.insert(name.to_string(), usage(5.0, 100.0));
    }
    let mut c = config();
    c.max_new_migrations = 2;
    let plan = plan(&fleet, &traffic, &c, now());
    let started: Vec<&str> = plan.steps.iter().map(|s| s.endpoint.as_str()).collect();
    assert_eq!(started, ["d", "b"]);
    assert_eq!(row(&plan, "d").decision, Decision::Migrate);
    assert_eq!(row(&plan, "a").decision, Decision::Deferred);
    assert_eq!(row(&plan, "c").decision, Decision::Deferred);
    assert!(plan.steps.iter().all(|s| s.action.name() == "start"));
}

#[test]
fn eligible_without_a_smoke_test_request_is_reported_not_started() {
    let mut e = persistent("quiet");
    e.tags.clear();
    let plan = plan(&[e], &HashMap::new(), &config(), now());
    let r = row(&plan, "quiet");
    assert_eq!(r.decision, Decision::Skip);
    assert_eq!(codes(r), ["no-smoke-test-request"]);
    assert!(
        r.reasons[0]
            .detail
            .contains("serverless-migration:smoke-test=s3://"),
        "{}",
        r.reasons[0].detail
    );
    assert!(plan.steps.is_empty());
    // Its costs are still reported.
    assert!(r.monthly_saving.unwrap() > 0.0);
}

#[test]
fn costs_and_reasons_are_reported_for_skipped_endpoints() {
    let mut gpu = persistent("gpu");
    gpu.variants[0].instance_type = Some("ml.g4dn.xlarge".into());
    let mut traffic = HashMap::new();
    // Above break-even even at 1 GB: $121.67/month against $83.95.
    traffic.insert("busy".to_string(), usage(1_000_000.0, 200.0));
    let plan = plan(&[gpu, persistent("busy")], &traffic, &config(), now());
    let gpu = row(&plan, "gpu");
    assert_eq!(codes(gpu), ["gpu-or-accelerator"]);
    assert!((gpu.monthly_cost_now.unwrap() - 0.736 * 730.0).abs() < 1e-6);
    assert_eq!(codes(row(&plan, "busy")), ["busy"]);
}

#[test]
fn serverless_endpoints_get_break_even_and_memory_advice_only() {
    let s = serverless("hot", 6144);
    let mut traffic = HashMap::new();
    let mut hot = usage(200_000.0, 500.0);
    hot.peak_memory_percent = Some(10.0);
    traffic.insert("hot".to_string(), hot);
    let plan = plan(&[s], &traffic, &config(), now());
    let r = row(&plan, "hot");
    assert_eq!(r.decision, Decision::Keep);
    assert!(r.note.contains("break-even passed"), "{}", r.note);
    assert!(
        r.note.contains("memory could shrink to 1024 MB"),
        "{}",
        r.note
    );
    assert!(plan.steps.is_empty());
}

#[test]
fn in_flight_migrations_advance_regardless_of_the_limit() {
    let o = tagged(
        persistent("orders"),
        &[
            (t::STATE, "canary"),
            (t::CANARY, "orders-serverless"),
            (t::STRATEGY, "side-by-side"),
        ],
    );
    let mut c = tagged(
        serverless("orders-serverless", 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            ("pipeline:smoke-test", "passed"),
            ("pipeline:smoke-tested-config", "orders-serverless-config"),
        ],
    );
    c.config_name = "orders-serverless-config".into();
    let mut cfg = config();
    cfg.max_new_migrations = 0;
    let plan = plan(&[o, c, persistent("other")], &HashMap::new(), &cfg, now());
    assert_eq!(row(&plan, "orders").decision, Decision::Advance);
    assert_eq!(row(&plan, "orders").step, Some("announce-switch"));
    assert_eq!(row(&plan, "orders-serverless").decision, Decision::Canary);
    assert_eq!(row(&plan, "other").decision, Decision::Deferred);
    assert_eq!(plan.steps.len(), 1);
}

#[test]
fn a_recreated_endpoint_runs_the_canary_config_so_it_is_in_use() {
    let mut n = tagged(
        serverless("orders", 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            (t::STATE, "completed"),
            (t::PERSISTENT_CONFIG, "orders-config"),
            (t::CANARY, "orders-serverless"),
        ],
    );
    n.config_name = "shared-cfg".into();
    let mut c = tagged(
        serverless("orders-serverless", 6144),
        &[(t::MIGRATION_OF, "orders"), (t::STATE, "replacing")],
    );
    c.config_name = "shared-cfg".into();
    let plan = plan(&[n, c], &HashMap::new(), &config(), now());
    match &plan.steps[..] {
        [Planned {
            action:
                Action::FinishReplacement {
                    canary: Some(canary),
                    ..
                },
            ..
        }] => {
            assert!(canary.config_in_use_elsewhere)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_model_is_described_only_when_it_matters() {
    let c = config();
    assert!(needs_model(&persistent("a"), &usage(1.0, 1.0), &c, now()));
    assert!(!needs_model(
        &persistent("a"),
        &usage(1_000_000.0, 200.0),
        &c,
        now()
    ));
    assert!(!needs_model(
        &serverless("s", 1024),
        &usage(0.0, 0.0),
        &c,
        now()
    ));
    let resuming = tagged(persistent("a"), &[(t::STATE, "canary")]);
    assert!(needs_model(
        &resuming,
        &usage(1_000_000.0, 200.0),
        &c,
        now()
    ));
}

#[test]
fn no_model_is_described_for_an_endpoint_the_memory_rule_rules_out() {
    // 80% of 8 GiB x 1.25 = 8,192 MB > 6,144: needs-more-memory whatever
    // the model is (the old code described it: needs_model was true).
    let c = config();
    let mut traffic = usage(10.0, 100.0);
    traffic.peak_memory_percent = Some(80.0);
    let mut big = persistent("big");
    assert!(!needs_model(&big, &traffic, &c, now()));
    // Not described, the endpoint gets the same decision and reasons.
    big.model = None;
    let plan = plan(
        &[big],
        &HashMap::from([("big".to_string(), traffic)]),
        &c,
        now(),
    );
    assert_eq!(row(&plan, "big").decision, Decision::Skip);
    assert_eq!(codes(row(&plan, "big")), ["needs-more-memory"]);
}

#[test]
fn a_multi_variant_endpoint_settled_without_its_config_says_so() {
    let mut e = persistent("mv");
    e.variants.push(e.variants[0].clone());
    e.variants[1].name = "Green".into();
    for v in &mut e.variants {
        v.instance_type = None;
        v.model_name = None;
    }
    e.model = None;
    e.config_read = false;
    let plan = plan(&[e], &HashMap::new(), &config(), now());
    let r = row(&plan, "mv");
    assert_eq!(r.decision, Decision::Skip);
    assert_eq!(codes(r), ["multiple-variants"]);
    assert!(r.note.contains("config not described"), "{}", r.note);
}

#[test]
fn a_recreate_reports_its_expected_unavailability() {
    let o = tagged(
        persistent("orders"),
        &[
            (t::STATE, "canary"),
            (t::CANARY, "orders-serverless"),
            (t::STRATEGY, "recreate"),
        ],
    );
    let mut c = tagged(
        serverless("orders-serverless", 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            ("pipeline:smoke-test", "passed"),
            ("pipeline:smoke-tested-config", "cs-config"),
        ],
    );
    c.config_name = "cs-config".into();
    c.created = now() - chrono::Duration::minutes(10);
    c.last_modified = c.created + chrono::Duration::seconds(190);
    let plan = plan(&[o, c], &HashMap::new(), &config(), now());
    let r = row(&plan, "orders");
    assert_eq!(r.step, Some("replace-original"));
    assert!(r.note.contains("expected about 190 s"), "{}", r.note);
}

#[test]
fn an_endpoint_whose_metrics_are_incomplete_is_not_started_and_the_report_says_why() {
    let e = persistent("quiet");
    let mut traffic = HashMap::new();
    let mut u = usage(0.0, 0.0);
    u.gap = Some(crate::domain::fleet::MetricsGap::PartialData);
    traffic.insert("quiet".to_string(), u);
    let plan = plan(&[e], &traffic, &config(), now());
    let r = row(&plan, "quiet");
    assert_eq!(r.decision, Decision::Skip);
    assert_eq!(codes(r), ["metrics-incomplete"]);
    assert!(
        r.reasons[0].detail.contains("PartialData"),
        "{}",
        r.reasons[0].detail
    );
    assert!(plan.steps.is_empty());
}

/// An original opted out after its switch was announced: the first sweep
/// that sees it holds the retirement and tells people (one `hold` step);
/// once the canary records that they were told, later sweeps only wait.
#[test]
fn an_opted_out_original_is_held_with_one_notice_not_one_per_sweep() {
    let announced = (now() - chrono::Duration::days(3)).to_rfc3339();
    let o = tagged(
        persistent("orders"),
        &[
            (t::STATE, "awaiting-switch"),
            (t::CANARY, "orders-serverless"),
            (t::CHANGED_AT, announced.as_str()),
            ("serverless-migration", "exclude"),
        ],
    );
    let c = tagged(
        serverless("orders-serverless", 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            ("managed-by", "sagemaker-serverless-pipeline"),
            (t::STATE, "awaiting-switch"),
        ],
    );
    let first = plan(&[o.clone(), c.clone()], &HashMap::new(), &config(), now());
    let steps: Vec<&str> = first.steps.iter().map(|s| s.action.name()).collect();
    assert_eq!(steps, ["hold"], "one notice, and no retirement");
    let r = row(&first, "orders");
    assert_eq!(r.decision, Decision::Wait);
    assert!(r.note.contains("opted out"), "{}", r.note);

    let told = tagged(c, &[("pipeline:migration-hold", "opted-out")]);
    let later = plan(&[o, told], &HashMap::new(), &config(), now());
    assert!(later.steps.is_empty(), "{:?}", later.steps);
    assert_eq!(row(&later, "orders").decision, Decision::Wait);
}
