//! The stack's alert topic, with a queue subscribed to it (raw delivery)
//! so a test can read what was published; and the SQS helpers the deploy
//! queue's fixture shares.

use super::*;
use aws_sdk_sqs::types::QueueAttributeName;

pub(super) struct AlertInbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
    /// The topic's ARN, for the deployer's notifier.
    pub(super) topic: String,
}

impl AlertInbox {
    /// Creates the stack's topic (named as the stack names it: the
    /// deployer publishes to it as itself) and subscribes a new queue.
    pub(super) async fn new(world: &World) -> Self {
        let config = shared::aws::load_sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let url = create_queue(&sqs, &unique("alerts")).await;
        let topic = sns
            .create_topic()
            .name(world.stack.topic_name())
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("topic arn")
            .to_string();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn(&sqs, &url).await)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .expect("subscribe the alerts queue");
        AlertInbox { sqs, url, topic }
    }

    /// The messages published since the last take (read and deleted, so
    /// any number of them over a test is counted).
    pub(super) async fn take(&self) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive alerts");
        for message in out.messages() {
            self.sqs
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete an alert");
        }
        out.messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect()
    }

    /// Every message published so far (the queue hides none: its
    /// visibility timeout is 0, and nothing is deleted).
    pub(super) async fn received(&self) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive alerts");
        out.messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect()
    }
}

/// A queue whose received messages stay hidden only when the handler says so.
pub(super) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_string()
}

pub(super) async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue arn")
}
