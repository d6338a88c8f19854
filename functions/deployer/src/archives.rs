//! Prunes the deployer's own code archives (`sourcedir.tar.gz`, repacked
//! `model.tar.gz`, under `<PackedCodePrefix><endpoint>/`) once no Model of
//! the endpoint names them.
//!
//! SageMaker reads a model's `ModelDataUrl` and its container reads
//! `SAGEMAKER_SUBMIT_DIRECTORY` whenever serverless capacity starts, not
//! only at deploy time: an archive must outlive every Model that names
//! it, the live one and the rollback targets cleanup keeps. So this runs
//! after cleanup pruned the Models, and sweeps the endpoint's archive
//! folder against the Models that are left, rather than deleting "the
//! archive of each Model deleted": the sweep also finds archives whose
//! Model was never created (a create that failed or was undone, a crash
//! between packing and CreateModel) and those written before pruning
//! existed, and one surviving Model keeps an archive whoever shares it.

use crate::cleanup::MODEL_GRACE;
use chrono::{DateTime, Duration, Utc};
use shared::aws::s3::ArtifactStore;
use shared::aws::s3_stream::Listed;
use shared::aws::sagemaker::{ModelInfo, SageMaker};
use shared::aws::AwsError;
use shared::packing::SUBMIT_DIRECTORY_VAR;
use std::collections::BTreeSet;

/// An archive written less than this ago may belong to a deploy still in
/// flight (packed, its Model not created yet), so it is never pruned: the
/// same grace as cleanup gives a Model without a config. S3 dates a
/// multipart upload from its start, so a repack still has this long
/// after it began to create its Model.
pub const ARCHIVE_GRACE: Duration = MODEL_GRACE;

/// Where one endpoint's archives are: `s3://bucket/folder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFolder {
    pub bucket: String,
    /// `<PackedCodePrefix><endpoint>/`
    pub folder: String,
}

impl ArchiveFolder {
    pub fn new(bucket: &str, packed_prefix: &str, endpoint: &str) -> Self {
        ArchiveFolder {
            bucket: bucket.to_string(),
            folder: format!("{packed_prefix}{endpoint}/"),
        }
    }

    /// Whether `model` makes SageMaker read an archive in this folder.
    pub fn names_an_archive(&self, model: &ModelInfo) -> bool {
        let folder_uri = format!("s3://{}/{}", self.bucket, self.folder);
        referenced_uris(model).any(|uri| uri.starts_with(&folder_uri))
    }
}

/// The S3 URIs a Model makes SageMaker read: each container's model data
/// and the code it downloads at start.
pub fn referenced_uris(model: &ModelInfo) -> impl Iterator<Item = &str> {
    model.containers.iter().flat_map(|c| {
        c.model_data_url
            .as_deref()
            .into_iter()
            .chain(c.environment.get(SUBMIT_DIRECTORY_VAR).map(String::as_str))
    })
}

fn past_grace(archive: &Listed, now: DateTime<Utc>) -> bool {
    // Without a date its age is unknown: kept.
    archive
        .last_modified
        .is_some_and(|written| now - written > ARCHIVE_GRACE)
}

/// The keys to delete: archives no Model names, written past the grace.
pub fn archives_to_prune(
    bucket: &str,
    archives: &[Listed],
    referenced: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Vec<String> {
    archives
        .iter()
        .filter(|a| past_grace(a, now))
        .filter(|a| !referenced.contains(&format!("s3://{bucket}/{}", a.key)))
        .map(|a| a.key.clone())
        .collect()
}

/// Deletes the endpoint's archives no Model whose name starts with
/// `model_prefix` names any more; returns how many. Any failure stops it
/// before a delete it could not justify.
pub async fn prune_archives(
    sagemaker: &SageMaker,
    store: &ArtifactStore,
    archives: &ArchiveFolder,
    model_prefix: &str,
) -> Result<usize, AwsError> {
    let now = Utc::now();
    let listed = store
        .list_folder(&archives.bucket, &archives.folder)
        .await?;
    if !listed.iter().any(|a| past_grace(a, now)) {
        // Nothing could be pruned: no need to read the Models.
        return Ok(0);
    }
    // The Models as they are now, after cleanup deleted some.
    let mut referenced = BTreeSet::new();
    for model in sagemaker.list_models(model_prefix).await? {
        if !model.name.starts_with(model_prefix) {
            continue;
        }
        if let Some(info) = sagemaker.describe_model(&model.name).await? {
            referenced.extend(referenced_uris(&info).map(str::to_string));
        }
    }
    let doomed = archives_to_prune(&archives.bucket, &listed, &referenced, now);
    for key in &doomed {
        store.delete(&archives.bucket, key).await?;
    }
    Ok(doomed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::aws::sagemaker::ContainerInfo;
    use std::collections::BTreeMap;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn archive(key: &str, written: Option<DateTime<Utc>>) -> Listed {
        Listed {
            key: key.into(),
            size: 1,
            etag: "e".into(),
            last_modified: written,
        }
    }

    fn model(data: &str, submit: Option<&str>) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            execution_role_arn: "r".into(),
            containers: vec![ContainerInfo {
                image: None,
                model_data_url: Some(data.into()),
                environment: submit
                    .map(|s| BTreeMap::from([(SUBMIT_DIRECTORY_VAR.to_string(), s.to_string())]))
                    .unwrap_or_default(),
                mode: None,
                model_package: None,
            }],
            vpc: false,
            network_isolation: false,
        }
    }

    #[test]
    fn a_model_references_its_model_data_and_its_submit_directory() {
        let m = model(
            "s3://b/models/e/model.tar.gz",
            Some("s3://b/packed/e/f/sourcedir.tar.gz"),
        );
        assert_eq!(
            referenced_uris(&m).collect::<Vec<_>>(),
            vec![
                "s3://b/models/e/model.tar.gz",
                "s3://b/packed/e/f/sourcedir.tar.gz"
            ]
        );
    }

    #[test]
    fn only_unreferenced_archives_past_the_grace_are_pruned() {
        let archives = vec![
            archive("packed/e/live/sourcedir.tar.gz", Some(at(0))),
            archive("packed/e/orphan/sourcedir.tar.gz", Some(at(0))),
            archive("packed/e/in-flight/model.tar.gz", Some(at(990))),
            archive("packed/e/undated/model.tar.gz", None),
        ];
        let referenced = BTreeSet::from(["s3://b/packed/e/live/sourcedir.tar.gz".to_string()]);
        assert_eq!(
            archives_to_prune("b", &archives, &referenced, at(1000)),
            vec!["packed/e/orphan/sourcedir.tar.gz"]
        );
    }

    #[test]
    fn a_reference_in_another_bucket_does_not_keep_an_archive() {
        let archives = vec![archive("packed/e/x/model.tar.gz", Some(at(0)))];
        let referenced = BTreeSet::from(["s3://other/packed/e/x/model.tar.gz".to_string()]);
        assert_eq!(
            archives_to_prune("b", &archives, &referenced, at(1000)),
            vec!["packed/e/x/model.tar.gz"]
        );
    }

    #[test]
    fn the_folder_is_the_endpoints_own() {
        let folder = ArchiveFolder::new("b", "packed/", "fraud");
        assert_eq!(folder.folder, "packed/fraud/");
        // "fraud-2"'s archives are not below "packed/fraud/".
        assert!(!"packed/fraud-2/x/model.tar.gz".starts_with(&folder.folder));
    }

    #[test]
    fn a_model_names_an_archive_by_its_data_or_its_code() {
        let folder = ArchiveFolder::new("b", "packed/", "fraud");
        let packed_code = model(
            "s3://b/models/fraud/model.tar.gz",
            Some("s3://b/packed/fraud/h/sourcedir.tar.gz"),
        );
        assert!(folder.names_an_archive(&packed_code));
        assert!(folder.names_an_archive(&model("s3://b/packed/fraud/h/model.tar.gz", None)));
        for other in [
            model("s3://b/models/fraud/model.tar.gz", None),
            model("s3://b/packed/fraud-2/h/model.tar.gz", None),
            model("s3://other/packed/fraud/h/model.tar.gz", None),
        ] {
            assert!(!folder.names_an_archive(&other), "{other:?}");
        }
    }
}
