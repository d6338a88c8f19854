//! An in-process, zero-latency SageMaker + CloudWatch (+ the Price List
//! API, `crate::prices`) for a synthetic fleet of `n` endpoints
//! ([`fleet`]). Every answer is computed from the endpoint's index (no
//! per-endpoint state), so the fake adds no memory that grows with the
//! fleet; the time it spends answering is tallied so it can be told apart
//! from the sweeper's own. This module routes each request by protocol;
//! [`sagemaker`] and [`cloudwatch`] answer them.

mod cloudwatch;
mod fleet;
mod sagemaker;

pub(crate) use fleet::{index_of, ACCOUNT};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use fleet::{kind, Kind, DAY};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const REGION: &str = "us-east-1";

/// Requests answered, by operation (retries counted), and time spent answering.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: Mutex<BTreeMap<String, u64>>,
    /// Requests naming one endpoint (or its config or model), by endpoint
    /// index: the rest (lists, Search, tags and metrics in bulk) serve the
    /// whole fleet.
    pub per_endpoint: Mutex<Vec<u64>>,
    pub answer_nanos: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct FakeAws {
    endpoints: usize,
    now: i64,
    pub tally: Arc<Tally>,
}

impl FakeAws {
    pub fn new(endpoints: usize) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let tally = Tally {
            per_endpoint: Mutex::new(vec![0; endpoints]),
            ..Tally::default()
        };
        FakeAws {
            endpoints,
            now,
            tally: Arc::new(tally),
        }
    }

    fn answer(&self, request: &HttpRequest) -> (String, HttpResponse) {
        let body = request.body().bytes().unwrap_or_default();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        if let Some(op) = target.strip_prefix("ResourceGroupsTaggingAPI_20170126.") {
            let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let (status, output) = self.tagging(op, &input);
            return (op.to_string(), json_response(status, &output));
        }
        if let Some(op) = target.strip_prefix("AWSPriceListService.") {
            let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let (status, output) = crate::prices::answer(op, &input);
            return (op.to_string(), json_response(status, &output));
        }
        if let Some(op) = target.strip_prefix("SageMaker.") {
            let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            self.count_endpoint(&input);
            let (status, output) = self.sagemaker(op, &input);
            return (op.to_string(), json_response(status, &output));
        }
        let uri = request.uri().to_string();
        if let Some(op) = uri.rsplit_once("/operation/").map(|(_, op)| op) {
            let op = op.split('?').next().unwrap_or(op).to_string();
            let gzip = request.headers().get("content-encoding") == Some("gzip");
            let mut inflated = Vec::new();
            let body = if gzip {
                flate2::read::GzDecoder::new(body)
                    .read_to_end(&mut inflated)
                    .expect("gzip request body");
                &inflated[..]
            } else {
                body
            };
            let (status, output) = if op == "GetMetricData" {
                (200, self.get_metric_data(body))
            } else {
                (400, unknown_cbor_operation(&op))
            };
            let mut response = HttpResponse::new(
                StatusCode::try_from(status).expect("valid status"),
                SdkBody::from(output),
            );
            response
                .headers_mut()
                .insert("content-type", "application/cbor");
            response
                .headers_mut()
                .insert("smithy-protocol", "rpc-v2-cbor");
            return (op, response);
        }
        // S3 (a report, only when REPORT_BUCKET is set) and anything else: 200, empty.
        let mut response =
            HttpResponse::new(StatusCode::try_from(200).expect("200"), SdkBody::empty());
        response.headers_mut().insert("etag", "\"bench\"");
        (format!("{} {}", request.method(), uri), response)
    }

    /// Counts a SageMaker request against the one endpoint it names, if any.
    fn count_endpoint(&self, input: &Value) {
        let named = [
            "EndpointName",
            "EndpointConfigName",
            "ModelName",
            "ResourceArn",
        ]
        .iter()
        .filter_map(|key| input.get(*key).and_then(Value::as_str))
        .find_map(|value| index_of(value.rsplit('/').next().unwrap_or(value)));
        if let (Some(i), Ok(mut counts)) = (named, self.tally.per_endpoint.lock()) {
            if let Some(count) = counts.get_mut(i) {
                *count += 1;
            }
        }
    }

    fn arn(&self, resource: &str, name: &str) -> String {
        format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name}")
    }

    fn created(&self, index: usize) -> i64 {
        let days = if kind(index) == Kind::Young { 1 } else { 60 };
        self.now - days * DAY
    }
}

fn unknown_cbor_operation(op: &str) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    let _ = e
        .map(2)
        .and_then(|e| e.str("__type"))
        .and_then(|e| e.str("UnknownOperationException"))
        .and_then(|e| e.str("message"))
        .and_then(|e| e.str(op));
    e.into_writer()
}

impl HttpConnector for FakeAws {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let started = Instant::now();
        let (op, response) = self.answer(&request);
        if let Ok(mut requests) = self.tally.requests.lock() {
            *requests.entry(op).or_insert(0) += 1;
        }
        self.tally
            .answer_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FakeAws {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// An answer in the AWS JSON 1.1 protocol (SageMaker, Resource Groups Tagging).
fn json_response(status: u16, output: &Value) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(output.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response
}
