use super::*;
use chrono::{DateTime, Duration, Utc};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn artifact(key: &str, version: &str, seconds: i64, sequencer: Option<&str>) -> ArtifactRef {
    ArtifactRef {
        bucket: "models".into(),
        key: key.into(),
        version: version.into(),
        time: at(seconds),
        sequencer: sequencer.map(str::to_string),
    }
}

fn record(config: &str, artifact: ArtifactRef) -> DeploymentRecord {
    DeploymentRecord {
        endpoint_name: "fraud".into(),
        model_name: format!("{config}-model"),
        config_name: config.into(),
        artifact,
        settings_version: None,
        replaces_config: None,
        smoke_test_source: None,
        shape: None,
        capacity: None,
    }
}

fn endpoint(status: &str, config: &str) -> EndpointInfo {
    EndpointInfo {
        name: "fraud".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud".into(),
        status: status.into(),
        config_name: config.into(),
        pending_config_name: None,
        failure_reason: None,
        capacity: None,
    }
}

fn config(name: &str, serverless: bool) -> EndpointConfigInfo {
    EndpointConfigInfo {
        name: name.into(),
        arn: format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}"),
        serverless,
        variant_count: 1,
        model_names: vec![format!("{name}-model")],
    }
}

/// An InService managed serverless endpoint running `current`.
fn running(current: &DeploymentRecord) -> Observed {
    Observed {
        endpoint: Some(endpoint("InService", &current.config_name)),
        config: Some(config(&current.config_name, true)),
        record: Some(current.clone()),
        rolled_back_from: None,
        failed_smoke_test: None,
        endpoint_managed_by: Some(MANAGED_BY_VALUE.into()),
    }
}

const KEY: &str = "models/fraud/model.tar.gz";

#[test]
fn no_endpoint_means_create() {
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    let observed = Observed {
        endpoint: None,
        config: None,
        record: None,
        rolled_back_from: None,
        failed_smoke_test: None,
        endpoint_managed_by: None,
    };
    assert_eq!(decide(&desired, &observed), Decision::Create);
}

#[test]
fn newer_artifact_updates_and_remembers_the_previous_config() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    assert_eq!(
        decide(&desired, &running(&current)),
        Decision::Update {
            previous_config: "old".into(),
            endpoint_arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud".into()
        }
    );
}

#[test]
fn same_config_is_already_current_in_any_state() {
    let current = record("same", artifact(KEY, "v1", 0, Some("0A")));
    let mut observed = running(&current);
    observed.endpoint.as_mut().unwrap().status = "Creating".into();
    assert_eq!(
        decide(&current, &observed),
        Decision::AlreadyCurrent {
            status: "Creating".into()
        }
    );
}

#[test]
fn pending_update_to_this_config_is_already_current() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    let mut observed = running(&current);
    let ep = observed.endpoint.as_mut().unwrap();
    ep.status = "Updating".into();
    ep.pending_config_name = Some("new".into());
    assert!(matches!(
        decide(&desired, &observed),
        Decision::AlreadyCurrent { .. }
    ));
}

#[test]
fn older_sequencer_on_the_same_key_is_skipped() {
    let current = record("new", artifact(KEY, "v2", 10, Some("0055B1")));
    let late = record("old", artifact(KEY, "v1", 20, Some("0055B0")));
    // Even with a later-looking time, the sequencer decides for one key.
    assert!(matches!(
        decide(&late, &running(&current)),
        Decision::SkipStale { .. }
    ));
}

#[test]
fn sequencers_of_different_length_compare_padded() {
    let current = record("new", artifact(KEY, "v2", 10, Some("A0")));
    let incoming = record("next", artifact(KEY, "v3", 11, Some("0100")));
    assert!(matches!(
        decide(&incoming, &running(&current)),
        Decision::Update { .. }
    ));
}

#[test]
fn different_key_for_the_same_endpoint_is_ordered_by_time() {
    let current = record(
        "v3",
        artifact("models/fraud/v3/model.tar.gz", "a", 100, Some("FF")),
    );
    let older = record(
        "v2",
        artifact("models/fraud/v2/model.tar.gz", "b", 50, Some("FFFF")),
    );
    let newer = record(
        "v4",
        artifact("models/fraud/v4/model.tar.gz", "c", 150, Some("01")),
    );
    assert!(matches!(
        decide(&older, &running(&current)),
        Decision::SkipStale { .. }
    ));
    assert!(matches!(
        decide(&newer, &running(&current)),
        Decision::Update { .. }
    ));
}

#[test]
fn same_version_with_new_settings_updates() {
    // A deploy.json change: same artifact version, no sequencer, new config.
    let current = record("old-settings", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new-settings", artifact(KEY, "v1", 0, None));
    assert!(matches!(
        decide(&desired, &running(&current)),
        Decision::Update { .. }
    ));
}

#[test]
fn settings_change_for_an_older_artifact_is_skipped() {
    let current = record(
        "v3",
        artifact("models/fraud/v3/model.tar.gz", "a", 100, Some("0A")),
    );
    let desired = record(
        "v2-new",
        artifact("models/fraud/v2/model.tar.gz", "b", 50, None),
    );
    assert!(matches!(
        decide(&desired, &running(&current)),
        Decision::SkipStale { .. }
    ));
}

#[test]
fn instance_based_endpoints_are_refused() {
    let desired = record("new", artifact(KEY, "v2", 10, None));
    let observed = Observed {
        endpoint: Some(endpoint("InService", "persistent")),
        config: Some(config("persistent", false)),
        record: None,
        rolled_back_from: None,
        failed_smoke_test: None,
        endpoint_managed_by: None,
    };
    assert_eq!(
        decide(&desired, &observed),
        Decision::Refuse(Refusal::InstanceBased {
            config: "persistent".into()
        })
    );
}

#[test]
fn serverless_endpoints_created_by_someone_else_are_refused() {
    let desired = record("new", artifact(KEY, "v2", 10, None));
    let observed = Observed {
        endpoint: Some(endpoint("InService", "theirs")),
        config: Some(config("theirs", true)),
        record: None,
        rolled_back_from: None,
        failed_smoke_test: None,
        endpoint_managed_by: None,
    };
    assert!(matches!(
        decide(&desired, &observed),
        Decision::Refuse(Refusal::NotManaged { .. })
    ));
}

#[test]
fn busy_endpoints_are_retryable_refusals() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    for status in ["Creating", "Updating", "RollingBack", "SystemUpdating"] {
        let mut observed = running(&current);
        observed.endpoint.as_mut().unwrap().status = status.into();
        let decision = decide(&desired, &observed);
        assert_eq!(
            decision,
            Decision::Refuse(Refusal::Busy {
                status: status.into()
            })
        );
        let Decision::Refuse(refusal) = decision else {
            unreachable!()
        };
        assert!(refusal.is_retryable());
    }
}

#[test]
fn a_failed_managed_endpoint_is_recreated_by_a_newer_deployment() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    let mut observed = running(&current);
    let ep = observed.endpoint.as_mut().unwrap();
    ep.status = "Failed".into();
    ep.failure_reason = Some("image not found".into());
    assert_eq!(
        decide(&desired, &observed),
        Decision::Recreate {
            failed_config: "old".into(),
            reason: Some("image not found".into())
        }
    );
    // The failed deployment itself (a redelivery) changes nothing.
    assert!(matches!(
        decide(&current, &observed),
        Decision::AlreadyCurrent { .. }
    ));
    // An older artifact does not replace it.
    let older = record("older", artifact(KEY, "v0", -10, Some("09")));
    assert!(matches!(
        decide(&older, &observed),
        Decision::SkipStale { .. }
    ));
}

#[test]
fn failed_endpoints_the_pipeline_may_not_touch_stay_refused() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    let failed = |mut observed: Observed| {
        observed.endpoint.as_mut().unwrap().status = "Failed".into();
        decide(&desired, &observed)
    };
    let mut instance = running(&current);
    instance.config = Some(config("old", false));
    assert!(matches!(
        failed(instance),
        Decision::Refuse(Refusal::InstanceBased { .. })
    ));
    let mut unmanaged = running(&current);
    unmanaged.record = None;
    assert!(matches!(
        failed(unmanaged),
        Decision::Refuse(Refusal::NotManaged { .. })
    ));
    let mut foreign = running(&current);
    foreign.endpoint_managed_by = None;
    assert!(matches!(
        failed(foreign),
        Decision::Refuse(Refusal::EndpointNotManaged { .. })
    ));
    let mut other = running(&current);
    other.endpoint.as_mut().unwrap().status = "OutOfService".into();
    assert!(matches!(
        decide(&desired, &other),
        Decision::Refuse(Refusal::Unusable { .. })
    ));
}

#[test]
fn stale_events_are_skipped_even_while_the_endpoint_is_busy() {
    let current = record("new", artifact(KEY, "v2", 10, Some("0B")));
    let late = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let mut observed = running(&current);
    observed.endpoint.as_mut().unwrap().status = "Updating".into();
    assert!(matches!(
        decide(&late, &observed),
        Decision::SkipStale { .. }
    ));
}

#[test]
fn equal_times_on_different_keys_are_not_stale() {
    let a = artifact("models/x/a/model.tar.gz", "1", 5, None);
    let b = artifact("models/x/b/model.tar.gz", "1", 5, None);
    assert_eq!(staleness(&a, &b), None);
    let mut older = b.clone();
    older.time -= Duration::milliseconds(1);
    assert!(staleness(&older, &a).is_some());
}

#[test]
fn a_config_the_smoke_tester_rolled_back_is_not_redeployed() {
    let good = record("good", artifact(KEY, "v1", 0, Some("0A")));
    let bad = record("bad", artifact(KEY, "v2", 10, Some("0B")));
    let mut observed = running(&good);
    observed.rolled_back_from = Some("bad".into());
    let decision = decide(&bad, &observed);
    assert!(
        matches!(decision, Decision::SkipStale { ref why } if why.contains("rolled back")),
        "{decision:?}"
    );
    // A fixed artifact (a new config) deploys as usual.
    let fixed = record("fixed", artifact(KEY, "v3", 20, Some("0C")));
    assert!(matches!(decide(&fixed, &observed), Decision::Update { .. }));
}

/// Reliability review #11: the rollback's `rolled-back-from` tag was not
/// written (a warning only); the failed verdict on the endpoint still keeps
/// the failed config from being deployed again by a redelivered event.
#[test]
fn a_config_that_failed_its_smoke_test_is_not_redeployed_without_the_rollback_mark() {
    let good = record("good", artifact(KEY, "v1", 0, Some("0A")));
    let bad = record("bad", artifact(KEY, "v2", 10, Some("0B")));
    let mut observed = running(&good);
    observed.failed_smoke_test = Some("bad".into());
    let decision = decide(&bad, &observed);
    assert!(
        matches!(decision, Decision::SkipStale { ref why } if why.contains("failed its smoke test")),
        "{decision:?}"
    );
    let fixed = record("fixed", artifact(KEY, "v3", 20, Some("0C")));
    assert!(matches!(decide(&fixed, &observed), Decision::Update { .. }));
}

#[test]
fn a_pipeline_config_on_an_endpoint_without_the_managed_by_tag_is_refused() {
    let current = record("old", artifact(KEY, "v1", 0, Some("0A")));
    let desired = record("new", artifact(KEY, "v2", 10, Some("0B")));
    for found in [None, Some("someone-else")] {
        let mut observed = running(&current);
        observed.endpoint_managed_by = found.map(str::to_string);
        let decision = decide(&desired, &observed);
        assert_eq!(
            decision,
            Decision::Refuse(Refusal::EndpointNotManaged {
                config: "old".into(),
                found: found.map(str::to_string),
            })
        );
        let Decision::Refuse(refusal) = decision else {
            unreachable!()
        };
        assert!(!refusal.is_retryable());
    }
}

#[path = "plan_capacity_tests.rs"]
mod capacity;
