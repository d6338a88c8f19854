//! A `Failed` endpoint the pipeline created is recovered by the next deploy
//! of a newer artifact: deleted and created again, with no manual step
//! (SageMaker takes no UpdateEndpoint on a failed endpoint). Endpoints the
//! pipeline may not touch stay refused.

use super::*;
use deployer::outcome::RecordOutcome;
use integration_tests::lifecycle::{statuses, EventFeed, VirtualClock};

/// An endpoint whose create ended `Failed` (a broken artifact, its clock
/// moved past the create): that upload and its config.
async fn failed_endpoint(world: &World, endpoint: &str, clock: &VirtualClock) -> (Upload, String) {
    let broken = world
        .upload_broken_artifact(endpoint, "v1/", "ping health check failed")
        .await;
    let created = world.deploy_ok(std::slice::from_ref(&broken)).await;
    let failed_config = only(&created).endpoint_config.clone().unwrap();
    clock.advance(8.0);
    (broken, failed_config)
}

/// The outcome of a deploy of `upload` that has to wait (retryable).
async fn waits(world: &World, upload: &Upload) -> RecordOutcome {
    let report = world
        .deploy(s3_event(std::slice::from_ref(upload)))
        .await
        .expect_err("waits");
    let outcome = only(&report).clone();
    assert_eq!(outcome.retryable, Some(true), "{outcome:#?}");
    outcome
}

#[tokio::test]
async fn a_newer_upload_deletes_and_recreates_a_failed_endpoint() {
    let world = World::new().await;
    let endpoint = unique("recover");
    let clock = VirtualClock::new(&endpoint);
    let mut feed = EventFeed::new(&endpoint);
    let (broken, failed_config) = failed_endpoint(&world, &endpoint, &clock).await;
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "Failed");

    // The failed upload redelivered: already this deployment, nothing done.
    let again = world.deploy_ok(std::slice::from_ref(&broken)).await;
    assert_eq!(only(&again).status, Status::Unchanged, "{again:#?}");

    let fixed = world.upload_artifact(&endpoint, "v2/").await;
    // Deleted, then `Deleting` for the clock's default minutes (as on AWS):
    // this try waits, the next one creates it again.
    let waited = waits(&world, &fixed).await;
    assert!(
        waited.message.contains("recreat") && waited.message.contains("Failed"),
        "{}",
        waited.message
    );
    clock.advance(2.0);
    let report = world.deploy_ok(std::slice::from_ref(&fixed)).await;
    let outcome = only(&report);
    assert_eq!(outcome.status, Status::Created, "{outcome:#?}");
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "Creating");
    assert_eq!(
        described.endpoint_config_name(),
        outcome.endpoint_config.as_deref()
    );
    assert_ne!(
        outcome.endpoint_config.as_deref(),
        Some(failed_config.as_str())
    );
    assert_eq!(described.failure_reason(), None);
    let tags = world.tags(described.endpoint_arn().unwrap()).await;
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("sagemaker-serverless-pipeline")
    );
    assert_eq!(
        tags.get("pipeline:previous-config"),
        None,
        "a failed config is no rollback target"
    );
    clock.advance(8.0);
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "InService");
    assert_eq!(
        statuses(&feed.take()),
        ["CREATING", "FAILED", "DELETING", "CREATING", "IN_SERVICE"]
    );
}

#[tokio::test]
async fn an_upload_waits_while_the_failed_endpoint_is_deleting_then_recreates_it() {
    let world = World::new().await;
    let endpoint = unique("recover-deleting");
    let clock = VirtualClock::with(&endpoint, json!({"delete_minutes": 3}));
    let mut feed = EventFeed::new(&endpoint);
    let (_, failed_config) = failed_endpoint(&world, &endpoint, &clock).await;
    let fixed = world.upload_artifact(&endpoint, "v2/").await;

    // DeleteEndpoint is accepted, but SageMaker shows the endpoint
    // `Deleting` for minutes and takes no CreateEndpoint of its name
    // meanwhile: the upload waits (retryable) and creates nothing yet.
    let outcome = waits(&world, &fixed).await;
    assert!(
        outcome.message.contains(&format!(
            "deleted it: it was Failed on {failed_config} (ping health check failed)"
        )) && outcome.message.contains("Deleting"),
        "{}",
        outcome.message
    );
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "Deleting");
    assert_eq!(
        described.endpoint_config_name(),
        Some(failed_config.as_str())
    );
    assert_eq!(
        world.names("config", &endpoint).await,
        std::slice::from_ref(&failed_config)
    );

    // Retried while still Deleting: it waits again and deletes nothing twice.
    assert!(clock.advance(2.0).is_empty());
    let again = waits(&world, &fixed).await;
    assert!(
        again
            .message
            .contains("is Deleting; it can be created again once SageMaker has removed it"),
        "{}",
        again.message
    );
    assert_eq!(statuses(&feed.take()), ["CREATING", "FAILED", "DELETING"]);

    // The deletion ends (SageMaker sends no event for that); the retry
    // creates the endpoint again.
    assert!(clock.advance(1.0).is_empty());
    let gone = world
        .sm()
        .describe_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await;
    assert!(gone.is_err(), "{gone:?}");
    let report = world.deploy_ok(std::slice::from_ref(&fixed)).await;
    let recreated = only(&report);
    assert_eq!(recreated.status, Status::Created, "{recreated:#?}");
    let new_config = recreated.endpoint_config.clone().unwrap();
    assert_ne!(new_config, failed_config);
    clock.advance(8.0);
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(described.endpoint_config_name(), Some(new_config.as_str()));
    assert_eq!(described.failure_reason(), None);
    assert_eq!(statuses(&feed.take()), ["CREATING", "IN_SERVICE"]);
}

#[tokio::test]
async fn an_older_upload_does_not_recreate_a_failed_endpoint() {
    let world = World::new().await;
    let endpoint = unique("recover-old");
    let clock = VirtualClock::new(&endpoint);
    let mut older = world.upload_artifact(&endpoint, "v1/").await;
    let broken = world
        .upload_broken_artifact(&endpoint, "v2/", "model download failed")
        .await;
    older.event_time = broken.event_time - Duration::seconds(30);
    world.deploy_ok(&[broken]).await;
    clock.advance(8.0);
    let report = world.deploy_ok(&[older]).await;
    assert_eq!(only(&report).status, Status::Skipped, "{report:#?}");
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "Failed");
}

#[tokio::test]
async fn a_failed_endpoint_the_pipeline_did_not_create_stays_refused() {
    let world = World::new().await;
    let endpoint = unique("recover-unmanaged");
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder().serverless_config(
        aws_sdk_sagemaker::types::ProductionVariantServerlessConfig::builder()
            .memory_size_in_mb(2048)
            .max_concurrency(5)
            .build(),
    );
    let (_, config) = world.create_unmanaged_endpoint(&endpoint, variant).await;
    set_endpoint_status(&endpoint, "Failed");
    let report = world
        .deploy(s3_event(&[world.upload_artifact(&endpoint, "").await]))
        .await
        .expect_err("refused");
    let outcome = only(&report);
    assert_eq!(outcome.retryable, Some(false), "{outcome:#?}");
    assert!(
        outcome.message.contains("not created by this pipeline"),
        "{}",
        outcome.message
    );
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "Failed");
    assert_eq!(described.endpoint_config_name(), Some(config.as_str()));
}
