use super::*;
use crate::domain::instances::is_cpu_x86;
use crate::test_support::{config, now, persistent, serverless, tagged, usage};
use chrono::Duration;

fn codes(reasons: &[Reason]) -> Vec<&'static str> {
    reasons.iter().map(Reason::code).collect()
}

fn structural(e: &EndpointView, u: &Usage) -> Vec<&'static str> {
    codes(&structural_reasons(e, u, &config(), now()))
}

#[test]
fn an_idle_old_cpu_endpoint_passes_every_structural_rule() {
    assert!(structural(&persistent("a"), &usage(10.0, 50.0)).is_empty());
}

#[test]
fn serverless_endpoints_are_never_migrated() {
    assert_eq!(
        structural(&serverless("s", 2048), &usage(0.0, 0.0)),
        ["already-serverless"]
    );
}

#[test]
fn gpu_accelerator_and_arm_instances_are_refused() {
    for (instance, code) in [
        ("ml.g4dn.xlarge", "gpu-or-accelerator"),
        ("ml.g5.2xlarge", "gpu-or-accelerator"),
        ("ml.p3.2xlarge", "gpu-or-accelerator"),
        ("ml.inf1.xlarge", "gpu-or-accelerator"),
        ("ml.inf2.xlarge", "gpu-or-accelerator"),
        ("ml.trn1.2xlarge", "gpu-or-accelerator"),
        ("ml.c6g.large", "arm-instance"),
        ("ml.m7g.large", "arm-instance"),
        ("ml.r6gd.large", "arm-instance"),
    ] {
        let mut e = persistent("x");
        e.variants[0].instance_type = Some(instance.into());
        assert_eq!(structural(&e, &usage(0.0, 0.0)), [code], "{instance}");
    }
    for cpu in [
        "ml.m5.large",
        "ml.c5.xlarge",
        "ml.t2.medium",
        "ml.r5.large",
        "ml.c6i.large",
        "ml.m5d.large",
    ] {
        assert!(is_cpu_x86(cpu), "{cpu}");
    }
}

#[test]
fn several_variants_are_refused() {
    let mut e = persistent("x");
    let mut second = e.variants[0].clone();
    second.name = "Canary".into();
    e.variants.push(second);
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["multiple-variants"]);
}

#[test]
fn data_capture_async_and_kms_are_refused() {
    let mut e = persistent("x");
    e.data_capture = true;
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["data-capture"]);
    let mut e = persistent("x");
    e.async_inference = true;
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["async-inference"]);
    let mut e = persistent("x");
    e.kms_volume_key = true;
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["kms-volume-key"]);
}

#[test]
fn opted_out_endpoints_are_left_alone_whatever_else_holds() {
    let mut e = tagged(persistent("x"), &[("serverless-migration", "exclude")]);
    e.variants[0].instance_type = Some("ml.g5.xlarge".into());
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["opted-out"]);
    // Another value is not an opt-out.
    let e = tagged(persistent("x"), &[("serverless-migration", "maybe")]);
    assert!(structural(&e, &usage(0.0, 0.0)).is_empty());
}

#[test]
fn endpoints_younger_than_the_grace_period_wait() {
    let mut e = persistent("x");
    e.created = now() - Duration::days(3);
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["too-young"]);
    e.created = now() - Duration::days(7);
    assert!(structural(&e, &usage(0.0, 0.0)).is_empty());
}

#[test]
fn the_screen_judges_break_even_at_the_smallest_size() {
    // ml.m5.large $83.95/month; at 1 GB and 200 ms, 1,000,000 a day would
    // cost $121.67: busy whatever the final size. 300,000 a day ($36.50)
    // stays a candidate (the final size decides).
    let e = persistent("x");
    let screened = |e: &EndpointView, u: &Usage| codes(&screen(e, u, &config(), now()));
    assert_eq!(screened(&e, &usage(1_000_000.0, 200.0)), ["busy"]);
    assert!(screened(&e, &usage(300_000.0, 200.0)).is_empty());
    // No instance price: nothing to compare with here (price-unknown later).
    let mut unpriced = persistent("y");
    unpriced.variants[0].instance_type = Some("ml.m7i.large".into());
    assert!(screened(&unpriced, &usage(1_000_000.0, 200.0)).is_empty());
}

#[test]
fn endpoints_not_in_service_are_not_migrated() {
    let mut e = persistent("x");
    e.status = "Updating".into();
    assert_eq!(structural(&e, &usage(0.0, 0.0)), ["not-in-service"]);
}

#[test]
fn model_rules() {
    let e = persistent("x");
    assert!(model_reasons(&e).is_empty());
    let mut two = e.clone();
    let container = two.model.as_ref().unwrap().containers[0].clone();
    two.model.as_mut().unwrap().containers.push(container);
    assert_eq!(codes(&model_reasons(&two)), ["multi-container"]);
    let mut vpc = e.clone();
    vpc.model.as_mut().unwrap().vpc = true;
    assert_eq!(codes(&model_reasons(&vpc)), ["vpc-config"]);
    let mut isolated = e.clone();
    isolated.model.as_mut().unwrap().network_isolation = true;
    assert_eq!(codes(&model_reasons(&isolated)), ["network-isolation"]);
    let mut multi = e.clone();
    multi.model.as_mut().unwrap().containers[0].mode = Some("MultiModel".into());
    assert_eq!(codes(&model_reasons(&multi)), ["multi-model"]);
    let mut package = e.clone();
    package.model.as_mut().unwrap().containers[0].model_package = Some("arn:pkg".into());
    assert_eq!(codes(&model_reasons(&package)), ["model-package"]);
    let mut unknown = e;
    unknown.model = None;
    assert_eq!(codes(&model_reasons(&unknown)), ["model-unknown"]);
}

#[test]
fn costs_of_the_seed_example_with_the_price_overridden_to_0_134() {
    let mut c = config();
    c.prices
        .table
        .regions
        .get_mut("us-east-1")
        .unwrap()
        .instance_hourly
        .insert("ml.m5.large".into(), 0.134);
    let e = persistent("seed");
    let costs = instance_costs(&e, &usage(1000.0, 200.0), Some(2048), 7.0, &c);
    assert!((costs.now.unwrap() - 97.82).abs() < 1e-9);
    assert!((costs.serverless.unwrap() - 0.2433).abs() < 1e-4);
    assert!((costs.saving().unwrap() - 97.5767).abs() < 1e-4);
    assert!(cost_reasons(&e, &usage(1000.0, 200.0), &costs, 10, &c).is_empty());
}

#[test]
fn unknown_prices_and_latency_are_reasons_not_zero_costs() {
    let c = config();
    let mut e = persistent("x");
    e.variants[0].instance_type = Some("ml.m7i.large".into());
    let costs = instance_costs(&e, &usage(10.0, 50.0), None, 7.0, &c);
    assert_eq!(costs.now, None);
    assert_eq!(costs.saving(), None);
    assert_eq!(
        codes(&cost_reasons(&e, &usage(10.0, 50.0), &costs, 10, &c)),
        ["price-unknown", "price-unknown"]
    );

    // Traffic without latency: billed at the 60 s bound, flagged as such.
    let e = persistent("y");
    let mut no_latency = usage(10.0, 0.0);
    no_latency.average_latency_ms = None;
    let costs = instance_costs(&e, &no_latency, Some(6144), 7.0, &c);
    assert!((costs.serverless.unwrap() - 10.0 * 730.0 / 24.0 * 60.0 * 6.0 * 0.00002).abs() < 1e-9);
    assert!(costs.latency_bounded);

    // No invocations at all: serverless costs nothing, no latency needed.
    let costs = instance_costs(&e, &usage(0.0, 0.0), Some(6144), 7.0, &c);
    assert_eq!(costs.serverless, Some(0.0));
}

#[test]
fn savings_below_the_minimum_are_not_worth_a_migration() {
    let mut c = config();
    c.min_monthly_saving = 200.0;
    let e = persistent("x");
    let costs = instance_costs(&e, &usage(0.0, 0.0), Some(6144), 7.0, &c);
    assert_eq!(
        codes(&cost_reasons(&e, &usage(0.0, 0.0), &costs, 10, &c)),
        ["saving-below-minimum"]
    );
}

#[test]
fn migration_settings_follow_the_memory_rule_and_tags() {
    let c = config();
    let s = migration_settings(&persistent("x"), &usage(0.0, 0.0), &c)
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.memory_mb, s.max_concurrency, s.strategy),
        (6144, 10, Strategy::SideBySide)
    );
    let e = tagged(
        persistent("x"),
        &[
            ("serverless-migration:memory-mb", "2048"),
            ("serverless-migration:max-concurrency", "3"),
            ("serverless-migration:strategy", "recreate"),
        ],
    );
    let s = migration_settings(&e, &usage(0.0, 0.0), &c)
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.memory_mb, s.max_concurrency, s.strategy),
        (2048, 3, Strategy::Recreate)
    );
    let bad = tagged(
        persistent("x"),
        &[("serverless-migration:memory-mb", "1500")],
    );
    assert_eq!(
        migration_settings(&bad, &usage(0.0, 0.0), &c)
            .unwrap_err()
            .code(),
        "bad-tag"
    );
    // An instance type with no known memory: no size can be chosen.
    let mut unknown = persistent("x");
    unknown.variants[0].instance_type = Some("ml.m7i.large".into());
    assert_eq!(
        migration_settings(&unknown, &usage(0.0, 0.0), &c).unwrap(),
        None
    );
}

#[test]
fn opted_out_and_young_endpoints_are_settled_without_describing_them() {
    use std::collections::{BTreeMap, BTreeSet};
    let c = config();
    let old = now() - Duration::days(30);
    let none = BTreeSet::new();
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let settle = |name: &str, t: &BTreeMap<String, String>, created, claimed: &BTreeSet<&str>| {
        settled_before_describe(name, t, created, claimed, &c, now()).map(|r| r.code())
    };
    let opted = tags(&[("serverless-migration", "exclude")]);
    assert_eq!(settle("a", &opted, old, &none), Some("opted-out"));
    assert_eq!(
        settle("a", &tags(&[]), now() - Duration::days(1), &none),
        Some("too-young")
    );
    assert_eq!(settle("a", &tags(&[]), old, &none), None);
    // In a migration: its tags, or a canary naming it, need the whole picture.
    let migrating = tags(&[
        ("serverless-migration", "exclude"),
        ("pipeline:migration-state", "canary"),
    ]);
    assert_eq!(settle("a", &migrating, old, &none), None);
    let canary = tags(&[("pipeline:migration-of", "a")]);
    assert_eq!(settle("a-serverless", &canary, now(), &none), None);
    assert_eq!(settle("a", &opted, old, &BTreeSet::from(["a"])), None);
}

#[test]
fn serverless_and_multi_variant_endpoints_are_settled_without_their_config() {
    let none = BTreeSet::new();
    let mut two = persistent("two");
    two.variants.push(two.variants[0].clone());
    assert!(settled_without_config(&serverless("s", 2048), &none));
    assert!(settled_without_config(&two, &none));
    // One instance variant: its instance type (in the config) decides.
    assert!(!settled_without_config(&persistent("one"), &none));
    // In a migration: the whole picture, config included.
    let canary = tagged(
        serverless("c", 2048),
        &[(migration_tags::MIGRATION_OF, "orig")],
    );
    assert!(!settled_without_config(&canary, &none));
    let claimed = BTreeSet::from(["two"]);
    assert!(!settled_without_config(&two, &claimed));
    let migrating = tagged(two.clone(), &[(migration_tags::STATE, "canary")]);
    assert!(!settled_without_config(&migrating, &none));
}
