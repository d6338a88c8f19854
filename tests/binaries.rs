//! The real `bootstrap` binaries (each function's main.rs: configuration
//! from the environment, SDK clients, the Lambda runtime loop), run by
//! scripts/lambda_harness.py: invoked through `cargo lambda watch` /
//! `cargo lambda invoke`, or started without an event to see whether they
//! reach the Runtime API's first GET /next.

use crate::deployer::World;
use integration_tests::fixtures::s3_event;
use integration_tests::{repo_root, unique, Stack};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// A workspace binary built next to this test executable.
pub(crate) fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// Runs `lambda_harness.py <subcommand> --binary <binary_name> ...`; returns
/// its JSON outcome.
fn harness(subcommand: &str, binary_name: &str, env: &[(&str, &str)], extra: &[&str]) -> Value {
    let python = std::env::var("PIPELINE_PYTHON")
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python").display().to_string());
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("scripts/lambda_harness.py"))
        .arg(subcommand)
        .arg("--binary")
        .arg(binary(binary_name))
        .arg("--timeout")
        .arg("60")
        .args(extra);
    for (name, value) in env {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    let output = command.output().expect("run scripts/lambda_harness.py");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "lambda_harness.py printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs `binary` once with `event` (cargo lambda watch + invoke).
fn invoke(binary_name: &str, event: &Value, env: &[(&str, &str)]) -> Value {
    let event_path = std::env::temp_dir().join(format!("{}.json", unique("event")));
    std::fs::write(&event_path, event.to_string()).unwrap();
    let outcome = harness(
        "invoke",
        binary_name,
        env,
        &["--event", &event_path.display().to_string()],
    );
    let _ = std::fs::remove_file(&event_path);
    outcome
}

#[tokio::test]
async fn the_deployer_binary_deploys_an_upload() {
    let world = World::new().await;
    let endpoint = unique("binary");
    let upload = world.upload_artifact(&endpoint, "v1/").await;
    // The binary calls AWS as the deployer of the world's stack.
    let role = world.stack.execution_role_arn();
    let key = world.stack.access_key_id("deployer");
    let outcome = invoke(
        "deployer",
        &s3_event(&[upload]),
        &[("EXECUTION_ROLE_ARN", &role), ("AWS_ACCESS_KEY_ID", &key)],
    );
    assert_eq!(outcome["ok"], json!(true), "{outcome:#}");
    assert_eq!(
        outcome["response"]["results"][0]["status"], "created",
        "{outcome:#}"
    );
    assert_eq!(
        world
            .endpoint(&endpoint)
            .await
            .endpoint_status()
            .map(|s| s.as_str()),
        Some("Creating")
    );
}

#[test]
fn the_deployer_refuses_to_start_without_its_execution_role() {
    let outcome = harness("init", "deployer", &[("EXECUTION_ROLE_ARN", "")], &[]);
    assert_eq!(outcome["polled"], json!(false), "{outcome:#}");
    assert_eq!(outcome["exit_status"], json!(1), "{outcome:#}");
    let error = outcome["stderr"].to_string();
    assert!(error.contains("EXECUTION_ROLE_ARN"), "{error}");
}

#[test]
fn each_function_with_its_configuration_reaches_the_first_poll() {
    for (name, env) in [
        (
            "deployer",
            vec![("EXECUTION_ROLE_ARN", crate::deployer::ROLE)],
        ),
        ("smoke-tester", vec![]),
        ("cost-sweeper", vec![]),
    ] {
        let outcome = harness("init", name, &env, &[]);
        assert_eq!(outcome["polled"], json!(true), "{name}: {outcome:#}");
        assert!(outcome["init_ms"].as_f64().is_some(), "{name}: {outcome:#}");
    }
}

#[tokio::test]
async fn the_smoke_tester_binary_ignores_an_unknown_endpoint() {
    let stack = Stack::new("binary", &[]).await;
    let key = stack.access_key_id("smoke-tester");
    let outcome = invoke(
        "smoke-tester",
        &json!({"endpoint_name": unique("ghost")}),
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    assert_eq!(outcome["ok"], json!(true), "{outcome:#}");
    assert_eq!(outcome["response"]["outcome"], "ignored", "{outcome:#}");
}
