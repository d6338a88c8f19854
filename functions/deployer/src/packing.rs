//! Inference code packed as the SageMaker SDK packs it (issue 13 item 1):
//! `shared::packing` decides the mode, layout and environment; this reads
//! the code's locations in S3, names the result after its inputs, and
//! writes it (pack_stream.rs) under the deployer's own prefix.
//!
//! Names are fingerprints of everything read (keys, ETags, sizes, the
//! artifact's ETag), so a redelivered event finds its archive already
//! there and packs nothing, and changed code gets a new archive, a new
//! model and a new config.

use crate::deploy::Deployer;
use crate::outcome::DeployError;
use shared::aws::s3::ObjectInfo;
use shared::aws::s3_stream::Listed as ListedObject;
use shared::aws::AwsError;
use shared::deployment::ArtifactRef;
use shared::packing::layout::{layout, Layout, LayoutError, Listed, ListedCode, ObjectRef};
use shared::packing::{environment, mode_for, uses_given_tarball, Mode};
use shared::settings::{CodeLocation, DeploySettings, InferenceCode};
use std::collections::BTreeMap;
use tracing::info;

/// What packing changes in a deployment, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackPlan {
    /// The container's environment: the user's and the SDK's variables.
    pub environment: BTreeMap<String, String>,
    /// Repack mode: the new archive SageMaker loads instead of the artifact.
    pub model_data_url: Option<String>,
    /// The archive to write; `None` when the user's `.tar.gz` is used as is.
    pub job: Option<PackJob>,
}

/// One archive to write to `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackJob {
    pub layout: Layout,
    pub bucket: String,
    pub key: String,
    /// Repack mode: the user's `model.tar.gz`, copied member by member.
    pub model: Option<ObjectRef>,
}

impl PackJob {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Why the code could not be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("{0}")]
    Layout(#[from] LayoutError),
    #[error("{field} {uri} is outside s3://{bucket}/{prefix}, the only place the deployer and SageMaker may read code from; put it there (for example in a folder beside model.tar.gz)")]
    Unreadable {
        field: String,
        uri: String,
        bucket: String,
        prefix: String,
    },
    #[error("{field} {uri} does not exist")]
    Missing { field: String, uri: String },
    #[error("entry_point needs a framework to be packed as the SageMaker SDK packs it")]
    NoFramework,
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// The inputs could not be read as the archives they claim to be.
    #[error("cannot write {output}: {why}")]
    Archive { output: String, why: String },
}

impl PackError {
    pub fn is_retryable(&self) -> bool {
        match self {
            PackError::Aws(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl Deployer {
    /// Plans the packing of `settings.code` for this artifact: lists the
    /// code, lays it out and names the result. `None` without code.
    pub(crate) async fn plan_packing(
        &self,
        settings: &DeploySettings,
        artifact: &ArtifactRef,
        head: &ObjectInfo,
    ) -> Result<Option<PackPlan>, DeployError> {
        let Some(code) = &settings.code else {
            return Ok(None);
        };
        let (framework, version) = settings
            .container
            .framework
            .as_ref()
            .ok_or(PackError::NoFramework)?;
        let mode = mode_for(framework, version);
        let region = &self.config.region;
        if let Some(uri) = uses_given_tarball(mode, code) {
            // The SDK passes an s3:// source_dir straight through; it must
            // exist and be readable by SageMaker.
            if let Some(CodeLocation::S3Tarball { bucket, key }) = &code.source_dir {
                self.readable_object(&artifact.bucket, "source_dir", bucket, key)
                    .await?;
            }
            return Ok(Some(PackPlan {
                environment: environment(&settings.environment, mode, code, &uri, region),
                model_data_url: None,
                job: None,
            }));
        }
        let listed = self.list_code(code, artifact).await?;
        let plan = layout(mode, code, &listed).map_err(PackError::from)?;
        let model = match mode {
            Mode::Repack { .. } => Some(ObjectRef {
                bucket: artifact.bucket.clone(),
                key: artifact.key.clone(),
                size: u64::try_from(head.size).unwrap_or(0),
                version: head
                    .etag
                    .clone()
                    .unwrap_or_else(|| artifact.version.clone()),
            }),
            Mode::SourceDir => None,
        };
        let file = match mode {
            Mode::SourceDir => "sourcedir.tar.gz",
            Mode::Repack { .. } => "model.tar.gz",
        };
        let key = format!(
            "{}{}/{}/{file}",
            self.config.packed_prefix,
            settings.endpoint_name,
            plan.fingerprint(code, model.as_ref())
        );
        let job = PackJob {
            layout: plan,
            bucket: artifact.bucket.clone(),
            key,
            model,
        };
        let uri = job.uri();
        Ok(Some(PackPlan {
            environment: environment(&settings.environment, mode, code, &uri, region),
            model_data_url: matches!(mode, Mode::Repack { .. }).then_some(uri),
            job: Some(job),
        }))
    }

    /// Writes the archive unless an earlier delivery already did (its name
    /// pins its content). Called right before the model is created.
    pub(crate) async fn ensure_packed(&self, job: &PackJob) -> Result<(), DeployError> {
        if self
            .store
            .head(&job.bucket, &job.key, None)
            .await?
            .is_some()
        {
            info!(archive = %job.uri(), "code already packed");
            return Ok(());
        }
        let written = crate::pack_stream::write_to_s3(&self.store, job).await?;
        info!(archive = %job.uri(), files = written.files, bytes = written.bytes,
              skipped = written.skipped, parts = written.parts, "code packed");
        Ok(())
    }

    /// The code's objects as they are now, listed (never read) except a
    /// `.tar.gz` source_dir, whose member names decide what it replaces.
    async fn list_code(
        &self,
        code: &InferenceCode,
        artifact: &ArtifactRef,
    ) -> Result<ListedCode, DeployError> {
        let folder = shared::s3_event::folder_of(&artifact.key);
        let place = |location: &CodeLocation| -> (String, String) {
            match location {
                CodeLocation::Beside { prefix } => {
                    (artifact.bucket.clone(), format!("{folder}{prefix}"))
                }
                CodeLocation::S3Folder { bucket, prefix } => (bucket.clone(), prefix.clone()),
                CodeLocation::S3Tarball { bucket, key } => (bucket.clone(), key.clone()),
            }
        };
        let mut listed = ListedCode {
            entry_file: None,
            source_dir: None,
            dependencies: Vec::new(),
        };
        match &code.source_dir {
            None => {
                let key = format!("{folder}{}", code.entry_point);
                listed.entry_file = Some(
                    self.readable_object(&artifact.bucket, "entry_point", &artifact.bucket, &key)
                        .await?,
                );
            }
            Some(location @ CodeLocation::S3Tarball { .. }) => {
                let (bucket, key) = place(location);
                let object = self
                    .readable_object(&artifact.bucket, "source_dir", &bucket, &key)
                    .await?;
                let members = crate::pack_stream::member_names(&self.store, &object).await?;
                listed.source_dir = Some(Listed::Tarball { object, members });
            }
            Some(location) => {
                let (bucket, prefix) = place(location);
                listed.source_dir = Some(
                    self.list_folder(&artifact.bucket, "source_dir", &bucket, &prefix)
                        .await?,
                );
            }
        }
        for (i, dependency) in code.dependencies.iter().enumerate() {
            let (bucket, prefix) = place(dependency);
            let name = dependency.folder_name().unwrap_or_default().to_string();
            let field = format!("dependencies[{i}]");
            let folder = self
                .list_folder(&artifact.bucket, &field, &bucket, &prefix)
                .await?;
            listed.dependencies.push((name, folder));
        }
        Ok(listed)
    }

    async fn list_folder(
        &self,
        home: &str,
        field: &str,
        bucket: &str,
        prefix: &str,
    ) -> Result<Listed, DeployError> {
        self.check_readable(home, field, bucket, prefix)?;
        let objects = self.store.list_folder(bucket, prefix).await?;
        Ok(Listed::Folder {
            uri: format!("s3://{bucket}/{prefix}"),
            prefix: prefix.to_string(),
            objects: objects.into_iter().map(|o| object_ref(bucket, o)).collect(),
        })
    }

    /// HEADs one code object (it must exist) after checking it may be read.
    async fn readable_object(
        &self,
        home: &str,
        field: &str,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectRef, DeployError> {
        self.check_readable(home, field, bucket, key)?;
        let head = self
            .store
            .head(bucket, key, None)
            .await?
            .ok_or_else(|| PackError::Missing {
                field: field.into(),
                uri: format!("s3://{bucket}/{key}"),
            })?;
        Ok(ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            size: u64::try_from(head.size).unwrap_or(0),
            version: head.etag.or(head.version_id).unwrap_or_default(),
        })
    }

    /// Code is read only from the models bucket (`home`, the artifact's)
    /// below the models prefix: the deployer's role and SageMaker's
    /// execution role read nothing else.
    fn check_readable(
        &self,
        home: &str,
        field: &str,
        bucket: &str,
        key: &str,
    ) -> Result<(), PackError> {
        if bucket == home && self.config.below_prefix(key).is_some() {
            return Ok(());
        }
        Err(PackError::Unreadable {
            field: field.into(),
            uri: format!("s3://{bucket}/{key}"),
            bucket: home.to_string(),
            prefix: self.config.models_prefix.clone(),
        })
    }
}

fn object_ref(bucket: &str, o: ListedObject) -> ObjectRef {
    ObjectRef {
        bucket: bucket.to_string(),
        key: o.key,
        size: o.size,
        version: o.etag,
    }
}
