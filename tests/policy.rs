//! Permissions proven by evaluation (issue 10): every AWS call the
//! integration tests made, as each function, evaluated against that
//! function's policy in template.yaml as a deployment would hold it (the SAM
//! transform applied, intrinsics resolved for the stack the test played),
//! with the condition keys the template uses. The emulator records the calls
//! (tests/emulator/call_recorder.py: action, resource ARN, request tags, the
//! resource's tags at that moment, passed role and service); the evaluator
//! is tests/policy/ (why our own: its iam_eval.py).
//!
//! Ignored in the plain run because it reads the calls of the whole
//! `integration` target: scripts/test runs it right after that target,
//! against the same emulator (`-- --ignored`).

// Shared with tests/template.rs, which uses all of it.
#[allow(dead_code)]
mod code_scan;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

fn python() -> String {
    std::env::var("PIPELINE_PYTHON").unwrap_or_else(|_| {
        code_scan::root()
            .join(".venv/bin/python")
            .display()
            .to_string()
    })
}

/// The emulator's call log (GET /_emulator/calls).
fn call_log() -> String {
    integration_tests::emulator_get("/_emulator/calls").to_string()
}

fn evaluate(log: &str, extra: &[&str]) -> Value {
    let root = code_scan::root();
    let mut child = Command::new(python())
        .arg(root.join("tests/policy/evaluate.py"))
        .arg("--template")
        .arg(root.join("template.yaml"))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tests/policy/evaluate.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "evaluate.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("evaluate.py prints JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Actions a function's code can call that no test makes it call, and why.
const NOT_EXERCISED: &[(&str, &str, &str)] = &[
    (
        "deployer",
        "s3:GetObjectVersion",
        "the deployer reads only current versions since issue 11 item 5 (HeadObject and GetObject without a version id); the shared S3 adapter it calls can send one, which the source scan counts",
    ),
    (
        "cost-sweeper",
        "s3:GetObjectVersion",
        "the sweeper reads its sweep history (issue 12 item 5) without a version id; the shared S3 reader it calls can send one, which the source scan counts",
    ),
];

#[test]
#[ignore = "reads the calls of the whole integration target; scripts/test runs it after that"]
fn every_call_the_functions_made_is_allowed_and_every_forbidden_one_denied() {
    let log = call_log();
    let verdict = evaluate(&log, &[]);
    let violations = strings(&verdict["violations"]);
    assert!(
        violations.is_empty(),
        "{} policy violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
    // The deliberately forbidden calls were all made (tests/forbidden.rs).
    let scenarios: BTreeSet<String> = verdict["scenarios"]
        .as_object()
        .expect("scenarios")
        .keys()
        .cloned()
        .collect();
    for expected in [
        "cost-sweeper/adopt-unmanaged",
        "deployer/adopt-unmanaged",
        "cost-sweeper/update-opted-out",
        "cost-sweeper/pass-any-role",
        "deployer/pass-any-role",
        "cost-sweeper/write-outside-reports",
        "smoke-tester/read-other-bucket",
        "deployer/read-other-bucket",
    ] {
        assert!(
            scenarios.contains(expected),
            "forbidden scenario {expected} was not recorded: {scenarios:?}"
        );
    }
    // Every action each function's code calls was made, and allowed.
    for function in ["deployer", "smoke-tester", "cost-sweeper"] {
        let called = code_scan::actions_called(&code_scan::root().join("functions").join(function));
        let evaluated: BTreeSet<String> =
            strings(&verdict["actions"][function]).into_iter().collect();
        let missing: Vec<&String> = called
            .iter()
            .filter(|a| !evaluated.contains(*a))
            .filter(|a| {
                !NOT_EXERCISED
                    .iter()
                    .any(|(f, action, _)| *f == function && a == action)
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{function}: the code calls {missing:?}, but no test made that call as {function}, \
             so its permission is unproven (evaluated: {evaluated:?})"
        );
    }
}

#[test]
#[ignore = "reads the calls of the whole integration target; scripts/test runs it after that"]
fn each_deliberate_policy_mistake_is_caught() {
    let log = call_log();
    let results = evaluate(&log, &["--mutations"]);
    let results = results.as_object().expect("mutation results");
    assert!(results.len() >= 5, "{results:#?}");
    for (name, result) in results {
        assert!(
            !strings(&result["violations"]).is_empty(),
            "mutation {name} ({}) went unnoticed",
            result["mistake"]
        );
    }
}
