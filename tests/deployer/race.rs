//! Two first deploys of one endpoint handled at the same time: the per-
//! endpoint lease in the ledger serialises them, so the newer artifact
//! ends live and the older one leaves nothing behind.

use super::*;

#[tokio::test]
async fn first_deploys_raced_end_with_the_newer_artifact_live_and_nothing_left_over() {
    let world = World::new().await;
    let endpoint = unique("race");
    let v1 = world.upload_artifact(&endpoint, "v1/").await;
    let mut v2 = world.upload_artifact(&endpoint, "v2/").await;
    v2.event_time = v1.event_time + Duration::seconds(1);
    let newer = s3_event(std::slice::from_ref(&v2));
    let older = s3_event(std::slice::from_ref(&v1));

    // Both at once, no endpoint yet; then each failed one is retried after
    // the endpoint settles, as the deploy queue would.
    let (a, b) = tokio::join!(world.deploy(newer.clone()), world.deploy(older.clone()));
    let mut deployed_configs: Vec<String> = Vec::new();
    let mut pending = Vec::new();
    for (event, result) in [(newer, a), (older, b)] {
        let report = result.unwrap_or_else(|r| r);
        let outcome = only(&report);
        match outcome.status {
            Status::Created | Status::Updated => {
                deployed_configs.push(outcome.endpoint_config.clone().unwrap())
            }
            Status::Failed => {
                assert_eq!(outcome.retryable, Some(true), "{outcome:#?}");
                pending.push(event);
            }
            _ => {}
        }
    }
    for _ in 0..3 {
        set_endpoint_status(&endpoint, "InService");
        let mut still = Vec::new();
        for event in pending {
            let report = world.deploy(event.clone()).await.unwrap_or_else(|r| r);
            let outcome = only(&report);
            match outcome.status {
                Status::Created | Status::Updated => {
                    deployed_configs.push(outcome.endpoint_config.clone().unwrap())
                }
                Status::Failed => still.push(event),
                _ => {}
            }
        }
        pending = still;
    }
    assert!(pending.is_empty(), "never settled");
    set_endpoint_status(&endpoint, "InService");

    let live = world.endpoint(&endpoint).await;
    let live_config = live.endpoint_config_name().unwrap().to_string();
    let config_arn = world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(&live_config)
        .send()
        .await
        .unwrap()
        .endpoint_config_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        world.tags(&config_arn).await["pipeline:artifact-key"],
        v2.key,
        "the newer artifact is live"
    );
    // Every config of the endpoint is one a deploy reported as made: no
    // orphan of a losing attempt.
    for config in world.names("config", &endpoint).await {
        assert!(
            deployed_configs.contains(&config),
            "{config} left over; deployed: {deployed_configs:?}"
        );
    }
    assert_eq!(
        world.names("model", &endpoint).await.len(),
        deployed_configs.len(),
        "one model per deployment"
    );
}
