//! One S3 record, start to finish: read settings, observe SageMaker,
//! decide, act, tidy up.

use crate::config::DeployerConfig;
use crate::outcome::{DeployError, RecordOutcome, Status};
use crate::plan::Observed;
use chrono::{DateTime, Utc};
use shared::aws::dynamodb::Ledger;
use shared::aws::s3::{ArtifactStore, ObjectInfo, MAX_SETTINGS_BYTES};
use shared::aws::sagemaker::{SageMaker, ServerlessCapacity};
use shared::aws::service_quotas::ServiceQuotas;
use shared::deployment::{ArtifactRef, DeploymentRecord};
use shared::naming::{revision_hash, revision_name};
use shared::s3_event::{parse_record, ObjectCreated, ObjectRole, ARTIFACT_FILE, SIDECAR_FILE};
use shared::settings::{resolve, DeploySettings, SettingsLayer};
use shared::smoke::source_uri;
use tracing::info;

/// Everything a deploy needs, built once per Lambda instance.
#[derive(Clone, Debug)]
pub struct Deployer {
    pub sagemaker: SageMaker,
    pub store: ArtifactStore,
    pub config: DeployerConfig,
    /// The deployment ledger; `None` (no `LEDGER_TABLE`) runs without a
    /// lease and records history only in tags.
    pub ledger: Option<Ledger>,
    /// The account's serverless quotas, checked before anything is created.
    pub quotas: ServiceQuotas,
}

/// A deploy that went through, or was correctly not needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub status: Status,
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub config: Option<String>,
    pub message: String,
}

impl Done {
    pub(crate) fn skipped(message: impl Into<String>) -> Self {
        Done {
            status: Status::Skipped,
            endpoint: None,
            model: None,
            config: None,
            message: message.into(),
        }
    }
}

/// Settings and the deploy.json they came from.
struct ResolvedSettings {
    settings: DeploySettings,
    /// Version id (or ETag) of the deploy.json, if there was one.
    version: Option<String>,
    /// `s3://...?versionId=...` of that exact deploy.json.
    source_uri: Option<String>,
}

/// Whether an event's object is still what its key holds.
enum Current {
    Yes(Located),
    /// The key is gone (deleted; a delete marker in a versioned bucket).
    Missing,
    /// The key now holds other bytes: `current` is their version id or ETag.
    Superseded {
        current: String,
    },
}

/// The artifact to deploy and the settings sources found next to it.
struct Located {
    artifact: ArtifactRef,
    head: ObjectInfo,
}

impl Deployer {
    /// Handles record `index` of an event, in an invocation that ends at
    /// `deadline` (`None`: not known); never panics, never returns early
    /// for the other records.
    pub async fn handle_record(
        &self,
        index: usize,
        raw: &serde_json::Value,
        deadline: Option<DateTime<Utc>>,
    ) -> RecordOutcome {
        let parsed = parse_record(index, raw);
        let object = parsed
            .as_ref()
            .ok()
            .map(|o| format!("s3://{}/{}", o.bucket, o.key));
        let result = match parsed {
            Ok(object) => self.deploy(&object, deadline).await,
            Err(e) => Err(DeployError::from(e)),
        };
        RecordOutcome::of(index, object, result)
    }

    /// Deploys what one `ObjectCreated` record points at.
    pub async fn deploy(
        &self,
        object: &ObjectCreated,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Done, DeployError> {
        let Some(role) = object.role() else {
            return Ok(Done::skipped(format!(
                "s3://{}/{} is not a model artifact ({ARTIFACT_FILE}) or settings file ({SIDECAR_FILE})",
                object.bucket, object.key
            )));
        };
        if self.config.below_prefix(&object.key).is_none() {
            return Ok(Done::skipped(format!(
                "s3://{}/{} is outside the models prefix {:?}",
                object.bucket, object.key, self.config.models_prefix
            )));
        }
        let located = match self.locate_artifact(object, role).await? {
            Current::Yes(located) => located,
            Current::Missing => {
                return Ok(Done::skipped(match role {
                    ObjectRole::Sidecar => format!(
                        "no {ARTIFACT_FILE} next to s3://{}/{} yet; these settings apply when it is uploaded",
                        object.bucket, object.key
                    ),
                    ObjectRole::Artifact => format!(
                        "deleted: s3://{}/{} was deleted after this upload; nothing is deployed",
                        object.bucket, object.key
                    ),
                }))
            }
            Current::Superseded { current } => {
                return Ok(Done::skipped(format!(
                    "superseded: s3://{}/{} was overwritten after this upload (its current version is {current}); that upload's own event deploys it",
                    object.bucket, object.key
                )))
            }
        };
        let sidecar = self.settings_for(&located).await?;
        let mut settings = sidecar.settings;
        // Code packed as the SDK packs it: the container's environment and
        // model data change, so the names below change with the code.
        let packing = self
            .plan_packing(&settings, &located.artifact, &located.head)
            .await?;
        let pack_job = packing.and_then(|plan| {
            settings.environment = plan.environment;
            settings.container.model_data_url = plan.model_data_url;
            plan.job
        });
        let mut desired = self.desired_record(&settings, &located.artifact, sidecar.version);
        if settings.smoke_test.is_some() {
            desired.smoke_test_source = sidecar.source_uri;
        }
        let (endpoint, config) = (desired.endpoint_name.clone(), desired.config_name.clone());
        let trigger = format!("s3://{}/{}", object.bucket, object.key);
        self.deploy_leased(desired, &settings, &trigger, pack_job.as_ref(), deadline)
            .await
            .map_err(|e| e.of_deployment(&endpoint, &config))
    }

    /// The artifact to deploy, if the event's bytes are still the key's
    /// current ones. SageMaker reads `ModelDataUrl` without a version, so
    /// deploying an overwritten or deleted version would load other bytes
    /// (or none): the key is read without a version id and compared.
    async fn locate_artifact(
        &self,
        object: &ObjectCreated,
        role: ObjectRole,
    ) -> Result<Current, DeployError> {
        let located = match role {
            ObjectRole::Artifact => {
                let Some(head) = self.store.head(&object.bucket, &object.key, None).await? else {
                    return Ok(Current::Missing);
                };
                let (event, now) = match &object.version_id {
                    Some(version) => (Some(version), head.version_id.as_ref()),
                    None => (object.etag.as_ref(), head.etag.as_ref()),
                };
                if let (Some(event), Some(now)) = (event, now) {
                    if event != now {
                        return Ok(Current::Superseded {
                            current: now.clone(),
                        });
                    }
                }
                let version = object
                    .version_id
                    .clone()
                    .or_else(|| object.etag.clone())
                    .or_else(|| head.version().map(str::to_string))
                    .unwrap_or_default();
                Located {
                    artifact: ArtifactRef {
                        bucket: object.bucket.clone(),
                        key: object.key.clone(),
                        version,
                        time: object.event_time,
                        sequencer: object.sequencer.clone(),
                    },
                    head,
                }
            }
            ObjectRole::Sidecar => {
                // New settings redeploy the newest artifact in the folder.
                let key = format!("{}{ARTIFACT_FILE}", object.folder());
                let Some(head) = self.store.head(&object.bucket, &key, None).await? else {
                    return Ok(Current::Missing);
                };
                Located {
                    artifact: ArtifactRef {
                        bucket: object.bucket.clone(),
                        key,
                        version: head.version().unwrap_or_default().to_string(),
                        time: head.last_modified.unwrap_or(object.event_time),
                        sequencer: None,
                    },
                    head,
                }
            }
        };
        Ok(Current::Yes(located))
    }

    /// Settings by precedence: deploy.json, then metadata, then defaults.
    async fn settings_for(&self, located: &Located) -> Result<ResolvedSettings, DeployError> {
        let artifact = &located.artifact;
        let folder = shared::s3_event::folder_of(&artifact.key);
        let sidecar_key = format!("{folder}{SIDECAR_FILE}");
        let sidecar = self
            .store
            .get_small(&artifact.bucket, &sidecar_key, MAX_SETTINGS_BYTES)
            .await?;
        let (sidecar_layer, version, source_uri) = match sidecar {
            Some(object) => (
                SettingsLayer::from_deploy_json(&object.bytes)?,
                object.version,
                Some(source_uri(
                    &artifact.bucket,
                    &sidecar_key,
                    object.version_id.as_deref(),
                )),
            ),
            None => (SettingsLayer::default(), None, None),
        };
        let (metadata_layer, ignored) = SettingsLayer::from_metadata(&located.head.metadata)?;
        if !ignored.is_empty() {
            info!(metadata = ?ignored, "object metadata not used for settings");
        }
        let settings = resolve(
            &[&sidecar_layer, &metadata_layer, &self.config.defaults],
            self.config.folder_endpoint_name(&artifact.key),
            &self.config.region,
        )?;
        Ok(ResolvedSettings {
            settings,
            version,
            source_uri,
        })
    }

    /// Names are hashes of everything that shapes the resource, so the same
    /// artifact and settings always give the same names (idempotence), and
    /// any change gives new ones (no resource is ever modified in place).
    /// The config's name also holds the deploy.json version: each upload of
    /// it is a deployment of its own, with its own record and ledger entry,
    /// even when its content equals an earlier one's (settings changed
    /// back), whose config would carry that earlier deployment's record.
    pub(crate) fn desired_record(
        &self,
        settings: &DeploySettings,
        artifact: &ArtifactRef,
        settings_version: Option<String>,
    ) -> DeploymentRecord {
        let environment = serde_json::to_string(&settings.environment).unwrap_or_default();
        let mut model_parts: Vec<&str> = vec![
            &settings.endpoint_name,
            &artifact.bucket,
            &artifact.key,
            &artifact.version,
            &settings.container.image_uri,
            &environment,
            &self.config.execution_role_arn,
        ];
        // Only when repacked, so the names of deployments without code
        // stay what they were.
        if let Some(url) = &settings.container.model_data_url {
            model_parts.push(url);
        }
        let model_name = revision_name(&settings.endpoint_name, &revision_hash(&model_parts));
        let memory = settings.memory_size_mb.to_string();
        // A new smoke test is a new config, so it gets tested.
        let smoke_test = serde_json::to_string(&settings.smoke_test).unwrap_or_default();
        let max_concurrency = settings.max_concurrency.to_string();
        let provisioned = settings
            .provisioned_concurrency
            .map(|p| p.to_string())
            .unwrap_or_default();
        let mut config_parts: Vec<&str> = vec![
            &model_name,
            &memory,
            &max_concurrency,
            &provisioned,
            &smoke_test,
        ];
        // Only with a deploy.json, so deployments without one keep their names.
        if let Some(version) = &settings_version {
            config_parts.push(version);
        }
        let config_name = revision_name(&settings.endpoint_name, &revision_hash(&config_parts));
        // Everything above but the concurrency, which can change in place.
        let shape = revision_hash(&[&model_name, &memory, &smoke_test]);
        DeploymentRecord {
            endpoint_name: settings.endpoint_name.clone(),
            model_name,
            config_name,
            artifact: artifact.clone(),
            settings_version,
            replaces_config: None,
            smoke_test_source: None,
            shape: Some(shape),
            capacity: Some(ServerlessCapacity {
                max_concurrency: settings.max_concurrency,
                provisioned_concurrency: settings.provisioned_concurrency,
            }),
        }
    }

    /// Reads the endpoint, the config it runs (or is moving to) and that
    /// config's deployment record. When that config is `desired_config`,
    /// the endpoint alone decides (already current), so the rest is not read.
    pub async fn observe(
        &self,
        endpoint_name: &str,
        desired_config: Option<&str>,
    ) -> Result<Observed, DeployError> {
        let Some(endpoint) = self.sagemaker.describe_endpoint(endpoint_name).await? else {
            return Ok(Observed {
                endpoint: None,
                config: None,
                record: None,
                rolled_back_from: None,
                failed_smoke_test: None,
                endpoint_managed_by: None,
            });
        };
        let live = endpoint
            .pending_config_name
            .clone()
            .unwrap_or_else(|| endpoint.config_name.clone());
        if desired_config == Some(live.as_str()) {
            return Ok(Observed {
                endpoint: Some(endpoint),
                config: None,
                record: None,
                rolled_back_from: None,
                failed_smoke_test: None,
                endpoint_managed_by: None,
            });
        }
        let mut endpoint_tags = self.sagemaker.list_tags(&endpoint.arn).await?;
        let failed_smoke_test = shared::smoke::failed_config(&endpoint_tags).map(str::to_string);
        let rolled_back_from = endpoint_tags.remove(shared::smoke::ROLLED_BACK_FROM_TAG);
        let endpoint_managed_by = endpoint_tags.remove(shared::tags::MANAGED_BY_KEY);
        let config = self.sagemaker.describe_endpoint_config(&live).await?;
        let record = match &config {
            Some(c) => {
                DeploymentRecord::from_tags(&c.name, &self.sagemaker.list_tags(&c.arn).await?)
            }
            None => None,
        };
        Ok(Observed {
            endpoint: Some(endpoint),
            config,
            record,
            rolled_back_from,
            failed_smoke_test,
            endpoint_managed_by,
        })
    }
}
