//! Reliability review #14, as it reaches versioned buckets too: a
//! deployment whose artifact and settings equal an earlier one's (a
//! deploy.json changed back, identical bytes uploaded again) is a new
//! deployment. It must not reuse the earlier config, whose record (the
//! config it replaces, the rollback target) and ledger entry (written once
//! per config) belong to the earlier deployment.

use super::*;
use shared::deployment::DeploymentRecord;

#[tokio::test]
async fn settings_changed_back_deploy_as_a_new_deployment_with_its_own_record() {
    let world = World::new().await;
    let endpoint = unique("revert");
    let settings = |memory: u32| json!({"image_uri": world.image(), "memory_size_mb": memory});
    world.upload_settings(&endpoint, &settings(2048)).await;
    let artifact = world.upload_artifact(&endpoint, "").await;
    let first = world.deploy_ok(&[artifact]).await;
    assert_eq!(only(&first).status, Status::Created, "{first:#?}");
    set_endpoint_status(&endpoint, "InService");

    let bigger = world.upload_settings(&endpoint, &settings(4096)).await;
    let second = world.deploy_ok(&[bigger]).await;
    assert_eq!(only(&second).status, Status::Updated, "{second:#?}");
    let second = only(&second).endpoint_config.clone().unwrap();
    set_endpoint_status(&endpoint, "InService");

    // Back to 2048 MB: the first deployment's artifact and settings again.
    let back = world.upload_settings(&endpoint, &settings(2048)).await;
    let third = world.deploy_ok(&[back]).await;
    assert_eq!(only(&third).status, Status::Updated, "{third:#?}");
    let third = only(&third).endpoint_config.clone().unwrap();

    // Its record names what it replaced, so a failed smoke test rolls back
    // to the 4096 MB config, not to whatever the first deployment replaced.
    let tags = world.tags(&world.config_arn(&third).await).await;
    let record = DeploymentRecord::from_tags(&third, &tags).expect("a deployment record");
    assert_eq!(
        record.replaces_config.as_deref(),
        Some(second.as_str()),
        "{third} carries another deployment's record: {tags:#?}"
    );
    // And the ledger has its entry: three deployments, three entries.
    let history = world.ledger_history(&endpoint).await;
    assert_eq!(history.len(), 3, "{history:#?}");
    let entry = history
        .iter()
        .find(|e| e.replaces_config.as_deref() == Some(second.as_str()))
        .unwrap_or_else(|| panic!("no entry for the third deployment: {history:#?}"));
    assert_eq!(entry.config_name, third);
}
