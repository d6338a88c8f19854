//! The deployment ledger's table ([`crate::ledger`] has the layout; the
//! per-endpoint lease in it is [`super::lease`]).

use super::AwsError;
use crate::ledger::{
    newest_first, LedgerEntry, Outcome, DEPLOYMENT_PREFIX, PARTITION_KEY, SORT_KEY,
};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// A deployment's alert, written with its ending and removed once
/// published: present means not told yet.
const ALERT_SUBJECT: &str = "alert_subject";
const ALERT_MESSAGE: &str = "alert_message";

/// A deployment's ending, as [`Ledger::finish_deployment`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct Finish<'a> {
    pub outcome: Outcome,
    pub reason: Option<&'a str>,
    /// The alert (subject, message) still to publish, for a failure.
    pub alert: Option<(&'a str, &'a str)>,
}

/// What [`Ledger::finish_deployment`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Ended now, by this write.
    Now,
    /// It had ended before; `pending_alert` is that ending's alert
    /// (subject, message) if it was never published.
    Already {
        pending_alert: Option<(String, String)>,
    },
}

#[derive(Clone, Debug)]
pub struct Ledger {
    pub(super) client: aws_sdk_dynamodb::Client,
    pub(super) table: String,
}

type Item = HashMap<String, AttributeValue>;

/// A conditional write's answer: `Ok(true)` written, `Ok(false)` its
/// condition did not hold, which for a lease or a write-once entry is an
/// answer, not a failure.
pub(super) fn conditional<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(CONDITION_FAILED) => Ok(false),
        Err(e) => Err(AwsError::from_sdk(operation, e)),
    }
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn key(endpoint: &str, entry: &str) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_string(), s(endpoint)),
        (SORT_KEY.to_string(), s(entry)),
    ])
}

fn deployment_key(endpoint: &str, config_name: &str) -> Item {
    key(endpoint, &format!("{DEPLOYMENT_PREFIX}{config_name}"))
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(|v| v.to_string())
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    text(item, name)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(Into::into)
}

impl Ledger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Ledger {
            client,
            table: table.into(),
        }
    }

    /// Writes a deployment's entry unless one exists for that config (a
    /// redelivery). `Ok(false)`: it was already there.
    pub async fn record_deployment(&self, entry: &LedgerEntry) -> Result<bool, AwsError> {
        let mut item = key(&entry.endpoint, &entry.sort_key());
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                item.insert(name.to_string(), s(v));
            }
        };
        put("config_name", Some(entry.config_name.clone()));
        put("model_name", Some(entry.model_name.clone()));
        put("artifact_bucket", Some(entry.artifact_bucket.clone()));
        put("artifact_key", Some(entry.artifact_key.clone()));
        put("artifact_version", Some(entry.artifact_version.clone()));
        put("settings_version", entry.settings_version.clone());
        put("trigger", Some(entry.trigger.clone()));
        put("replaces_config", entry.replaces_config.clone());
        put("capacity_change", entry.capacity_change.clone());
        put("capacity_target", entry.capacity_target.clone());
        put("started_at", Some(entry.started_at.to_rfc3339()));
        put("outcome", Some(entry.outcome.as_str().to_string()));
        put("finished_at", entry.finished_at.map(|t| t.to_rfc3339()));
        put("reason", entry.reason.clone());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#e)")
            .expression_attribute_names("#e", SORT_KEY)
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Ends a deployment once: sets its outcome unless it already has one
    /// other than `in-progress` (a duplicate event, a second report). A
    /// deployment never recorded gets an entry holding just its ending,
    /// unless `only_if_recorded`. An ending with an `alert` (subject,
    /// message) is written with it as pending, in the same write, so a
    /// crash before the alert is published cannot lose it: whoever finds
    /// the deployment ended later sees it ([`Finished::Already`]) and
    /// publishes it ([`Ledger::alert_told`] clears it).
    pub async fn finish_deployment(
        &self,
        endpoint: &str,
        config_name: &str,
        ending: Finish<'_>,
        at: DateTime<Utc>,
        only_if_recorded: bool,
    ) -> Result<Finished, AwsError> {
        let condition = if only_if_recorded {
            "outcome = :running"
        } else {
            "attribute_not_exists(#e) OR outcome = :running"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(deployment_key(endpoint, config_name)))
            .condition_expression(condition)
            .set_expression_attribute_names(
                (!only_if_recorded)
                    .then(|| HashMap::from([("#e".to_string(), SORT_KEY.to_string())])),
            )
            // The item as it stood when the condition failed: a pending
            // alert is found without another read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_values(":running", s(Outcome::InProgress.as_str()))
            .expression_attribute_values(":o", s(ending.outcome.as_str()))
            .expression_attribute_values(":t", s(at.to_rfc3339()))
            .expression_attribute_values(":c", s(config_name));
        let mut set = "SET outcome = :o, finished_at = :t, config_name = :c, \
                       started_at = if_not_exists(started_at, :t)"
            .to_string();
        let mut remove = Vec::new();
        match ending.reason {
            Some(r) => {
                set.push_str(", reason = :r");
                update = update.expression_attribute_values(":r", s(r));
            }
            None => remove.push("reason"),
        }
        match ending.alert {
            Some((subject, message)) => {
                set.push_str(&format!(", {ALERT_SUBJECT} = :as, {ALERT_MESSAGE} = :am"));
                update = update
                    .expression_attribute_values(":as", s(subject))
                    .expression_attribute_values(":am", s(message));
            }
            None => remove.extend([ALERT_SUBJECT, ALERT_MESSAGE]),
        }
        if !remove.is_empty() {
            set.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(set).send().await {
            Ok(_) => Ok(Finished::Now),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let old = failed.item();
                    let pending = old.and_then(|item| {
                        Some((text(item, ALERT_SUBJECT)?, text(item, ALERT_MESSAGE)?))
                    });
                    Ok(Finished::Already {
                        pending_alert: pending,
                    })
                }
                _ => Err(AwsError::from_sdk("UpdateItem", e)),
            },
        }
    }

    /// Clears an ended deployment's pending alert once it is published.
    pub async fn alert_told(&self, endpoint: &str, config_name: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(deployment_key(endpoint, config_name)))
            // Never creates an item; already cleared is fine.
            .condition_expression(format!("attribute_exists({ALERT_SUBJECT})"))
            .update_expression(format!("REMOVE {ALERT_SUBJECT}, {ALERT_MESSAGE}"))
            .send()
            .await;
        conditional("UpdateItem", result).map(|_cleared| ())
    }

    /// Every recorded deployment of the endpoint, newest first.
    pub async fn deployment_history(&self, endpoint: &str) -> Result<Vec<LedgerEntry>, AwsError> {
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#p = :p AND begins_with(#e, :d)")
                .expression_attribute_names("#p", PARTITION_KEY)
                .expression_attribute_names("#e", SORT_KEY)
                .expression_attribute_values(":p", s(endpoint))
                .expression_attribute_values(":d", s(DEPLOYMENT_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("Query", e))?;
            entries.extend(out.items().iter().filter_map(|i| entry_from(endpoint, i)));
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        newest_first(&mut entries);
        Ok(entries)
    }
}

/// An entry from its item; `None` for an item missing a required field.
fn entry_from(endpoint: &str, item: &Item) -> Option<LedgerEntry> {
    Some(LedgerEntry {
        endpoint: endpoint.to_string(),
        config_name: text(item, "config_name")?,
        // An ending recorded for a deployment that never started (a
        // refusal, an abandoned upload) has no model or artifact fields.
        model_name: text(item, "model_name").unwrap_or_default(),
        artifact_bucket: text(item, "artifact_bucket").unwrap_or_default(),
        artifact_key: text(item, "artifact_key").unwrap_or_default(),
        artifact_version: text(item, "artifact_version").unwrap_or_default(),
        settings_version: text(item, "settings_version"),
        trigger: text(item, "trigger").unwrap_or_default(),
        replaces_config: text(item, "replaces_config"),
        capacity_change: text(item, "capacity_change"),
        capacity_target: text(item, "capacity_target"),
        started_at: time(item, "started_at")?,
        outcome: text(item, "outcome").and_then(|o| Outcome::parse(&o))?,
        finished_at: time(item, "finished_at"),
        reason: text(item, "reason"),
        alert_pending: item.contains_key(ALERT_SUBJECT),
    })
}
