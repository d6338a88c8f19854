//! The deployment ledger: one entry per deployment of an endpoint (what was
//! deployed, why, when, and how it ended), and a per-endpoint lease so that
//! work on one endpoint never interleaves. Stored in DynamoDB
//! ([`crate::aws::dynamodb`]); the tags on configs stay as a mirror a person
//! can read in the console.
//!
//! Table layout: partition key `endpoint`, sort key `entry`. A deployment
//! is `entry = "deployment#<config name>"`; the lease is `entry = "lease"`.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub const PARTITION_KEY: &str = "endpoint";
pub const SORT_KEY: &str = "entry";
pub const LEASE_ENTRY: &str = "lease";
pub const DEPLOYMENT_PREFIX: &str = "deployment#";

/// How a deployment ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// SageMaker is creating or updating the endpoint with it.
    InProgress,
    /// Live: the smoke test passed, or none was configured.
    Deployed,
    SmokeTestFailed,
    CreateFailed,
    UpdateRolledBackBySagemaker,
    /// The endpoint stayed busy longer than allowed.
    Abandoned,
    /// A newer deployment replaced it, or its bytes are no longer current.
    Superseded,
    Refused,
    /// Not a deployment: the model package a deployment serves was
    /// rejected in the Model Registry while live. Nothing is changed (a
    /// rejection never takes an endpoint down); people are told it still
    /// serves. Keyed by the live config and the rejection event.
    LivePackageRejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::InProgress => "in-progress",
            Outcome::Deployed => "deployed",
            Outcome::SmokeTestFailed => "smoke-test-failed",
            Outcome::CreateFailed => "create-failed",
            Outcome::UpdateRolledBackBySagemaker => "update-rolled-back-by-sagemaker",
            Outcome::Abandoned => "abandoned",
            Outcome::Superseded => "superseded",
            Outcome::Refused => "refused",
            Outcome::LivePackageRejected => "live-package-rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Outcome::InProgress,
            Outcome::Deployed,
            Outcome::SmokeTestFailed,
            Outcome::CreateFailed,
            Outcome::UpdateRolledBackBySagemaker,
            Outcome::Abandoned,
            Outcome::Superseded,
            Outcome::Refused,
            Outcome::LivePackageRejected,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }

    /// Failures are announced on SNS.
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            Outcome::InProgress | Outcome::Deployed | Outcome::Superseded
        )
    }
}

/// One deployment of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub endpoint: String,
    pub config_name: String,
    pub model_name: String,
    pub artifact_bucket: String,
    pub artifact_key: String,
    pub artifact_version: String,
    /// Version id (or ETag) of the deploy.json used, if any.
    pub settings_version: Option<String>,
    /// The object whose upload started it (`s3://bucket/key`).
    pub trigger: String,
    /// The config the endpoint ran when this one was deployed: the
    /// rollback target, written with the entry itself.
    pub replaces_config: Option<String>,
    /// For a concurrency change made in place (no new config; `config_name`
    /// is then the name the pipeline gives these settings, and
    /// `replaces_config` the config that keeps running): what changed.
    pub capacity_change: Option<String>,
    /// For such a change: the concurrency it sets, written as the
    /// endpoint's `pipeline:capacity` tag is
    /// ([`crate::deployment::capacity_tag_value`]), so the smoke tester can
    /// tell when the endpoint runs it.
    pub capacity_target: Option<String>,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub finished_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// An ending whose alert was written with it but is not known to be
    /// published yet (its teller died in between): the next report of this
    /// deployment publishes it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alert_pending: bool,
}

impl LedgerEntry {
    pub fn sort_key(&self) -> String {
        format!("{DEPLOYMENT_PREFIX}{}", self.config_name)
    }
}

/// Newest first, by start time (ties: config name, for a stable order).
pub fn newest_first(entries: &mut [LedgerEntry]) {
    entries.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.config_name.cmp(&a.config_name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_and_failures_are_told_apart() {
        for text in [
            "in-progress",
            "deployed",
            "smoke-test-failed",
            "create-failed",
            "update-rolled-back-by-sagemaker",
            "abandoned",
            "superseded",
            "refused",
            "live-package-rejected",
        ] {
            let outcome = Outcome::parse(text).unwrap();
            assert_eq!(outcome.as_str(), text);
            assert_eq!(serde_json::to_value(outcome).unwrap(), text);
        }
        assert_eq!(Outcome::parse("Deployed"), None);
        assert!(Outcome::CreateFailed.is_failure() && Outcome::Abandoned.is_failure());
        assert!(!Outcome::Deployed.is_failure() && !Outcome::Superseded.is_failure());
    }
}
