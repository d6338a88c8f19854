//! What the deployer refuses: endpoints it must not touch, bad input.

use super::*;

#[tokio::test]
async fn an_instance_based_endpoint_is_left_alone_and_nothing_is_created() {
    let world = World::new().await;
    let endpoint = unique("persistent");
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(1);
    let (model, config) = world.create_unmanaged_endpoint(&endpoint, variant).await;

    let upload = world.upload_artifact(&endpoint, "").await;
    let report = world
        .deploy(s3_event(&[upload]))
        .await
        .expect_err("refused");
    let outcome = only(&report);
    assert_eq!(outcome.retryable, Some(false));
    assert!(
        outcome.message.contains("instance-based"),
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains("real-time endpoint to serverless"),
        "{}",
        outcome.message
    );
    assert_eq!(
        world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(config.as_str())
    );
    let ours: Vec<_> = world
        .names("model", &endpoint)
        .await
        .into_iter()
        .filter(|m| m != &model)
        .collect();
    assert!(ours.is_empty(), "created {ours:?}");
}

#[tokio::test]
async fn bad_settings_fail_that_record_only_and_create_nothing() {
    let world = World::new().await;
    let bad = unique("bad");
    let good = unique("good");
    world
        .upload(
            &format!("models/{bad}/deploy.json"),
            json!({"image_uri": world.image(), "memory_size_mb": 1500})
                .to_string()
                .as_bytes(),
            &[],
        )
        .await;
    let bad_upload = world
        .upload(&format!("models/{bad}/model.tar.gz"), b"w", &[])
        .await;
    let good_upload = world.upload_artifact(&good, "").await;
    let report = world
        .deploy(s3_event(&[bad_upload, good_upload]))
        .await
        .expect_err("one record is bad");
    assert_eq!(report.results.len(), 2);
    let failed = &report.results[0];
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.retryable, Some(false));
    assert!(
        failed.message.contains("memory_size_mb = 1500"),
        "{}",
        failed.message
    );
    assert!(
        failed
            .message
            .contains("1024, 2048, 3072, 4096, 5120 or 6144"),
        "{}",
        failed.message
    );
    assert_eq!(report.results[1].status, Status::Created);
    assert!(world.names("model", &bad).await.is_empty());
    assert!(world.names("config", &bad).await.is_empty());
}

#[tokio::test]
async fn malformed_events_are_refused_clearly() {
    let world = World::new().await;
    let not_s3 = world
        .deploy(json!({"detail-type": "Scheduled Event"}))
        .await
        .expect_err("not S3");
    assert!(only(&not_s3).message.contains("not an S3 notification"));

    let mut removed = event_file("s3-put-model.json");
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    let report = world.deploy(removed).await.expect_err("wrong type");
    assert!(only(&report).message.contains("ObjectRemoved:Delete"));

    let mut missing = event_file("s3-put-model.json");
    missing["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let report = world.deploy(missing).await.expect_err("missing key");
    assert!(
        only(&report).message.contains("s3.object.key"),
        "{}",
        only(&report).message
    );
}

#[tokio::test]
async fn url_encoded_keys_and_unrelated_files_in_the_sample_events() {
    let world = World::new().await;
    // events/s3-put-url-encoded-key.json, pointed at this test's bucket.
    let mut event = event_file("s3-put-url-encoded-key.json");
    let record = &mut event["Records"][0];
    let key =
        shared::s3_event::decode_key(record["s3"]["object"]["key"].as_str().unwrap()).unwrap();
    assert_eq!(key, "models/churn model/2026-11-28 run+1/model.tar.gz");
    let endpoint_folder = unique("churn model");
    let key = key.replace("churn model", &endpoint_folder);
    let image = world.image();
    let (version, etag) = world
        .clients
        .put(&world.bucket, &key, b"w", &[("image-uri", image.as_str())])
        .await;
    record["s3"]["bucket"]["name"] = json!(world.bucket);
    record["s3"]["object"]["key"] = json!(integration_tests::fixtures::encode_key(&key));
    record["s3"]["object"]["versionId"] = json!(version);
    record["s3"]["object"]["eTag"] = json!(etag);
    let report = world
        .deploy(event)
        .await
        .unwrap_or_else(|r| panic!("{r:#?}"));
    assert_eq!(only(&report).status, Status::Created);
    assert_eq!(
        only(&report).endpoint.as_deref(),
        Some(endpoint_folder.replace(' ', "-").as_str())
    );

    // The multi-record sample: its README.md record is skipped, not failed.
    let sample = event_file("s3-put-multiple-records.json");
    let readme = shared::s3_event::parse_record(2, &sample["Records"][2]).unwrap();
    let done = world.deployer.deploy(&readme, None).await.unwrap();
    assert_eq!(done.status, Status::Skipped);
}

#[tokio::test]
async fn a_serverless_endpoint_the_pipeline_did_not_create_is_not_touched() {
    let world = World::new().await;
    let endpoint = unique("foreign");
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder().serverless_config(
        aws_sdk_sagemaker::types::ProductionVariantServerlessConfig::builder()
            .memory_size_in_mb(2048)
            .max_concurrency(1)
            .build(),
    );
    let (_, config) = world.create_unmanaged_endpoint(&endpoint, variant).await;
    let upload = world.upload_artifact(&endpoint, "").await;
    let report = world
        .deploy(s3_event(&[upload]))
        .await
        .expect_err("refused");
    assert!(
        only(&report)
            .message
            .contains("not created by this pipeline"),
        "{}",
        only(&report).message
    );
    assert_eq!(
        world.endpoint(&endpoint).await.endpoint_config_name(),
        Some(config.as_str())
    );
}
