//! A sweeper pointed at the emulator, scoped to one test's fleet, and the
//! calls the tests make to look at (and, as the smoke tester would, tag)
//! the endpoints.

use super::fleet::{ROLE, SMOKE_BUCKET};
use chrono::Utc;
use cost_sweeper::config::SweepConfig;
use cost_sweeper::domain::access::Allowed;
use cost_sweeper::report::{StepStatus, SweepReport};
use cost_sweeper::sweeper::{self, Sweeper};
use integration_tests::{emulator_post, set_endpoint_status, unique, Clients, Stack};
use serde_json::json;
use std::collections::BTreeMap;

pub struct World {
    pub prefix: String,
    pub clients: Clients,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sweeper: Sweeper,
    pub report_bucket: String,
    /// The access key id the sweeper signs with.
    pub caller: String,
}

impl World {
    pub async fn new(label: &str) -> Self {
        World::build(label, None).await
    }

    /// A world whose fleet and sweeper are in `region` (the emulator keeps
    /// each Region apart, as AWS does). Its sweeper signs with the tests'
    /// own credentials: tests/policy evaluates the stack's calls for one
    /// Region (us-east-1), and a deployment in another Region is another stack.
    pub async fn in_region(label: &str, region: &str) -> Self {
        World::build(label, Some(region)).await
    }

    async fn build(label: &str, region: Option<&str>) -> Self {
        let home = Clients::new().await;
        // The seeded persistent models run with ROLE, which a migration
        // passes: the stack lists it as migratable. Their smoke-test
        // requests are in SMOKE_BUCKET, which the stack lets the smoke
        // tester read.
        let stack = Stack::new(
            "sweep",
            &[
                ("MigratableModelRoleArns", ROLE),
                ("SmokeTestBuckets", SMOKE_BUCKET),
            ],
        )
        .await;
        let prefix = unique(label);
        let report_bucket = stack.models_bucket();
        home.s3
            .create_bucket()
            .bucket(&report_bucket)
            .send()
            .await
            .expect("create report bucket");
        // The tests' own calls (seeding the fleet's metrics) sign as the tests.
        let mut tests_sdk = shared::aws::load_sdk_config().await;
        if let Some(region) = region {
            tests_sdk = tests_sdk
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build();
        }
        let (sdk, clients, topic, caller) = match region {
            None => {
                let topic = aws_sdk_sns::Client::new(&tests_sdk)
                    .create_topic()
                    .name(stack.topic_name())
                    .send()
                    .await
                    .expect("create the notification topic")
                    .topic_arn()
                    .expect("topic ARN")
                    .to_string();
                let caller = stack.access_key_id("cost-sweeper");
                (
                    stack.function_config("cost-sweeper").await,
                    home,
                    Some(topic),
                    caller,
                )
            }
            Some(region) => {
                let clients = Clients {
                    s3: aws_sdk_s3::Client::new(&tests_sdk),
                    sagemaker: aws_sdk_sagemaker::Client::new(&tests_sdk),
                    region: region.to_string(),
                };
                (tests_sdk.clone(), clients, None, "test".to_string())
            }
        };
        // What template.yaml gives the function: its stack's role and the
        // migratable ones; the models bucket and SmokeTestBuckets.
        let config = SweepConfig {
            passable_roles: Allowed::parse(&format!("{},{ROLE}", stack.execution_role_arn())),
            smoke_test_buckets: Allowed::parse(&format!("{report_bucket},{SMOKE_BUCKET}")),
            endpoint_name_contains: Some(prefix.clone()),
            report_bucket: Some(report_bucket.clone()),
            notify_topic_arn: topic,
            ..SweepConfig::defaults(&clients.region)
        };
        World {
            cloudwatch: aws_sdk_cloudwatch::Client::new(&tests_sdk),
            sweeper: Sweeper::new(&sdk, config),
            prefix,
            clients,
            report_bucket,
            caller,
        }
    }

    /// From now on every Price List call of this world's sweeper fails
    /// (AccessDeniedException, which the SDK does not retry).
    pub fn fail_price_list(&self) {
        emulator_post(
            "/_emulator/pricing/faults",
            &json!({
                "caller": self.caller,
                "error": {"Code": "AccessDeniedException", "Status": 400,
                          "Message": "not authorized to perform: pricing:GetProducts"}
            }),
        );
    }

    pub fn sm(&self) -> &aws_sdk_sagemaker::Client {
        &self.clients.sagemaker
    }

    /// One sweep, applying unless `dry_run`.
    pub async fn sweep(&self, dry_run: bool) -> SweepReport {
        let mut config = self.sweeper.config.clone();
        config.dry_run = dry_run;
        let report = sweeper::sweep(&self.sweeper, &config, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("sweep failed: {e}"));
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        let failed: Vec<_> = report
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        report
    }

    /// The Markdown report a sweep wrote.
    pub async fn report_text(&self, report: &SweepReport) -> String {
        self.object_text(report.report_location.as_deref().expect("report written"))
            .await
    }

    /// An object the sweeper wrote to the report bucket (`s3://...`).
    pub async fn object_text(&self, location: &str) -> String {
        let key = location.trim_start_matches(&format!("s3://{}/", self.report_bucket));
        let object = self
            .clients
            .s3
            .get_object()
            .bucket(&self.report_bucket)
            .key(key)
            .send()
            .await
            .expect("read the report");
        String::from_utf8(object.body.collect().await.expect("body").to_vec()).expect("UTF-8")
    }

    pub async fn tags(&self, endpoint: &str) -> BTreeMap<String, String> {
        let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}");
        let out = self
            .sm()
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .expect("list tags");
        out.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().into(),
                    t.value().unwrap_or_default().into(),
                )
            })
            .collect()
    }

    pub async fn exists(&self, endpoint: &str) -> bool {
        self.sm()
            .describe_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
            .is_ok()
    }

    pub async fn config_of(&self, endpoint: &str) -> String {
        let out = self
            .sm()
            .describe_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
            .expect("endpoint exists");
        out.endpoint_config_name().unwrap_or_default().to_string()
    }

    pub async fn tag(&self, endpoint: &str, key: &str, value: &str) {
        let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}");
        let tag = aws_sdk_sagemaker::types::Tag::builder()
            .key(key)
            .value(value)
            .build();
        self.sm()
            .add_tags()
            .resource_arn(arn)
            .tags(tag)
            .send()
            .await
            .expect("add tag");
    }

    /// What the smoke tester does once a canary is InService.
    pub async fn smoke_tester_verdict(&self, canary: &str, verdict: &str) {
        set_endpoint_status(canary, "InService");
        let config = self.config_of(canary).await;
        let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{canary}");
        self.sm()
            .add_tags()
            .resource_arn(arn)
            .tags(
                aws_sdk_sagemaker::types::Tag::builder()
                    .key("pipeline:smoke-test")
                    .value(verdict)
                    .build(),
            )
            .tags(
                aws_sdk_sagemaker::types::Tag::builder()
                    .key("pipeline:smoke-tested-config")
                    .value(config)
                    .build(),
            )
            .send()
            .await
            .expect("tag verdict");
    }
}
