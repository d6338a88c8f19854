//! The error Lambda sees when a smoke test could not be carried out, typed
//! like the deployer's and the sweeper's so `errorType` tells a retryable
//! fault from one that needs a person.

use shared::aws::AwsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmokeTestFailed {
    /// An AWS call the test depends on failed (after the SDK's retries).
    #[error("smoke test not carried out: {0}")]
    Aws(#[from] AwsError),
}

impl SmokeTestFailed {
    pub fn is_retryable(&self) -> bool {
        match self {
            SmokeTestFailed::Aws(e) => e.is_retryable(),
        }
    }
}

impl From<SmokeTestFailed> for lambda_runtime::Diagnostic {
    fn from(failed: SmokeTestFailed) -> Self {
        let kind = match failed.is_retryable() {
            true => "Retryable",
            false => "NonRetryable",
        };
        lambda_runtime::Diagnostic {
            error_type: format!("SmokeTest.{kind}"),
            error_message: failed.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::aws::AwsErrorKind;

    fn failed(kind: AwsErrorKind) -> SmokeTestFailed {
        SmokeTestFailed::Aws(AwsError {
            operation: "DescribeEndpoint",
            kind,
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
        })
    }

    #[test]
    fn diagnostics_say_whether_a_retry_can_help() {
        let throttled = lambda_runtime::Diagnostic::from(failed(AwsErrorKind::Throttled));
        assert_eq!(throttled.error_type, "SmokeTest.Retryable");
        assert!(
            throttled.error_message.contains("DescribeEndpoint failed"),
            "{}",
            throttled.error_message
        );
        let rejected = lambda_runtime::Diagnostic::from(failed(AwsErrorKind::Rejected));
        assert_eq!(rejected.error_type, "SmokeTest.NonRetryable");
    }
}
