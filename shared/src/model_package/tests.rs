use super::*;
use crate::settings::{SettingsError, SettingsLayer};
use serde_json::json;

const ARN_V2: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-models/2";
const ARN_V3: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-models/3";

fn sample() -> Value {
    serde_json::from_str(include_str!(
        "../../../events/sagemaker-model-package-approved.json"
    ))
    .unwrap()
}

fn with_status(arn: &str, version: u32, status: &str) -> PackageStateChange {
    let mut event = sample();
    event["detail"]["ModelPackageArn"] = json!(arn);
    event["detail"]["ModelPackageVersion"] = json!(version);
    event["detail"]["ModelApprovalStatus"] = json!(status);
    parse(&event).unwrap()
}

fn watched() -> WatchedGroups {
    WatchedGroups::from_env_value("iris-models, other-group")
}

#[test]
fn the_sample_event_is_recognised_and_parsed() {
    let event = sample();
    assert!(is_package_state_change(&event));
    let change = parse(&event).unwrap();
    assert_eq!(change.group, "iris-models");
    assert_eq!(change.package_arn, ARN_V3);
    assert_eq!(change.version, Some(3));
    assert_eq!(change.status, ApprovalStatus::Approved);
    assert_eq!(
        change.properties.get("memory_size_mb").map(String::as_str),
        Some("2048")
    );
}

#[test]
fn s3_notifications_and_endpoint_events_are_not_package_events() {
    assert!(!is_package_state_change(&json!({"Records": []})));
    let mut endpoint = sample();
    endpoint["detail-type"] = json!("SageMaker Endpoint State Change");
    assert!(!is_package_state_change(&endpoint));
}

#[test]
fn an_event_without_a_package_arn_is_malformed_not_ignored() {
    let mut event = sample();
    event["detail"]
        .as_object_mut()
        .unwrap()
        .remove("ModelPackageArn");
    assert!(
        matches!(parse(&event), Err(PackageEventError::Missing(field)) if field == "ModelPackageArn")
    );
}

#[test]
fn approval_of_a_watched_group_deploys_the_package() {
    let change = with_status(ARN_V3, 3, "Approved");
    assert_eq!(
        decide(&change, &watched(), None),
        PackageDecision::Deploy {
            package_arn: ARN_V3.into()
        }
    );
}

#[test]
fn an_empty_watch_list_turns_the_feature_off() {
    let change = with_status(ARN_V3, 3, "Approved");
    let off = WatchedGroups::from_env_value("  ");
    assert!(off.is_off());
    assert!(matches!(
        decide(&change, &off, None),
        PackageDecision::Ignore { .. }
    ));
}

#[test]
fn a_group_not_watched_is_ignored() {
    let change = with_status(ARN_V3, 3, "Approved");
    let others = WatchedGroups::from_env_value("fraud-models");
    assert!(matches!(
        decide(&change, &others, None),
        PackageDecision::Ignore { .. }
    ));
}

#[test]
fn rejecting_the_live_package_leaves_the_endpoint_serving_it() {
    let change = with_status(ARN_V3, 3, "Rejected");
    assert_eq!(
        decide(&change, &watched(), Some(ARN_V3)),
        PackageDecision::LeaveLive {
            package_arn: ARN_V3.into()
        }
    );
}

#[test]
fn rejecting_a_package_that_is_not_live_changes_nothing() {
    let change = with_status(ARN_V2, 2, "Rejected");
    assert!(matches!(
        decide(&change, &watched(), Some(ARN_V3)),
        PackageDecision::Ignore { .. }
    ));
}

#[test]
fn re_approving_an_older_version_redeploys_it() {
    // Version 3 is live; version 2 approved again is a deliberate roll back,
    // not a stale event: the registry's approval is the order that counts.
    let change = with_status(ARN_V2, 2, "Approved");
    assert_eq!(
        decide(&change, &watched(), Some(ARN_V3)),
        PackageDecision::Deploy {
            package_arn: ARN_V2.into()
        }
    );
}

#[test]
fn approval_of_the_package_already_live_is_a_duplicate() {
    let change = with_status(ARN_V3, 3, "Approved");
    assert!(matches!(
        decide(&change, &watched(), Some(ARN_V3)),
        PackageDecision::Ignore { .. }
    ));
}

#[test]
fn pending_approval_deploys_nothing() {
    let change = with_status(ARN_V3, 3, "PendingManualApproval");
    assert!(matches!(
        decide(&change, &watched(), None),
        PackageDecision::Ignore { .. }
    ));
}

#[test]
fn customer_metadata_uses_deploy_json_names_and_rules() {
    let mut properties = parse(&sample()).unwrap().properties;
    properties.insert("framework".into(), "sklearn".into());
    let layer = SettingsLayer::from_customer_metadata(&properties).unwrap();
    assert_eq!(layer.framework.as_deref(), Some("sklearn"));
    assert_eq!(layer.memory_size_mb, Some(2048));
    assert_eq!(layer.max_concurrency, Some(5));
}

#[test]
fn customer_metadata_maps_are_json_text() {
    let mut properties = BTreeMap::new();
    properties.insert(
        "environment".to_string(),
        r#"{"LOG_LEVEL": "debug"}"#.to_string(),
    );
    let layer = SettingsLayer::from_customer_metadata(&properties).unwrap();
    assert_eq!(
        layer
            .environment
            .unwrap()
            .get("LOG_LEVEL")
            .map(String::as_str),
        Some("debug")
    );
}

#[test]
fn customer_metadata_typos_and_excluded_features_are_refused_like_deploy_json() {
    let mut typo = BTreeMap::new();
    typo.insert("memory_mb".to_string(), "2048".to_string());
    assert!(matches!(
        SettingsLayer::from_customer_metadata(&typo),
        Err(SettingsError::UnknownField { .. })
    ));
    let mut bad = BTreeMap::new();
    bad.insert("memory_size_mb".to_string(), "lots".to_string());
    assert!(SettingsLayer::from_customer_metadata(&bad).is_err());
}

#[test]
fn only_approvals_and_rejections_of_watched_groups_pass_the_screen() {
    assert_eq!(
        screen(&with_status(ARN_V3, 3, "Approved"), &watched()),
        None
    );
    assert_eq!(
        screen(&with_status(ARN_V3, 3, "Rejected"), &watched()),
        None
    );
    let pending = screen(&with_status(ARN_V3, 3, "PendingManualApproval"), &watched());
    assert!(pending.unwrap().contains("only approvals deploy"));
    let others = WatchedGroups::from_env_value("fraud-models");
    let not_watched = screen(&with_status(ARN_V3, 3, "Approved"), &others);
    assert!(not_watched
        .unwrap()
        .contains("\"iris-models\" is not watched"));
    assert!(screen(
        &with_status(ARN_V3, 3, "Approved"),
        &WatchedGroups::default()
    )
    .unwrap()
    .contains("feature is off"));
}

#[test]
fn package_settings_refuse_what_the_package_itself_holds() {
    for field in ["image_uri", "framework", "framework_version", "entry_point"] {
        let properties = BTreeMap::from([(field.to_string(), "x".to_string())]);
        match settings_layer(&properties) {
            Err(SettingsError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let properties = parse(&sample()).unwrap().properties;
    assert_eq!(
        settings_layer(&properties).unwrap().memory_size_mb,
        Some(2048)
    );
    // Unknown names are still refused, as in deploy.json.
    let typo = BTreeMap::from([("max_concurency".to_string(), "5".to_string())]);
    assert!(matches!(
        settings_layer(&typo),
        Err(SettingsError::UnknownField { field, .. }) if field == "max_concurency"
    ));
}

#[test]
fn the_endpoint_is_named_by_the_properties_or_the_group() {
    let none = BTreeMap::new();
    assert_eq!(endpoint_name(&none, "iris-models").unwrap(), "iris-models");
    let named = BTreeMap::from([("endpoint_name".to_string(), "iris".to_string())]);
    assert_eq!(endpoint_name(&named, "iris-models").unwrap(), "iris");
    assert_eq!(endpoint_name(&none, "Iris_Models").unwrap(), "Iris-Models");
}

#[test]
fn package_arns_are_told_from_s3_versions() {
    assert!(is_package_arn(ARN_V3));
    assert!(!is_package_arn("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"));
    assert!(!is_package_arn(
        "arn:aws:sagemaker:us-east-1:123456789012:model/x"
    ));
}
