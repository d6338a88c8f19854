use super::*;
use serde_json::json;

const REGION: &str = "us-east-1";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1";

fn deploy_json(value: serde_json::Value) -> Result<SettingsLayer, SettingsError> {
    SettingsLayer::from_deploy_json(value.to_string().as_bytes())
}

fn with_image() -> SettingsLayer {
    SettingsLayer {
        image_uri: Some(IMAGE.into()),
        ..Default::default()
    }
}

fn resolve_one(layer: &SettingsLayer) -> Result<DeploySettings, SettingsError> {
    resolve(&[layer], Some("fraud-detector"), REGION)
}

/// The error for a deploy.json, as the user would read it.
fn error_for(value: serde_json::Value) -> String {
    match deploy_json(value) {
        Err(e) => e.to_string(),
        Ok(layer) => resolve(&[&layer], Some("x"), REGION)
            .unwrap_err()
            .to_string(),
    }
}

#[test]
fn defaults_apply_when_nothing_is_said() {
    let s = resolve_one(&with_image()).unwrap();
    assert_eq!(s.endpoint_name, "fraud-detector");
    assert_eq!(s.memory_size_mb, 2048);
    assert_eq!(s.max_concurrency, 10);
    assert_eq!(s.provisioned_concurrency, None);
    assert_eq!(s.container.image_uri, IMAGE);
}

#[test]
fn deploy_json_beats_metadata_beats_defaults_field_by_field() {
    let sidecar = deploy_json(json!({"memory_size_mb": 4096})).unwrap();
    let metadata = BTreeMap::from([
        ("memory-size-mb".to_string(), "3072".to_string()),
        ("max-concurrency".to_string(), "20".to_string()),
        ("endpoint-name".to_string(), "from-metadata".to_string()),
        ("owner".to_string(), "team-a".to_string()),
    ]);
    let (metadata, ignored) = SettingsLayer::from_metadata(&metadata).unwrap();
    assert_eq!(ignored, vec!["owner"]);
    let defaults = SettingsLayer {
        max_concurrency: Some(5),
        provisioned_concurrency: Some(2),
        ..with_image()
    };
    let s = resolve(&[&sidecar, &metadata, &defaults], Some("folder"), REGION).unwrap();
    assert_eq!(s.memory_size_mb, 4096);
    assert_eq!(s.max_concurrency, 20);
    assert_eq!(s.provisioned_concurrency, Some(2));
    assert_eq!(s.endpoint_name, "from-metadata");
}

#[test]
fn the_container_comes_whole_from_the_first_source_that_names_one() {
    let metadata = SettingsLayer {
        framework: Some("nonsense".into()),
        ..Default::default()
    };
    let sidecar = with_image();
    // deploy.json names an image: the metadata's framework is not consulted.
    let s = resolve(&[&sidecar, &metadata], Some("x"), REGION).unwrap();
    assert_eq!(s.container.image_uri, IMAGE);
    // A framework without its version is an error, not a mix with a default.
    let defaults = SettingsLayer {
        framework_version: Some("1.7-1".into()),
        ..Default::default()
    };
    let err = resolve(&[&metadata, &defaults], Some("x"), REGION).unwrap_err();
    assert!(err.to_string().contains("framework_version"), "{err}");
}

#[test]
fn memory_outside_the_serverless_sizes_is_refused_with_the_allowed_values() {
    let err = error_for(json!({"image_uri": IMAGE, "memory_size_mb": 1500}));
    assert_eq!(
        err,
        "memory_size_mb = 1500 is not allowed; allowed: 1024, 2048, 3072, 4096, 5120 or 6144"
    );
}

#[test]
fn concurrency_limits() {
    assert_eq!(
        error_for(json!({"image_uri": IMAGE, "max_concurrency": 0})),
        "max_concurrency = 0 is not allowed; allowed: 1..200"
    );
    assert!(error_for(json!({"image_uri": IMAGE, "max_concurrency": 500})).contains("1..200"));
    let err =
        error_for(json!({"image_uri": IMAGE, "max_concurrency": 5, "provisioned_concurrency": 6}));
    assert!(
        err.contains("provisioned_concurrency = 6") && err.contains("1..5"),
        "{err}"
    );
    assert!(
        error_for(json!({"image_uri": IMAGE, "provisioned_concurrency": 0}))
            .contains("provisioned_concurrency = 0")
    );
    let ok = resolve_one(
        &deploy_json(
            json!({"image_uri": IMAGE, "max_concurrency": 200, "provisioned_concurrency": 200}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(ok.provisioned_concurrency, Some(200));
}

#[test]
fn unknown_fields_are_named_with_the_allowed_ones() {
    let err = error_for(json!({"memory_mb": 2048}));
    assert!(err.starts_with("unknown field \"memory_mb\""), "{err}");
    assert!(err.contains("memory_size_mb"), "{err}");
    let err =
        error_for(json!({"smoke_test": {"content_type": "text/csv", "body": "1", "bdy": "x"}}));
    assert!(
        err.contains("smoke_test.bdy") && err.contains("body_s3_key"),
        "{err}"
    );
}

#[test]
fn not_json_and_wrong_types_are_explained() {
    assert!(SettingsLayer::from_deploy_json(b"{memory: 1}")
        .unwrap_err()
        .to_string()
        .starts_with("deploy.json is not valid JSON"));
    assert!(SettingsLayer::from_deploy_json(b"[1]")
        .unwrap_err()
        .to_string()
        .contains("JSON object"));
    assert_eq!(
        error_for(json!({"memory_size_mb": "big"})),
        "memory_size_mb must be a whole number, got the string \"big\""
    );
    assert!(error_for(json!({"framework_version": 1.7})).contains("quote it"));
    assert!(error_for(json!({"environment": {"A": [1]}})).contains("environment.A"));
}

#[test]
fn metadata_numbers_must_be_numbers() {
    let metadata = BTreeMap::from([("memory_size_mb".to_string(), "lots".to_string())]);
    let err = SettingsLayer::from_metadata(&metadata).unwrap_err();
    assert_eq!(
        err.to_string(),
        "memory_size_mb = lots is not allowed; allowed: a whole number"
    );
}

#[test]
fn both_image_and_framework_is_ambiguous() {
    let err = error_for(
        json!({"image_uri": IMAGE, "framework": "xgboost", "framework_version": "1.7-1"}),
    );
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn images_must_be_ecr_in_the_same_region() {
    assert!(
        error_for(json!({"image_uri": "docker.io/library/nginx:latest"}))
            .contains("Amazon ECR image in us-east-1")
    );
    assert!(
        error_for(json!({"image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:1"}))
            .contains("us-east-1")
    );
}

#[test]
fn missing_container_is_explained() {
    let err = resolve_one(&SettingsLayer::default()).unwrap_err();
    assert!(err.to_string().contains("image_uri or framework"), "{err}");
}

#[test]
fn endpoint_names_are_made_valid_or_refused() {
    let s = resolve_one(
        &deploy_json(json!({"image_uri": IMAGE, "endpoint_name": "Fraud_Detector v2"})).unwrap(),
    )
    .unwrap();
    assert_eq!(s.endpoint_name, "Fraud-Detector-v2");
    let err = error_for(json!({"image_uri": IMAGE, "endpoint_name": "___"}));
    assert!(
        err.contains("endpoint_name") && err.contains("cannot be made a valid"),
        "{err}"
    );
    let err = resolve(&[&with_image()], None, REGION).unwrap_err();
    assert!(
        err.to_string().contains("endpoint_name is required"),
        "{err}"
    );
}

#[test]
fn environment_and_tags_are_checked() {
    let s = resolve_one(&deploy_json(json!({"image_uri": IMAGE, "environment": {"SAGEMAKER_PROGRAM": "inference.py"}, "tags": {"team": "risk"}})).unwrap()).unwrap();
    assert_eq!(s.environment["SAGEMAKER_PROGRAM"], "inference.py");
    assert_eq!(s.tags["team"], "risk");
    assert!(
        error_for(json!({"image_uri": IMAGE, "environment": {"1BAD": "x"}}))
            .contains("variable name")
    );
    assert!(
        error_for(json!({"image_uri": IMAGE, "tags": {"managed-by": "me"}})).contains("managed-by")
    );
    assert!(error_for(json!({"image_uri": IMAGE, "tags": {"team": "a{b}"}})).contains("tags.team"));
}

#[test]
fn smoke_test_request_needs_a_content_type_and_one_body() {
    let s = resolve_one(&deploy_json(json!({"image_uri": IMAGE, "smoke_test": {"content_type": "text/csv", "body": "1,2,3"}})).unwrap()).unwrap();
    assert_eq!(
        s.smoke_test.unwrap().body,
        SmokeTestBody::Inline("1,2,3".into())
    );
    assert!(error_for(json!({"smoke_test": {"body": "1"}}))
        .contains("smoke_test.content_type is required"));
    assert!(
        error_for(json!({"smoke_test": {"content_type": "text/csv"}}))
            .contains("smoke_test.body is required")
    );
    assert!(error_for(
        json!({"smoke_test": {"content_type": "text/csv", "body": "1", "body_s3_key": "k"}})
    )
    .contains("exactly one"));
}

#[test]
fn null_fields_mean_not_set() {
    let layer = deploy_json(json!({"image_uri": IMAGE, "provisioned_concurrency": null})).unwrap();
    assert_eq!(layer.provisioned_concurrency, None);
}
