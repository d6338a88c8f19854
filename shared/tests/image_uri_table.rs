//! Checks `shared::image_uri` against the SageMaker SDK itself: every case in
//! `tests/data/image_uri_cases.json` was produced by calling
//! `sagemaker.core.image_uris.retrieve()` (see
//! `scripts/generate_image_uri_cases.py`), and must resolve to exactly the
//! same URI, or fail where the SDK failed, for the same reason.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use shared::image_uri::{resolve_inference_image, ImageUriError, SUPPORTED_FRAMEWORKS};

#[derive(Debug, Deserialize)]
struct Table {
    sagemaker_core_version: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    framework: String,
    version: String,
    region: String,
    uri: Option<String>,
    #[serde(default)]
    error: bool,
    kind: Option<String>,
}

fn load() -> Table {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/image_uri_cases.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The SDK's failure reason (as classified by the generator) for an error.
fn kind_of(e: &ImageUriError) -> &'static str {
    match e {
        ImageUriError::UnsupportedFramework { .. } => "framework",
        ImageUriError::UnsupportedVersion { .. } => "version",
        ImageUriError::PythonVersionRequired { .. }
        | ImageUriError::UnsupportedPythonVersion { .. } => "py_version",
        ImageUriError::UnsupportedRegion { .. } => "region",
        ImageUriError::NoEcrEndpoint { .. } | ImageUriError::InvalidConfig { .. } => "other",
    }
}

#[test]
fn every_case_matches_the_sdk() {
    let table = load();
    let mut mismatches = Vec::new();
    for case in &table.cases {
        let got = resolve_inference_image(&case.framework, &case.version, &case.region);
        let ok = match (&case.uri, &got) {
            (Some(expected), Ok(uri)) => expected == uri,
            (None, Err(e)) => {
                assert!(case.error, "case without uri or error: {case:?}");
                // "other" is any failure the generator did not classify.
                matches!(case.kind.as_deref(), Some(k) if k == kind_of(e) || k == "other")
            }
            _ => false,
        };
        if !ok {
            let expected = match (&case.uri, &case.kind) {
                (Some(uri), _) => uri.clone(),
                (None, kind) => format!("error ({})", kind.as_deref().unwrap_or("?")),
            };
            let ours = match &got {
                Ok(uri) => uri.clone(),
                Err(e) => format!("error ({}): {e}", kind_of(e)),
            };
            mismatches.push(format!(
                "{} {:?} {:?}\n    sdk:  {expected}\n    ours: {ours}",
                case.framework, case.version, case.region
            ));
        }
    }
    if !mismatches.is_empty() {
        for m in &mismatches {
            eprintln!("{m}");
        }
        panic!(
            "{} of {} cases differ from sagemaker-core {} (listed above)",
            mismatches.len(),
            table.cases.len(),
            table.sagemaker_core_version
        );
    }
}

#[test]
fn table_covers_every_framework_with_uris_and_errors() {
    let table = load();
    assert!(table.cases.len() > 1000, "only {} cases", table.cases.len());
    for framework in SUPPORTED_FRAMEWORKS {
        let of = |want_error: bool| {
            table
                .cases
                .iter()
                .filter(|c| c.framework == *framework && c.error == want_error)
                .count()
        };
        assert!(of(false) > 100, "{framework}: too few URI cases");
        assert!(of(true) > 10, "{framework}: too few error cases");
    }
    for kind in ["framework", "version", "region", "py_version"] {
        assert!(
            table.cases.iter().any(|c| c.kind.as_deref() == Some(kind)),
            "no {kind} error case"
        );
    }
}

/// The Regions of one framework version that worked, and the cases that
/// failed for their Region.
#[derive(Default)]
struct RegionOutcomes<'a> {
    working: BTreeSet<&'a str>,
    failing: Vec<&'a Case>,
}

/// A region error lists exactly the Regions where the table has an image for
/// that framework version (among the Regions the table tried).
#[test]
fn region_errors_list_the_regions_that_work() {
    let table = load();
    let mut by_version: BTreeMap<(&str, &str), RegionOutcomes> = BTreeMap::new();
    for case in &table.cases {
        let entry = by_version
            .entry((&case.framework, &case.version))
            .or_default();
        match (&case.uri, case.kind.as_deref()) {
            (Some(_), _) => {
                entry.working.insert(&case.region);
            }
            (None, Some("region")) => entry.failing.push(case),
            _ => {}
        }
    }
    let mut checked = 0;
    for ((framework, version), outcomes) in &by_version {
        for case in &outcomes.failing {
            let Err(ImageUriError::UnsupportedRegion { supported, .. }) =
                resolve_inference_image(framework, version, &case.region)
            else {
                continue; // reported by every_case_matches_the_sdk
            };
            let listed: BTreeSet<&str> = supported.iter().map(String::as_str).collect();
            let missing: Vec<_> = outcomes.working.difference(&listed).collect();
            assert!(
                missing.is_empty(),
                "{framework} {version:?}: working regions {missing:?} not listed"
            );
            assert!(
                !listed.contains(case.region.as_str()),
                "{framework} {version:?}: lists {}",
                case.region
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} region errors checked");
}
