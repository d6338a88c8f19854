//! Issue 13 (stop 17): the endpoint's lease must cover the attempt that
//! holds it. A repack can be long (a multi-GB artifact once the deployer's
//! Timeout is raised); while it runs, the lease must not lapse, and an
//! attempt that lost it anyway (it lapsed and a newer deployment took it)
//! must not act on a plan that newer deployment has overtaken.

use super::*;
use integration_tests::pause::PausePoint;

/// Repacking (or packing the code) starts with this call.
const PACKING_STARTS: &str = "s3:CreateMultipartUpload";

impl World {
    /// Uploads `folder` of the endpoint with inference code beside the
    /// artifact, packed as the SDK packs scikit-learn's (a sourcedir.tar.gz
    /// under the deployer's prefix); returns the artifact's upload.
    async fn upload_with_code(&self, endpoint: &str, folder: &str) -> Upload {
        let folder = format!("models/{endpoint}/{folder}");
        self.upload(
            &format!("{folder}code/inference.py"),
            b"def model_fn(model_dir):\n    return model_dir\n",
            &[],
        )
        .await;
        let settings = json!({
            "framework": "sklearn",
            "framework_version": "1.2-1",
            "entry_point": "inference.py",
            "source_dir": "code/",
        });
        self.upload(
            &format!("{folder}deploy.json"),
            settings.to_string().as_bytes(),
            &[],
        )
        .await;
        self.upload(
            &format!("{folder}model.tar.gz"),
            unique("weights").as_bytes(),
            &[],
        )
        .await
    }

    /// An endpoint deployed from `v1/` and InService.
    async fn live_endpoint(&self, label: &str) -> String {
        let endpoint = unique(label);
        let v1 = self.upload_artifact(&endpoint, "v1/").await;
        self.deploy_ok(&[v1]).await;
        set_endpoint_status(&endpoint, "InService");
        endpoint
    }

    /// The config the endpoint runs or is moving to.
    async fn live_config(&self, endpoint: &str) -> String {
        let described = self.endpoint(endpoint).await;
        described
            .pending_deployment_summary()
            .and_then(|p| p.endpoint_config_name())
            .or(described.endpoint_config_name())
            .unwrap_or_default()
            .to_string()
    }
}

#[tokio::test]
async fn an_attempt_whose_lease_lapsed_while_packing_does_not_act_over_the_newer_deployment() {
    let world = World::new().await;
    let endpoint = world.live_endpoint("lapsed").await;
    let older = world.upload_with_code(&endpoint, "v2/").await;
    let newer = world.upload_artifact(&endpoint, "v3/").await;
    let pause = PausePoint::before(&world.stack.access_key_id("deployer"), PACKING_STARTS);

    // The older upload takes the lease and starts packing; the packing
    // outlasts the lease, the newer upload takes it and deploys; then the
    // packing ends and the older attempt carries on.
    let (first_try, newer_config) = tokio::join!(
        world.deploy(s3_event(std::slice::from_ref(&older))),
        async {
            pause.held().await;
            world.lease_lapses(&endpoint).await;
            let report = world.deploy_ok(std::slice::from_ref(&newer)).await;
            let outcome = only(&report);
            assert_eq!(outcome.status, Status::Updated, "{outcome:#?}");
            set_endpoint_status(&endpoint, "InService");
            pause.release();
            outcome.endpoint_config.clone().expect("the newer config")
        }
    );

    let first_try = first_try.unwrap_or_else(|r| r);
    let outcome = only(&first_try);
    let older_config = outcome.endpoint_config.clone().unwrap_or_default();
    assert_eq!(
        world.live_config(&endpoint).await,
        newer_config,
        "the newer deployment stays live; the older attempt: {outcome:#?}"
    );
    assert_eq!(outcome.status, Status::Failed, "{outcome:#?}");
    assert_eq!(outcome.retryable, Some(true), "{outcome:#?}");
    assert!(
        !world
            .names("config", &endpoint)
            .await
            .contains(&older_config),
        "the older attempt created its config"
    );
    assert!(
        world
            .ledger_history(&endpoint)
            .await
            .iter()
            .all(|e| e.config_name != older_config),
        "the older attempt recorded a deployment"
    );

    // Its message comes back (a retryable failure): it re-plans from what
    // SageMaker shows and finds its upload overtaken.
    let retry = world.deploy_ok(&[older]).await;
    assert_eq!(only(&retry).status, Status::Skipped, "{retry:#?}");
    assert_eq!(world.live_config(&endpoint).await, newer_config);
    assert!(!world
        .names("config", &endpoint)
        .await
        .contains(&older_config));
}

#[tokio::test]
async fn a_deploys_lease_lasts_as_long_as_its_invocation_may_run() {
    let world = World::new().await;
    let endpoint = world.live_endpoint("deadline").await;
    let upload = world.upload_with_code(&endpoint, "v2/").await;
    let pause = PausePoint::before(&world.stack.access_key_id("deployer"), PACKING_STARTS);
    // Timeout raised to 10 minutes for a long repack.
    let deadline = Utc::now() + Duration::minutes(10);
    let mut context = Context::default();
    context.deadline = u64::try_from(deadline.timestamp_millis()).expect("a deadline");
    let invocation = LambdaEvent::new(s3_event(&[upload]), context);

    let (report, lease) = tokio::join!(deployer::handle(invocation, &world.deployer), async {
        pause.held().await;
        let lease = world.lease_item(&endpoint).await;
        pause.release();
        lease
    });

    let (_, expires_at) = lease.expect("the deploy holds the lease while it packs");
    let margin = shared::lease::DEADLINE_MARGIN.as_secs() as i64;
    assert!(
        expires_at >= deadline.timestamp(),
        "the lease lapses at {expires_at}, {} s before the invocation's deadline",
        deadline.timestamp() - expires_at
    );
    assert!(expires_at <= deadline.timestamp() + margin + 1);
    let report = report.unwrap_or_else(|failed| failed.report);
    assert_eq!(only(&report).status, Status::Updated, "{report:#?}");
    assert_eq!(world.lease_item(&endpoint).await, None, "given back");
}
