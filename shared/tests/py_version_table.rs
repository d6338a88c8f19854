//! `py_version` resolved as the SageMaker SDK resolves it: every case in
//! `tests/data/packing_cases.json` (`py_version_cases`) is the answer of
//! `sagemaker.image_uris.retrieve(framework, "us-east-1", version,
//! py_version=..., image_scope="inference", serverless_inference_config=...)`
//! from PyPI `sagemaker` 2.x (see `scripts/generate_packing_cases.py`).

use serde::Deserialize;
use shared::image_uri::{resolve_inference_image_py, ImageUriError};

#[derive(Debug, Deserialize)]
struct Table {
    py_version_cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    framework: String,
    version: String,
    py_version: Option<String>,
    uri: Option<String>,
    error: Option<String>,
}

const REGION: &str = "us-east-1";

fn load() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/packing_cases.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_py_version_case_matches_the_sdk() {
    let table = load();
    assert!(table.py_version_cases.len() > 100, "too few cases");
    let mut mismatches = Vec::new();
    for case in &table.py_version_cases {
        let got = resolve_inference_image_py(
            &case.framework,
            &case.version,
            case.py_version.as_deref(),
            REGION,
        );
        let ok = match (&case.uri, &case.error, &got) {
            (Some(expected), None, Ok(uri)) => expected == uri,
            (None, Some(kind), Err(e)) if kind == "py_version" => matches!(
                e,
                ImageUriError::PythonVersionRequired { .. }
                    | ImageUriError::UnsupportedPythonVersion { .. }
            ),
            (None, Some(_), Err(_)) => true,
            _ => false,
        };
        if !ok {
            mismatches.push(format!("{case:?}\n    ours: {got:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} py_version cases differ from the SDK:\n{}",
        mismatches.len(),
        table.py_version_cases.len(),
        mismatches.join("\n")
    );
}
