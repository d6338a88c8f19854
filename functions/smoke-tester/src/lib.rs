//! The smoke tester: every endpoint the pipeline deploys is invoked once
//! cold and a few times warm; the verdict is tagged on the endpoint,
//! published as EMF metrics, and a failure rolls back or alerts.

pub mod check;
pub mod config;
pub mod error;
pub mod invoke;
pub mod outcomes;
pub mod report;
pub mod request;
pub mod roll_back;
pub mod rollback;
pub mod stats;
pub mod tester;
pub mod trigger;

use error::SmokeTestFailed;
use lambda_runtime::LambdaEvent;
use report::SmokeTestReport;
use serde_json::Value;
use tester::SmokeTester;
use tracing::info;

/// Handles one invocation. Bad or irrelevant events are a logged no-op; an
/// AWS fault is an error (its `errorType` says whether a retry can help),
/// so Lambda retries the event.
pub async fn handle(
    event: LambdaEvent<Value>,
    tester: &SmokeTester,
) -> Result<SmokeTestReport, SmokeTestFailed> {
    let deadline = Some(event.context.deadline());
    let report = tester
        .run(&event.payload, &event.context.request_id, deadline)
        .await?;
    let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
    info!(report = %summary, "smoke test finished");
    Ok(report)
}
