//! Which events the smoke tester acts on: EventBridge "SageMaker Endpoint
//! State Change" events (the rule sends every status of managed endpoints)
//! that end a create or update, IN_SERVICE (test it, or tell an update
//! SageMaker rolled back) and FAILED (tell the failed create), or a direct
//! invocation `{"endpoint_name": "...", "force": false}`. Anything else
//! (CREATING, UPDATING, DELETING, ...) is ignored with a reason, never a crash.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sagemaker::types::EndpointStatus;
use serde::Deserialize;
use serde_json::Value;
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeMap;

pub const EVENT_SOURCE: &str = "aws.sagemaker";
pub const DETAIL_TYPE: &str = "SageMaker Endpoint State Change";
pub const IN_SERVICE: &str = "IN_SERVICE";
pub const FAILED: &str = "FAILED";

/// A request to test one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub endpoint: String,
    /// The config the event says went into service (events can be stale).
    pub event_config: Option<String>,
    /// Re-test even if this config already has a verdict (direct invocation only).
    pub force: bool,
    /// `InService`, or `Failed` (a create that failed).
    pub status: EndpointStatus,
    /// The event's `FailureReason`: on IN_SERVICE, the mark of an update
    /// SageMaker rolled back.
    pub failure_reason: Option<String>,
}

/// Why an event starts nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored(pub String);

/// What the smoke tester can be invoked with. The detail of a state change
/// is read in a second step, so a malformed detail is reported as such
/// instead of as "matches no variant".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Invocation {
    StateChange(EventBridgeEvent<Value>),
    Direct(DirectInvocation),
}

/// `{"endpoint_name": "...", "force": true}` (events/smoke-test-direct.json).
#[derive(Debug, Deserialize)]
struct DirectInvocation {
    endpoint_name: Value,
    #[serde(default)]
    force: bool,
}

/// `detail` of a "SageMaker Endpoint State Change" event (the fields the
/// pipeline reads; SageMaker sends more).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointStateChange {
    pub endpoint_name: Option<String>,
    pub endpoint_arn: Option<String>,
    pub endpoint_config_name: Option<String>,
    /// Upper snake case (`IN_SERVICE`, `FAILED`, ...); see [`Self::status`].
    #[serde(default)]
    pub endpoint_status: String,
    pub failure_reason: Option<String>,
    /// The endpoint's tags; absent when the event was shaped by hand.
    pub tags: Option<BTreeMap<String, String>>,
}

impl EndpointStateChange {
    /// The status in the SDK's terms: `IN_SERVICE` is `InService`.
    pub fn status(&self) -> EndpointStatus {
        let pascal: String = self
            .endpoint_status
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => {
                        first.to_ascii_uppercase().to_string()
                            + &chars.as_str().to_ascii_lowercase()
                    }
                    None => String::new(),
                }
            })
            .collect();
        EndpointStatus::from(pascal.as_str())
    }
}

/// Reads a Lambda payload.
pub fn parse_trigger(payload: &Value) -> Result<Trigger, Ignored> {
    let not_understood = || {
        Ignored(
            "not a SageMaker Endpoint State Change event nor {\"endpoint_name\": \"...\"}".into(),
        )
    };
    match Invocation::deserialize(payload).map_err(|_| not_understood())? {
        Invocation::StateChange(event) => parse_state_change(event),
        Invocation::Direct(direct) => {
            let name = &direct.endpoint_name;
            let endpoint = name
                .as_str()
                .filter(|n| shared::naming::is_valid_name(n))
                .ok_or_else(|| {
                    Ignored(format!(
                        "direct invocation: endpoint_name must be a valid endpoint name, got {name}"
                    ))
                })?;
            Ok(Trigger {
                endpoint: endpoint.to_string(),
                event_config: None,
                force: direct.force,
                status: EndpointStatus::InService,
                failure_reason: None,
            })
        }
    }
}

fn parse_state_change(event: EventBridgeEvent<Value>) -> Result<Trigger, Ignored> {
    let (source, detail_type) = (&event.source, &event.detail_type);
    if source != EVENT_SOURCE || detail_type != DETAIL_TYPE {
        return Err(Ignored(format!(
            "event {source:?} / {detail_type:?} is not a {DETAIL_TYPE}"
        )));
    }
    if !event.detail.is_object() {
        return Err(Ignored("state change event has no detail object".into()));
    }
    let detail = EndpointStateChange::deserialize(&event.detail)
        .map_err(|e| Ignored(format!("state change event detail is malformed: {e}")))?;
    let endpoint = detail
        .endpoint_name
        .as_deref()
        .filter(|n| shared::naming::is_valid_name(n))
        .ok_or_else(|| Ignored("state change event has no valid detail.EndpointName".into()))?;
    let status = detail.status();
    if !matches!(status, EndpointStatus::InService | EndpointStatus::Failed) {
        return Err(Ignored(format!(
            "endpoint {endpoint} is {:?}; only {IN_SERVICE} and {FAILED} end a deployment",
            detail.endpoint_status
        )));
    }
    // The event carries the endpoint's tags: an unmanaged endpoint is
    // dismissed without an API call. (Tags missing: decided after ListTags.)
    if let Some(tags) = &detail.tags {
        if tags.get(MANAGED_BY_KEY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
            return Err(Ignored(format!(
                "endpoint {endpoint} is not managed by this pipeline"
            )));
        }
    }
    Ok(Trigger {
        endpoint: endpoint.to_string(),
        event_config: detail.endpoint_config_name.clone(),
        force: false,
        status,
        failure_reason: detail.failure_reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state_change(status: &str, tags: Value) -> Value {
        json!({
            "version": "0", "id": "a", "detail-type": DETAIL_TYPE, "source": EVENT_SOURCE,
            "account": "123456789012", "time": "2026-11-28T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud"],
            "detail": {"EndpointName": "fraud", "EndpointConfigName": "fraud-cfg", "EndpointStatus": status, "Tags": tags}
        })
    }

    #[test]
    fn in_service_events_for_managed_endpoints_start_a_test() {
        let trigger = parse_trigger(&state_change(
            "IN_SERVICE",
            json!({"managed-by": MANAGED_BY_VALUE}),
        ))
        .unwrap();
        assert_eq!(
            trigger,
            Trigger {
                endpoint: "fraud".into(),
                event_config: Some("fraud-cfg".into()),
                force: false,
                status: EndpointStatus::InService,
                failure_reason: None,
            }
        );
    }

    #[test]
    fn failed_events_and_failure_reasons_are_read() {
        let mut event = state_change("FAILED", json!({"managed-by": MANAGED_BY_VALUE}));
        event["detail"]["FailureReason"] = json!("ping failed");
        let trigger = parse_trigger(&event).unwrap();
        assert_eq!(trigger.status, EndpointStatus::Failed);
        assert_eq!(trigger.failure_reason.as_deref(), Some("ping failed"));
        event["detail"]["Tags"] = json!({"team": "x"});
        assert!(parse_trigger(&event).is_err(), "unmanaged");
    }

    #[test]
    fn other_statuses_and_unmanaged_endpoints_are_ignored() {
        let managed = json!({"managed-by": MANAGED_BY_VALUE});
        for status in [
            "UPDATING",
            "CREATING",
            "DELETING",
            "ROLLING_BACK",
            "InService",
        ] {
            let Ignored(why) = parse_trigger(&state_change(status, managed.clone())).unwrap_err();
            assert!(why.contains(status), "{why}");
        }
        let Ignored(why) =
            parse_trigger(&state_change("IN_SERVICE", json!({"team": "x"}))).unwrap_err();
        assert!(why.contains("not managed"), "{why}");
    }

    #[test]
    fn missing_tags_defer_the_managed_check() {
        let mut event = state_change("IN_SERVICE", json!({}));
        event["detail"].as_object_mut().unwrap().remove("Tags");
        assert!(parse_trigger(&event).is_ok());
    }

    #[test]
    fn malformed_events_are_ignored_with_a_reason() {
        let mut no_detail = state_change("IN_SERVICE", json!({}));
        no_detail["detail"] = json!("oops");
        assert!(parse_trigger(&no_detail)
            .unwrap_err()
            .0
            .contains("no detail"));
        let mut bad_name = state_change("IN_SERVICE", json!({"managed-by": MANAGED_BY_VALUE}));
        bad_name["detail"]["EndpointName"] = json!("not_valid!");
        assert!(parse_trigger(&bad_name)
            .unwrap_err()
            .0
            .contains("EndpointName"));
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert!(parse_trigger(&scheduled).is_err());
        assert!(parse_trigger(&json!({"hello": 1})).is_err());
    }

    #[test]
    fn direct_invocations_name_the_endpoint() {
        assert_eq!(
            parse_trigger(&json!({"endpoint_name": "fraud", "force": true})).unwrap(),
            Trigger {
                endpoint: "fraud".into(),
                event_config: None,
                force: true,
                status: EndpointStatus::InService,
                failure_reason: None,
            }
        );
        assert!(parse_trigger(&json!({"endpoint_name": 7})).is_err());
    }
}
