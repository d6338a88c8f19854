use super::*;

fn err(framework: &str, version: &str, region: &str) -> ImageUriError {
    match resolve_inference_image(framework, version, region) {
        Ok(uri) => panic!("{framework} {version:?} {region:?} resolved to {uri}"),
        Err(e) => e,
    }
}

#[test]
fn resolves_each_framework() {
    let cases = [
        (
            "xgboost",
            "1.7-1",
            "us-east-1",
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        ),
        (
            "xgboost",
            "latest",
            "eu-west-1",
            "685385470294.dkr.ecr.eu-west-1.amazonaws.com/xgboost:latest",
        ),
        (
            "sklearn",
            "1.2-1",
            "cn-north-1",
            "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3",
        ),
        (
            "pytorch",
            "2.1",
            "us-east-1",
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
        ),
        (
            "tensorflow",
            "2.13",
            "us-iso-east-1",
            "886529160074.dkr.ecr.us-iso-east-1.c2s.ic.gov/tensorflow-inference:2.13-cpu",
        ),
    ];
    for (framework, version, region, expected) in cases {
        assert_eq!(
            resolve_inference_image(framework, version, region).as_deref(),
            Ok(expected)
        );
    }
}

#[test]
fn unknown_framework_lists_the_supported_ones() {
    let e = err("mxnet", "1.9", "us-east-1");
    assert_eq!(
        e.to_string(),
        "framework \"mxnet\" is not supported; supported frameworks: xgboost, sklearn, pytorch, tensorflow"
    );
    assert!(matches!(
        err("XGBoost", "1.7-1", "us-east-1"),
        ImageUriError::UnsupportedFramework { .. }
    ));
}

#[test]
fn unknown_version_lists_versions_and_aliases() {
    let e = err("xgboost", "0.1", "us-east-1");
    let msg = e.to_string();
    assert!(
        msg.starts_with("framework_version \"0.1\" is not supported for xgboost; supported versions: 1, 0.90-1, 0.90-2, 1.0-1, 1.2-1,"),
        "{msg}"
    );
    assert!(msg.contains("1.7-1"), "{msg}");
    assert!(msg.ends_with("; aliases: latest (= 1)"), "{msg}");

    let msg = err("pytorch", "2.1.0.0", "us-east-1").to_string();
    assert!(msg.contains("supported versions: 0.4.0, 1.0.0,"), "{msg}");
    assert!(msg.contains("2.1 (= 2.1.0)"), "{msg}");

    // sklearn has no aliases; versions only.
    let msg = err("sklearn", "latest", "us-east-1").to_string();
    assert!(
        msg.contains("supported versions: 0.20.0, 0.23-1, 1.0-1, 1.2-1,"),
        "{msg}"
    );
    assert!(!msg.contains("aliases"), "{msg}");
    match err("sklearn", " 1.2-1", "us-east-1") {
        ImageUriError::UnsupportedVersion {
            version, aliases, ..
        } => {
            assert_eq!(version, " 1.2-1");
            assert!(aliases.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_region_lists_the_regions_of_that_version() {
    let e = err("pytorch", "2.1", "us-east-9");
    let ImageUriError::UnsupportedRegion {
        supported, version, ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(version, "2.1");
    assert!(supported.iter().any(|r| r == "us-east-1"));
    assert!(supported.iter().any(|r| r == "cn-north-1"));
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "region \"us-east-9\" has no pytorch 2.1 inference image; supported regions: "
        ),
        "{msg}"
    );
    assert!(
        msg.contains("ap-northeast-1, ") && msg.contains("us-west-2"),
        "{msg}"
    );

    // Regions are per version: the oldest images are in fewer Regions.
    let msg = err("pytorch", "0.4", "il-central-1").to_string();
    assert!(!msg.contains("il-central-1,"), "{msg}");
}

#[test]
fn several_python_versions_is_an_error_naming_them() {
    let e = err("pytorch", "1.4", "us-east-1");
    assert_eq!(
        e.to_string(),
        "pytorch framework_version \"1.4\" has images for several Python versions (py3, py36) and none is \
         the default; set py_version to one of them"
    );
}

#[test]
fn empty_version_means_newest_like_the_sdk() {
    let uri = |f: &str| resolve_inference_image(f, "", "us-east-1").unwrap();
    assert_eq!(
        uri("xgboost"),
        "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
    );
    assert!(uri("sklearn").ends_with("/sagemaker-scikit-learn:1.9-0-cpu-py3"));
    assert!(uri("pytorch").ends_with("/pytorch-inference:2.6.0-cpu-py312"));
}

#[test]
fn error_messages_are_sentences() {
    let errors = [
        err("caffe", "1", "us-east-1"),
        err("xgboost", "0.1", "us-east-1"),
        err("pytorch", "1.4", "us-east-1"),
        err("tensorflow", "2.13", "mars-1"),
        ImageUriError::NoEcrEndpoint {
            region: "mars-1".into(),
        },
        ImageUriError::InvalidConfig {
            framework: "xgboost".into(),
            detail: "x".into(),
        },
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(
            !msg.is_empty() && !msg.contains('\n') && !msg.contains("  "),
            "{msg:?}"
        );
    }
}
