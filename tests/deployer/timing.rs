//! The deployer on AWS's timing (the emulator's virtual clock, marked
//! artifacts and state-change feed: integration_tests::lifecycle).

use super::*;
use integration_tests::lifecycle::{statuses, EventFeed, VirtualClock, FAILURE_METADATA};

impl World {
    /// An artifact SageMaker will fail to load, with `reason` as FailureReason.
    pub(crate) async fn upload_broken_artifact(
        &self,
        endpoint: &str,
        folder: &str,
        reason: &str,
    ) -> Upload {
        let key = format!("models/{endpoint}/{folder}model.tar.gz");
        let image = self.image();
        self.upload(
            &key,
            unique("weights").as_bytes(),
            &[("image-uri", image.as_str()), (FAILURE_METADATA, reason)],
        )
        .await
    }
}

#[tokio::test]
async fn a_created_endpoint_stays_creating_until_its_minutes_have_passed() {
    let world = World::new().await;
    let endpoint = unique("minutes");
    let clock = VirtualClock::with(&endpoint, json!({"create_minutes": 8}));
    let mut feed = EventFeed::new(&endpoint);
    let report = world
        .deploy_ok(&[world.upload_artifact(&endpoint, "v1/").await])
        .await;
    assert_eq!(only(&report).status, Status::Created, "{report:#?}");
    assert_eq!(statuses(&feed.take()), ["CREATING"]);

    assert!(clock.advance(7.0).is_empty());
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "Creating");
    // A newer upload meanwhile finds the endpoint busy.
    let busy = world
        .deploy(s3_event(&[world.upload_artifact(&endpoint, "v2/").await]))
        .await
        .expect_err("busy endpoint");
    assert_eq!(only(&busy).retryable, Some(true), "{busy:#?}");

    let events = clock.advance(1.0);
    assert_eq!(statuses(&events), ["IN_SERVICE"]);
    assert_eq!(clock.minutes(), 8.0);
    assert_eq!(feed.take(), events);
    let detail = &events[0]["detail"];
    assert_eq!(detail["EndpointName"], json!(endpoint));
    assert_eq!(
        detail["EndpointConfigName"],
        json!(only(&report).endpoint_config.clone().unwrap())
    );
    assert_eq!(
        detail["Tags"]["managed-by"],
        "sagemaker-serverless-pipeline"
    );
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "InService");
}

#[tokio::test]
async fn a_broken_artifact_ends_the_create_failed_with_its_reason() {
    let world = World::new().await;
    let endpoint = unique("failcreate");
    let reason = "The primary container for production variant AllTraffic did not pass the ping health check.";
    let clock = VirtualClock::with(&endpoint, json!({"duplicate_events": 1}));
    let mut feed = EventFeed::new(&endpoint);
    world
        .deploy_ok(&[world.upload_broken_artifact(&endpoint, "v1/", reason).await])
        .await;
    clock.advance(8.0);
    let events = feed.take();
    assert_eq!(
        statuses(&events),
        ["CREATING", "CREATING", "FAILED", "FAILED"]
    );
    assert_eq!(events[2], events[3], "a duplicate is the same event");
    assert_eq!(events[2]["detail"]["FailureReason"], json!(reason));
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "Failed");
    assert_eq!(described.failure_reason(), Some(reason));
}

#[tokio::test]
async fn a_broken_update_is_rolled_back_to_the_old_config() {
    let world = World::new().await;
    let endpoint = unique("rollback");
    let reason = "Model failed to load.";
    let clock = VirtualClock::new(&endpoint);
    let mut feed = EventFeed::new(&endpoint);
    let first = world
        .deploy_ok(&[world.upload_artifact(&endpoint, "").await])
        .await;
    let old_config = only(&first).endpoint_config.clone().unwrap();
    clock.advance(8.0);
    let second = world
        .deploy_ok(&[world.upload_broken_artifact(&endpoint, "", reason).await])
        .await;
    assert_eq!(only(&second).status, Status::Updated, "{second:#?}");
    assert_eq!(status_of(&world.endpoint(&endpoint).await), "Updating");

    let events = clock.advance(6.0);
    assert_eq!(statuses(&events), ["IN_SERVICE"]);
    assert_eq!(events[0]["detail"]["EndpointConfigName"], json!(old_config));
    assert_eq!(events[0]["detail"]["FailureReason"], json!(reason));
    assert_eq!(
        statuses(&feed.take()),
        ["CREATING", "IN_SERVICE", "UPDATING", "IN_SERVICE"]
    );
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(described.endpoint_config_name(), Some(old_config.as_str()));
    assert_eq!(described.failure_reason(), Some(reason));
}
