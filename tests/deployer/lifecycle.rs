//! Creating, updating, redelivery, concurrency, ordering, pruning.

use super::*;

#[tokio::test]
async fn a_new_artifact_creates_model_config_and_endpoint() {
    let world = World::new().await;
    let endpoint = unique("create");
    let upload = world.upload_artifact(&endpoint, "v1/").await;
    let report = world.deploy_ok(std::slice::from_ref(&upload)).await;
    let outcome = only(&report);
    assert_eq!(outcome.status, Status::Created, "{outcome:#?}");
    assert_eq!(outcome.endpoint.as_deref(), Some(endpoint.as_str()));

    let described = world.endpoint(&endpoint).await;
    assert_eq!(
        described.endpoint_status().map(|s| s.as_str()),
        Some("Creating")
    );
    let config_name = described.endpoint_config_name().unwrap();
    assert_eq!(Some(config_name), outcome.endpoint_config.as_deref());
    let config = world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(config_name)
        .send()
        .await
        .unwrap();
    let variant = &config.production_variants()[0];
    assert_eq!(variant.variant_name(), Some("AllTraffic"));
    let serverless = variant.serverless_config().expect("serverless variant");
    assert_eq!(
        (serverless.memory_size_in_mb(), serverless.max_concurrency()),
        (Some(2048), Some(10))
    );

    let model = world
        .sm()
        .describe_model()
        .model_name(variant.model_name().unwrap())
        .send()
        .await
        .unwrap();
    let container = model.primary_container().unwrap();
    assert_eq!(container.image(), Some(world.image().as_str()));
    assert_eq!(
        container.model_data_url(),
        Some(format!("s3://{}/{}", world.bucket, upload.key).as_str())
    );
    assert_eq!(
        model.execution_role_arn(),
        Some(world.stack.execution_role_arn().as_str())
    );

    let endpoint_tags = world.tags(described.endpoint_arn().unwrap()).await;
    assert_eq!(
        endpoint_tags.get("managed-by").map(String::as_str),
        Some("sagemaker-serverless-pipeline")
    );
    let config_tags = world.tags(config.endpoint_config_arn().unwrap()).await;
    assert_eq!(config_tags.get("pipeline:artifact-key"), Some(&upload.key));
    assert_eq!(
        config_tags.get("pipeline:artifact-version"),
        Some(&upload.version_id)
    );
    assert_eq!(
        config_tags.get("pipeline:s3-sequencer"),
        Some(&upload.sequencer)
    );
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing() {
    let world = World::new().await;
    let endpoint = unique("dup");
    let upload = world.upload_artifact(&endpoint, "").await;
    assert_eq!(
        only(&world.deploy_ok(std::slice::from_ref(&upload)).await).status,
        Status::Created
    );
    let again = world.deploy_ok(std::slice::from_ref(&upload)).await;
    assert_eq!(only(&again).status, Status::Unchanged, "{again:#?}");
    set_endpoint_status(&endpoint, "InService");
    assert_eq!(
        only(&world.deploy_ok(&[upload]).await).status,
        Status::Unchanged
    );
    assert_eq!(world.names("model", &endpoint).await.len(), 1);
    assert_eq!(world.names("config", &endpoint).await.len(), 1);
}

#[tokio::test]
async fn ten_concurrent_deliveries_make_one_of_each_and_no_error() {
    let world = World::new().await;
    let endpoint = unique("burst");
    let upload = world.upload_artifact(&endpoint, "").await;
    let event = s3_event(&[upload]);
    let deliveries = (0..10).map(|_| world.deploy(event.clone()));
    let reports = futures::future::join_all(deliveries).await;
    let mut statuses = Vec::new();
    for report in reports {
        let report = report.unwrap_or_else(|r| panic!("a concurrent delivery failed: {r:#?}"));
        statuses.push(only(&report).status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == Status::Created).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s, Status::Created | Status::Unchanged)),
        "{statuses:?}"
    );
    assert_eq!(world.names("model", &endpoint).await.len(), 1);
    assert_eq!(world.names("config", &endpoint).await.len(), 1);
}

#[tokio::test]
async fn a_newer_artifact_updates_a_serverless_endpoint_and_records_the_old_config() {
    let world = World::new().await;
    let endpoint = unique("update");
    let first = world.upload_artifact(&endpoint, "").await;
    let created = world.deploy_ok(std::slice::from_ref(&first)).await;
    let old_config = only(&created).endpoint_config.clone().unwrap();

    // While the endpoint is still Creating, a newer artifact must wait.
    let second = world.upload_artifact(&endpoint, "").await;
    let busy = world
        .deploy(s3_event(std::slice::from_ref(&second)))
        .await
        .expect_err("busy endpoint");
    let outcome = only(&busy);
    assert_eq!(outcome.retryable, Some(true), "{outcome:#?}");
    assert!(outcome.message.contains("Creating"), "{}", outcome.message);

    set_endpoint_status(&endpoint, "InService");
    let updated = world.deploy_ok(std::slice::from_ref(&second)).await;
    let outcome = only(&updated);
    assert_eq!(outcome.status, Status::Updated, "{outcome:#?}");
    let described = world.endpoint(&endpoint).await;
    assert_eq!(
        described.endpoint_config_name(),
        outcome.endpoint_config.as_deref()
    );
    assert_eq!(
        described.endpoint_status().map(|s| s.as_str()),
        Some("Updating")
    );
    let tags = world.tags(described.endpoint_arn().unwrap()).await;
    assert_eq!(tags.get("pipeline:previous-config"), Some(&old_config));

    // The first upload's event arriving late: its version is no longer the
    // key's current one (issue 11 item 5), so skipped, not deployed. (Were
    // it still current, the older sequencer would skip it: plan_tests.)
    set_endpoint_status(&endpoint, "InService");
    let late = world.deploy_ok(&[first]).await;
    assert_eq!(only(&late).status, Status::Skipped, "{late:#?}");
    assert!(
        only(&late).message.starts_with("superseded:"),
        "{}",
        only(&late).message
    );
    assert_eq!(
        world.endpoint(&endpoint).await.endpoint_config_name(),
        described.endpoint_config_name()
    );
}

#[tokio::test]
async fn an_older_artifact_under_another_key_is_skipped() {
    let world = World::new().await;
    let endpoint = unique("order");
    let mut older = world.upload_artifact(&endpoint, "v1/").await;
    let newer = world.upload_artifact(&endpoint, "v2/").await;
    older.event_time = newer.event_time - Duration::seconds(30);
    world.deploy_ok(std::slice::from_ref(&newer)).await;
    set_endpoint_status(&endpoint, "InService");
    let report = world.deploy_ok(&[older]).await;
    assert_eq!(only(&report).status, Status::Skipped, "{report:#?}");
    let config = world
        .endpoint(&endpoint)
        .await
        .endpoint_config_name()
        .unwrap()
        .to_string();
    let tags = world.tags(&config_arn(&world, &config).await).await;
    assert_eq!(tags.get("pipeline:artifact-key"), Some(&newer.key));
}

async fn config_arn(world: &World, name: &str) -> String {
    let out = world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(name)
        .send()
        .await
        .unwrap();
    out.endpoint_config_arn().unwrap().to_string()
}

#[tokio::test]
async fn deploy_json_sets_everything_and_a_change_to_it_redeploys() {
    let world = World::new().await;
    let endpoint = unique("sidecar");
    let settings = json!({
        "image_uri": world.image(), "memory_size_mb": 3072, "max_concurrency": 5,
        "environment": {"SAGEMAKER_PROGRAM": "inference.py"}, "tags": {"team": "risk"},
        "smoke_test": {"content_type": "text/csv", "body": "1.0,2.0"}
    });
    world
        .upload(
            &format!("models/{endpoint}/deploy.json"),
            settings.to_string().as_bytes(),
            &[],
        )
        .await;
    // Metadata loses to deploy.json.
    let artifact = world
        .upload(
            &format!("models/{endpoint}/model.tar.gz"),
            b"weights",
            &[("memory-size-mb", "6144")],
        )
        .await;
    let report = world.deploy_ok(&[artifact]).await;
    let config = only(&report).endpoint_config.clone().unwrap();
    let described = world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(&config)
        .send()
        .await
        .unwrap();
    let serverless = described.production_variants()[0]
        .serverless_config()
        .unwrap();
    assert_eq!(
        (serverless.memory_size_in_mb(), serverless.max_concurrency()),
        (Some(3072), Some(5))
    );
    let model = world
        .sm()
        .describe_model()
        .model_name(only(&report).model.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let env = model.primary_container().unwrap().environment().unwrap();
    assert_eq!(
        env.get("SAGEMAKER_PROGRAM").map(String::as_str),
        Some("inference.py")
    );
    let endpoint_tags = world
        .tags(world.endpoint(&endpoint).await.endpoint_arn().unwrap())
        .await;
    assert_eq!(endpoint_tags.get("team").map(String::as_str), Some("risk"));

    set_endpoint_status(&endpoint, "InService");
    let mut changed = settings.clone();
    changed["memory_size_mb"] = json!(4096);
    let sidecar = world
        .upload(
            &format!("models/{endpoint}/deploy.json"),
            changed.to_string().as_bytes(),
            &[],
        )
        .await;
    let report = world.deploy_ok(&[sidecar]).await;
    let outcome = only(&report);
    assert_eq!(outcome.status, Status::Updated, "{outcome:#?}");
    let described = world
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(outcome.endpoint_config.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.production_variants()[0]
            .serverless_config()
            .unwrap()
            .memory_size_in_mb(),
        Some(4096)
    );
    // Same artifact, so the same model serves both configs.
    assert_eq!(world.names("model", &endpoint).await.len(), 1);
}

#[tokio::test]
async fn a_deploy_json_without_an_artifact_waits_for_it() {
    let world = World::new().await;
    let endpoint = unique("early");
    let sidecar = world
        .upload(
            &format!("models/{endpoint}/deploy.json"),
            json!({"memory_size_mb": 1024}).to_string().as_bytes(),
            &[],
        )
        .await;
    let report = world.deploy_ok(&[sidecar]).await;
    assert_eq!(only(&report).status, Status::Skipped);
    assert!(
        only(&report).message.contains("no model.tar.gz"),
        "{}",
        only(&report).message
    );
}

#[tokio::test]
async fn old_revisions_are_pruned_keeping_two_for_rollback() {
    let world = World::new().await;
    let endpoint = unique("prune");
    let mut configs = Vec::new();
    for _ in 0..5 {
        let upload = world.upload_artifact(&endpoint, "").await;
        let report = world.deploy_ok(&[upload]).await;
        configs.push(only(&report).endpoint_config.clone().unwrap());
        set_endpoint_status(&endpoint, "InService");
    }
    let remaining = world.names("config", &endpoint).await;
    let mut expected = configs[2..].to_vec();
    expected.sort();
    assert_eq!(remaining, expected, "the live config and the two before it");
    // Models of pruned configs are younger than the one-hour grace here, so
    // they stay until a later deploy: the grace protects in-flight deploys.
    assert_eq!(world.names("model", &endpoint).await.len(), 5);
}

#[tokio::test]
async fn models_of_pruned_configs_are_deleted_once_past_the_grace() {
    let world = World::new().await;
    let endpoint = unique("prune-models");
    for _ in 0..4 {
        let upload = world.upload_artifact(&endpoint, "").await;
        world.deploy_ok(&[upload]).await;
        set_endpoint_status(&endpoint, "InService");
    }
    // Past the one-hour grace (deployer::cleanup::MODEL_GRACE).
    for model in world.names("model", &endpoint).await {
        integration_tests::emulator_post(
            &format!("/_emulator/models/{model}/creation-time"),
            &json!({"creation_time": (Utc::now() - Duration::hours(2)).to_rfc3339()}),
        );
    }
    let upload = world.upload_artifact(&endpoint, "").await;
    world.deploy_ok(&[upload]).await;
    assert_eq!(
        world.names("model", &endpoint).await.len(),
        3,
        "the live model and the two before it"
    );
}
