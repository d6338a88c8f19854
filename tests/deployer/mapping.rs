//! The event source mapping's side of the deploy queue (tests/deployer/
//! queue.rs): one poll receives a batch and builds the event Lambda
//! invokes the function with; the function's answer then decides which
//! messages are deleted and which come back. Used with the handler in
//! process (queue.rs, crash.rs) and with the real binary
//! (crash_process.rs).

use super::queue::QueueWorld;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Value};
use std::time::Duration;

/// One poll's messages and the event the mapping builds from them.
pub(super) struct Batch {
    pub(super) messages: Vec<aws_sdk_sqs::types::Message>,
    pub(super) event: Value,
}

impl QueueWorld {
    /// What one poll of the mapping receives (up to 10 messages, hidden
    /// for `visibility`, else for the queue's own timeout) and the event
    /// it invokes the function with; `None` when the queue is empty.
    pub(super) async fn receive(&self, visibility: Option<Duration>) -> Option<Batch> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .set_visibility_timeout(visibility.map(|v| v.as_secs() as i32))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let messages = out.messages().to_vec();
        if messages.is_empty() {
            return None;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.world.clients.region,
                })
            })
            .collect();
        Some(Batch {
            messages,
            event: json!({ "Records": records }),
        })
    }

    /// What the mapping does with the function's answer to `batch`:
    /// deletes the messages it did not report as failed, leaves the
    /// failures (whose visibility the handler changed) for a later
    /// receive. Returns how many failed.
    pub(super) async fn conclude(&mut self, batch: &Batch, response: &Value) -> usize {
        let failed: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .expect("batchItemFailures")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().expect("itemIdentifier"))
            .collect();
        for m in &batch.messages {
            let receipt = m.receipt_handle().unwrap().to_string();
            if failed.contains(&m.message_id().unwrap()) {
                self.postponed.push(receipt);
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .expect("delete");
            }
        }
        failed.len()
    }

    /// The postponement ends: the failed messages become visible again.
    pub(super) async fn time_passes(&mut self) {
        for receipt in std::mem::take(&mut self.postponed) {
            self.make_visible(receipt).await;
        }
    }

    /// The batch's visibility timeout passes with no answer (its
    /// invocation died): its messages become visible again.
    pub(super) async fn visibility_ends(&self, batch: &Batch) {
        for m in &batch.messages {
            self.make_visible(m.receipt_handle().unwrap().to_string())
                .await;
        }
    }

    async fn make_visible(&self, receipt: String) {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .expect("make visible");
    }
}
