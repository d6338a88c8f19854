//! What one smoke test reports: returned, logged, tagged on the endpoint
//! and published as EMF metrics.

use crate::invoke::CallResult;
use crate::stats::{median, millis};
use serde::Serialize;
use shared::emf::{MetricDocument, Unit};
use shared::smoke::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed,
    NotTested,
    /// Nothing to do (other status, unmanaged, already tested, ...).
    Ignored,
}

impl From<Verdict> for Outcome {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Passed => Outcome::Passed,
            Verdict::Failed => Outcome::Failed,
            Verdict::NotTested => Outcome::NotTested,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeTestReport {
    pub endpoint: Option<String>,
    pub endpoint_config: Option<String>,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warm_ms: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<String>,
    /// What happened about rollback, for failed tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// The deployment outcome this invocation recorded (ledger, metric,
    /// alert), if any: `deployed`, `smoke-test-failed`, `create-failed`,
    /// `update-rolled-back-by-sagemaker`, `superseded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_outcome: Option<shared::ledger::Outcome>,
    pub notified: bool,
}

impl SmokeTestReport {
    pub fn ignored(endpoint: Option<String>, why: String) -> Self {
        SmokeTestReport {
            endpoint,
            endpoint_config: None,
            outcome: Outcome::Ignored,
            reasons: vec![why],
            cold_start_ms: None,
            warm_p50_ms: None,
            warm_ms: Vec::new(),
            response_bytes: None,
            response_content_type: None,
            rollback: None,
            deployment_outcome: None,
            notified: false,
        }
    }

    /// A tested (or not-testable) config, with figures from the calls.
    pub fn tested(
        endpoint: &str,
        config: &str,
        verdict: Verdict,
        reasons: Vec<String>,
        calls: &[CallResult],
    ) -> Self {
        let cold = calls.first();
        let warm: Vec<_> = calls.iter().skip(1).map(|c| c.latency).collect();
        let first_answer = cold.and_then(|c| c.outcome.as_ref().ok());
        SmokeTestReport {
            endpoint: Some(endpoint.to_string()),
            endpoint_config: Some(config.to_string()),
            outcome: verdict.into(),
            reasons,
            cold_start_ms: cold.map(|c| millis(c.latency)),
            warm_p50_ms: median(&warm).map(millis),
            warm_ms: warm.iter().map(|d| millis(*d)).collect(),
            response_bytes: first_answer.map(|r| r.body.len()),
            response_content_type: first_answer.and_then(|r| r.content_type.clone()),
            rollback: None,
            deployment_outcome: None,
            notified: false,
        }
    }

    /// EMF metrics with dimension `EndpointName`.
    pub fn metrics(&self, namespace: &str) -> Option<MetricDocument> {
        let endpoint = self.endpoint.as_deref()?;
        let mut doc = MetricDocument::new(namespace)
            .dimension("EndpointName", endpoint)
            .property(
                "EndpointConfigName",
                serde_json::json!(self.endpoint_config),
            )
            .property("SmokeTestOutcome", serde_json::json!(self.outcome));
        match self.outcome {
            Outcome::Ignored => return None,
            Outcome::NotTested => doc = doc.metric("SmokeTestNotTested", Unit::Count, 1.0),
            Outcome::Passed | Outcome::Failed => {
                let passed = if self.outcome == Outcome::Passed {
                    1.0
                } else {
                    0.0
                };
                doc = doc.metric("SmokeTestPassed", Unit::Count, passed);
            }
        }
        if let Some(cold) = self.cold_start_ms {
            doc = doc.metric("ColdStartLatency", Unit::Milliseconds, cold);
        }
        if let Some(warm) = self.warm_p50_ms {
            doc = doc.metric("WarmLatency", Unit::Milliseconds, warm);
        }
        if let Some(bytes) = self.response_bytes {
            doc = doc.metric("ResponseSize", Unit::Bytes, bytes as f64);
        }
        Some(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoke::Response;
    use std::time::Duration;

    fn call(ms: u64) -> CallResult {
        CallResult {
            latency: Duration::from_millis(ms),
            outcome: Ok(Response {
                body: b"{\"p\":1}".to_vec(),
                content_type: Some("application/json".into()),
            }),
        }
    }

    #[test]
    fn figures_come_from_the_cold_and_warm_calls() {
        let report = SmokeTestReport::tested(
            "fraud",
            "cfg",
            Verdict::Passed,
            vec![],
            &[call(900), call(30), call(50)],
        );
        assert_eq!(report.cold_start_ms, Some(900.0));
        assert_eq!(report.warm_p50_ms, Some(40.0));
        assert_eq!(report.warm_ms, vec![30.0, 50.0]);
        assert_eq!(report.response_bytes, Some(7));
    }

    #[test]
    fn emf_output_parses_and_carries_the_required_keys() {
        let report = SmokeTestReport::tested(
            "fraud",
            "cfg",
            Verdict::Failed,
            vec!["x".into()],
            &[call(900), call(30)],
        );
        let json = report
            .metrics("Pipeline")
            .unwrap()
            .to_json(1_800_000_000_000)
            .to_string();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Pipeline");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["EndpointName"]])
        );
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![
                "SmokeTestPassed",
                "ColdStartLatency",
                "WarmLatency",
                "ResponseSize"
            ]
        );
        for name in names {
            assert!(parsed[name].is_number(), "{name} has a value");
        }
        assert_eq!(parsed["SmokeTestPassed"], serde_json::json!(0.0));
        assert_eq!(parsed["EndpointName"], "fraud");
    }

    #[test]
    fn not_tested_has_its_own_metric_and_ignored_none() {
        let report = SmokeTestReport::tested("fraud", "cfg", Verdict::NotTested, vec![], &[]);
        let json = report.metrics("P").unwrap().to_json(0);
        assert_eq!(json["SmokeTestNotTested"], serde_json::json!(1.0));
        assert!(json.get("SmokeTestPassed").is_none());
        assert!(SmokeTestReport::ignored(Some("x".into()), "why".into())
            .metrics("P")
            .is_none());
    }
}
