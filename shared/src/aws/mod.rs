//! AWS plumbing shared by every function: SDK configuration and one error
//! type that says whether retrying can help.

pub mod dynamodb;
pub mod lease;
pub mod outcomes;
pub mod pricing;
pub mod s3;
pub mod s3_stream;
pub mod sagemaker;
pub mod service_quotas;
pub mod sns;
pub mod sqs;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::fmt;

/// Loads region, credentials and endpoint from the standard sources
/// (environment, profile, container/instance metadata). `AWS_ENDPOINT_URL`
/// is honoured here, which is how tests reach the local emulator.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        // SageMaker's control plane throttles at low rates; a few more
        // attempts with backoff beat failing the whole deploy.
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

/// What kind of failure an AWS call ended in, after the SDK's own retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The resource already exists (a racing twin, or a redelivered event).
    AlreadyExists,
    /// The resource does not exist.
    NotFound,
    /// The endpoint is being created or updated; try again later.
    InProgress,
    /// Throttled even after the SDK's retries.
    Throttled,
    /// A server-side or network fault.
    Transient,
    /// An account quota is exhausted: needs a person, not a retry.
    LimitExceeded,
    /// AWS refused the request as invalid.
    Rejected,
}

/// A failed AWS call: which operation, what kind, and AWS's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.as_deref().unwrap_or("error");
        write!(f, "{} failed ({code}): {}", self.operation, self.message)?;
        match self.kind {
            AwsErrorKind::LimitExceeded => write!(
                f,
                " (an account quota is exhausted: raise it in Service Quotas or remove unused resources)"
            ),
            AwsErrorKind::Throttled | AwsErrorKind::Transient | AwsErrorKind::InProgress => {
                write!(f, " (temporary; will be retried)")
            }
            _ => Ok(()),
        }
    }
}

impl AwsError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::Throttled | AwsErrorKind::Transient | AwsErrorKind::InProgress
        )
    }

    /// Classifies an SDK error. SageMaker reports "already exists", "not
    /// found" and "in progress" as `ValidationException` with a message, so
    /// the message is the only place the difference shows.
    pub fn from_sdk<E>(
        operation: &'static str,
        err: aws_sdk_sagemaker::error::SdkError<E, aws_sdk_sagemaker::config::http::HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        use aws_sdk_sagemaker::error::SdkError;
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_string);
        let message = err
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
        let kind = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => AwsErrorKind::Transient,
            _ => classify(code.as_deref(), &message, status),
        };
        AwsError {
            operation,
            kind,
            code,
            message,
        }
    }
}

fn classify(code: Option<&str>, message: &str, status: Option<u16>) -> AwsErrorKind {
    let lower = message.to_ascii_lowercase();
    match code {
        Some(
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ProvisionedThroughputExceededException"
            | "SlowDown",
        ) => return AwsErrorKind::Throttled,
        Some("ResourceLimitExceeded" | "ServiceQuotaExceededException") => {
            return AwsErrorKind::LimitExceeded
        }
        Some("NoSuchKey" | "NotFound" | "NoSuchBucket" | "ResourceNotFound" | "NoSuchVersion") => {
            return AwsErrorKind::NotFound
        }
        _ => {}
    }
    if lower.contains("already existing") || lower.contains("already exists") {
        AwsErrorKind::AlreadyExists
    } else if lower.contains("could not find") || lower.contains("does not exist") {
        AwsErrorKind::NotFound
    } else if lower.contains("in-progress") || lower.contains("in progress") {
        AwsErrorKind::InProgress
    } else {
        match status {
            Some(429) => AwsErrorKind::Throttled,
            Some(404) => AwsErrorKind::NotFound,
            Some(s) if s >= 500 => AwsErrorKind::Transient,
            _ => AwsErrorKind::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_validation_messages_are_told_apart() {
        let v = Some("ValidationException");
        assert_eq!(
            classify(
                v,
                "Cannot create already existing endpoint \"arn:x\".",
                Some(400)
            ),
            AwsErrorKind::AlreadyExists
        );
        assert_eq!(
            classify(v, "Could not find endpoint \"arn:x\".", Some(400)),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            classify(
                v,
                "Cannot update in-progress endpoint \"arn:x\".",
                Some(400)
            ),
            AwsErrorKind::InProgress
        );
        assert_eq!(
            classify(v, "MemorySizeInMB must be ...", Some(400)),
            AwsErrorKind::Rejected
        );
        assert_eq!(
            classify(Some("ThrottlingException"), "Rate exceeded", Some(400)),
            AwsErrorKind::Throttled
        );
        assert_eq!(classify(None, "", Some(503)), AwsErrorKind::Transient);
        assert_eq!(
            classify(Some("ResourceLimitExceeded"), "quota", Some(400)),
            AwsErrorKind::LimitExceeded
        );
    }
}
