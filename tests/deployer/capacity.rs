//! Issue 13 item 4: a change of `max_concurrency` / `provisioned_concurrency`
//! alone is applied in place (UpdateEndpointWeightsAndCapacities with a
//! ServerlessUpdateConfig): no new model, no new endpoint config.

use super::*;
use integration_tests::emulator_get;
use integration_tests::lifecycle::{settle_endpoint, EventFeed, VirtualClock};

/// The SageMaker operations this stack's deployer called, in order.
fn deployer_operations(world: &World) -> Vec<String> {
    let caller = world.stack.access_key_id("deployer");
    emulator_get("/_emulator/calls")["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["caller"] == caller.as_str() && c["service"] == "sagemaker")
        .filter_map(|c| c["operation"].as_str().map(str::to_string))
        .collect()
}

/// Deploys `settings` with a new artifact and makes the endpoint
/// InService; returns the config it runs.
async fn deployed(world: &World, endpoint: &str, settings: &Value) -> String {
    world.upload_settings(endpoint, settings).await;
    let artifact = world
        .upload(&format!("models/{endpoint}/model.tar.gz"), b"w", &[])
        .await;
    let first = world.deploy_ok(&[artifact]).await;
    set_endpoint_status(endpoint, "InService");
    only(&first).endpoint_config.clone().unwrap()
}

#[tokio::test]
async fn a_concurrency_only_change_updates_capacity_in_place() {
    let world = World::new().await;
    let endpoint = unique("capacity");
    let settings = json!({
        "image_uri": world.image(), "memory_size_mb": 2048, "max_concurrency": 5,
        "smoke_test": {"content_type": "text/csv", "body": "1.0"}
    });
    let first_config = deployed(&world, &endpoint, &settings).await;
    let before = deployer_operations(&world).len();

    let mut changed = settings.clone();
    changed["max_concurrency"] = json!(20);
    changed["provisioned_concurrency"] = json!(2);
    let sidecar = world.upload_settings(&endpoint, &changed).await;
    let report = world.deploy_ok(&[sidecar]).await;
    let outcome = only(&report);
    assert_eq!(outcome.status, Status::Updated, "{outcome:#?}");

    let calls = deployer_operations(&world)[before..].to_vec();
    let count = |op: &str| calls.iter().filter(|c| c.as_str() == op).count();
    assert_eq!(count("UpdateEndpointWeightsAndCapacities"), 1, "{calls:?}");
    for op in ["CreateModel", "CreateEndpointConfig", "UpdateEndpoint"] {
        assert_eq!(count(op), 0, "{op} in {calls:?}");
    }
    assert_eq!(
        world.names("config", &endpoint).await,
        vec![first_config.clone()]
    );
    assert_eq!(world.names("model", &endpoint).await.len(), 1);

    // Updating, on the same config, towards the new capacity.
    let described = world.endpoint(&endpoint).await;
    assert_eq!(
        described.endpoint_status().map(|s| s.as_str()),
        Some("Updating")
    );
    assert_eq!(
        described.endpoint_config_name(),
        Some(first_config.as_str())
    );
    let desired = described.production_variants()[0]
        .desired_serverless_config()
        .unwrap();
    assert_eq!(
        (desired.max_concurrency(), desired.provisioned_concurrency()),
        (Some(20), Some(2))
    );
    // The record: the endpoint's tags and the ledger entry show the change.
    let tags = world.tags(described.endpoint_arn().unwrap()).await;
    assert_eq!(
        tags.get("pipeline:capacity").map(String::as_str),
        Some("max-concurrency=20 provisioned-concurrency=2")
    );
    // Read as people do (the README's query), not as the deployer: its
    // policy has no dynamodb:Query, and tests/policy evaluates its calls.
    let reader = shared::aws::dynamodb::Ledger::new(
        aws_sdk_dynamodb::Client::new(&shared::aws::load_sdk_config().await),
        world.stack.ledger_table(),
    );
    let history = reader.deployment_history(&endpoint).await.unwrap();
    let entry = &history[0];
    assert_eq!(
        entry.replaces_config.as_deref(),
        Some(first_config.as_str())
    );
    assert_eq!(
        entry.capacity_change.as_deref(),
        Some("max concurrency 5 -> 20, provisioned concurrency none -> 2, in place on the live config")
    );

    // A redelivery while it is Updating changes nothing and calls nothing.
    let calls_before = deployer_operations(&world).len();
    let again = world
        .deploy_ok(&[world.upload_settings(&endpoint, &changed).await])
        .await;
    assert_eq!(only(&again).status, Status::Unchanged, "{again:#?}");
    let calls = deployer_operations(&world)[calls_before..].to_vec();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("Update") || c.starts_with("Create")),
        "{calls:?}"
    );

    assert!(settle_endpoint(&endpoint));
    let described = world.endpoint(&endpoint).await;
    let current = described.production_variants()[0]
        .current_serverless_config()
        .unwrap();
    assert_eq!(
        (current.max_concurrency(), current.provisioned_concurrency()),
        (Some(20), Some(2))
    );
}

#[tokio::test]
async fn a_memory_change_with_concurrency_still_makes_a_new_config() {
    let world = World::new().await;
    let endpoint = unique("capmem");
    let settings =
        json!({"image_uri": world.image(), "memory_size_mb": 2048, "max_concurrency": 5});
    deployed(&world, &endpoint, &settings).await;
    let before = deployer_operations(&world).len();
    let mut changed = settings.clone();
    changed["max_concurrency"] = json!(8);
    changed["memory_size_mb"] = json!(4096);
    let sidecar = world.upload_settings(&endpoint, &changed).await;
    assert_eq!(
        only(&world.deploy_ok(&[sidecar]).await).status,
        Status::Updated
    );
    let calls = deployer_operations(&world)[before..].to_vec();
    assert!(
        calls.contains(&"CreateEndpointConfig".to_string()),
        "{calls:?}"
    );
    assert!(calls.contains(&"UpdateEndpoint".to_string()), "{calls:?}");
    assert!(
        !calls.contains(&"UpdateEndpointWeightsAndCapacities".to_string()),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_concurrency_only_change_ends_deployed_once_the_endpoint_is_in_service_again() {
    let world = World::new().await;
    let tester = crate::smoke_tester::tester_for(&world).await;
    let endpoint = unique("capdone");
    let clock = VirtualClock::with(&endpoint, json!({"duplicate_events": 1}));
    let mut feed = EventFeed::new(&endpoint);
    let deliver = |events: Vec<Value>| {
        let tester = &tester;
        async move {
            for event in events {
                let mut context = Context::default();
                context.request_id = unique("request");
                smoke_tester::handle(LambdaEvent::new(event, context), tester)
                    .await
                    .expect("smoke test ran");
            }
        }
    };
    let settings =
        json!({"image_uri": world.image(), "memory_size_mb": 2048, "max_concurrency": 5});
    world.upload_settings(&endpoint, &settings).await;
    let artifact = world
        .upload(&format!("models/{endpoint}/model.tar.gz"), b"w", &[])
        .await;
    let first = world.deploy_ok(&[artifact]).await;
    let first_config = only(&first).endpoint_config.clone().unwrap();
    clock.advance(10.0);
    deliver(feed.take()).await;

    let mut changed = settings.clone();
    changed["max_concurrency"] = json!(20);
    let report = world
        .deploy_ok(&[world.upload_settings(&endpoint, &changed).await])
        .await;
    let capacity_entry = only(&report).clone();
    assert_eq!(capacity_entry.status, Status::Updated, "{report:#?}");
    // Still Updating: the change has not ended yet.
    deliver(feed.take()).await;
    let open = |history: &[shared::ledger::LedgerEntry]| {
        history
            .iter()
            .filter(|e| e.outcome == shared::ledger::Outcome::InProgress)
            .count()
    };
    assert_eq!(open(&world.ledger_history(&endpoint).await), 1);

    clock.advance(10.0);
    deliver(feed.take()).await;
    let history = world.ledger_history(&endpoint).await;
    assert_eq!(open(&history), 0, "{history:#?}");
    let change = history
        .iter()
        .find(|e| e.capacity_change.is_some())
        .expect("the capacity change's entry");
    assert_eq!(
        change.outcome,
        shared::ledger::Outcome::Deployed,
        "{change:#?}"
    );
    assert_eq!(
        change.replaces_config.as_deref(),
        Some(first_config.as_str())
    );
    let reason = change.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("max concurrency 5 -> 20") && reason.contains(&first_config),
        "{reason}"
    );
    let first_entry = history
        .iter()
        .find(|e| e.config_name == first_config)
        .unwrap();
    assert_eq!(first_entry.outcome, shared::ledger::Outcome::Deployed);
    assert_eq!(
        status_of(&world.endpoint(&endpoint).await),
        "InService",
        "nothing else changed"
    );
}
