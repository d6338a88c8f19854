//! Notifications to an optional SNS topic.

use super::AwsError;

/// SNS limits subjects to 100 characters.
const MAX_SUBJECT: usize = 100;

#[derive(Clone, Debug)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: Option<String>,
}

impl Notifier {
    /// `topic_arn: None` turns notifications off (they are then only logged).
    pub fn new(client: aws_sdk_sns::Client, topic_arn: Option<String>) -> Self {
        Notifier { client, topic_arn }
    }

    pub fn is_enabled(&self) -> bool {
        self.topic_arn.is_some()
    }

    /// Publishes `message`; returns the message id, or `None` when no topic
    /// is configured.
    pub async fn notify(&self, subject: &str, message: &str) -> Result<Option<String>, AwsError> {
        let Some(topic) = &self.topic_arn else {
            return Ok(None);
        };
        let subject: String = subject.chars().take(MAX_SUBJECT).collect();
        let out = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(out.message_id().map(str::to_string))
    }
}
