//! The fake's SageMaker (JSON 1.1) and Resource Groups Tagging answers.

use super::fleet::{index_of, kind, name, tags, variants, Kind, ACCOUNT};
use super::FakeAws;
use serde_json::{json, Value};

impl FakeAws {
    pub(super) fn sagemaker(&self, op: &str, input: &Value) -> (u16, Value) {
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
    pub(super) fn tagging(&self, op: &str, input: &Value) -> (u16, Value) {
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
