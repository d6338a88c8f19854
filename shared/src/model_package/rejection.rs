//! Telling people that the package an endpoint serves was rejected. A
//! rejection never deletes or changes a live endpoint (taking traffic
//! down on a registry click would be worse than serving on), so those who
//! rejected it must learn that it still serves, and how to replace it:
//! one alert and one ledger entry per rejection event, through the shared
//! outcome path ([`crate::aws::outcomes`]), whose conditional ledger write
//! keeps a redelivered event from telling it twice.

use super::PackageStateChange;
use crate::deployment::DeploymentRecord;
use crate::ledger::Outcome;
use crate::outcome::Ending;
use serde_json::Value;

/// The live deployment whose package was rejected.
#[derive(Debug, Clone, Copy)]
pub struct LiveRejection<'a> {
    pub change: &'a PackageStateChange,
    pub endpoint: &'a str,
    /// The config the endpoint serves (or is moving to) with the package.
    pub live_config: &'a str,
    /// The deployment the live one replaced, when the pipeline made it
    /// and it is still there to read: what to re-approve (or upload).
    pub replaced: Option<&'a DeploymentRecord>,
    /// What identifies this rejection ([`rejection_event`]).
    pub event: &'a str,
}

/// What identifies one rejection: the EventBridge event's `id`, which a
/// redelivery keeps (a rejected, re-approved and again rejected package
/// makes a new event, so it is told again); else its `time`.
pub fn rejection_event(payload: &Value) -> Option<&str> {
    payload["id"]
        .as_str()
        .or_else(|| payload["time"].as_str())
        .filter(|id| !id.is_empty())
}

impl LiveRejection<'_> {
    /// The ending to tell: `live-package-rejected`, keyed in the ledger by
    /// the live config and the event (not the live deployment's own entry,
    /// which stays as it ended), about the endpoint.
    pub fn ending(&self) -> Ending {
        let change = self.change;
        let version = change
            .version
            .map(|v| format!("version {v} of model package group {}", change.group))
            .unwrap_or_else(|| format!("a package of model package group {}", change.group));
        let key = format!("{}:rejected:{}", self.live_config, self.event);
        let mut ending = Ending::new(self.endpoint, &key, Outcome::LivePackageRejected).because(
            format!(
                "model package {} ({version}) was rejected but is still serving on endpoint {} (config {}): a rejection never deletes or changes a live endpoint",
                change.package_arn, self.endpoint, self.live_config
            ),
        );
        ending.details = Some(self.what_to_do());
        ending
    }

    /// How a person takes the rejected package out of service.
    fn what_to_do(&self) -> String {
        let group = &self.change.group;
        let mut text = format!(
            "To stop serving it: approve another version of model package group {group}; it is deployed (smoke test and rollback as usual) and replaces this one."
        );
        match self.replaced {
            Some(previous) => match previous.artifact.model_package() {
                Some(package) => text.push_str(&format!(
                    "\nOr re-approve the previous version, {package} (config {}), which this deployment replaced: set its status to Approved again (PendingManualApproval first if it is still Approved, so that the registry sends a new approval).",
                    previous.config_name
                )),
                None => text.push_str(&format!(
                    "\nOr upload the artifact this deployment replaced again, {} (config {}).",
                    previous.artifact.s3_url(),
                    previous.config_name
                )),
            },
            None => text.push_str(&format!(
                "\nNo earlier deployment of this endpoint is known to go back to. If it must stop serving before another version is approved, delete the endpoint yourself (aws sagemaker delete-endpoint --endpoint-name {}).",
                self.endpoint
            )),
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::ArtifactRef;
    use serde_json::json;

    const V1: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-models/1";
    const V2: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-models/2";

    fn change() -> PackageStateChange {
        PackageStateChange {
            group: "iris-models".into(),
            package_arn: V2.into(),
            version: Some(2),
            status: super::super::ApprovalStatus::Rejected,
            properties: Default::default(),
        }
    }

    fn previous(version: &str) -> DeploymentRecord {
        DeploymentRecord {
            endpoint_name: "iris".into(),
            model_name: "iris-m1".into(),
            config_name: "iris-c1".into(),
            artifact: ArtifactRef {
                bucket: "models".into(),
                key: "models/iris/v1/model.tar.gz".into(),
                version: version.into(),
                time: chrono::Utc::now(),
                sequencer: None,
            },
            settings_version: None,
            replaces_config: None,
            smoke_test_source: None,
            shape: None,
            capacity: None,
        }
    }

    fn told(replaced: Option<&DeploymentRecord>, event: &str) -> (Ending, String, String) {
        let change = change();
        let ending = LiveRejection {
            change: &change,
            endpoint: "iris",
            live_config: "iris-c2",
            replaced,
            event,
        }
        .ending();
        let (subject, message) = ending.alert().expect("an alert");
        (ending, subject, message)
    }

    #[test]
    fn a_live_rejection_alerts_naming_the_endpoint_the_version_and_the_way_back() {
        let before = previous(V1);
        let (ending, subject, message) = told(Some(&before), "event-1");
        assert_eq!(subject, "Rejected model package still serving: iris");
        assert_eq!(ending.outcome, Outcome::LivePackageRejected);
        assert_eq!(ending.endpoint.as_deref(), Some("iris"));
        for expected in [
            "Outcome: live-package-rejected",
            V2,
            "version 2 of model package group iris-models",
            "still serving on endpoint iris (config iris-c2)",
            "approve another version of model package group iris-models",
            "re-approve the previous version",
            V1,
        ] {
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
        // The ledger entry is its own: the live deployment's stays as it ended.
        assert_eq!(
            ending.config_name.as_deref(),
            Some("iris-c2:rejected:event-1")
        );
        assert_ne!(
            told(Some(&before), "event-2").0.config_name,
            ending.config_name
        );
    }

    #[test]
    fn the_way_back_is_an_upload_or_nothing_when_no_package_was_replaced() {
        let upload = previous("3HL4kqtJlcpXroDTDmJ.rDSMUP");
        let (_, _, message) = told(Some(&upload), "e");
        assert!(
            message.contains("upload the artifact this deployment replaced again, s3://models/models/iris/v1/model.tar.gz"),
            "{message}"
        );
        let (_, _, message) = told(None, "e");
        assert!(
            message.contains("delete-endpoint --endpoint-name iris"),
            "{message}"
        );
    }

    #[test]
    fn a_rejection_is_identified_by_its_event_id_else_its_time() {
        let event = json!({"id": "abc", "time": "2026-12-02T10:00:00Z"});
        assert_eq!(rejection_event(&event), Some("abc"));
        assert_eq!(
            rejection_event(&json!({"time": "2026-12-02T10:00:00Z"})),
            Some("2026-12-02T10:00:00Z")
        );
        assert_eq!(rejection_event(&json!({"id": ""})), None);
    }
}
