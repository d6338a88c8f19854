//! What the smoke tester records on an endpoint, and what others (the cost
//! sweeper, people) read back: tags, so the state lives on the resource.

use std::collections::BTreeMap;

/// On an endpoint config: `s3://bucket/key[?versionId=...]` of a JSON
/// document whose `smoke_test` object is the request to send (a deploy.json,
/// or a document the cost sweeper points at).
pub const SOURCE_TAG: &str = "pipeline:smoke-test-source";
/// On the endpoint: `passed`, `failed` or `not-tested`.
pub const VERDICT_TAG: &str = "pipeline:smoke-test";
/// On the endpoint: the endpoint config the verdict is about.
pub const TESTED_CONFIG_TAG: &str = "pipeline:smoke-tested-config";
/// On the endpoint: when the verdict was reached (RFC 3339).
pub const TESTED_AT_TAG: &str = "pipeline:smoke-tested-at";
/// On a cost-sweeper canary (and an endpoint recreated by a migration): the
/// persistent endpoint it replaces. Failed tests of such endpoints are
/// reported, never rolled back.
pub const MIGRATION_OF_TAG: &str = "pipeline:migration-of";
/// On the endpoint: the config a rollback moved away from (never rolled back twice).
pub const ROLLED_BACK_FROM_TAG: &str = "pipeline:rolled-back-from";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    Failed,
    NotTested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::NotTested => "not-tested",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "passed" => Some(Verdict::Passed),
            "failed" => Some(Verdict::Failed),
            "not-tested" => Some(Verdict::NotTested),
            _ => None,
        }
    }
}

/// The verdict recorded on an endpoint for `config`, if that config was tested.
pub fn verdict_for(endpoint_tags: &BTreeMap<String, String>, config: &str) -> Option<Verdict> {
    if endpoint_tags.get(TESTED_CONFIG_TAG).map(String::as_str) != Some(config) {
        return None;
    }
    endpoint_tags
        .get(VERDICT_TAG)
        .and_then(|v| Verdict::parse(v))
}

/// The config whose smoke test failed on this endpoint, from the verdict
/// tags. The tester writes them before it rolls back, so they name the
/// failed config even when the rollback's own mark could not be written.
pub fn failed_config(endpoint_tags: &BTreeMap<String, String>) -> Option<&str> {
    let tested = endpoint_tags.get(TESTED_CONFIG_TAG)?;
    (verdict_for(endpoint_tags, tested) == Some(Verdict::Failed)).then_some(tested.as_str())
}

/// `s3://bucket/key?versionId=v` for a smoke-test source.
pub fn source_uri(bucket: &str, key: &str, version_id: Option<&str>) -> String {
    match version_id {
        Some(version) => format!("s3://{bucket}/{key}?versionId={version}"),
        None => format!("s3://{bucket}/{key}"),
    }
}

/// Splits a source URI into (bucket, key, version id).
pub fn parse_source_uri(uri: &str) -> Option<(String, String, Option<String>)> {
    let rest = uri.strip_prefix("s3://")?;
    let (location, version) = match rest.split_once("?versionId=") {
        Some((location, version)) => (location, Some(version.to_string())),
        None => (rest, None),
    };
    let (bucket, key) = location.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_string(), key.to_string(), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_apply_only_to_the_config_tested() {
        let tags = BTreeMap::from([
            (VERDICT_TAG.to_string(), "passed".to_string()),
            (TESTED_CONFIG_TAG.to_string(), "cfg-1".to_string()),
        ]);
        assert_eq!(verdict_for(&tags, "cfg-1"), Some(Verdict::Passed));
        assert_eq!(verdict_for(&tags, "cfg-2"), None);
    }

    #[test]
    fn source_uris_round_trip() {
        let uri = source_uri("b", "models/x/deploy.json", Some("v1"));
        assert_eq!(
            parse_source_uri(&uri),
            Some(("b".into(), "models/x/deploy.json".into(), Some("v1".into())))
        );
        assert_eq!(
            parse_source_uri("s3://b/k"),
            Some(("b".into(), "k".into(), None))
        );
        assert_eq!(parse_source_uri("https://b/k"), None);
        assert_eq!(parse_source_uri("s3://b"), None);
    }
}
