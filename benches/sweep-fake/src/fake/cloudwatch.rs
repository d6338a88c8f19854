//! The fake's CloudWatch GetMetricData (RPC v2 CBOR): each series is the
//! endpoint kind's daily value, one datapoint a day, or none.

use super::fleet::{daily_value, index_of, kind, DAY};
use super::FakeAws;
use crate::cbor::{self, MetricResult};

impl FakeAws {
    pub(super) fn get_metric_data(&self, body: &[u8]) -> Vec<u8> {
        let input = cbor::decode(body).expect("a CBOR GetMetricData request");
        let start = input
            .get("StartTime")
            .and_then(cbor::Value::num)
            .unwrap_or(0.0) as i64;
        let end = input
            .get("EndTime")
            .and_then(cbor::Value::num)
            .unwrap_or(0.0) as i64;
        let queries = input
            .get("MetricDataQueries")
            .map(cbor::Value::items)
            .unwrap_or_default();
        let results: Vec<MetricResult<'_>> = queries
            .iter()
            .map(|q| {
                let id = q.get("Id").and_then(cbor::Value::str).unwrap_or_default();
                let metric = q.get("MetricStat").and_then(|s| s.get("Metric"));
                let metric_name = metric
                    .and_then(|m| m.get("MetricName"))
                    .and_then(cbor::Value::str)
                    .unwrap_or_default();
                let endpoint = metric
                    .and_then(|m| m.get("Dimensions"))
                    .map(cbor::Value::items)
                    .unwrap_or_default()
                    .iter()
                    .find(|d| d.get("Name").and_then(cbor::Value::str) == Some("EndpointName"))
                    .and_then(|d| d.get("Value"))
                    .and_then(cbor::Value::str)
                    .and_then(index_of);
                let daily = endpoint.and_then(|i| daily_value(kind(i), metric_name));
                let (timestamps, values) = match daily {
                    Some(value) => {
                        let mut t = start;
                        let (mut ts, mut vs) = (Vec::new(), Vec::new());
                        while t + DAY <= end {
                            ts.push(t);
                            vs.push(value);
                            t += DAY;
                        }
                        (ts, vs)
                    }
                    None => (Vec::new(), Vec::new()),
                };
                MetricResult {
                    id,
                    label: metric_name,
                    timestamps,
                    values,
                }
            })
            .collect();
        cbor::metric_data_response(&results)
    }
}
