//! The deployer: S3 `ObjectCreated` events for `model.tar.gz` (and its
//! sidecar `deploy.json`), and Model Registry approvals, become SageMaker
//! Serverless Inference endpoints.

pub mod apply;
pub mod archives;
pub mod capacity;
pub mod cleanup;
pub mod config;
pub mod deploy;
pub mod lease;
pub mod outcome;
pub mod pack_stream;
pub mod packing;
pub mod plan;
pub mod preflight;
pub mod queue;
pub mod registry;
pub mod retry;

use deploy::Deployer;
use lambda_runtime::LambdaEvent;
use outcome::{DeployFailed, DeployReport};
use queue::{is_queue_batch, QueueConsumer};
use serde_json::Value;
use tracing::{error, info, warn};

/// The function's entry point: a batch from the deploy queue (SQS) is
/// answered with the messages to deliver again; an S3 notification sent
/// straight to the function (a local invoke, `events/`) is handled as such,
/// and so is a Model Registry state change.
pub async fn dispatch(
    event: LambdaEvent<Value>,
    consumer: &QueueConsumer,
) -> Result<Value, DeployFailed> {
    // The endpoint leases this invocation takes last until its deadline.
    let deadline = shared::lease::invocation_deadline(event.context.deadline());
    if is_queue_batch(&event.payload) {
        let batch = serde_json::from_value(event.payload).map_err(|e| DeployFailed {
            report: DeployReport::unreadable_event(format!("not a valid SQS batch: {e}")),
        })?;
        // Boxed: the two paths' futures nest deeply enough to overflow
        // the compiler's layout query depth in the binary's main.
        let response = Box::pin(consumer.handle_batch(batch, chrono::Utc::now(), deadline)).await;
        return Ok(serde_json::to_value(response).unwrap_or(Value::Null));
    }
    let result = if shared::model_package::is_package_state_change(&event.payload) {
        let outcome = Box::pin(consumer.handle_package(&event.payload, deadline)).await;
        finish(DeployReport {
            results: vec![outcome],
        })
    } else {
        Box::pin(handle(event, &consumer.deployer)).await
    };
    match result {
        Ok(report) => Ok(serde_json::to_value(report).unwrap_or(Value::Null)),
        Err(failed) => {
            // Every upload ends in one reported outcome, queued or not: a
            // refusal ends here (Lambda's retries find it told already).
            if !consumer.tell_refusals(&failed.report).await {
                warn!("a refusal was not told; Lambda's retry tells it");
            }
            Err(failed)
        }
    }
}

/// Handles one invocation. Records are handled one after another (an event
/// rarely holds more than one, and two records for one endpoint must not
/// race each other); a failed record does not stop the rest, but makes the
/// invocation fail so Lambda retries it and routes it to its on-failure
/// destination.
pub async fn handle(
    event: LambdaEvent<Value>,
    deployer: &Deployer,
) -> Result<DeployReport, DeployFailed> {
    let deadline = shared::lease::invocation_deadline(event.context.deadline());
    let report = match shared::s3_event::records(&event.payload) {
        Ok(records) => {
            let mut results = Vec::with_capacity(records.len());
            for (index, raw) in records.iter().enumerate() {
                results.push(deployer.handle_record(index, raw, deadline).await);
            }
            DeployReport { results }
        }
        Err(e) => DeployReport::unreadable_event(e.to_string()),
    };
    finish(report)
}

/// Logs the report; any failed record makes the invocation fail.
fn finish(report: DeployReport) -> Result<DeployReport, DeployFailed> {
    let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
    if report.failures().next().is_some() {
        error!(report = %summary, "deploy finished with failures");
        Err(DeployFailed { report })
    } else {
        info!(report = %summary, "deploy finished");
        Ok(report)
    }
}
