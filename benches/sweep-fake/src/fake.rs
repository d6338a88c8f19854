//! An in-process, zero-latency SageMaker + CloudWatch (+ the Price List
//! API, `crate::prices`) for a synthetic fleet of `n` endpoints. Every answer is computed from the endpoint's index (no
//! per-endpoint state), so the fake adds no memory that grows with the fleet;
//! the time it spends answering is tallied so it can be told apart from the
//! sweeper's own.

use crate::cbor::{self, MetricResult};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const DAY: i64 = 86_400;

/// What endpoint `i` is: a fixed mix, the same at every fleet size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One ml.m5.large, a few invocations a day: a migration candidate.
    IdleCpu,
    /// One ml.m5.large with no datapoints at all (no traffic).
    SilentCpu,
    /// 50,000 invocations a day: stays.
    BusyCpu,
    /// ml.g5.xlarge, idle: GPU, not migratable.
    Gpu,
    /// Two ml.c5.large variants, idle.
    MultiVariant,
    /// Already serverless.
    Serverless,
    /// Idle but tagged serverless-migration=exclude.
    OptedOut,
    /// Idle but created yesterday (inside the grace period).
    Young,
    /// Two ml.m5.xlarge instances, idle.
    IdleCpuTwoInstances,
}

const MIX: [Kind; 10] = [
    Kind::IdleCpu,
    Kind::SilentCpu,
    Kind::IdleCpu,
    Kind::BusyCpu,
    Kind::Gpu,
    Kind::MultiVariant,
    Kind::Serverless,
    Kind::OptedOut,
    Kind::Young,
    Kind::IdleCpuTwoInstances,
];

pub fn kind(index: usize) -> Kind {
    MIX[index % MIX.len()]
}

fn name(index: usize) -> String {
    format!("bench-fleet-{index:05}")
}

pub fn index_of(name: &str) -> Option<usize> {
    name.strip_prefix("bench-fleet-")?.get(..5)?.parse().ok()
}

struct VariantSpec {
    name: &'static str,
    instance_type: Option<&'static str>,
    count: u32,
}

fn variants(kind: Kind) -> Vec<VariantSpec> {
    let one = |instance_type, count| VariantSpec {
        name: "AllTraffic",
        instance_type,
        count,
    };
    match kind {
        Kind::Gpu => vec![one(Some("ml.g5.xlarge"), 1)],
        Kind::MultiVariant => vec![
            VariantSpec {
                name: "Blue",
                instance_type: Some("ml.c5.large"),
                count: 1,
            },
            VariantSpec {
                name: "Green",
                instance_type: Some("ml.c5.large"),
                count: 1,
            },
        ],
        Kind::Serverless => vec![one(None, 0)],
        Kind::IdleCpuTwoInstances => vec![one(Some("ml.m5.xlarge"), 2)],
        _ => vec![one(Some("ml.m5.large"), 1)],
    }
}

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

    fn sagemaker(&self, op: &str, input: &Value) -> (u16, Value) {
        let text = |key: &str| input.get(key).and_then(Value::as_str).unwrap_or_default();
        let not_found = |what: &str| {
            (
                400,
                json!({"__type": "ValidationException", "message": format!("Could not find {what}.")}),
            )
        };
        match op {
            "ListEndpoints" => {
                let (from, max) = page_of(input);
                let fragment = text("NameContains");
                let mut page = Vec::with_capacity(max);
                let mut i = from;
                while i < self.endpoints && page.len() < max {
                    let n = name(i);
                    if n.contains(fragment) {
                        page.push(json!({
                            "EndpointName": n,
                            "EndpointArn": self.arn("endpoint", &n),
                            "CreationTime": self.created(i),
                            "LastModifiedTime": self.created(i),
                            "EndpointStatus": "InService",
                        }));
                    }
                    i += 1;
                }
                let mut out = json!({ "Endpoints": page });
                if i < self.endpoints {
                    out["NextToken"] = json!(i.to_string());
                }
                (200, out)
            }
            "DescribeEndpoint" => {
                let Some(i) = index_of(text("EndpointName")).filter(|i| *i < self.endpoints) else {
                    return not_found("endpoint");
                };
                (200, self.endpoint(i))
            }
            // The Endpoint resource only, 100 records a page (the index is
            // always current here).
            "Search" if text("Resource") == "Endpoint" => {
                let (from, max) = page_of(input);
                let to = (from + max).min(self.endpoints);
                let records: Vec<Value> = (from..to)
                    .map(|i| {
                        let mut endpoint = self.endpoint(i);
                        endpoint["Tags"] = json!(tags(i));
                        json!({ "Endpoint": endpoint })
                    })
                    .collect();
                let mut out = json!({ "Results": records });
                if to < self.endpoints {
                    out["NextToken"] = json!(to.to_string());
                }
                (200, out)
            }
            "DescribeEndpointConfig" => {
                let config = text("EndpointConfigName");
                let Some(i) = index_of(config).filter(|i| *i < self.endpoints) else {
                    return not_found("endpoint configuration");
                };
                let n = name(i);
                let variants: Vec<Value> = variants(kind(i))
                    .iter()
                    .map(|v| {
                        let mut variant = json!({
                            "VariantName": v.name,
                            "ModelName": format!("{n}-model"),
                            "InitialVariantWeight": 1.0,
                        });
                        match v.instance_type {
                            Some(t) => {
                                variant["InstanceType"] = json!(t);
                                variant["InitialInstanceCount"] = json!(v.count);
                            }
                            None => {
                                variant["ServerlessConfig"] =
                                    json!({"MemorySizeInMB": 2048, "MaxConcurrency": 10});
                            }
                        }
                        variant
                    })
                    .collect();
                (
                    200,
                    json!({
                        "EndpointConfigName": config,
                        "EndpointConfigArn": self.arn("endpoint-config", config),
                        "ProductionVariants": variants,
                        "CreationTime": self.created(i),
                    }),
                )
            }
            "ListTags" => {
                let arn = text("ResourceArn");
                let tags = arn.rsplit('/').next().and_then(index_of).map(tags);
                (200, json!({ "Tags": tags.unwrap_or_default() }))
            }
            "DescribeModel" => {
                let model = text("ModelName");
                let Some(i) = index_of(model).filter(|i| *i < self.endpoints) else {
                    return not_found("model");
                };
                let image = if kind(i) == Kind::Gpu {
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-gpu-py310"
                } else {
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/sklearn-inference:1.2-1-cpu-py3"
                };
                (
                    200,
                    json!({
                        "ModelName": model,
                        "ModelArn": self.arn("model", model),
                        "ExecutionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/bench-sagemaker"),
                        "PrimaryContainer": {
                            "Image": image,
                            "ModelDataUrl": format!("s3://bench-models-{ACCOUNT}/{model}/model.tar.gz"),
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                        },
                        "CreationTime": self.created(i),
                    }),
                )
            }
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": format!("{other} is not faked")}),
            ),
        }
    }

    /// GetResources by ARN list (the fleet's endpoints all carry tags).
    fn tagging(&self, op: &str, input: &Value) -> (u16, Value) {
        if op != "GetResources" {
            return (
                400,
                json!({"__type": "UnknownOperationException", "message": format!("{op} is not faked")}),
            );
        }
        let mappings: Vec<Value> = input
            .get("ResourceARNList")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|arn| {
                let i = arn.rsplit('/').next().and_then(index_of)?;
                (i < self.endpoints).then(|| json!({"ResourceARN": arn, "Tags": tags(i)}))
            })
            .collect();
        (
            200,
            json!({"ResourceTagMappingList": mappings, "PaginationToken": ""}),
        )
    }

    fn get_metric_data(&self, body: &[u8]) -> Vec<u8> {
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

    /// DescribeEndpoint's answer for endpoint `i` (also its Search record).
    fn endpoint(&self, i: usize) -> Value {
        let n = name(i);
        let variants: Vec<Value> = variants(kind(i))
            .iter()
            .map(|v| {
                let mut variant = json!({"VariantName": v.name, "CurrentWeight": 1.0});
                if v.instance_type.is_some() {
                    variant["CurrentInstanceCount"] = json!(v.count);
                    variant["DesiredInstanceCount"] = json!(v.count);
                } else {
                    variant["CurrentServerlessConfig"] =
                        json!({"MemorySizeInMB": 2048, "MaxConcurrency": 10});
                }
                variant
            })
            .collect();
        json!({
            "EndpointName": n,
            "EndpointArn": self.arn("endpoint", &n),
            "EndpointConfigName": format!("{n}-config"),
            "ProductionVariants": variants,
            "EndpointStatus": "InService",
            "CreationTime": self.created(i),
            "LastModifiedTime": self.created(i),
        })
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

/// Where a paged list call starts (its NextToken: an index) and how many
/// it takes (MaxResults: 10 by default, 100 at most).
fn page_of(input: &Value) -> (usize, usize) {
    let max = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .clamp(1, 100) as usize;
    let from = input
        .get("NextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    (from, max)
}

/// The tags of endpoint `i`.
fn tags(i: usize) -> Vec<Value> {
    let mut tags = vec![
        json!({"Key": "team", "Value": "bench"}),
        json!({
            "Key": "serverless-migration:smoke-test",
            "Value": format!("s3://bench-models-{ACCOUNT}/smoke/{}.json", name(i)),
        }),
    ];
    if kind(i) == Kind::OptedOut {
        tags.push(json!({"Key": "serverless-migration", "Value": "exclude"}));
    }
    tags
}

/// The value of each daily bucket, or `None` for no datapoints.
fn daily_value(kind: Kind, metric: &str) -> Option<f64> {
    let invocations = match kind {
        Kind::SilentCpu => return None,
        Kind::BusyCpu => 50_000.0,
        _ => 4.0,
    };
    match metric {
        "Invocations" => Some(invocations),
        "ModelLatency" => Some(if kind == Kind::BusyCpu {
            8_000.0
        } else {
            25_000.0
        }),
        "MemoryUtilization" => Some(35.0),
        _ => None,
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
