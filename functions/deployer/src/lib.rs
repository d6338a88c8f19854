//! The deployer: S3 `ObjectCreated` events for `model.tar.gz` (and its
//! sidecar `deploy.json`) become SageMaker Serverless Inference endpoints.

pub mod apply;
pub mod cleanup;
pub mod config;
pub mod deploy;
pub mod outcome;
pub mod plan;

use deploy::Deployer;
use lambda_runtime::LambdaEvent;
use outcome::{DeployFailed, DeployReport, RecordOutcome, Status};
use serde_json::Value;
use tracing::{error, info};

/// Handles one invocation. Records are handled one after another (an event
/// rarely holds more than one, and two records for one endpoint must not
/// race each other); a failed record does not stop the rest, but makes the
/// invocation fail so Lambda retries it and routes it to its on-failure
/// destination.
pub async fn handle(
    event: LambdaEvent<Value>,
    deployer: &Deployer,
) -> Result<DeployReport, DeployFailed> {
    let report = match shared::s3_event::records(&event.payload) {
        Ok(records) => {
            let mut results = Vec::with_capacity(records.len());
            for (index, raw) in records.iter().enumerate() {
                results.push(deployer.handle_record(index, raw).await);
            }
            DeployReport { results }
        }
        Err(e) => DeployReport {
            results: vec![RecordOutcome {
                record: 0,
                status: Status::Failed,
                object: None,
                endpoint: None,
                model: None,
                endpoint_config: None,
                message: e.to_string(),
                retryable: Some(false),
            }],
        },
    };
    let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
    if report.failures().next().is_some() {
        error!(report = %summary, "deploy finished with failures");
        Err(DeployFailed { report })
    } else {
        info!(report = %summary, "deploy finished");
        Ok(report)
    }
}
