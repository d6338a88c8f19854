//! Whether a failed smoke test rolls the endpoint back. Pure: decided from
//! the endpoint's tags and the previous config, so every case is a test.

use shared::aws::sagemaker::EndpointConfigInfo;
use shared::smoke::ROLLED_BACK_FROM_TAG;
use std::collections::BTreeMap;

pub use shared::smoke::MIGRATION_OF_TAG;
/// On an endpoint: the config a rollback moved to.
pub const ROLLED_BACK_TO_TAG: &str = "pipeline:rolled-back-to";

/// The endpoint's tags that record a rollback from `failed` to `to` (the
/// deployer reads the first to skip the failed config's redelivered upload).
pub fn rollback_marks(failed: &str, to: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ROLLED_BACK_FROM_TAG.to_string(), failed.to_string()),
        (ROLLED_BACK_TO_TAG.to_string(), to.to_string()),
    ])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackDecision {
    RollBack {
        to: String,
    },
    /// No rollback; the reason goes in the report and the notification.
    ReportOnly {
        why: String,
    },
}

/// `previous_name` is the config the failed one replaced, from the failed
/// config's own deployment record (`pipeline:replaces-config`, written with
/// the config at its creation, so no crash can separate them); `previous`
/// is that config described (`None` when it is gone).
pub fn decide_rollback(
    failed_config: &str,
    endpoint_tags: &BTreeMap<String, String>,
    previous_name: Option<&str>,
    previous: Option<&EndpointConfigInfo>,
    rollback_enabled: bool,
) -> RollbackDecision {
    let report = |why: String| RollbackDecision::ReportOnly { why };
    let tag = |key: &str| endpoint_tags.get(key).map(String::as_str);
    if !rollback_enabled {
        return report("rollback is turned off (ROLLBACK_ON_FAILURE=false)".into());
    }
    if let Some(original) = tag(MIGRATION_OF_TAG) {
        return report(format!(
            "this endpoint is the serverless canary of a migration of {original}; a failed canary is reported, never rolled back onto a persistent config"
        ));
    }
    if tag(ROLLED_BACK_TO_TAG) == Some(failed_config) {
        return report(format!(
            "{failed_config} is itself the result of a rollback; not rolling back again"
        ));
    }
    if tag(ROLLED_BACK_FROM_TAG) == Some(failed_config) {
        return report(format!(
            "a rollback from {failed_config} was already issued"
        ));
    }
    let Some(previous_name) = previous_name else {
        return report("no previous config is recorded (first deployment of this endpoint)".into());
    };
    if previous_name == failed_config {
        return report("the previous config is the failed one".into());
    }
    match previous {
        None => report(format!("the previous config {previous_name} no longer exists")),
        Some(config) if !config.serverless => report(format!(
            "the previous config {previous_name} is not serverless; AWS cannot update a serverless endpoint onto it in place safely"
        )),
        Some(_) => RollbackDecision::RollBack { to: previous_name.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The tests keep the previous config in a map under this name, as the
    // failed config's record holds it.
    const PREVIOUS_CONFIG_TAG: &str = shared::deployment::REPLACES_CONFIG_TAG;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config(name: &str, serverless: bool) -> EndpointConfigInfo {
        EndpointConfigInfo {
            name: name.into(),
            arn: format!("arn:{name}"),
            serverless,
            variant_count: 1,
            model_names: vec![],
        }
    }

    #[test]
    fn rolls_back_to_the_recorded_serverless_config() {
        let t = tags(&[(PREVIOUS_CONFIG_TAG, "good")]);
        assert_eq!(
            decide_rollback(
                "bad",
                &t,
                t.get(PREVIOUS_CONFIG_TAG).map(String::as_str),
                Some(&config("good", true)),
                true
            ),
            RollbackDecision::RollBack { to: "good".into() }
        );
    }

    #[test]
    fn never_twice_and_never_from_a_rollback() {
        let issued = tags(&[(PREVIOUS_CONFIG_TAG, "good"), (ROLLED_BACK_FROM_TAG, "bad")]);
        assert!(matches!(
            decide_rollback(
                "bad",
                &issued,
                issued.get(PREVIOUS_CONFIG_TAG).map(String::as_str),
                Some(&config("good", true)),
                true
            ),
            RollbackDecision::ReportOnly { .. }
        ));
        // The endpoint back on "good" fails too: no rollback loop.
        let after = tags(&[
            (PREVIOUS_CONFIG_TAG, "older"),
            (ROLLED_BACK_FROM_TAG, "bad"),
            (ROLLED_BACK_TO_TAG, "good"),
        ]);
        let decision = decide_rollback(
            "good",
            &after,
            after.get(PREVIOUS_CONFIG_TAG).map(String::as_str),
            Some(&config("older", true)),
            true,
        );
        assert!(
            matches!(decision, RollbackDecision::ReportOnly { ref why } if why.contains("result of a rollback")),
            "{decision:?}"
        );
    }

    #[test]
    fn canaries_are_reported_not_rolled_back() {
        let t = tags(&[(MIGRATION_OF_TAG, "legacy"), (PREVIOUS_CONFIG_TAG, "x")]);
        let decision = decide_rollback(
            "canary",
            &t,
            t.get(PREVIOUS_CONFIG_TAG).map(String::as_str),
            Some(&config("x", true)),
            true,
        );
        assert!(
            matches!(decision, RollbackDecision::ReportOnly { ref why } if why.contains("canary"))
        );
    }

    #[test]
    fn nothing_to_roll_back_to() {
        assert!(
            matches!(decide_rollback("bad", &tags(&[]), None, None, true), RollbackDecision::ReportOnly { ref why } if why.contains("first deployment"))
        );
        let t = tags(&[(PREVIOUS_CONFIG_TAG, "gone")]);
        assert!(
            matches!(decide_rollback("bad", &t, t.get(PREVIOUS_CONFIG_TAG).map(String::as_str), None, true), RollbackDecision::ReportOnly { ref why } if why.contains("no longer exists"))
        );
        let t = tags(&[(PREVIOUS_CONFIG_TAG, "instance")]);
        assert!(
            matches!(decide_rollback("bad", &t, t.get(PREVIOUS_CONFIG_TAG).map(String::as_str), Some(&config("instance", false)), true), RollbackDecision::ReportOnly { ref why } if why.contains("not serverless"))
        );
    }

    #[test]
    fn can_be_turned_off() {
        let t = tags(&[(PREVIOUS_CONFIG_TAG, "good")]);
        assert!(matches!(
            decide_rollback(
                "bad",
                &t,
                t.get(PREVIOUS_CONFIG_TAG).map(String::as_str),
                Some(&config("good", true)),
                false
            ),
            RollbackDecision::ReportOnly { .. }
        ));
    }
}
