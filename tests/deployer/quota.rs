//! Issue 13 item 5: the account's serverless quotas (endpoint count and
//! total max concurrency per Region) checked before anything is created,
//! with the value's source in the refusal: the account's value, AWS's
//! default (none applied), or the documented default (unreadable).
//!
//! The emulator's account has raised quotas; the first two tests lower
//! them in a Region of their own (other tests never create there), where
//! the deployer signs with a key of the test's own (its calls are listed;
//! the policy evaluation judges only the stack's functions, in us-east-1).
//! The third plays, as the stack's deployer, an account without applied
//! values and then one whose quotas cannot be read. The last counts the
//! calls of deploys made by one warm deployer: quota values are kept for
//! a while, the Region's use is read every time.

use super::*;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use integration_tests::{calls_by, emulator_post};
use shared::aws::service_quotas::{ServiceQuotas, QUOTA_CACHE_TTL};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The stack's world, its deployer making its SageMaker and Service
/// Quotas calls in `region` as a caller of its own (returned).
async fn world_in(region: &str) -> (World, String) {
    let mut world = World::new().await;
    let caller = unique("quota-deployer");
    let tests = in_region(shared::aws::load_sdk_config().await, region);
    let deployer = deployer_in(region, &caller).await;
    world.deployer.sagemaker = SageMaker::new(aws_sdk_sagemaker::Client::new(&deployer));
    world.deployer.quotas = ServiceQuotas::from_config(&deployer);
    world.deployer.config.region = region.to_string();
    world.clients.sagemaker = aws_sdk_sagemaker::Client::new(&tests);
    world.clients.region = region.to_string();
    (world, caller)
}

fn in_region(config: aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    config
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// The SDK configuration of a deployer signing as `caller` in `region`.
async fn deployer_in(region: &str, caller: &str) -> aws_config::SdkConfig {
    in_region(shared::aws::load_sdk_config().await, region)
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            caller,
            "test",
            None,
            None,
            "quota-tests",
        )))
        .build()
}

/// Sets the Region's applied quotas to what its serverless endpoints
/// already hold plus `endpoints` and `concurrency` (a rerun on the same
/// emulator finds the earlier runs' endpoints there); returns the
/// concurrency they hold.
async fn quotas_above_use(world: &World, endpoints: u32, concurrency: u32) -> u32 {
    let sagemaker = SageMaker::new(world.sm().clone());
    let names: Vec<String> = sagemaker
        .list_endpoints(None)
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let used = sagemaker
        .serverless_usage(None, &names)
        .await
        .expect("usage");
    emulator_post(
        "/_emulator/service-quotas",
        &json!({"region": world.clients.region, "quotas": {
            "L-99AD19BF": used.endpoints + endpoints,
            "L-96300102": used.concurrency + concurrency,
        }}),
    );
    used.concurrency
}

async fn deploy_with(
    world: &World,
    endpoint: &str,
    settings: Value,
) -> Result<DeployReport, DeployReport> {
    world.upload_settings(endpoint, &settings).await;
    let upload = world.upload_artifact(endpoint, "").await;
    world.deploy(s3_event(&[upload])).await
}

/// The SageMaker calls of `caller` that create or change something.
fn changes_by(caller: &str) -> Vec<String> {
    calls_by(caller)
        .into_iter()
        .filter(|c| c.starts_with("sagemaker:") && (c.contains(":Create") || c.contains(":Update")))
        .collect()
}

fn refusal(report: &DeployReport) -> String {
    let outcome = only(report);
    assert_eq!(outcome.retryable, Some(false), "{outcome:#?}");
    outcome.message.clone()
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[tokio::test]
async fn a_new_endpoint_over_the_concurrency_quota_is_refused_before_anything_is_created() {
    let (world, caller) = world_in("ap-southeast-2").await;
    let held = quotas_above_use(&world, 5, 10).await;
    let first = unique("quotaone");
    let settings = json!({"image_uri": world.image(), "max_concurrency": 6});
    deploy_with(&world, &first, settings)
        .await
        .unwrap_or_else(|r| panic!("the first fits: {r:#?}"));
    assert_eq!(changes_by(&caller).len(), 3, "model, config, endpoint");

    // 6 held, 10 allowed: 5 more does not fit.
    let second = unique("quotatwo");
    let settings = json!({"image_uri": world.image(), "max_concurrency": 5});
    let report = deploy_with(&world, &second, settings)
        .await
        .expect_err("refused");
    assert_mentions(
        &refusal(&report),
        &[
            "serverless quota",
            "max concurrency of 5",
            &format!("already hold {}", held + 6),
            "L-96300102",
            "the account's value",
        ],
    );
    assert_eq!(
        changes_by(&caller).len(),
        3,
        "nothing created for the refused endpoint: {:?}",
        changes_by(&caller)
    );
    assert!(world.names("model", &second).await.is_empty());
}

#[tokio::test]
async fn the_endpoint_count_and_more_concurrency_in_place_are_checked_too() {
    let region = "ca-central-1";
    let (world, caller) = world_in(region).await;
    quotas_above_use(&world, 1, 8).await;
    let first = unique("quotacount");
    let settings = json!({"image_uri": world.image(), "max_concurrency": 2});
    deploy_with(&world, &first, settings.clone())
        .await
        .unwrap_or_else(|r| panic!("the first fits: {r:#?}"));

    // One endpoint allowed, one there: a second one is refused.
    let second = unique("quotacount2");
    let settings2 = json!({"image_uri": world.image(), "max_concurrency": 1});
    let report = deploy_with(&world, &second, settings2)
        .await
        .expect_err("refused");
    assert_mentions(
        &refusal(&report),
        &[
            "serverless quota",
            "no new serverless endpoint fits",
            "L-99AD19BF",
        ],
    );

    // More concurrency in place (2 -> 10) for the first: 8 allowed.
    emulator_post(
        &format!("/_emulator/endpoints/{first}/status"),
        &json!({"status": "InService", "region": region}),
    );
    let mut raised = settings;
    raised["max_concurrency"] = json!(10);
    let upload = world.upload_settings(&first, &raised).await;
    let report = world
        .deploy(s3_event(&[upload]))
        .await
        .expect_err("refused");
    assert_mentions(&refusal(&report), &["max concurrency of 10", "L-96300102"]);
    let changes = changes_by(&caller);
    assert_eq!(
        changes.len(),
        3,
        "only the first endpoint's creation: {changes:?}"
    );
}

#[tokio::test]
async fn aws_defaults_are_used_when_none_is_applied_or_the_quotas_cannot_be_read() {
    let mut world = World::new().await;
    let caller = world.stack.access_key_id("deployer");
    // No applied value: GetServiceQuota answers NoSuchResourceException.
    emulator_post(
        "/_emulator/service-quotas/faults",
        &json!({"caller": caller, "operation": "GetServiceQuota",
                "error": {"Code": "NoSuchResourceException", "Status": 400,
                          "Message": "The request failed because the specified service does not exist."}}),
    );
    let endpoint = unique("quotadefault");
    let settings = json!({"image_uri": world.image(), "max_concurrency": 11});
    let report = deploy_with(&world, &endpoint, settings.clone())
        .await
        .expect_err("11 is over AWS's default of 10");
    assert_mentions(
        &refusal(&report),
        &[
            "max concurrency of 11",
            "10 (Service Quotas L-96300102",
            "AWS's default",
        ],
    );

    // Unreadable: the documented default, said as such. In a new
    // container: a warm one keeps the values it read (QUOTA_CACHE_TTL).
    let deployer = world.stack.function_config("deployer").await;
    world.deployer.quotas = ServiceQuotas::from_config(&deployer);
    emulator_post(
        "/_emulator/service-quotas/faults",
        &json!({"caller": caller,
                "error": {"Code": "AccessDeniedException", "Status": 400,
                          "Message": "not authorized to perform: servicequotas:GetServiceQuota"}}),
    );
    let endpoint = unique("quotaunread");
    let report = deploy_with(&world, &endpoint, settings)
        .await
        .expect_err("11 is over the documented default of 10");
    assert_mentions(
        &refusal(&report),
        &[
            "the documented AWS default, assumed because Service Quotas could not be read",
            "AccessDeniedException",
        ],
    );
    assert!(
        changes_by(&caller).is_empty(),
        "nothing created: {:?}",
        changes_by(&caller)
    );
}

#[tokio::test]
async fn a_warm_deployer_reads_the_quota_values_once_per_ttl_and_the_use_every_time() {
    let region = "eu-west-3";
    let (mut world, caller) = world_in(region).await;
    // One deployer for every deploy (a warm container), on a clock the
    // test moves.
    let start = Instant::now();
    let passed = Arc::new(Mutex::new(Duration::ZERO));
    let read = Arc::clone(&passed);
    world.deployer.quotas = ServiceQuotas::from_config(&deployer_in(region, &caller).await)
        .with_cache(
            QUOTA_CACHE_TTL,
            Arc::new(move || start + *read.lock().expect("clock")),
        );
    let count = |operation: &str| calls_by(&caller).iter().filter(|c| *c == operation).count();
    let settings = json!({"image_uri": world.image(), "max_concurrency": 1});
    for (label, since_first, quota_reads, listings) in [
        ("quotawarm1", Duration::ZERO, 2, 1),
        // Within the TTL: the values are kept, the use is read again.
        ("quotawarm2", QUOTA_CACHE_TTL / 2, 2, 2),
        // Once it has passed: read again.
        ("quotawarm3", QUOTA_CACHE_TTL, 4, 3),
    ] {
        *passed.lock().unwrap() = since_first;
        deploy_with(&world, &unique(label), settings.clone())
            .await
            .unwrap_or_else(|r| panic!("{label} fits: {r:#?}"));
        assert_eq!(
            (
                count("servicequotas:GetServiceQuota"),
                count("sagemaker:ListEndpoints")
            ),
            (quota_reads, listings),
            "{label}: {:?}",
            calls_by(&caller)
        );
    }
}
