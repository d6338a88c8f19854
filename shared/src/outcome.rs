//! How a deployment ended, told once and the same way by every function:
//! the ledger entry's outcome, an EMF count `DeployOutcomes` with the
//! outcome as its `Outcome` dimension, and for failures an SNS alert.
//! This module shapes what is told (pure); [`crate::aws::outcomes`] tells it.

use crate::emf::{MetricDocument, Unit};
use crate::ledger::Outcome;
use serde_json::Value;

/// The EMF metric every outcome counts in (template.yaml alarms on
/// `Outcome=abandoned`).
pub const OUTCOME_METRIC: &str = "DeployOutcomes";

/// One deployment's ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// `None` when the upload could not even be read as far as its endpoint.
    pub endpoint: Option<String>,
    /// The deployment's config, which keys its ledger entry; `None` when
    /// the deploy ended before it had one (unreadable settings).
    pub config_name: Option<String>,
    pub outcome: Outcome,
    /// Why, in a sentence: stored in the ledger, first line of the alert.
    pub reason: Option<String>,
    /// What the alert is about when not the endpoint (the upload's URL).
    pub subject: Option<String>,
    /// More for the alert only (a smoke-test report, ...).
    pub details: Option<String>,
    /// Record it only for a deployment the ledger holds (still running):
    /// a conclusion drawn about some other deployment than the event's own.
    pub only_if_recorded: bool,
}

impl Ending {
    pub fn new(endpoint: &str, config_name: &str, outcome: Outcome) -> Self {
        Ending {
            endpoint: Some(endpoint.to_string()),
            config_name: Some(config_name.to_string()),
            outcome,
            reason: None,
            subject: None,
            details: None,
            only_if_recorded: false,
        }
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The alert's subject and message; `None` for outcomes that are not
    /// failures (`deployed`, `superseded`).
    pub fn alert(&self) -> Option<(String, String)> {
        let title = match self.outcome {
            Outcome::InProgress | Outcome::Deployed | Outcome::Superseded => return None,
            Outcome::SmokeTestFailed => "Smoke test failed",
            Outcome::CreateFailed => "Endpoint create failed",
            Outcome::UpdateRolledBackBySagemaker => "Update rolled back by SageMaker",
            Outcome::Abandoned => "Deploy abandoned",
            Outcome::Refused => "Deploy refused",
            Outcome::LivePackageRejected => "Rejected model package still serving",
        };
        let about = self
            .subject
            .as_deref()
            .or(self.endpoint.as_deref())
            .unwrap_or("an upload");
        let mut message = format!(
            "Outcome: {}\nEndpoint: {}\nDeployment (endpoint config): {}\n",
            self.outcome.as_str(),
            self.endpoint.as_deref().unwrap_or("unknown"),
            self.config_name.as_deref().unwrap_or("none"),
        );
        if let Some(reason) = &self.reason {
            message.push_str(&format!("Reason: {reason}\n"));
        }
        if let Some(hint) = self.hint() {
            message.push_str(&format!("\n{hint}\n"));
        }
        if let Some(details) = &self.details {
            message.push_str(&format!("\n{details}\n"));
        }
        Some((format!("{title}: {about}"), message))
    }

    /// What happens next, or what a person can do.
    fn hint(&self) -> Option<&'static str> {
        match self.outcome {
            Outcome::CreateFailed => Some(
                "The next upload of a newer artifact (or a changed deploy.json) deletes the failed endpoint and creates it again.",
            ),
            Outcome::UpdateRolledBackBySagemaker => Some(
                "SageMaker rolled the update back: the endpoint serves its previous config again. Fix the artifact or settings and upload again.",
            ),
            _ => None,
        }
    }

    /// The EMF document counting this outcome.
    pub fn metric(&self, namespace: &str) -> MetricDocument {
        let mut doc = MetricDocument::new(namespace)
            .dimension("Outcome", self.outcome.as_str())
            .metric(OUTCOME_METRIC, Unit::Count, 1.0);
        if let Some(endpoint) = &self.endpoint {
            doc = doc.property("EndpointName", Value::from(endpoint.as_str()));
        }
        if let Some(config) = &self.config_name {
            doc = doc.property("EndpointConfigName", Value::from(config.as_str()));
        }
        if let Some(reason) = &self.reason {
            doc = doc.property("Reason", Value::from(reason.as_str()));
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_alert_and_every_outcome_counts_with_its_dimension() {
        let failed = Ending::new("fraud", "fraud-c2", Outcome::CreateFailed)
            .because("ping health check failed");
        let (subject, message) = failed.alert().unwrap();
        assert_eq!(subject, "Endpoint create failed: fraud");
        assert!(message.contains("Outcome: create-failed"), "{message}");
        assert!(message.contains("fraud-c2"), "{message}");
        assert!(message.contains("Reason: ping health check failed"));
        assert!(message.contains("deletes the failed endpoint"), "{message}");
        let json = failed.metric("P").to_json(0);
        assert_eq!(json["Outcome"], "create-failed");
        assert_eq!(json[OUTCOME_METRIC], serde_json::json!(1.0));
        assert_eq!(
            json["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Outcome"]])
        );
        assert_eq!(json["EndpointName"], "fraud");

        for quiet in [Outcome::Deployed, Outcome::Superseded] {
            let ending = Ending::new("fraud", "fraud-c2", quiet);
            assert_eq!(ending.alert(), None);
            assert_eq!(ending.metric("P").to_json(0)["Outcome"], quiet.as_str());
        }
        let mut refused = Ending::new("fraud", "fraud-c3", Outcome::Refused).because("no");
        refused.subject = Some("s3://b/models/fraud/model.tar.gz".into());
        assert_eq!(
            refused.alert().unwrap().0,
            "Deploy refused: s3://b/models/fraud/model.tar.gz"
        );
    }
}
