//! Model Registry approvals (issue 13 item 3): a "SageMaker Model Package
//! State Change" event of a watched package group. An approval deploys the
//! package serverless, CreateModel naming its ModelPackageName, through the
//! same lease, plan, ledger entry, smoke test and rollback as an upload; a
//! rejection never deletes anything, but a rejection of the live package
//! is told (shared::model_package::LiveRejection). The rules are
//! `shared::model_package`.

use crate::deploy::{Deployer, Done};
use crate::outcome::{DeployError, RecordOutcome, Status};
use crate::queue::QueueConsumer;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::aws::sagemaker::ModelPackageInfo;
use shared::deployment::{ArtifactRef, DeploymentRecord};
use shared::model_package::{
    self, ApprovalStatus, LiveRejection, PackageDecision, PackageStateChange,
};
use shared::outcome::Ending;
use shared::settings::{resolve, DeploySettings, SettingsLayer};

/// What a package state change came to: its record's outcome and, for a
/// rejection of the live package, the ending to tell about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHandled {
    pub outcome: RecordOutcome,
    pub notice: Option<Ending>,
}

impl QueueConsumer {
    /// Handles one package state change, from the deploy queue or sent
    /// straight to the function, and tells a rejection of the live package
    /// (ledger, metric, alert; once per rejection event). When that cannot
    /// be told, the record fails as retryable, so the event comes again
    /// and tells it then.
    pub async fn handle_package(
        &self,
        payload: &Value,
        deadline: Option<DateTime<Utc>>,
    ) -> RecordOutcome {
        let PackageHandled {
            mut outcome,
            notice,
        } = self.deployer.handle_package_event(payload, deadline).await;
        if let Some(notice) = notice {
            if let Err(e) = self.outcomes.report_outcome(&notice).await {
                tracing::warn!(error = %e, "the rejection of a live package was not told; retrying");
                outcome.status = Status::Failed;
                outcome.retryable = Some(true);
                outcome.message = format!(
                    "{}; telling people so failed, so the event is handled again: {e}",
                    outcome.message
                );
            }
        }
        outcome
    }
}

impl Deployer {
    /// Handles one package state change, in an invocation that ends at
    /// `deadline`; never panics.
    pub async fn handle_package_event(
        &self,
        payload: &Value,
        deadline: Option<DateTime<Utc>>,
    ) -> PackageHandled {
        let subject = payload["detail"]["ModelPackageArn"]
            .as_str()
            .map(str::to_string);
        let (result, notice) = match model_package::parse(payload) {
            Ok(change) => match self.package_change(&change, payload, deadline).await {
                Ok((done, notice)) => (Ok(done), notice),
                Err(e) => (Err(e), None),
            },
            Err(e) => (Err(e.into()), None),
        };
        PackageHandled {
            outcome: RecordOutcome::of(0, subject, result),
            notice,
        }
    }

    /// Deploys an approved package, or says why nothing changes (with the
    /// ending to tell when the live package was rejected).
    async fn package_change(
        &self,
        change: &PackageStateChange,
        payload: &Value,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<(Done, Option<Ending>), DeployError> {
        if let Some(reason) = model_package::screen(change, &self.config.watched_groups) {
            return Ok((Done::skipped(reason), None));
        }
        // The event may be old news (approved, then rejected since): the
        // registry's answer now decides, and the later change's own event
        // does the rest.
        let arn = &change.package_arn;
        let Some(package) = self.sagemaker.describe_model_package(arn).await? else {
            return Ok((Done::skipped(format!("{arn} no longer exists")), None));
        };
        let now = package.approval.as_ref().map(|s| s.as_str()).unwrap_or("");
        if !same_status(&change.status, package.approval.as_ref()) {
            return Ok((
                Done::skipped(format!(
                    "{arn} is {now:?} now, no longer {:?} as this event says; the event of that change decides",
                    change.status
                )),
                None,
            ));
        }
        if change.status == ApprovalStatus::Rejected {
            let event = model_package::rejection_event(payload).unwrap_or(arn);
            return self.rejected(change, &package, event).await;
        }
        let done = self
            .deploy_package(change, &package, event_time(payload), deadline)
            .await?;
        Ok((done, None))
    }

    /// Deploys an approved package. `at` is when the registry changed it:
    /// it orders this deployment against the live one as an upload's time
    /// does (a later approval of an older version is a later deployment:
    /// how a registry user rolls back).
    async fn deploy_package(
        &self,
        change: &PackageStateChange,
        package: &ModelPackageInfo,
        at: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Done, DeployError> {
        let (settings, artifact) = self.package_settings(package, &change.group, at)?;
        let mut desired = self.desired_record(&settings, &artifact, None);
        if settings.smoke_test.is_some() {
            // The smoke tester reads the request from the package itself.
            desired.smoke_test_source = Some(package.arn.clone());
        }
        let (endpoint, config) = (desired.endpoint_name.clone(), desired.config_name.clone());
        self.deploy_leased(desired, &settings, &package.arn, None, deadline)
            .await
            .map_err(|e| e.of_deployment(&endpoint, &config))
    }

    /// A rejection changes nothing: deleting a serving endpoint on a
    /// registry click would take traffic down; approving another version
    /// replaces it. When the rejected package is the live one, the ending
    /// telling so comes back with it.
    async fn rejected(
        &self,
        change: &PackageStateChange,
        package: &ModelPackageInfo,
        event: &str,
    ) -> Result<(Done, Option<Ending>), DeployError> {
        let Ok(endpoint) = model_package::endpoint_name(&package.properties, &change.group) else {
            return Ok((
                Done::skipped(format!(
                    "{} was rejected; its endpoint_name is not a valid name, so it serves nowhere",
                    package.arn
                )),
                None,
            ));
        };
        let observed = self.observe(&endpoint, None).await?;
        let record = observed.record.as_ref();
        let live = record.and_then(|r| r.artifact.model_package());
        let decision = model_package::decide(change, &self.config.watched_groups, live);
        let mut notice = None;
        let message = match decision {
            PackageDecision::LeaveLive { package_arn } => {
                // `decide` found the package live, so in this record.
                if let Some(record) = record {
                    let replaced = match &record.replaces_config {
                        Some(config) => self.record_of(config).await?,
                        None => None,
                    };
                    let rejection = LiveRejection {
                        change,
                        endpoint: &endpoint,
                        live_config: &record.config_name,
                        replaced: replaced.as_ref(),
                        event,
                    };
                    notice = Some(rejection.ending());
                }
                format!(
                    "{package_arn} was rejected but is left serving on {endpoint}: a rejection never deletes or changes a live endpoint; approve another version to replace it (people are told)"
                )
            }
            PackageDecision::Ignore { reason } => reason,
            PackageDecision::Deploy { package_arn } => {
                format!("{package_arn}: a rejection deploys nothing")
            }
        };
        let done = Done {
            status: Status::Skipped,
            endpoint: Some(endpoint),
            model: None,
            config: None,
            message,
        };
        Ok((done, notice))
    }

    /// The deployment record of a config the pipeline made; `None` when
    /// the config is gone or not the pipeline's.
    async fn record_of(&self, config: &str) -> Result<Option<DeploymentRecord>, DeployError> {
        let Some(described) = self.sagemaker.describe_endpoint_config(config).await? else {
            return Ok(None);
        };
        let tags = self.sagemaker.list_tags(&described.arn).await?;
        Ok(DeploymentRecord::from_tags(&described.name, &tags))
    }

    /// The settings (the package's metadata, then the function's
    /// defaults) and the artifact record of a package deployment. The
    /// package's own container is the container (SageMaker runs it); its
    /// image is still checked as an upload's would be.
    fn package_settings(
        &self,
        package: &ModelPackageInfo,
        group: &str,
        at: DateTime<Utc>,
    ) -> Result<(DeploySettings, ArtifactRef), DeployError> {
        let problem = |why: String| DeployError::Package {
            package: package.arn.clone(),
            why,
        };
        let [container] = package.containers.as_slice() else {
            return Err(problem(format!(
                "it has {} containers in its InferenceSpecification; a serverless endpoint runs exactly one (inference pipelines are not supported serverless)",
                package.containers.len()
            )));
        };
        let url = container.model_data_url.as_deref().unwrap_or_default();
        let Some((bucket, key)) = url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        else {
            return Err(problem(
                "its container has no ModelDataUrl in S3 (s3://bucket/key); the pipeline deploys packages with a model artifact".into(),
            ));
        };
        let metadata = model_package::settings_layer(&package.properties).map_err(|source| {
            DeployError::PackageSettings {
                package: package.arn.clone(),
                error: Box::new(source),
            }
        })?;
        let image = SettingsLayer {
            image_uri: Some(container.image.clone()),
            ..SettingsLayer::default()
        };
        let settings = resolve(
            &[&image, &metadata, &self.config.defaults],
            Some(group),
            &self.config.region,
        )
        .map_err(|source| DeployError::PackageSettings {
            package: package.arn.clone(),
            error: Box::new(source),
        })?;
        let artifact = ArtifactRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            // What pins the model: see ArtifactRef::model_package.
            version: package.arn.clone(),
            time: at,
            sequencer: None,
        };
        Ok((settings, artifact))
    }
}

fn same_status(event: &ApprovalStatus, now: Option<&ModelApprovalStatus>) -> bool {
    matches!(
        (event, now),
        (
            ApprovalStatus::Approved,
            Some(ModelApprovalStatus::Approved)
        ) | (
            ApprovalStatus::Rejected,
            Some(ModelApprovalStatus::Rejected)
        )
    )
}

/// When the registry changed the package: the event's `time`, else now.
pub fn event_time(payload: &Value) -> DateTime<Utc> {
    payload["time"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}
