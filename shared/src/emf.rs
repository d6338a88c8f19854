//! CloudWatch Embedded Metric Format: metrics published as one structured
//! log line, with no API call (CloudWatch Logs extracts them).
//! Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

use serde_json::{json, Map, Value};
use std::io::Write;

/// CloudWatch namespace of every metric the pipeline publishes, unless a
/// function's `METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "ServerlessInferencePipeline";

/// Units this pipeline uses (a subset of CloudWatch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Bytes,
    Count,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Count => "Count",
            Unit::None => "None",
        }
    }
}

/// One EMF document: a namespace, dimension values, metrics and extra
/// properties (searchable in Logs Insights, not metrics).
#[derive(Debug, Clone)]
pub struct MetricDocument {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, f64)>,
    properties: Map<String, Value>,
}

impl MetricDocument {
    pub fn new(namespace: impl Into<String>) -> Self {
        MetricDocument {
            namespace: namespace.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_string(), value.to_string()));
        self
    }

    pub fn metric(mut self, name: &str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name.to_string(), unit, value));
        self
    }

    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.properties.insert(name.to_string(), value);
        self
    }

    /// The document as JSON, stamped with `timestamp_ms` (epoch milliseconds).
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let mut root = self.properties.clone();
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), json!(value));
        }
        for (name, _, value) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let metric_definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": metric_definitions,
                }]
            }),
        );
        Value::Object(root)
    }

    /// Writes the document as one line on stdout, where Lambda's log
    /// capture hands it to CloudWatch.
    pub fn emit(&self) {
        let line = self
            .to_json(chrono::Utc::now().timestamp_millis())
            .to_string();
        let mut out = std::io::stdout().lock();
        // A lost metric line must not fail the function.
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_emf_specification() {
        let doc = MetricDocument::new("ServerlessPipeline")
            .dimension("EndpointName", "fraud")
            .metric("ColdStartLatency", Unit::Milliseconds, 812.5)
            .metric("SmokeTestPassed", Unit::Count, 1.0)
            .property("EndpointConfigName", json!("fraud-abc"));
        let parsed: Value =
            serde_json::from_str(&doc.to_json(1_800_000_000_000).to_string()).unwrap();
        let aws = &parsed["_aws"];
        assert_eq!(aws["Timestamp"], json!(1_800_000_000_000i64));
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ServerlessPipeline");
        assert_eq!(directive["Dimensions"], json!([["EndpointName"]]));
        assert_eq!(
            directive["Metrics"][0],
            json!({"Name": "ColdStartLatency", "Unit": "Milliseconds"})
        );
        // Every dimension and metric named in the directive has a root value.
        assert_eq!(parsed["EndpointName"], "fraud");
        assert_eq!(parsed["ColdStartLatency"], json!(812.5));
        assert_eq!(parsed["SmokeTestPassed"], json!(1.0));
        assert_eq!(parsed["EndpointConfigName"], "fraud-abc");
    }
}
