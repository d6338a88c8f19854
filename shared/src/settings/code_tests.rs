use super::*;
use serde_json::json;

const REGION: &str = "us-east-1";

fn resolve_json(value: serde_json::Value) -> Result<DeploySettings, SettingsError> {
    let layer = SettingsLayer::from_deploy_json(value.to_string().as_bytes())?;
    resolve(&[&layer], Some("iris"), REGION)
}

fn error_for(value: serde_json::Value) -> String {
    resolve_json(value).unwrap_err().to_string()
}

#[test]
fn entry_point_source_dir_and_dependencies_are_read_as_the_sdk_takes_them() {
    let s = resolve_json(json!({
        "framework": "sklearn", "framework_version": "1.2-1",
        "entry_point": "inference.py", "source_dir": "code",
        "dependencies": ["lib/common/", "s3://other-bucket/shared/libs"]
    }))
    .unwrap();
    let code = s.code.unwrap();
    assert_eq!(code.entry_point, "inference.py");
    assert_eq!(
        code.source_dir,
        Some(CodeLocation::Beside {
            prefix: "code/".into()
        })
    );
    assert_eq!(
        code.dependencies,
        vec![
            CodeLocation::Beside {
                prefix: "lib/common/".into()
            },
            CodeLocation::S3Folder {
                bucket: "other-bucket".into(),
                prefix: "shared/libs/".into()
            },
        ]
    );
    assert_eq!(code.dependencies[0].folder_name(), Some("common"));
    assert_eq!(code.dependencies[1].folder_name(), Some("libs"));
}

#[test]
fn a_tarball_source_dir_is_kept_as_a_tarball() {
    let s = resolve_json(json!({
        "framework": "pytorch", "framework_version": "2.1",
        "entry_point": "src/inference.py", "source_dir": "s3://b/code/v1/sourcedir.tar.gz"
    }))
    .unwrap();
    let code = s.code.unwrap();
    assert_eq!(code.entry_file_name(), "inference.py");
    assert_eq!(
        code.source_dir,
        Some(CodeLocation::S3Tarball {
            bucket: "b".into(),
            key: "code/v1/sourcedir.tar.gz".into()
        })
    );
}

#[test]
fn no_code_settings_leave_the_artifact_as_it_is() {
    let s = resolve_json(json!({"framework": "sklearn", "framework_version": "1.2-1"})).unwrap();
    assert_eq!(s.code, None);
}

#[test]
fn code_settings_are_refused_with_specific_reasons() {
    let sk = |extra: serde_json::Value| {
        let mut v = json!({"framework": "sklearn", "framework_version": "1.2-1"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        error_for(v)
    };
    assert!(sk(json!({"source_dir": "code/"}))
        .contains("entry_point is required: source_dir was given"));
    assert!(sk(json!({"dependencies": ["lib/"]}))
        .contains("entry_point is required: dependencies was given"));
    assert!(sk(json!({"entry_point": "../inference.py"}))
        .contains("entry_point = \"../inference.py\" is not allowed"));
    assert!(sk(json!({"entry_point": "/abs/inference.py"})).contains("no leading"));
    assert!(sk(json!({"entry_point": ""})).contains("entry_point = \"\""));
    assert!(sk(json!({"entry_point": "i.py", "source_dir": "a/../b"}))
        .contains("source_dir = \"a/../b\""));
    assert!(
        sk(json!({"entry_point": "i.py", "source_dir": "s3://bucket-only"}))
            .contains("s3://bucket/prefix/")
    );
    assert!(sk(json!({"entry_point": "i.py", "dependencies": "lib/"}))
        .contains("dependencies must be a list of strings"));
    assert!(sk(json!({"entry_point": "i.py", "dependencies": [3]}))
        .contains("dependencies[0] must be a string"));
    assert!(
        sk(json!({"entry_point": "i.py", "dependencies": ["s3://b/x.tar.gz"]}))
            .contains("the SDK takes dependencies as folders")
    );
    let with_image = error_for(json!({
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", "entry_point": "i.py"
    }));
    assert!(
        with_image.contains("entry_point needs a framework"),
        "{with_image}"
    );
}

#[test]
fn py_version_picks_the_image_where_a_version_has_several() {
    let s = resolve_json(
        json!({"framework": "pytorch", "framework_version": "1.8.1", "py_version": "py36"}),
    )
    .unwrap();
    assert_eq!(
        s.container.image_uri,
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:1.8.1-cpu-py36"
    );
    let missing = error_for(json!({"framework": "pytorch", "framework_version": "1.8.1"}));
    assert!(
        missing.contains("set py_version to one of them"),
        "{missing}"
    );
    assert!(missing.contains("py3, py36"), "{missing}");
    let wrong = error_for(
        json!({"framework": "pytorch", "framework_version": "2.1", "py_version": "py39"}),
    );
    assert!(
        wrong.contains("no image for py_version \"py39\"; available: py310"),
        "{wrong}"
    );
    let with_image = error_for(json!({
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", "py_version": "py3"
    }));
    assert!(
        with_image.contains("py_version only with framework"),
        "{with_image}"
    );
}

#[test]
fn py_version_and_code_fields_come_from_metadata_too() {
    let metadata = BTreeMap::from([
        ("framework".to_string(), "pytorch".to_string()),
        ("framework-version".to_string(), "1.8.1".to_string()),
        ("py-version".to_string(), "py3".to_string()),
        ("entry-point".to_string(), "inference.py".to_string()),
    ]);
    let (layer, ignored) = SettingsLayer::from_metadata(&metadata).unwrap();
    assert!(ignored.is_empty());
    let s = resolve(&[&layer], Some("iris"), REGION).unwrap();
    assert!(s.container.image_uri.ends_with("1.8.1-cpu-py3"));
    assert_eq!(s.code.unwrap().entry_point, "inference.py");
}
