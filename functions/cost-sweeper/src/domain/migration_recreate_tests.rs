//! The recreate strategy's steps (and their crash gaps), and revert.

use super::tests::{action_name, canary, group, original, step, C};
use super::*;
use crate::domain::fleet::migration_tags as t;
use crate::domain::revert::revert;
use crate::domain::state::MigrationState;
use crate::test_support::{persistent, serverless, tagged};

fn recreate(state: &str) -> EndpointView {
    tagged(original(state), &[(t::STRATEGY, "recreate")])
}

#[test]
fn recreate_replaces_the_original_after_the_canary_passed() {
    let o = recreate(MigrationState::Canary.as_str());
    let c = canary("InService", Some("passed"));
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&c)))),
        "replace-original"
    );
    // Crash after tagging the original replacing, before DeleteEndpoint.
    let o = recreate(MigrationState::Replacing.as_str());
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&c)))),
        "replace-original"
    );
}

#[test]
fn crash_after_deleting_the_original_recreates_it_from_the_canary_config() {
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::Replacing.as_str())],
    );
    match step(&group(None, Some(&c))) {
        Progress::Step(Action::CreateReplacement {
            name,
            canary,
            persistent_config,
        }) => {
            assert_eq!(
                (name.as_str(), canary.config_name.as_str()),
                ("orders", "orders-serverless-cfg")
            );
            assert_eq!(persistent_config, "orders-config");
        }
        other => panic!("{other:?}"),
    }
}

fn replacement(status: &str, state: &str) -> EndpointView {
    let mut n = tagged(
        serverless("orders", 6144),
        &[
            (t::MIGRATION_OF, "orders"),
            (t::STATE, state),
            (t::PERSISTENT_CONFIG, "orders-config"),
            (t::CANARY, C),
        ],
    );
    n.config_name = format!("{C}-cfg");
    n.status = status.into();
    n
}

#[test]
fn the_recreated_endpoint_finishes_or_rolls_back() {
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::Replacing.as_str())],
    );
    let creating = replacement("Creating", MigrationState::Replacement.as_str());
    assert_eq!(
        action_name(&step(&group(Some(&creating), Some(&c)))),
        "wait"
    );
    let ready = replacement("InService", MigrationState::Replacement.as_str());
    assert_eq!(
        action_name(&step(&group(Some(&ready), Some(&c)))),
        "finish-replacement"
    );
    let failed = replacement("Failed", MigrationState::Replacement.as_str());
    match step(&group(Some(&failed), Some(&c))) {
        Progress::Step(Action::RollBackReplacement {
            persistent_config, ..
        }) => assert_eq!(persistent_config, "orders-config"),
        other => panic!("{other:?}"),
    }
    // Crash after recording completed, before deleting the canary.
    let done = replacement("InService", MigrationState::Completed.as_str());
    assert_eq!(
        action_name(&step(&group(Some(&done), Some(&c)))),
        "finish-replacement"
    );
    assert_eq!(action_name(&step(&group(Some(&done), None))), "ended");
}

#[test]
fn after_a_rollback_the_canary_is_removed_but_the_config_check_protects_shared_configs() {
    let o = tagged(
        recreate(MigrationState::Failed.as_str()),
        &[(t::FAILURE, "recreated endpoint failed")],
    );
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::Replacing.as_str())],
    );
    let mut g = group(Some(&o), Some(&c));
    g.canary_config_in_use_elsewhere = true;
    match step(&g) {
        Progress::Step(Action::RemoveCanary { canary }) => assert!(canary.config_in_use_elsewhere),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revert_paths() {
    // Recreated: update back in place (serverless -> instance is allowed).
    let done = replacement("InService", MigrationState::Completed.as_str());
    assert!(matches!(
        revert(&group(Some(&done), None)),
        Ok(Action::RevertInPlace { .. })
    ));
    // Side-by-side completed: recreate the original from its kept config.
    let c = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::Completed.as_str())],
    );
    match revert(&group(None, Some(&c))) {
        Ok(Action::RecreateOriginal {
            name,
            persistent_config,
            ..
        }) => {
            assert_eq!(
                (name.as_str(), persistent_config.as_str()),
                ("orders", "orders-config")
            )
        }
        other => panic!("{other:?}"),
    }
    // In flight: abort; the canary goes unless callers were told to use it.
    let o = original(MigrationState::Canary.as_str());
    let testing = canary("InService", None);
    assert!(matches!(
        revert(&group(Some(&o), Some(&testing))),
        Ok(Action::Abort {
            canary: Some(_),
            ..
        })
    ));
    let o = original(MigrationState::AwaitingSwitch.as_str());
    assert!(matches!(
        revert(&group(Some(&o), Some(&testing))),
        Ok(Action::Abort { canary: None, .. })
    ));
    // Nothing to revert.
    assert!(revert(&group(Some(&persistent("orders")), None)).is_err());
    assert!(revert(&group(Some(&serverless("orders", 2048)), None)).is_err());
    assert!(revert(&group(None, None)).is_err());
}

#[test]
fn reverted_endpoints_are_not_migrated_again_and_announced_canaries_are_kept() {
    let o = original(MigrationState::Reverted.as_str());
    assert_eq!(action_name(&step(&group(Some(&o), None))), "ended");
    let announced = tagged(
        canary("InService", Some("passed")),
        &[(t::STATE, MigrationState::AwaitingSwitch.as_str())],
    );
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&announced)))),
        "ended"
    );
    let failed_after_notice = tagged(
        canary("Failed", Some("passed")),
        &[(t::STATE, MigrationState::AwaitingSwitch.as_str())],
    );
    assert_eq!(
        action_name(&step(&group(
            Some(&original(MigrationState::Failed.as_str())),
            Some(&failed_after_notice)
        ))),
        "remove-canary"
    );
    let unannounced = canary("InService", None);
    assert_eq!(
        action_name(&step(&group(Some(&o), Some(&unannounced)))),
        "remove-canary"
    );
}
