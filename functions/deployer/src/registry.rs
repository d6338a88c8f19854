//! Model Registry approvals (issue 13 item 3): a "SageMaker Model Package
//! State Change" event of a watched package group. An approval deploys the
//! package serverless, CreateModel naming its ModelPackageName, through the
//! same lease, plan, ledger entry, smoke test and rollback as an upload; a
//! rejection never deletes anything. The rules are `shared::model_package`.

use crate::deploy::{Deployer, Done};
use crate::outcome::{DeployError, RecordOutcome, Status};
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::aws::sagemaker::ModelPackageInfo;
use shared::deployment::ArtifactRef;
use shared::model_package::{self, ApprovalStatus, PackageDecision, PackageStateChange};
use shared::settings::{resolve, DeploySettings, SettingsLayer};

impl Deployer {
    /// Handles one package state change, from the deploy queue or sent
    /// straight to the function; never panics.
    pub async fn handle_package_event(&self, payload: &Value) -> RecordOutcome {
        let subject = payload["detail"]["ModelPackageArn"]
            .as_str()
            .map(str::to_string);
        let result = match model_package::parse(payload) {
            Ok(change) => self.deploy_package(&change, event_time(payload)).await,
            Err(e) => Err(e.into()),
        };
        RecordOutcome::of(0, subject, result)
    }

    /// Deploys an approved package, or says why nothing changes. `at` is
    /// when the registry changed it: it orders this deployment against the
    /// live one as an upload's time does (a later approval of an older
    /// version is a later deployment: how a registry user rolls back).
    pub async fn deploy_package(
        &self,
        change: &PackageStateChange,
        at: DateTime<Utc>,
    ) -> Result<Done, DeployError> {
        if let Some(reason) = model_package::screen(change, &self.config.watched_groups) {
            return Ok(Done::skipped(reason));
        }
        // The event may be old news (approved, then rejected since): the
        // registry's answer now decides, and the later change's own event
        // does the rest.
        let arn = &change.package_arn;
        let Some(package) = self.sagemaker.describe_model_package(arn).await? else {
            return Ok(Done::skipped(format!("{arn} no longer exists")));
        };
        let now = package.approval.as_ref().map(|s| s.as_str()).unwrap_or("");
        if !same_status(&change.status, package.approval.as_ref()) {
            return Ok(Done::skipped(format!(
                "{arn} is {now:?} now, no longer {:?} as this event says; the event of that change decides",
                change.status
            )));
        }
        if change.status == ApprovalStatus::Rejected {
            return self.rejected(change, &package).await;
        }
        let (settings, artifact) = self.package_settings(&package, &change.group, at)?;
        let mut desired = self.desired_record(&settings, &artifact, None);
        if settings.smoke_test.is_some() {
            // The smoke tester reads the request from the package itself.
            desired.smoke_test_source = Some(package.arn.clone());
        }
        let (endpoint, config) = (desired.endpoint_name.clone(), desired.config_name.clone());
        self.deploy_leased(desired, &settings, &package.arn, None)
            .await
            .map_err(|e| e.of_deployment(&endpoint, &config))
    }

    /// A rejection changes nothing: deleting a serving endpoint on a
    /// registry click would take traffic down; approving another version
    /// replaces it.
    async fn rejected(
        &self,
        change: &PackageStateChange,
        package: &ModelPackageInfo,
    ) -> Result<Done, DeployError> {
        let Ok(endpoint) = model_package::endpoint_name(&package.properties, &change.group) else {
            return Ok(Done::skipped(format!(
                "{} was rejected; its endpoint_name is not a valid name, so it serves nowhere",
                package.arn
            )));
        };
        let observed = self.observe(&endpoint, None).await?;
        let live = observed
            .record
            .as_ref()
            .and_then(|r| r.artifact.model_package().map(str::to_string));
        let decision = model_package::decide(change, &self.config.watched_groups, live.as_deref());
        let message = match decision {
            PackageDecision::LeaveLive { package_arn } => format!(
                "{package_arn} was rejected but is left serving on {endpoint}: a rejection never deletes or changes a live endpoint; approve another version to replace it"
            ),
            PackageDecision::Ignore { reason } => reason,
            PackageDecision::Deploy { package_arn } => {
                format!("{package_arn}: a rejection deploys nothing")
            }
        };
        Ok(Done {
            status: Status::Skipped,
            endpoint: Some(endpoint),
            model: None,
            config: None,
            message,
        })
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
