//! Issue 13: the deployer's own code archives (`sourcedir.tar.gz`, repacked
//! `model.tar.gz` below PackedCodePrefix) are pruned once no Model of
//! their endpoint names them: never one the live Model or a rollback
//! target still needs (SageMaker reads them whenever serverless capacity
//! starts), nor one a deploy in flight has just written.

use super::packing::tar_gz;
use super::*;
use chrono::SecondsFormat;
use integration_tests::lifecycle::VirtualClock;
use std::collections::{BTreeMap, BTreeSet};

const PAST_THE_GRACE: Duration = Duration::hours(2);

impl World {
    /// Uploads version `v` of an endpoint deployed with `entry_point` /
    /// `source_dir` (its code differs from every other version's, so it
    /// gets its own archive) and deploys it.
    async fn deploy_code_version(&self, endpoint: &str, settings: &Value, v: usize) -> String {
        let folder = format!("models/{endpoint}/v{v}/");
        self.upload(
            &format!("{folder}code/inference.py"),
            format!("# version {v}\ndef model_fn(d):\n    return d\n").as_bytes(),
            &[],
        )
        .await;
        self.upload(
            &format!("{folder}deploy.json"),
            settings.to_string().as_bytes(),
            &[],
        )
        .await;
        let weights = BTreeMap::from([("model.joblib".to_string(), unique("w").into_bytes())]);
        let artifact = self
            .upload(&format!("{folder}model.tar.gz"), &tar_gz(&weights), &[])
            .await;
        let report = self.deploy_ok(&[artifact]).await;
        only(&report).endpoint_config.clone().expect("a config")
    }

    async fn packed_keys(&self, endpoint: &str) -> BTreeSet<String> {
        self.clients
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("packed/{endpoint}/"))
            .send()
            .await
            .expect("list packed")
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    /// The packed archives the endpoint's Models name (model data or code).
    async fn archives_models_name(&self, endpoint: &str) -> BTreeSet<String> {
        let prefix = format!("s3://{}/", self.bucket);
        let mut named = BTreeSet::new();
        for model in self.names("model", endpoint).await {
            let described = self
                .sm()
                .describe_model()
                .model_name(&model)
                .send()
                .await
                .expect("model");
            let container = described.primary_container().expect("container");
            let submit = container
                .environment()
                .and_then(|e| e.get("SAGEMAKER_SUBMIT_DIRECTORY"))
                .map(String::as_str);
            for uri in [container.model_data_url(), submit].into_iter().flatten() {
                if let Some(key) = uri.strip_prefix(&prefix) {
                    if key.starts_with("packed/") {
                        named.insert(key.to_string());
                    }
                }
            }
        }
        named
    }

    /// Makes every Model and packed archive of the endpoint look written
    /// two hours ago, past the grace that protects deploys in flight.
    async fn age_past_the_grace(&self, endpoint: &str) {
        let then = (Utc::now() - PAST_THE_GRACE).to_rfc3339_opts(SecondsFormat::Secs, true);
        for model in self.names("model", endpoint).await {
            integration_tests::emulator_post(
                &format!("/_emulator/models/{model}/creation-time"),
                &json!({ "creation_time": then }),
            );
        }
        for key in self.packed_keys(endpoint).await {
            integration_tests::emulator_post(
                "/_emulator/objects/last-modified",
                &json!({"bucket": self.bucket, "key": key, "last_modified": then}),
            );
        }
    }
}

/// Deploys five versions (four before the archives age, one after) and
/// checks what is left below `packed/<endpoint>/`.
async fn five_versions_leave_only_the_archives_models_name(settings: Value, label: &str) {
    let world = World::new().await;
    let endpoint = unique(label);
    let clock = VirtualClock::with(
        &endpoint,
        json!({"create_minutes": 1, "update_minutes": 1, "check_artifacts": true}),
    );
    let mut configs = Vec::new();
    for v in 1..=4 {
        configs.push(world.deploy_code_version(&endpoint, &settings, v).await);
        clock.advance(1.0);
    }
    assert_eq!(
        world.packed_keys(&endpoint).await.len(),
        4,
        "one per version"
    );
    // An archive whose Model was never created (a create that failed after
    // packing), and one a deploy in flight has just written.
    let orphan = format!("packed/{endpoint}/orphan/sourcedir.tar.gz");
    let in_flight = format!("packed/{endpoint}/in-flight/sourcedir.tar.gz");
    world.upload(&orphan, b"old", &[]).await;
    world.age_past_the_grace(&endpoint).await;
    world.upload(&in_flight, b"new", &[]).await;

    configs.push(world.deploy_code_version(&endpoint, &settings, 5).await);
    clock.advance(1.0);

    let named = world.archives_models_name(&endpoint).await;
    assert_eq!(named.len(), 3, "the live model and two rollback targets");
    let mut expected = named.clone();
    expected.insert(in_flight);
    assert_eq!(
        world.packed_keys(&endpoint).await,
        expected,
        "only archives a Model names, and the one in flight"
    );
    // The user's own uploads are never touched.
    let first = world
        .clients
        .s3
        .head_object()
        .bucket(&world.bucket)
        .key(format!("models/{endpoint}/v1/code/inference.py"))
        .send()
        .await;
    assert!(first.is_ok(), "the user's code of v1 is still there");

    // The rollback target (the config v5 replaced) still starts: SageMaker
    // downloads its model data and code again (check_artifacts).
    world
        .sm()
        .update_endpoint()
        .endpoint_name(&endpoint)
        .endpoint_config_name(&configs[3])
        .send()
        .await
        .expect("roll back");
    clock.advance(1.0);
    let described = world.endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(
        described.endpoint_config_name(),
        Some(configs[3].as_str()),
        "rolled back, not refused: {:?}",
        described.failure_reason()
    );
}

#[tokio::test]
async fn pruned_sourcedir_archives_leave_the_live_and_rollback_ones() {
    five_versions_leave_only_the_archives_models_name(
        json!({"framework": "sklearn", "framework_version": "1.2-1",
               "entry_point": "inference.py", "source_dir": "code/"}),
        "prune-code",
    )
    .await;
}

#[tokio::test]
async fn pruned_repacked_models_leave_the_live_and_rollback_ones() {
    five_versions_leave_only_the_archives_models_name(
        json!({"framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
               "entry_point": "inference.py", "source_dir": "code/"}),
        "prune-repack",
    )
    .await;
}

/// A deploy that packs no code lists the packed folder only when a Model
/// it prunes named an archive there (docs/deployer.md): an endpoint that
/// left packed code still loses the archives of the Models pruned after.
#[tokio::test]
async fn leaving_packed_code_prunes_the_archives_of_the_models_pruned_later() {
    let world = World::new().await;
    let endpoint = unique("prune-leave");
    let clock = VirtualClock::with(&endpoint, json!({"create_minutes": 1, "update_minutes": 1}));
    let packed = json!({"framework": "sklearn", "framework_version": "1.2-1",
                        "entry_point": "inference.py", "source_dir": "code/"});
    for v in 1..=3 {
        world.deploy_code_version(&endpoint, &packed, v).await;
        clock.advance(1.0);
    }
    world.age_past_the_grace(&endpoint).await;
    let before = world.packed_keys(&endpoint).await;
    assert_eq!(before.len(), 3, "one per version");

    // v4 names no entry point, so no code is packed; cleanup keeps it and
    // two rollback targets (v3, v2) and prunes v1's Model.
    let plain_settings = json!({"framework": "sklearn", "framework_version": "1.2-1"});
    world
        .upload(
            &format!("models/{endpoint}/v4/deploy.json"),
            plain_settings.to_string().as_bytes(),
            &[],
        )
        .await;
    let weights = BTreeMap::from([("model.joblib".to_string(), unique("w").into_bytes())]);
    let plain = world
        .upload(
            &format!("models/{endpoint}/v4/model.tar.gz"),
            &tar_gz(&weights),
            &[],
        )
        .await;
    world.deploy_ok(&[plain]).await;
    clock.advance(1.0);

    let named = world.archives_models_name(&endpoint).await;
    assert_eq!(named.len(), 2, "v2's and v3's Models, the rollback targets");
    assert_eq!(
        world.packed_keys(&endpoint).await,
        named,
        "v1's archive went with v1's Model; no other"
    );
}
