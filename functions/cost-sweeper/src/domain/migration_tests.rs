//! Every step of the state machine, and what a run finds after a crash
//! between any two of a step's API calls.

use super::*;
use crate::domain::eligibility::migration_settings;
use crate::domain::fleet::migration_tags as t;
use crate::domain::state::MigrationState;
use crate::domain::steps::{canary_name, canary_spec};
use crate::test_support::{config, now, persistent, serverless, tagged};
use chrono::Duration;

pub(super) const C: &str = "orders-serverless";

pub(super) fn original(state: &str) -> EndpointView {
    tagged(
        persistent("orders"),
        &[
            (t::STATE, state),
            (t::CANARY, C),
            (t::STRATEGY, "side-by-side"),
            (t::CHANGED_AT, "2027-01-14T00:00:00Z"),
        ],
    )
}

pub(super) fn canary(status: &str, verdict: Option<&str>) -> EndpointView {
    let mut c = tagged(
        serverless(C, 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            ("managed-by", "sagemaker-serverless-pipeline"),
            (t::PERSISTENT_CONFIG, "orders-config"),
        ],
    );
    c.config_name = format!("{C}-cfg");
    c.variants[0].model_name = Some(format!("{C}-cfg"));
    c.status = status.into();
    c.last_modified = now() - Duration::minutes(5);
    if let Some(v) = verdict {
        c.tags.insert("pipeline:smoke-test".into(), v.into());
        c.tags
            .insert("pipeline:smoke-tested-config".into(), c.config_name.clone());
    }
    c
}

pub(super) fn group<'a>(
    original: Option<&'a EndpointView>,
    canary: Option<&'a EndpointView>,
) -> Group<'a> {
    Group {
        name: "orders",
        original,
        canary,
        usage: Usage::default(),
        canary_config_in_use_elsewhere: false,
    }
}

pub(super) fn step(g: &Group) -> Progress {
    let o = persistent("orders");
    let settings = migration_settings(&o, &Usage::default(), &config())
        .unwrap()
        .unwrap();
    let resume = canary_spec(&o, &settings, &config());
    progress(g, resume.as_ref(), &config(), now()).0
}

pub(super) fn action_name(p: &Progress) -> &'static str {
    match p {
        Progress::Step(a) => a.name(),
        Progress::Waiting(_) => "wait",
        Progress::Ended(_) => "ended",
        Progress::NotMigrating => "not-migrating",
    }
}

#[test]
fn no_record_means_no_migration() {
    let o = persistent("orders");
    assert_eq!(step(&group(Some(&o), None)), Progress::NotMigrating);
    let s = serverless("orders", 2048);
    assert_eq!(step(&group(Some(&s), None)), Progress::NotMigrating);
}

#[test]
fn canary_names_are_stable_valid_and_fit() {
    assert_eq!(canary_name("orders", "-serverless"), "orders-serverless");
    let long = "m".repeat(60);
    let name = canary_name(&long, "-serverless");
    assert!(
        shared::naming::is_valid_name(&name) && name.len() <= 63,
        "{name}"
    );
    assert_eq!(name, canary_name(&long, "-serverless"));
    assert_ne!(name, canary_name(&format!("{long}x"), "-serverless"));
}

#[test]
fn the_canary_copies_the_model_and_the_smoke_test_request() {
    let o = persistent("orders");
    let settings = migration_settings(&o, &Usage::default(), &config())
        .unwrap()
        .unwrap();
    let spec = canary_spec(&o, &settings, &config()).unwrap();
    assert_eq!(spec.endpoint_name, C);
    assert_eq!(
        spec.smoke_test_source.as_deref(),
        Some("s3://requests/smoke.json")
    );
    assert_eq!(spec.persistent_config, "orders-config");
    assert_eq!(spec.model_data_url.as_deref(), Some("s3://b/model.tar.gz"));
    assert!(spec.config_name.starts_with("orders-serverless-"));
    // Deterministic: a second run (or a twin) computes the same names.
    assert_eq!(spec, canary_spec(&o, &settings, &config()).unwrap());
    // A different memory is a different config.
    let mut other = settings.clone();
    other.memory_mb = 2048;
    assert_ne!(
        canary_spec(&o, &other, &config()).unwrap().config_name,
        spec.config_name
    );
}

#[test]
fn crash_after_recording_intent_recreates_the_missing_canary() {
    let o = original(MigrationState::Canary.as_str());
    match step(&group(Some(&o), None)) {
        Progress::Step(Action::CreateCanary { canary }) => assert_eq!(canary.endpoint_name, C),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_canary_being_created_is_waited_for() {
    let o = original(MigrationState::Canary.as_str());
    let c = canary("Creating", None);
    assert_eq!(action_name(&step(&group(Some(&o), Some(&c)))), "wait");
}

#[test]
fn a_failed_canary_fails_the_migration_and_is_removed() {
    let o = original(MigrationState::Canary.as_str());
    let mut c = canary("Failed", None);
    c.failure_reason = Some("container did not answer /ping".into());
    match step(&group(Some(&o), Some(&c))) {
        Progress::Step(Action::Fail {
            reason,
            canary: Some(removed),
            ..
        }) => {
            assert!(reason.contains("/ping"), "{reason}");
            assert_eq!(removed.name, C);
            assert_eq!(removed.model_name.as_deref(), Some("orders-serverless-cfg"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_smoke_test_verdict_decides() {
    let o = original(MigrationState::Canary.as_str());
    let waiting = canary("InService", None);
    assert_eq!(action_name(&step(&group(Some(&o), Some(&waiting)))), "wait");
    let passed = canary("InService", Some("passed"));
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&passed)))),
        "announce-switch"
    );
    for bad in ["failed", "not-tested"] {
        let c = canary("InService", Some(bad));
        assert_eq!(
            action_name(&step(&group(Some(&o), Some(&c)))),
            "fail",
            "{bad}"
        );
    }
    // A verdict about another config does not count.
    let mut stale = canary("InService", Some("passed"));
    stale
        .tags
        .insert("pipeline:smoke-tested-config".into(), "older-config".into());
    assert_eq!(action_name(&step(&group(Some(&o), Some(&stale)))), "wait");
}

#[test]
fn no_verdict_within_the_timeout_fails_the_canary() {
    let o = original(MigrationState::Canary.as_str());
    let mut c = canary("InService", None);
    c.last_modified = now() - Duration::minutes(61);
    assert_eq!(action_name(&step(&group(Some(&o), Some(&c)))), "fail");
}

#[test]
fn the_original_drains_before_it_is_retired() {
    let mut o = original(MigrationState::AwaitingSwitch.as_str());
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::AwaitingSwitch.as_str())],
    );
    // Switch announced 2 hours ago: still within the 1-day drain period.
    o.tags.insert(
        t::CHANGED_AT.into(),
        (now() - Duration::hours(2)).to_rfc3339(),
    );
    assert_eq!(action_name(&step(&group(Some(&o), Some(&c)))), "wait");
    // Two days later, but callers still call it.
    o.tags.insert(
        t::CHANGED_AT.into(),
        (now() - Duration::days(2)).to_rfc3339(),
    );
    let mut g = group(Some(&o), Some(&c));
    g.usage.recent_invocations = 3.0;
    assert_eq!(action_name(&step(&g)), "wait");
    g.usage.recent_invocations = 0.0;
    match step(&g) {
        Progress::Step(Action::RetireOriginal { original, .. }) => {
            assert_eq!(original.config_name, "orders-config")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_canary_that_vanished_after_the_switch_notice_fails_the_migration() {
    let o = original(MigrationState::AwaitingSwitch.as_str());
    assert_eq!(action_name(&step(&group(Some(&o), None))), "fail");
}

#[test]
fn crash_between_retire_tag_and_delete_leaves_a_completed_canary() {
    // The canary says retiring, the original is gone: mark completed.
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::RetiringOriginal.as_str())],
    );
    assert_eq!(action_name(&step(&group(None, Some(&c)))), "mark-completed");
    let done = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::Completed.as_str())],
    );
    assert_eq!(action_name(&step(&group(None, Some(&done)))), "ended");
    // The original still there (crash before DeleteEndpoint): the
    // original's own record still says awaiting-switch, so retire again.
    let mut o = original(MigrationState::AwaitingSwitch.as_str());
    o.tags.insert(
        t::CHANGED_AT.into(),
        (now() - Duration::days(2)).to_rfc3339(),
    );
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&c)))),
        "retire-original"
    );
}

#[test]
fn failed_migrations_are_not_retried_and_leftover_canaries_removed() {
    let o = tagged(
        original(MigrationState::Failed.as_str()),
        &[(t::FAILURE, "canary smoke test failed")],
    );
    match step(&group(Some(&o), None)) {
        Progress::Ended(why) => assert!(why.contains("canary smoke test failed"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Crash after recording the failure, before removing the canary.
    let c = canary("InService", Some("failed"));
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&c)))),
        "remove-canary"
    );
}

#[test]
fn a_canary_nobody_recorded_is_left_alone_unless_the_pipeline_created_it() {
    let o = persistent("orders");
    // Claims to be the canary but is not the pipeline's: left alone.
    let mut c = canary("InService", None);
    c.tags.remove("managed-by");
    assert_eq!(action_name(&step(&group(Some(&o), Some(&c)))), "wait");
    // The pipeline's: a start cut short before its record on the original
    // (the record comes after the canary); eligibility decides again.
    let c = canary("InService", None);
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&c)))),
        "not-migrating"
    );
}
