//! The deployer: S3 events in, SageMaker models/configs/endpoints out.
//! Covers creation, updates, idempotence under duplicated and concurrent
//! delivery, ordering, refusals, bad input and pruning.

use aws_sdk_sagemaker::Client as SageMakerClient;
use chrono::{Duration, Utc};
use deployer::config::DeployerConfig;
use deployer::deploy::Deployer;
use deployer::outcome::{DeployReport, Status};
use integration_tests::fixtures::{s3_event, Upload};
use integration_tests::{event_file, set_endpoint_status, unique, Clients};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::settings::SettingsLayer;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const ROLE: &str = "arn:aws:iam::123456789012:role/pipeline-sagemaker-execution";

/// A bucket, a deployer configured for it, and the clients to check results.
pub(crate) struct World {
    pub(crate) clients: Clients,
    pub(crate) bucket: String,
    pub(crate) deployer: Deployer,
}

impl World {
    pub(crate) async fn new() -> Self {
        let clients = Clients::new().await;
        let bucket = clients.versioned_bucket("models").await;
        let config = DeployerConfig {
            region: clients.region.clone(),
            execution_role_arn: ROLE.into(),
            models_prefix: "models/".into(),
            defaults: SettingsLayer::default(),
            keep_superseded: 2,
        };
        let deployer = Deployer {
            sagemaker: SageMaker::new(clients.sagemaker.clone()),
            store: ArtifactStore::new(clients.s3.clone()),
            config,
        };
        World {
            clients,
            bucket,
            deployer,
        }
    }

    pub(crate) fn sm(&self) -> &SageMakerClient {
        &self.clients.sagemaker
    }

    pub(crate) fn image(&self) -> String {
        format!(
            "123456789012.dkr.ecr.{}.amazonaws.com/test-model:1",
            self.clients.region
        )
    }

    /// Uploads a file and returns the notification S3 would send for it.
    pub(crate) async fn upload(&self, key: &str, body: &[u8], metadata: &[(&str, &str)]) -> Upload {
        let (version_id, etag) = self.clients.put(&self.bucket, key, body, metadata).await;
        Upload {
            bucket: self.bucket.clone(),
            key: key.into(),
            version_id,
            etag,
            sequencer: next_sequencer(),
            event_time: Utc::now(),
        }
    }

    pub(crate) async fn upload_artifact(&self, endpoint: &str, folder: &str) -> Upload {
        let key = format!("models/{endpoint}/{folder}model.tar.gz");
        let image = self.image();
        self.upload(
            &key,
            unique("weights").as_bytes(),
            &[("image-uri", image.as_str())],
        )
        .await
    }

    pub(crate) async fn deploy(&self, event: Value) -> Result<DeployReport, DeployReport> {
        deployer::handle(LambdaEvent::new(event, Context::default()), &self.deployer)
            .await
            .map_err(|failed| failed.report)
    }

    pub(crate) async fn deploy_ok(&self, uploads: &[Upload]) -> DeployReport {
        self.deploy(s3_event(uploads))
            .await
            .unwrap_or_else(|r| panic!("deploy failed: {r:#?}"))
    }

    pub(crate) async fn endpoint(
        &self,
        name: &str,
    ) -> aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput {
        self.sm()
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
            .expect("endpoint exists")
    }

    pub(crate) async fn names(&self, kind: &str, endpoint: &str) -> Vec<String> {
        let prefix = format!("{endpoint}-");
        let mut names: Vec<String> = if kind == "model" {
            let out = self
                .sm()
                .list_models()
                .name_contains(endpoint)
                .max_results(100)
                .send()
                .await
                .unwrap();
            out.models()
                .iter()
                .filter_map(|m| m.model_name().map(str::to_string))
                .collect()
        } else {
            let out = self
                .sm()
                .list_endpoint_configs()
                .name_contains(endpoint)
                .max_results(100)
                .send()
                .await
                .unwrap();
            out.endpoint_configs()
                .iter()
                .filter_map(|c| c.endpoint_config_name().map(str::to_string))
                .collect()
        };
        names.retain(|n| n.starts_with(&prefix));
        names.sort();
        names
    }

    pub(crate) async fn tags(&self, arn: &str) -> std::collections::BTreeMap<String, String> {
        let out = self
            .sm()
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        out.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

fn next_sequencer() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0x0062_D8A4_0000_0000);
    format!("{:016X}", NEXT.fetch_add(0x100, Ordering::Relaxed))
}

pub(crate) fn only(report: &DeployReport) -> &deployer::outcome::RecordOutcome {
    assert_eq!(report.results.len(), 1, "{report:#?}");
    &report.results[0]
}

#[tokio::test]
async fn a_new_artifact_creates_model_config_and_endpoint() {
    let world = World::new().await;
    let endpoint = unique("create");
    let upload = world.upload_artifact(&endpoint, "v1/").await;
    let report = world.deploy_ok(&[upload.clone()]).await;
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
    assert_eq!(model.execution_role_arn(), Some(ROLE));

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
        only(&world.deploy_ok(&[upload.clone()]).await).status,
        Status::Created
    );
    let again = world.deploy_ok(&[upload.clone()]).await;
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
    let created = world.deploy_ok(&[first.clone()]).await;
    let old_config = only(&created).endpoint_config.clone().unwrap();

    // While the endpoint is still Creating, a newer artifact must wait.
    let second = world.upload_artifact(&endpoint, "").await;
    let busy = world
        .deploy(s3_event(&[second.clone()]))
        .await
        .expect_err("busy endpoint");
    let outcome = only(&busy);
    assert_eq!(outcome.retryable, Some(true), "{outcome:#?}");
    assert!(outcome.message.contains("Creating"), "{}", outcome.message);

    set_endpoint_status(&endpoint, "InService");
    let updated = world.deploy_ok(&[second.clone()]).await;
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

    // The first upload's event arriving late is older: skipped, not deployed.
    set_endpoint_status(&endpoint, "InService");
    let late = world.deploy_ok(&[first]).await;
    assert_eq!(only(&late).status, Status::Skipped, "{late:#?}");
    assert!(
        only(&late).message.contains("sequencer"),
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
    world.deploy_ok(&[newer.clone()]).await;
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
async fn an_instance_based_endpoint_is_left_alone_and_nothing_is_created() {
    let world = World::new().await;
    let endpoint = unique("persistent");
    let model = format!("{endpoint}-theirs");
    world
        .sm()
        .create_model()
        .model_name(&model)
        .execution_role_arn(ROLE)
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image(world.image())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .variant_name("AllTraffic")
        .model_name(&model)
        .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(1)
        .build();
    let config = format!("{endpoint}-instance");
    world
        .sm()
        .create_endpoint_config()
        .endpoint_config_name(&config)
        .production_variants(variant)
        .send()
        .await
        .unwrap();
    world
        .sm()
        .create_endpoint()
        .endpoint_name(&endpoint)
        .endpoint_config_name(&config)
        .send()
        .await
        .unwrap();
    set_endpoint_status(&endpoint, "InService");

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
    let done = world.deployer.deploy(&readme).await.unwrap();
    assert_eq!(done.status, Status::Skipped);
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
async fn a_serverless_endpoint_the_pipeline_did_not_create_is_not_touched() {
    let world = World::new().await;
    let endpoint = unique("foreign");
    let model = format!("{endpoint}-manual");
    world
        .sm()
        .create_model()
        .model_name(&model)
        .execution_role_arn(ROLE)
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image(world.image())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
        .variant_name("AllTraffic")
        .model_name(&model)
        .serverless_config(
            aws_sdk_sagemaker::types::ProductionVariantServerlessConfig::builder()
                .memory_size_in_mb(2048)
                .max_concurrency(1)
                .build(),
        )
        .build();
    let config = format!("{endpoint}-manual-config");
    world
        .sm()
        .create_endpoint_config()
        .endpoint_config_name(&config)
        .production_variants(variant)
        .send()
        .await
        .unwrap();
    world
        .sm()
        .create_endpoint()
        .endpoint_name(&endpoint)
        .endpoint_config_name(&config)
        .send()
        .await
        .unwrap();
    set_endpoint_status(&endpoint, "InService");
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
