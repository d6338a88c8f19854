//! Issue 13 item 5: pre-flight checks refuse, each with its own reason,
//! before anything is created.

use super::*;

/// Deploys `settings` (as deploy.json) with an artifact of `artifact` bytes
/// and returns the failure's message; asserts it is not retryable and that
/// no model, config or endpoint exists afterwards.
async fn refused(world: &World, endpoint: &str, settings: Value, artifact: &[u8]) -> String {
    world.upload_settings(endpoint, &settings).await;
    let upload = world
        .upload(&format!("models/{endpoint}/model.tar.gz"), artifact, &[])
        .await;
    let report = world
        .deploy(s3_event(&[upload]))
        .await
        .expect_err("the pre-flight check refuses");
    let outcome = only(&report);
    assert_eq!(outcome.retryable, Some(false), "{outcome:#?}");
    assert!(world.names("model", endpoint).await.is_empty());
    assert!(world.names("config", endpoint).await.is_empty());
    let described = world
        .sm()
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await;
    assert!(described.is_err(), "an endpoint was created: {described:?}");
    outcome.message.clone()
}

/// The bytes of a gzip member whose trailer says it inflates to `size`
/// bytes (the deployer reads only the header, the trailer and the size,
/// as documented).
fn gzip_claiming(size: u32) -> Vec<u8> {
    gzip_with_deflate_bytes(2, size)
}

#[tokio::test]
async fn serverless_excluded_features_are_refused_by_name() {
    let world = World::new().await;
    let cases = [
        (
            "vpc_config",
            json!({"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}),
            "VPC",
        ),
        ("enable_network_isolation", json!(true), "network isolation"),
        (
            "data_capture_config",
            json!({"EnableCapture": true}),
            "data capture",
        ),
    ];
    for (field, value, words) in cases {
        let endpoint = unique("excluded");
        let mut settings = json!({"image_uri": world.image()});
        settings[field] = value;
        let message = refused(&world, &endpoint, settings, b"weights").await;
        assert!(
            message.contains(field) && message.contains(words) && message.contains("serverless"),
            "{message}"
        );
    }
    let endpoint = unique("gpu");
    let gpu = format!(
        "763104351884.dkr.ecr.{}.amazonaws.com/pytorch-inference:2.1.0-gpu-py310",
        world.clients.region
    );
    let message = refused(&world, &endpoint, json!({"image_uri": gpu}), b"weights").await;
    assert!(
        message.contains("GPU") && message.contains(&gpu),
        "{message}"
    );
}

#[tokio::test]
async fn an_artifact_that_inflates_past_the_memory_is_refused() {
    let world = World::new().await;
    let endpoint = unique("toolarge");
    // 3 GiB uncompressed cannot load in 2048 MB.
    let settings = json!({"image_uri": world.image(), "memory_size_mb": 2048});
    let message = refused(&world, &endpoint, settings, &gzip_claiming(3 << 30)).await;
    assert!(
        message.contains("3221225472") && message.contains("2048 MB"),
        "{message}"
    );
}

#[tokio::test]
async fn a_smoke_test_request_over_4_mb_is_refused() {
    let world = World::new().await;
    let endpoint = unique("bigsmoke");
    let body_key = format!("models/{endpoint}/request.json");
    world
        .upload(&body_key, &vec![b'1'; 4 * 1024 * 1024 + 1], &[])
        .await;
    let settings = json!({
        "image_uri": world.image(),
        "smoke_test": {"content_type": "application/json", "body_s3_key": body_key}
    });
    let message = refused(&world, &endpoint, settings, b"weights").await;
    assert!(
        message.contains("4194305") && message.contains("4 MB"),
        "{message}"
    );
}

/// A gzip member with `deflate_bytes` bytes of (unread) deflate data whose
/// trailer says `isize`: what a single-member artifact looks like when it
/// inflates to `isize` plus whole multiples of 4 GiB (ISIZE wraps).
fn gzip_with_deflate_bytes(deflate_bytes: usize, isize: u32) -> Vec<u8> {
    let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bytes.resize(bytes.len() + deflate_bytes, 0);
    bytes.extend_from_slice(&[1, 2, 3, 4]); // CRC-32 (not checked)
    bytes.extend_from_slice(&isize.to_le_bytes());
    bytes
}

#[tokio::test]
async fn an_artifact_over_4_gib_whose_gzip_trailer_wrapped_is_refused() {
    let world = World::new().await;
    let endpoint = unique("wrapped");
    // 4 MiB of deflate data cannot inflate to only 1 MiB (deflate never
    // expands data by more than ~13%), so the trailer's 1 MiB wrapped:
    // at least 4 GiB + 1 MiB, more than 4096 MB of memory.
    let settings = json!({"image_uri": world.image(), "memory_size_mb": 4096});
    let artifact = gzip_with_deflate_bytes(4 << 20, 1 << 20);
    let message = refused(&world, &endpoint, settings, &artifact).await;
    let at_least = (4u64 << 30) + (1 << 20);
    assert!(
        message.contains(&at_least.to_string())
            && message.contains("1048576")
            && message.contains("4096 MB"),
        "{message}"
    );
}
