//! Concurrency-only changes (issue 13 item 4): decided in place, everything
//! else still through a new config.

use super::*;

fn cap(max: u32, provisioned: Option<u32>) -> ServerlessCapacity {
    ServerlessCapacity {
        max_concurrency: max,
        provisioned_concurrency: provisioned,
    }
}

/// A deployment of shape `shape` asking for `capacity`.
fn shaped(config: &str, shape: &str, capacity: ServerlessCapacity) -> DeploymentRecord {
    let mut r = record(config, artifact(KEY, "v1", 0, Some("0A")));
    r.shape = Some(shape.into());
    r.capacity = Some(capacity);
    r
}

/// The endpoint runs `current` (read back from tags: no capacity) with
/// `live` concurrency.
fn live(current: &DeploymentRecord, live: ServerlessCapacity) -> Observed {
    let mut read_back = current.clone();
    read_back.capacity = None;
    let mut observed = running(&read_back);
    observed.endpoint.as_mut().unwrap().capacity = Some(live);
    observed
}

const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud";

#[test]
fn only_concurrency_changed_updates_capacity_in_place() {
    let current = shaped("c5", "s1", cap(5, None));
    let desired = shaped("c20", "s1", cap(20, Some(2)));
    assert_eq!(
        decide(&desired, &live(&current, cap(5, None))),
        Decision::UpdateCapacity {
            config: "c5".into(),
            endpoint_arn: ARN.into(),
            from: Some(cap(5, None)),
            to: cap(20, Some(2)),
        }
    );
}

#[test]
fn capacity_already_set_in_place_is_current_even_while_updating() {
    let current = shaped("c5", "s1", cap(5, None));
    let desired = shaped("c20", "s1", cap(20, Some(2)));
    let mut observed = live(&current, cap(20, Some(2)));
    observed.endpoint.as_mut().unwrap().status = "Updating".into();
    assert_eq!(
        decide(&desired, &observed),
        Decision::AlreadyCurrent {
            status: "Updating".into()
        }
    );
}

#[test]
fn going_back_to_the_live_configs_own_concurrency_changes_it_again() {
    // c5 runs with 20 after an in-place change; deploy.json says 5 again.
    let current = shaped("c5", "s1", cap(5, None));
    let decision = decide(&current, &live(&current, cap(20, None)));
    assert_eq!(
        decision,
        Decision::UpdateCapacity {
            config: "c5".into(),
            endpoint_arn: ARN.into(),
            from: Some(cap(20, None)),
            to: cap(5, None),
        }
    );
}

#[test]
fn another_shape_or_an_unshaped_config_needs_a_new_config() {
    let desired = shaped("c20", "s2", cap(20, None));
    for current in [shaped("c5", "s1", cap(5, None)), {
        let mut old = shaped("c5", "s1", cap(5, None));
        old.shape = None;
        old
    }] {
        assert!(matches!(
            decide(&desired, &live(&current, cap(5, None))),
            Decision::Update { .. }
        ));
    }
}

#[test]
fn removing_provisioned_concurrency_needs_a_new_config() {
    let current = shaped("c5p", "s1", cap(5, Some(2)));
    let desired = shaped("c5", "s1", cap(5, None));
    assert!(matches!(
        decide(&desired, &live(&current, cap(5, Some(2)))),
        Decision::Update { .. }
    ));
}

#[test]
fn a_busy_or_failed_endpoint_is_not_changed_in_place() {
    let current = shaped("c5", "s1", cap(5, None));
    let desired = shaped("c20", "s1", cap(20, None));
    let mut observed = live(&current, cap(5, None));
    observed.endpoint.as_mut().unwrap().status = "Updating".into();
    assert!(matches!(
        decide(&desired, &observed),
        Decision::Refuse(Refusal::Busy { .. })
    ));
    // A Failed endpoint takes only DeleteEndpoint: recreated, not resized.
    observed.endpoint.as_mut().unwrap().status = "Failed".into();
    assert!(matches!(
        decide(&desired, &observed),
        Decision::Recreate { .. }
    ));
}

#[test]
fn an_unmanaged_endpoint_is_refused_before_any_capacity_change() {
    let current = shaped("c5", "s1", cap(5, None));
    let desired = shaped("c20", "s1", cap(20, None));
    let mut observed = live(&current, cap(5, None));
    observed.endpoint_managed_by = None;
    assert!(matches!(
        decide(&desired, &observed),
        Decision::Refuse(Refusal::EndpointNotManaged { .. })
    ));
}
