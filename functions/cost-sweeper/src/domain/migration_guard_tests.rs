//! Guard rails on migrations in flight: what a run does when it cannot
//! trust what it sees (an incomplete CloudWatch answer, a canary name taken
//! by someone else).

use super::tests::{action_name, canary, group, original, step};
use super::*;
use crate::domain::fleet::{migration_tags as t, MetricsGap};
use crate::domain::state::MigrationState;
use crate::test_support::{now, tagged};
use chrono::Duration;

fn drained_original() -> EndpointView {
    let mut o = original(MigrationState::AwaitingSwitch.as_str());
    o.tags.insert(
        t::CHANGED_AT.into(),
        (now() - Duration::days(2)).to_rfc3339(),
    );
    o
}

#[test]
fn a_partial_metrics_answer_never_retires_an_endpoint() {
    let o = drained_original();
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::AwaitingSwitch.as_str())],
    );
    let mut g = group(Some(&o), Some(&c));
    assert_eq!(action_name(&step(&g)), "retire-original");
    for gap in [
        MetricsGap::PartialData,
        MetricsGap::Error,
        MetricsGap::Message,
    ] {
        g.usage.gap = Some(gap);
        match step(&g) {
            Progress::Waiting(why) => {
                assert!(why.contains("usage unknown"), "{why}");
                assert!(why.contains("next run"), "{why}");
            }
            other => panic!("{gap:?}: {other:?}"),
        }
    }
}

#[test]
fn a_partial_metrics_answer_does_not_advance_a_recreate_either() {
    let o = tagged(
        original(MigrationState::Canary.as_str()),
        &[(t::STRATEGY, "recreate")],
    );
    let c = canary("InService", Some("passed"));
    let mut g = group(Some(&o), Some(&c));
    assert_eq!(action_name(&step(&g)), "replace-original");
    g.usage.gap = Some(MetricsGap::PartialData);
    assert_eq!(action_name(&step(&g)), "wait");
}

#[test]
fn an_original_opted_out_after_the_start_is_held_not_retired_or_replaced() {
    let o = tagged(drained_original(), &[("serverless-migration", "exclude")]);
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::AwaitingSwitch.as_str())],
    );
    match step(&group(Some(&o), Some(&c))) {
        Progress::Waiting(why) => assert!(why.contains("opted out"), "{why}"),
        other => panic!("{other:?}"),
    }
    let r = tagged(
        original(MigrationState::Canary.as_str()),
        &[
            (t::STRATEGY, "recreate"),
            ("serverless-migration", "exclude"),
        ],
    );
    let passed = canary("InService", Some("passed"));
    assert_eq!(action_name(&step(&group(Some(&r), Some(&passed)))), "wait");
}
