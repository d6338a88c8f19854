//! Starting a migration: what the plan does when the canary's name is
//! taken, and after a start cut short between creating the canary and
//! recording it on the original.

use super::*;
use crate::domain::fleet::migration_tags as t;
use crate::domain::rows::Decision;
use crate::test_support::{config, now, persistent, serverless, tagged};

fn codes(plan: &Plan, name: &str) -> Vec<&'static str> {
    let row = plan.rows.iter().find(|r| r.endpoint == name).unwrap();
    row.reasons.iter().map(|r| r.code).collect()
}

fn idle() -> HashMap<String, Usage> {
    HashMap::from([(
        "orders".to_string(),
        crate::test_support::usage(10.0, 100.0),
    )])
}

#[test]
fn a_canary_name_held_by_another_endpoint_is_a_reason_not_a_start() {
    // Someone's own serverless endpoint happens to be called orders-serverless.
    let theirs = tagged(serverless("orders-serverless", 2048), &[("team", "risk")]);
    let planned = plan(&[persistent("orders"), theirs], &idle(), &config(), now());
    assert_eq!(codes(&planned, "orders"), ["canary-name-taken"]);
    let row = planned
        .rows
        .iter()
        .find(|r| r.endpoint == "orders")
        .unwrap();
    assert!(
        row.reasons[0].detail.contains("orders-serverless"),
        "{row:?}"
    );
    assert!(planned.steps.is_empty(), "{:?}", planned.steps);
    // Another original's canary is not ours either.
    let other = tagged(
        serverless("orders-serverless", 2048),
        &[
            ("managed-by", "sagemaker-serverless-pipeline"),
            (t::MIGRATION_OF, "orders-old"),
        ],
    );
    let planned = plan(&[persistent("orders"), other], &idle(), &config(), now());
    assert_eq!(codes(&planned, "orders"), ["canary-name-taken"]);
}

#[test]
fn a_start_cut_short_after_the_canary_was_created_starts_again_under_the_same_names() {
    let ours = tagged(
        serverless("orders-serverless", 2048),
        &[
            ("managed-by", "sagemaker-serverless-pipeline"),
            (t::MIGRATION_OF, "orders"),
        ],
    );
    let planned = plan(&[persistent("orders"), ours], &idle(), &config(), now());
    let row = planned
        .rows
        .iter()
        .find(|r| r.endpoint == "orders")
        .unwrap();
    assert_eq!(row.decision, Decision::Migrate, "{row:?}");
    match &planned.steps[..] {
        [Planned {
            action: Action::Start { canary, .. },
            ..
        }] => assert_eq!(canary.endpoint_name, "orders-serverless"),
        other => panic!("{other:?}"),
    }
}
