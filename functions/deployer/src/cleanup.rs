//! Keeps a few superseded models/configs per endpoint for rollback and
//! deletes older ones the pipeline created, never one that is in use.

use crate::archives::ArchiveFolder;
use chrono::{DateTime, Duration, Utc};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::{ResourceSummary, SageMaker};
use shared::aws::AwsError;
use shared::deployment::{DeploymentRecord, ENDPOINT_TAG};
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeSet;
use tracing::{info, warn};

/// A model younger than this may belong to a deploy still in flight (its
/// config not created yet), so it is never pruned.
pub const MODEL_GRACE: Duration = Duration::hours(1);

/// A config the pipeline made for this endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedConfig {
    pub name: String,
    pub created: DateTime<Utc>,
    pub model: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePlan {
    pub delete_configs: Vec<String>,
    /// Models no kept config uses; still checked for ownership before deletion.
    pub candidate_models: Vec<String>,
}

/// Decides what to delete. `in_use` are the configs the endpoint runs or
/// is moving to; configs newer than those belong to deploys in flight.
pub fn plan_prune(
    configs: &[OwnedConfig],
    in_use: &[&str],
    keep_superseded: usize,
    models: &[ResourceSummary],
    now: DateTime<Utc>,
) -> PrunePlan {
    let mut sorted: Vec<&OwnedConfig> = configs.iter().collect();
    sorted.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    let newest_in_use = sorted
        .iter()
        .position(|c| in_use.contains(&c.name.as_str()));
    let Some(newest_in_use) = newest_in_use else {
        // Without the live config among ours, "superseded" means nothing: keep all.
        return PrunePlan::default();
    };
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    let mut delete_configs = Vec::new();
    let mut superseded_kept = 0;
    for (position, config) in sorted.iter().enumerate() {
        if position <= newest_in_use || in_use.contains(&config.name.as_str()) {
            kept.insert(&config.model);
        } else if superseded_kept < keep_superseded {
            superseded_kept += 1;
            kept.insert(&config.model);
        } else {
            delete_configs.push(config.name.clone());
        }
    }
    let candidate_models = models
        .iter()
        .filter(|m| !kept.contains(m.name.as_str()) && now - m.created > MODEL_GRACE)
        .map(|m| m.name.clone())
        .collect();
    PrunePlan {
        delete_configs,
        candidate_models,
    }
}

/// Where the deploy's packed code archives are, and whether its new Model
/// names one of them.
pub struct Archives<'a> {
    pub store: &'a ArtifactStore,
    pub folder: &'a ArchiveFolder,
    pub new_model_packed: bool,
}

/// What [`prune_endpoint`] deleted.
#[derive(Debug, Default)]
struct Pruned {
    configs: usize,
    models: usize,
    /// A deleted Model named an archive in the watched folder.
    named_an_archive: bool,
}

/// Best effort: a failure here is logged, never fails the deploy. After
/// the Models, the endpoint's packed code archives no Model names any more
/// go too (archives.rs), when the deploy says where they are. The folder
/// is only listed when this run's new Model or a Model it deleted named an
/// archive there: only then can one have become unnamed, and most deploys
/// (no code packed) then skip the ListObjectsV2. An archive whose Model was
/// never created waits for the endpoint's next deploy that does.
pub async fn prune(
    sagemaker: &SageMaker,
    endpoint: &str,
    keep_superseded: usize,
    archives: Option<Archives<'_>>,
) {
    // With a packed new Model the sweep runs anyway: no need to describe
    // the Models deleted to learn whether they named an archive.
    let watched = archives
        .as_ref()
        .filter(|a| !a.new_model_packed)
        .map(|a| a.folder);
    let pruned = match prune_endpoint(sagemaker, endpoint, keep_superseded, watched).await {
        Ok(pruned) => pruned,
        Err(e) => {
            warn!(endpoint, error = %e, "could not prune superseded revisions; a later deploy will retry");
            // Without the Models pruned, the archives wait for that retry too.
            return;
        }
    };
    if pruned.configs + pruned.models > 0 {
        info!(
            endpoint,
            deleted_configs = pruned.configs,
            deleted_models = pruned.models,
            "pruned superseded revisions"
        )
    }
    let Some(archives) = archives else {
        return;
    };
    if !archives.new_model_packed && !pruned.named_an_archive {
        return;
    }
    let (store, folder) = (archives.store, archives.folder);
    let prefix = revision_prefix(endpoint);
    match crate::archives::prune_archives(sagemaker, store, folder, &prefix).await {
        Ok(0) => {}
        Ok(deleted) => {
            info!(endpoint, deleted_archives = deleted, folder = %folder.folder, "pruned code archives no model uses")
        }
        Err(e) => {
            warn!(endpoint, error = %e, "could not prune code archives; a later deploy will retry")
        }
    }
}

/// The name fragment all of this endpoint's revision names start with.
fn revision_prefix(endpoint: &str) -> String {
    let sample = shared::naming::revision_name(endpoint, "000000000000");
    sample.trim_end_matches("000000000000").to_string()
}

fn owned_by(tags: &std::collections::BTreeMap<String, String>, endpoint: &str) -> bool {
    tags.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
        && tags.get(ENDPOINT_TAG).map(String::as_str) == Some(endpoint)
}

/// Deletes the superseded configs and the Models no kept config uses.
/// With `watched`, each Model is described before its deletion (until one
/// is found) to tell whether it named an archive in that folder.
async fn prune_endpoint(
    sagemaker: &SageMaker,
    endpoint: &str,
    keep_superseded: usize,
    watched: Option<&ArchiveFolder>,
) -> Result<Pruned, AwsError> {
    let Some(info) = sagemaker.describe_endpoint(endpoint).await? else {
        return Ok(Pruned::default());
    };
    let prefix = revision_prefix(endpoint);
    let mut configs = Vec::new();
    for summary in sagemaker.list_endpoint_configs(&prefix).await? {
        if !summary.name.starts_with(&prefix) {
            continue;
        }
        let tags = sagemaker.list_tags(&summary.arn).await?;
        if let Some(record) = DeploymentRecord::from_tags(&summary.name, &tags)
            .filter(|r| r.endpoint_name == endpoint)
        {
            configs.push(OwnedConfig {
                name: summary.name,
                created: summary.created,
                model: record.model_name,
            });
        }
    }
    let models: Vec<ResourceSummary> = sagemaker
        .list_models(&prefix)
        .await?
        .into_iter()
        .filter(|m| m.name.starts_with(&prefix))
        .collect();
    let mut in_use = vec![info.config_name.as_str()];
    in_use.extend(info.pending_config_name.as_deref());
    let plan = plan_prune(&configs, &in_use, keep_superseded, &models, Utc::now());

    for config in &plan.delete_configs {
        sagemaker.delete_endpoint_config(config).await?;
    }
    let mut pruned = Pruned {
        configs: plan.delete_configs.len(),
        ..Pruned::default()
    };
    for model in &plan.candidate_models {
        let Some(summary) = models.iter().find(|m| &m.name == model) else {
            continue;
        };
        if !owned_by(&sagemaker.list_tags(&summary.arn).await?, endpoint) {
            continue;
        }
        if let Some(folder) = watched.filter(|_| !pruned.named_an_archive) {
            if let Some(described) = sagemaker.describe_model(model).await? {
                pruned.named_an_archive = folder.names_an_archive(&described);
            }
        }
        sagemaker.delete_model(model).await?;
        pruned.models += 1;
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn config(name: &str, minutes: i64) -> OwnedConfig {
        OwnedConfig {
            name: name.into(),
            created: at(minutes),
            model: format!("{name}-m"),
        }
    }

    fn model(name: &str, minutes: i64) -> ResourceSummary {
        ResourceSummary {
            name: name.into(),
            arn: format!("arn:{name}"),
            created: at(minutes),
        }
    }

    #[test]
    fn keeps_the_live_config_and_n_superseded() {
        let configs: Vec<_> = (0..5).map(|i| config(&format!("c{i}"), i * 10)).collect();
        let models: Vec<_> = (0..5).map(|i| model(&format!("c{i}-m"), i * 10)).collect();
        let plan = plan_prune(&configs, &["c4"], 2, &models, at(1000));
        assert_eq!(plan.delete_configs, vec!["c1", "c0"]);
        assert_eq!(plan.candidate_models, vec!["c0-m", "c1-m"]);
    }

    #[test]
    fn configs_newer_than_the_live_one_are_in_flight_and_kept() {
        let configs = vec![
            config("old", 0),
            config("live", 10),
            config("in-flight", 20),
        ];
        let plan = plan_prune(&configs, &["live"], 0, &[], at(1000));
        assert_eq!(plan.delete_configs, vec!["old"]);
    }

    #[test]
    fn pending_update_keeps_both_sides() {
        let configs = vec![config("a", 0), config("b", 10), config("c", 20)];
        let plan = plan_prune(&configs, &["b", "c"], 0, &[], at(1000));
        assert_eq!(plan.delete_configs, vec!["a"]);
    }

    #[test]
    fn young_orphan_models_are_left_for_their_deploy() {
        let configs = vec![config("live", 0)];
        let models = vec![
            model("live-m", 0),
            model("orphan-old", 0),
            model("orphan-new", 990),
        ];
        let plan = plan_prune(&configs, &["live"], 2, &models, at(1000));
        assert_eq!(plan.candidate_models, vec!["orphan-old"]);
    }

    #[test]
    fn nothing_is_deleted_when_the_live_config_is_not_ours() {
        let configs = vec![config("a", 0), config("b", 10)];
        assert_eq!(
            plan_prune(&configs, &["someone-elses"], 0, &[], at(100)),
            PrunePlan::default()
        );
    }

    #[test]
    fn a_model_shared_by_a_kept_config_survives() {
        let mut old = config("old", 0);
        old.model = "shared-m".into();
        let mut live = config("live", 10);
        live.model = "shared-m".into();
        let plan = plan_prune(
            &[old, live],
            &["live"],
            0,
            &[model("shared-m", 0)],
            at(1000),
        );
        assert_eq!(plan.delete_configs, vec!["old"]);
        assert!(plan.candidate_models.is_empty());
    }

    #[test]
    fn revision_prefix_matches_revision_names() {
        let name = shared::naming::revision_name("fraud", "abcdefabcdef");
        assert!(name.starts_with(&revision_prefix("fraud")));
        let long = "x".repeat(63);
        assert!(shared::naming::revision_name(&long, "abcdefabcdef")
            .starts_with(&revision_prefix(&long)));
    }
}
