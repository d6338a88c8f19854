//! Uploads that arrive through the deploy queue (SQS, read by Lambda's
//! event source mapping with `ReportBatchItemFailures`). Each message holds
//! one S3 notification. A message whose endpoint is busy (or that failed in
//! another retryable way) becomes a batch item failure, hidden for a
//! growing while ([`crate::retry`]), and is tried again from live state
//! until `MAX_DEPLOY_WAIT_MINUTES` after its upload; then it is abandoned,
//! with an alert. Every other message ends here: deployed, skipped, or
//! refused with an alert. Nothing is left to the dead-letter queue but
//! messages the function could not even look at.

use crate::config::QueueConfig;
use crate::deploy::Deployer;
use crate::outcome::{DeployReport, RecordOutcome, Status};
use crate::retry::{retry_or_abandon, Retry};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::aws::outcomes::{OutcomeReporter, Told};
use shared::aws::sqs::DeployQueue;
use shared::emf::{MetricDocument, Unit};
use shared::ledger::Outcome;
use shared::outcome::Ending;
use std::time::Duration;
use tracing::{error, info, warn};

/// What the queue side needs besides the deployer.
#[derive(Clone, Debug)]
pub struct QueueConsumer {
    pub deployer: Deployer,
    /// `None` when `DEPLOY_QUEUE_URL` is unset: retries then come after the
    /// queue's own visibility timeout.
    pub queue: Option<DeployQueue>,
    /// Refused and abandoned uploads end here: ledger, metric, alert.
    pub outcomes: OutcomeReporter,
    pub config: QueueConfig,
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record deployed, was already live, or was rightly skipped.
    Done,
    /// Not a notification the deployer acts on (S3's test event).
    Ignored,
    /// Cannot deploy, and retrying will not change that.
    Refused { reason: String },
    /// Still busy (or failing in a retryable way) after the maximum wait.
    Abandoned { reason: String, waited: Duration },
    /// Try again after this delay.
    Retry { after: Duration, reason: String },
}

impl Verdict {
    /// The `Result` dimension of the `DeployAttempts` metric (one count
    /// per handled message; deployment outcomes are `DeployOutcomes`).
    pub fn label(&self, records: &[RecordOutcome]) -> &'static str {
        match self {
            Verdict::Done => {
                let started = records
                    .iter()
                    .any(|r| matches!(r.status, Status::Created | Status::Updated));
                let unchanged = records.iter().all(|r| r.status == Status::Unchanged);
                if started {
                    "started"
                } else if unchanged {
                    "unchanged"
                } else {
                    "skipped"
                }
            }
            Verdict::Ignored => "ignored",
            Verdict::Refused { .. } => "refused",
            Verdict::Abandoned { .. } => "abandoned",
            Verdict::Retry { .. } => "retrying",
        }
    }
}

/// `true` when the payload is a batch from an SQS event source mapping.
pub fn is_queue_batch(payload: &Value) -> bool {
    payload["Records"]
        .as_array()
        .and_then(|records| records.first())
        .is_some_and(|first| first["eventSource"] == "aws:sqs")
}

impl QueueConsumer {
    /// Handles a batch received at `now` by an invocation that ends at
    /// `deadline`; the answer lists the messages to deliver again.
    pub async fn handle_batch(
        &self,
        event: SqsEvent,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            let id = message.message_id.clone().unwrap_or_default();
            let (verdict, records) = self.judge(message, now, deadline).await;
            if !self.conclude(message, &verdict, &records).await {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Deploys one message's records and decides what becomes of it.
    pub async fn judge(
        &self,
        message: &SqsMessage,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> (Verdict, Vec<RecordOutcome>) {
        let body: Value = match serde_json::from_str(message.body.as_deref().unwrap_or_default()) {
            Ok(body) => body,
            Err(e) => {
                let reason = format!("the message body is not an S3 notification (not JSON: {e})");
                return (Verdict::Refused { reason }, Vec::new());
            }
        };
        if body["Event"] == "s3:TestEvent" {
            return (Verdict::Ignored, Vec::new());
        }
        // A Model Registry state change (the rule's target is this queue).
        if shared::model_package::is_package_state_change(&body) {
            let outcome = self.handle_package(&body, deadline).await;
            let changed = crate::registry::event_time(&body);
            return self.verdict(vec![outcome], changed, message, now);
        }
        let raw_records = match shared::s3_event::records(&body) {
            Ok(records) => records,
            Err(e) => {
                let reason = e.to_string();
                return (Verdict::Refused { reason }, Vec::new());
            }
        };
        let mut outcomes = Vec::with_capacity(raw_records.len());
        for (index, raw) in raw_records.iter().enumerate() {
            outcomes.push(self.deployer.handle_record(index, raw, deadline).await);
        }
        let uploaded = upload_time(raw_records, message).unwrap_or(now);
        self.verdict(outcomes, uploaded, message, now)
    }

    /// What becomes of a message whose records ended so; `since` is when
    /// the change it carries happened (the wait is counted from it).
    fn verdict(
        &self,
        outcomes: Vec<RecordOutcome>,
        since: DateTime<Utc>,
        message: &SqsMessage,
        now: DateTime<Utc>,
    ) -> (Verdict, Vec<RecordOutcome>) {
        let failures = |retryable: bool| -> Vec<String> {
            outcomes
                .iter()
                .filter(|o| o.status == Status::Failed && o.retryable == Some(retryable))
                .map(|o| o.message.clone())
                .collect()
        };
        let (retryable, refused) = (failures(true), failures(false));
        let verdict = if !retryable.is_empty() {
            let reason = retryable.join("; ");
            let receive_count = message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            match retry_or_abandon(since, now, receive_count, self.config.max_deploy_wait) {
                Retry::After(after) => Verdict::Retry { after, reason },
                Retry::Abandon { waited } => Verdict::Abandoned { reason, waited },
            }
        } else if !refused.is_empty() {
            Verdict::Refused {
                reason: refused.join("; "),
            }
        } else {
            Verdict::Done
        };
        (verdict, outcomes)
    }

    /// Acts on a verdict: postpones a retry, alerts on a refusal or an
    /// abandoned upload, publishes the outcome metric. `true` when the
    /// message is finished with (the mapping may delete it).
    async fn conclude(
        &self,
        message: &SqsMessage,
        verdict: &Verdict,
        records: &[RecordOutcome],
    ) -> bool {
        let label = verdict.label(records);
        let objects: Vec<&str> = records.iter().filter_map(|r| r.object.as_deref()).collect();
        let endpoints: Vec<&str> = records
            .iter()
            .filter_map(|r| r.endpoint.as_deref())
            .collect();
        let summary = serde_json::to_value(records).unwrap_or(Value::Null);
        let id = message.message_id.as_deref().unwrap_or_default();
        let finished = match verdict {
            Verdict::Retry { after, reason } => {
                info!(message = id, retry_in_s = after.as_secs(), reason = %reason, "deploy postponed");
                if let (Some(queue), Some(receipt)) =
                    (&self.queue, message.receipt_handle.as_deref())
                {
                    if let Err(e) = queue.postpone_message(receipt, *after).await {
                        warn!(message = id, error = %e, "could not postpone; the queue's visibility timeout applies");
                    }
                }
                false
            }
            Verdict::Refused { reason } | Verdict::Abandoned { reason, .. } => {
                let text = match verdict {
                    Verdict::Abandoned { waited, .. } => format!(
                        "The upload {} was not deployed: its endpoint stayed unavailable for {} minutes after the upload, longer than MAX_DEPLOY_WAIT_MINUTES allows ({}). Last error: {reason}. Upload it again (or touch its deploy.json) once the endpoint is InService.",
                        objects.join(", "),
                        waited.as_secs() / 60,
                        self.config.max_deploy_wait.as_secs() / 60,
                    ),
                    _ => format!("The upload {} was not deployed: {reason}", objects.join(", ")),
                };
                error!(message = id, outcome = label, records = %summary, "{text}");
                self.tell_endings(verdict, records, &text, id).await
            }
            Verdict::Done | Verdict::Ignored => {
                info!(message = id, outcome = label, records = %summary, "queued upload handled");
                true
            }
        };
        let mut metric = MetricDocument::new(&self.config.metrics_namespace)
            .dimension("Result", label)
            .metric("DeployAttempts", Unit::Count, 1.0);
        if let Some(endpoint) = endpoints.first() {
            metric = metric.property("EndpointName", Value::from(*endpoint));
        }
        metric.emit();
        finished
    }
}

impl QueueConsumer {
    /// Ends each failed deployment of a refused or abandoned message
    /// through the shared outcome path (a message that could not be read
    /// at all is one ending with no endpoint). `true` when every ending was
    /// told (or had been already); otherwise the message comes back.
    async fn tell_endings(
        &self,
        verdict: &Verdict,
        records: &[RecordOutcome],
        text: &str,
        id: &str,
    ) -> bool {
        let outcome = match verdict {
            Verdict::Abandoned { .. } => Outcome::Abandoned,
            _ => Outcome::Refused,
        };
        let endings = endings_of(records, outcome, |_| text.to_string());
        self.tell(&endings, id).await
    }

    /// Ends the refused records of an event sent straight to the function
    /// (not through the queue) as the queue does: ledger, metric, alert.
    /// Lambda retries the failed invocation; the ledger's conditional write
    /// keeps a retry from telling a refusal twice. Retryable failures are
    /// left to those retries. `true` when everything was told.
    pub async fn tell_refusals(&self, report: &DeployReport) -> bool {
        if !report.failures().any(|r| r.retryable != Some(true)) {
            return true;
        }
        let endings = endings_of(&report.results, Outcome::Refused, |r| match r {
            Some(r) => format!(
                "The upload {} was not deployed: {}",
                r.object.as_deref().unwrap_or("(not an S3 object)"),
                r.message
            ),
            None => "The event was not deployed: no record could be read".into(),
        });
        self.tell(&endings, "direct invocation").await
    }

    /// Tells each ending once; `true` when every one was told (or had been).
    async fn tell(&self, endings: &[Ending], id: &str) -> bool {
        let mut finished = true;
        for ending in endings {
            match self.outcomes.report_outcome(ending).await {
                Ok(Told::Now { .. }) => {}
                Ok(Told::Already) => {
                    info!(message = id, "this deployment's ending was told before")
                }
                Err(e) => {
                    // Not finished: a redelivery re-plans and tells it again.
                    warn!(message = id, error = %e, "outcome not told; the message will be delivered again");
                    finished = false;
                }
            }
        }
        finished
    }
}

/// One ending per failed record that `outcome` ends (`abandoned`: the
/// retryable ones; `refused`: the rest), each with its reason from `text`;
/// an event that could not be read as far as a record is one ending with
/// no endpoint (`text(None)`).
fn endings_of(
    records: &[RecordOutcome],
    outcome: Outcome,
    text: impl Fn(Option<&RecordOutcome>) -> String,
) -> Vec<Ending> {
    let retryable = outcome == Outcome::Abandoned;
    let ending = |record: Option<&RecordOutcome>| Ending {
        endpoint: record.and_then(|r| r.endpoint.clone()),
        config_name: record.and_then(|r| r.endpoint_config.clone()),
        outcome,
        reason: Some(text(record)),
        subject: record.and_then(|r| r.object.clone()),
        details: None,
        only_if_recorded: false,
    };
    let endings: Vec<Ending> = records
        .iter()
        .filter(|r| r.status == Status::Failed && r.retryable.unwrap_or(false) == retryable)
        .map(|r| ending(Some(r)))
        .collect();
    if endings.is_empty() {
        vec![ending(None)]
    } else {
        endings
    }
}

/// When the message's upload happened: the earliest record's event time,
/// else when SQS received the message.
fn upload_time(records: &[Value], message: &SqsMessage) -> Option<DateTime<Utc>> {
    let from_records = records
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| shared::s3_event::parse_record(i, raw).ok())
        .map(|o| o.event_time)
        .min();
    from_records.or_else(|| {
        message
            .attributes
            .get("SentTimestamp")
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
    })
}
