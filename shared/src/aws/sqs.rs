//! The deploy queue: S3 notifications wait here until the deployer can act
//! on them. Lambda's event source mapping receives and deletes messages;
//! the deployer itself only postpones the ones it must try again later.

use super::AwsError;
use std::time::Duration;

/// SQS caps a message's visibility timeout at 12 hours.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Clone, Debug)]
pub struct DeployQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl DeployQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        DeployQueue {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Hides a received message for `delay` (at most 12 hours), so the
    /// event source mapping hands it back only after that. Used for a batch
    /// item failure that should wait longer than the queue's default.
    pub async fn postpone_message(
        &self,
        receipt_handle: &str,
        delay: Duration,
    ) -> Result<(), AwsError> {
        let seconds = delay.min(MAX_VISIBILITY).as_secs();
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ChangeMessageVisibility", e))?;
        Ok(())
    }
}
