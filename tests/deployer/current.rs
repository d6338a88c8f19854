//! Only current bytes (issue 11 item 5): an event whose object version is
//! no longer the key's current one is skipped, and what a deploy costs in
//! AWS calls (issue 11: a duplicate event at most 3).

use super::*;
use integration_tests::calls_by;

#[tokio::test]
async fn a_deleted_or_overwritten_artifact_is_never_deployed() {
    let world = World::new().await;
    let endpoint = unique("current");
    let first = world.upload_artifact(&endpoint, "v1/").await;
    // The same key overwritten before the first upload's event is handled.
    let second = world.upload_artifact(&endpoint, "v1/").await;
    assert_eq!(first.key, second.key);

    let late = world.deploy_ok(std::slice::from_ref(&first)).await;
    let outcome = only(&late);
    assert_eq!(outcome.status, Status::Skipped, "{late:#?}");
    assert!(outcome.message.starts_with("superseded:"), "{late:#?}");
    assert!(world.names("model", &endpoint).await.is_empty());
    assert!(world.names("config", &endpoint).await.is_empty());

    // Then the key is deleted (a delete marker in the versioned bucket)
    // before the second upload's event is handled.
    world
        .clients
        .s3
        .delete_object()
        .bucket(&world.bucket)
        .key(&second.key)
        .send()
        .await
        .unwrap();
    let gone = world.deploy_ok(std::slice::from_ref(&second)).await;
    let outcome = only(&gone);
    assert_eq!(outcome.status, Status::Skipped, "{gone:#?}");
    assert!(outcome.message.starts_with("deleted:"), "{gone:#?}");
    assert!(world.names("model", &endpoint).await.is_empty());
    assert!(world.names("config", &endpoint).await.is_empty());
    assert!(world
        .sm()
        .describe_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await
        .is_err());
}

/// The deployer's AWS calls while `work` runs, by operation.
async fn deployer_calls<F: std::future::Future>(
    world: &World,
    work: F,
) -> (F::Output, Vec<String>) {
    let caller = world.stack.access_key_id("deployer");
    let before = calls_by(&caller).len();
    let output = work.await;
    let after = calls_by(&caller);
    (output, after[before..].to_vec())
}

#[tokio::test]
async fn a_duplicate_event_costs_at_most_three_calls() {
    let world = World::new().await;
    let endpoint = unique("calls");
    let upload = world.upload_artifact(&endpoint, "v1/").await;
    let (first, first_calls) =
        deployer_calls(&world, world.deploy_ok(std::slice::from_ref(&upload))).await;
    assert_eq!(only(&first).status, Status::Created, "{first:#?}");
    set_endpoint_status(&endpoint, "InService");

    let (duplicate, duplicate_calls) =
        deployer_calls(&world, world.deploy_ok(std::slice::from_ref(&upload))).await;
    assert_eq!(only(&duplicate).status, Status::Unchanged, "{duplicate:#?}");

    // A newer upload while the endpoint is Updating: the busy retry.
    let newer = world.upload_artifact(&endpoint, "v2/").await;
    world.deploy_ok(std::slice::from_ref(&newer)).await;
    let newest = world.upload_artifact(&endpoint, "v3/").await;
    let (busy, busy_calls) = deployer_calls(&world, world.deploy(s3_event(&[newest]))).await;
    let busy = busy.expect_err("the endpoint is updating");
    assert_eq!(only(&busy).retryable, Some(true), "{busy:#?}");

    eprintln!(
        "calls per deploy: first {} {first_calls:?}; duplicate {} {duplicate_calls:?}; busy retry {} {busy_calls:?}",
        first_calls.len(),
        duplicate_calls.len(),
        busy_calls.len()
    );
    assert!(
        duplicate_calls.len() <= 3,
        "a duplicate event made {} calls: {duplicate_calls:?}",
        duplicate_calls.len()
    );
    // Neither a duplicate nor a busy retry takes the lease.
    for calls in [&duplicate_calls, &busy_calls] {
        assert!(
            !calls.iter().any(|c| c.starts_with("dynamodb:")),
            "{calls:?}"
        );
    }
}
