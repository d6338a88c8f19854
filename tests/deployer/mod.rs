//! The deployer: S3 events in, SageMaker models/configs/endpoints out.
//! This module holds the fixture; `lifecycle` covers creation, updates,
//! idempotence under duplicated and concurrent delivery, ordering and
//! pruning; `refusals` covers what it must not do and bad input.

mod alerts;
mod capacity;
mod crash;
mod crash_alert;
mod crash_lease;
mod crash_process;
mod crash_recovery;
pub(crate) mod crash_world;
mod current;
mod direct;
mod lease;
mod lifecycle;
mod mapping;
mod packed_pruning;
mod packing;
mod preflight;
mod queue;
mod quota;
mod race;
mod recovery;
mod refusals;
mod registry;
mod revert;
mod timing;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sagemaker::Client as SageMakerClient;
use chrono::{Duration, Utc};
use deployer::config::DeployerConfig;
use deployer::deploy::Deployer;
use deployer::outcome::{DeployReport, Status};
use integration_tests::fixtures::{s3_event, Upload};
use integration_tests::{event_file, set_endpoint_status, unique, Clients, Stack};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::ledger::{LEASE_ENTRY, PARTITION_KEY, SORT_KEY};
use shared::settings::SettingsLayer;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const ROLE: &str = "arn:aws:iam::123456789012:role/pipeline-sagemaker-execution";

/// A stack's models bucket, its deployer (calling AWS as the deployer), and
/// the clients to check results.
pub(crate) struct World {
    pub(crate) clients: Clients,
    pub(crate) stack: Stack,
    pub(crate) bucket: String,
    pub(crate) deployer: Deployer,
}

impl World {
    pub(crate) async fn new() -> Self {
        Self::with_parameters(&[]).await
    }

    /// A world whose stack has these template parameters.
    pub(crate) async fn with_parameters(parameters: &[(&str, &str)]) -> Self {
        let clients = Clients::new().await;
        let stack = Stack::new("models", parameters).await;
        let bucket = stack.models_bucket();
        clients.create_versioned_bucket(&bucket).await;
        let config = DeployerConfig {
            region: clients.region.clone(),
            execution_role_arn: stack.execution_role_arn(),
            models_prefix: "models/".into(),
            defaults: SettingsLayer::default(),
            keep_superseded: 2,
            packed_prefix: "packed/".into(),
            watched_groups: shared::model_package::WatchedGroups::default(),
        };
        let sdk = stack.function_config("deployer").await;
        let deployer = Deployer {
            sagemaker: SageMaker::new(aws_sdk_sagemaker::Client::new(&sdk)),
            store: ArtifactStore::new(aws_sdk_s3::Client::new(&sdk)),
            config,
            ledger: Some(crate::ledger::ledger_table_as(&sdk, &stack.ledger_table()).await),
            quotas: shared::aws::service_quotas::ServiceQuotas::from_config(&sdk),
        };
        World {
            clients,
            stack,
            bucket,
            deployer,
        }
    }

    /// The stack's ledger read with the tests' own credentials (a check
    /// is not a call the functions make).
    pub(crate) async fn ledger_history(&self, endpoint: &str) -> Vec<shared::ledger::LedgerEntry> {
        let config = shared::aws::load_sdk_config().await;
        shared::aws::dynamodb::Ledger::new(
            aws_sdk_dynamodb::Client::new(&config),
            self.stack.ledger_table(),
        )
        .deployment_history(endpoint)
        .await
        .expect("ledger history")
    }

    /// The endpoint's lease item, read with the tests' own credentials:
    /// (holder, expires_at in epoch seconds).
    pub(crate) async fn lease_item(&self, endpoint: &str) -> Option<(String, i64)> {
        let item = self
            .test_dynamodb()
            .await
            .get_item()
            .table_name(self.stack.ledger_table())
            .key(PARTITION_KEY, AttributeValue::S(endpoint.into()))
            .key(SORT_KEY, AttributeValue::S(LEASE_ENTRY.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("read the lease")
            .item?;
        let holder = item.get("holder")?.as_s().ok()?.clone();
        let expires = item.get("expires_at")?.as_n().ok()?.parse().ok()?;
        Some((holder, expires))
    }

    /// Time passes until the endpoint's lease lapses: its expiry is moved
    /// into the past, as the clock would.
    pub(crate) async fn lease_lapses(&self, endpoint: &str) {
        let past = Utc::now().timestamp() - 1;
        self.test_dynamodb()
            .await
            .update_item()
            .table_name(self.stack.ledger_table())
            .key(PARTITION_KEY, AttributeValue::S(endpoint.into()))
            .key(SORT_KEY, AttributeValue::S(LEASE_ENTRY.into()))
            .update_expression("SET expires_at = :past")
            .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
            .send()
            .await
            .expect("let the lease lapse");
    }

    /// DynamoDB with the tests' own credentials (a check is not a call
    /// the functions make).
    async fn test_dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&shared::aws::load_sdk_config().await)
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

    /// Uploads `settings` as the endpoint's deploy.json.
    pub(crate) async fn upload_settings(&self, endpoint: &str, settings: &Value) -> Upload {
        let key = format!("models/{endpoint}/deploy.json");
        self.upload(&key, settings.to_string().as_bytes(), &[])
            .await
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

    pub(crate) async fn config_arn(&self, config: &str) -> String {
        self.sm()
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
            .expect("config exists")
            .endpoint_config_arn()
            .unwrap_or_default()
            .to_string()
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

    /// An endpoint created by hand (not by the pipeline), InService.
    /// Returns (model, config).
    pub(crate) async fn create_unmanaged_endpoint(
        &self,
        endpoint: &str,
        variant: aws_sdk_sagemaker::types::builders::ProductionVariantBuilder,
    ) -> (String, String) {
        let model = format!("{endpoint}-manual");
        self.sm()
            .create_model()
            .model_name(&model)
            .execution_role_arn(ROLE)
            .primary_container(
                aws_sdk_sagemaker::types::ContainerDefinition::builder()
                    .image(self.image())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let config = format!("{endpoint}-manual-config");
        self.sm()
            .create_endpoint_config()
            .endpoint_config_name(&config)
            .production_variants(
                variant
                    .variant_name("AllTraffic")
                    .model_name(&model)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        self.sm()
            .create_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(&config)
            .send()
            .await
            .unwrap();
        set_endpoint_status(endpoint, "InService");
        (model, config)
    }
}

/// The endpoint's status as SageMaker names it ("" when absent).
fn status_of(
    described: &aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput,
) -> &str {
    described
        .endpoint_status()
        .map(|s| s.as_str())
        .unwrap_or("")
}

fn next_sequencer() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0x0062_D8A4_0000_0000);
    format!("{:016X}", NEXT.fetch_add(0x100, Ordering::Relaxed))
}

pub(crate) fn only(report: &DeployReport) -> &deployer::outcome::RecordOutcome {
    assert_eq!(report.results.len(), 1, "{report:#?}");
    &report.results[0]
}
