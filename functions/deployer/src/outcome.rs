//! What the deployer reports: one outcome per record, and the error Lambda
//! sees when any record failed (so its retries and on-failure destination
//! still work).

use crate::deploy::Done;
use crate::plan::Refusal;
use aws_sdk_sagemaker::types::EndpointStatus;
use serde::Serialize;
use shared::aws::AwsError;
use shared::deployment::KeyTooLong;
use shared::model_package::PackageEventError;
use shared::preflight::PreflightRefusal;
use shared::s3_event::EventError;
use shared::settings::SettingsError;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::fmt;
use tracing::{info, warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed,
}

/// The result of one S3 record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordOutcome {
    pub record: usize,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<String>,
    /// Why it was skipped, unchanged or failed; what happened otherwise.
    pub message: String,
    /// For failures: whether a retry can succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl RecordOutcome {
    /// The outcome of record `record` (about `object`, when known).
    pub fn of(record: usize, object: Option<String>, result: Result<Done, DeployError>) -> Self {
        match result {
            Ok(done) => {
                info!(record, status = ?done.status, endpoint = ?done.endpoint, model = ?done.model,
                      endpoint_config = ?done.config, "{}", done.message);
                RecordOutcome {
                    record,
                    status: done.status,
                    object,
                    endpoint: done.endpoint,
                    model: done.model,
                    endpoint_config: done.config,
                    message: done.message,
                    retryable: None,
                }
            }
            Err(error) => {
                let retryable = error.is_retryable();
                warn!(record, retryable, error = %error, "deploy failed");
                let deployment = error.deployment();
                RecordOutcome {
                    record,
                    status: Status::Failed,
                    object,
                    endpoint: deployment.map(|(e, _)| e.to_string()),
                    model: None,
                    endpoint_config: deployment.map(|(_, c)| c.to_string()),
                    message: error.to_string(),
                    retryable: Some(retryable),
                }
            }
        }
    }
}

/// The whole invocation's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub results: Vec<RecordOutcome>,
}

impl DeployReport {
    /// The report for an event that could not be read at all: one failed,
    /// non-retryable pseudo-record (a retry would read the same bytes).
    pub fn unreadable_event(message: String) -> Self {
        DeployReport {
            results: vec![RecordOutcome {
                record: 0,
                status: Status::Failed,
                object: None,
                endpoint: None,
                model: None,
                endpoint_config: None,
                message,
                retryable: Some(false),
            }],
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &RecordOutcome> {
        self.results.iter().filter(|r| r.status == Status::Failed)
    }
}

/// Why one record's deploy did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("invalid deployment settings: {0}")]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    KeyTooLong(#[from] KeyTooLong),
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("pre-flight check: {0}")]
    Preflight(#[from] PreflightRefusal),
    #[error("inference code: {0}")]
    Packing(#[from] crate::packing::PackError),
    #[error(transparent)]
    PackageEvent(#[from] PackageEventError),
    /// A Model Registry package that cannot be deployed as it is.
    #[error("model package {package} cannot be deployed: {why}")]
    Package { package: String, why: String },
    #[error("model package {package}: its CustomerMetadataProperties are not valid deployment settings (deploy.json's fields and rules, values as text): {error}")]
    PackageSettings {
        package: String,
        error: Box<SettingsError>,
    },
    #[error("endpoint {endpoint}: {}", describe_refusal(.refusal))]
    Refused { endpoint: String, refusal: Refusal },
    #[error("endpoint {endpoint}: another deployment of it is in progress (its lease is held); retrying")]
    Leased { endpoint: String },
    /// The lease lapsed during a long step (packing) and another attempt
    /// took it: this one changed nothing.
    #[error("endpoint {endpoint}: its lease lapsed while the inference code was packed and another deployment took it, so nothing was changed; retrying plans again from what SageMaker shows")]
    LeaseLost { endpoint: String },
    #[error("endpoint {endpoint}: deleted it: it was Failed on {failed}. SageMaker shows it {status} until it is gone; a retry then recreates it with this deployment (retryable)")]
    DeletedFailed {
        endpoint: String,
        /// The failed config and its FailureReason.
        failed: String,
        status: EndpointStatus,
    },
    #[error("endpoint {endpoint} was changed by another deployment at the same time (it now uses {config}); retrying will deploy over it if this artifact is newer")]
    LostRace { endpoint: String, config: String },
    /// Any of the above, for a deployment whose endpoint and config were
    /// known (so its ending can be recorded against it).
    #[error("{source}")]
    Deployment {
        endpoint: String,
        config: String,
        source: Box<DeployError>,
    },
}

fn describe_refusal(refusal: &Refusal) -> String {
    match refusal {
        Refusal::InstanceBased { config } => format!(
            "exists as an instance-based endpoint (config {config}); AWS does not allow updating a real-time endpoint to serverless, so it is left untouched. Deploy under another endpoint_name, or let the cost sweeper migrate it"
        ),
        Refusal::NotManaged { config } => format!(
            "exists but was not created by this pipeline (its config {config} has no managed-by=sagemaker-serverless-pipeline record), so it is left untouched; choose another endpoint_name"
        ),
        Refusal::EndpointNotManaged { config, found } => format!(
            "has no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag ({}), although its config {config} is the pipeline's, so the deployer may not update it and leaves it untouched. If the pipeline should own it, tag the endpoint {MANAGED_BY_KEY}={MANAGED_BY_VALUE} (aws sagemaker add-tags); otherwise choose another endpoint_name",
            found.as_deref().map(|v| format!("it has {MANAGED_BY_KEY}={v}")).unwrap_or_else(|| "it has none".into())
        ),
        Refusal::Busy {
            status: EndpointStatus::Deleting,
        } => "is Deleting; it can be created again once SageMaker has removed it (retryable)"
            .into(),
        Refusal::Busy { status } => format!(
            "is {status}; SageMaker accepts no update until it finishes (retryable)"
        ),
        Refusal::Unusable { status, reason } => format!(
            "is {status}{}; it cannot be updated. Delete it (aws sagemaker delete-endpoint --endpoint-name ...) and upload the artifact again",
            reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        ),
    }
}

impl DeployError {
    /// Ties the error to the deployment it stopped.
    pub fn of_deployment(self, endpoint: &str, config: &str) -> Self {
        match self {
            DeployError::Deployment { .. } => self,
            other => DeployError::Deployment {
                endpoint: endpoint.to_string(),
                config: config.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// The endpoint and config of the deployment it stopped, when known.
    pub fn deployment(&self) -> Option<(&str, &str)> {
        match self {
            DeployError::Deployment {
                endpoint, config, ..
            } => Some((endpoint, config)),
            _ => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            DeployError::Deployment { source, .. } => source.is_retryable(),
            DeployError::Aws(e) => e.is_retryable(),
            DeployError::Refused { refusal, .. } => refusal.is_retryable(),
            DeployError::Packing(e) => e.is_retryable(),
            DeployError::LostRace { .. }
            | DeployError::Leased { .. }
            | DeployError::LeaseLost { .. }
            | DeployError::DeletedFailed { .. } => true,
            DeployError::Event(_)
            | DeployError::Settings(_)
            | DeployError::KeyTooLong(_)
            | DeployError::Preflight(_)
            | DeployError::PackageEvent(_)
            | DeployError::Package { .. }
            | DeployError::PackageSettings { .. } => false,
        }
    }
}

/// Returned to Lambda when any record failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFailed {
    pub report: DeployReport,
}

impl DeployFailed {
    pub fn retryable(&self) -> bool {
        self.report.failures().any(|f| f.retryable == Some(true))
    }
}

impl fmt::Display for DeployFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures: Vec<String> = self
            .report
            .failures()
            .map(|r| format!("record {}: {}", r.record, r.message))
            .collect();
        write!(
            f,
            "{} of {} records failed: {}",
            failures.len(),
            self.report.results.len(),
            failures.join("; ")
        )
    }
}

impl std::error::Error for DeployFailed {}

impl From<DeployFailed> for lambda_runtime::Diagnostic {
    fn from(failed: DeployFailed) -> Self {
        lambda_runtime::Diagnostic {
            error_type: if failed.retryable() {
                "Deploy.Retryable".into()
            } else {
                "Deploy.NonRetryable".into()
            },
            error_message: failed.to_string(),
        }
    }
}
