//! Helpers shared by the adapter tests: mocked clients with fast retries,
//! a recorder of the HTTP requests the SDK really sent, and error responses
//! shaped like SageMaker's (awsJson1_1) and S3's (REST-XML).

use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sagemaker::config::retry::RetryConfig;
use aws_sdk_sagemaker::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sagemaker::error::BoxError;
use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use aws_smithy_types::body::SdkBody;
use shared::aws::pricing::PriceList;
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts (first try included) every mocked client makes.
pub const MAX_ATTEMPTS: u32 = 4;

/// The production retry mode with `MAX_ATTEMPTS` and no real waiting.
pub fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::ZERO)
        .with_max_backoff(Duration::from_millis(1))
}

/// One request as it went on the wire.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    pub uri: String,
    /// `X-Amz-Target` (awsJson operation name), if any.
    pub target: Option<String>,
    pub body: String,
}

impl SentRequest {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body))
    }
}

/// Records every attempt's HTTP request (so retries show up too).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<SentRequest>>>);

impl Recorder {
    pub fn requests(&self) -> Vec<SentRequest> {
        self.0.lock().unwrap().clone()
    }

    /// The only request sent; fails if there were more or none.
    pub fn single(&self) -> SentRequest {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:#?}"
        );
        requests.into_iter().next().unwrap()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(SentRequest {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            target: request.headers().get("x-amz-target").map(str::to_string),
            body,
        });
        Ok(())
    }
}

/// A mocked client of an SDK crate: answers from `rules` in order, retries
/// fast, and records every request into `recorder`.
macro_rules! recorded_client {
    ($sdk:ident, $rules:expr, $recorder:expr) => {{
        let interceptor = $recorder.clone();
        mock_client!($sdk, RuleMode::Sequential, $rules, move |c| c
            .retry_config(fast_retries())
            .interceptor(interceptor.clone()))
    }};
}

/// A SageMaker adapter whose client answers from `rules`, in order.
pub fn sagemaker(rules: &[&Rule]) -> (SageMaker, Recorder) {
    let recorder = Recorder::default();
    let client = recorded_client!(aws_sdk_sagemaker, rules, recorder);
    (SageMaker::new(client), recorder)
}

/// An S3 adapter whose client answers from `rules`, in order.
pub fn s3(rules: &[&Rule]) -> (ArtifactStore, Recorder) {
    let recorder = Recorder::default();
    let client = recorded_client!(aws_sdk_s3, rules, recorder);
    (ArtifactStore::new(client), recorder)
}

/// A Price List adapter whose client answers from `rules`, in order.
pub fn price_list(rules: &[&Rule]) -> (PriceList, Recorder) {
    let recorder = Recorder::default();
    let client = recorded_client!(aws_sdk_pricing, rules, recorder);
    (PriceList::from_client(client), recorder)
}

/// An HTTP response with headers and body.
pub fn http(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    let mut response =
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name.to_string(), value.to_string());
    }
    response
}

/// A SageMaker (awsJson1_1) error as the service sends it.
pub fn sagemaker_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "__type": code, "Message": message }).to_string();
    http(
        status,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-requestid", "3f1e7c2a-0000-4000-8000-000000000000"),
        ],
        &body,
    )
}

/// A successful SageMaker (awsJson1_1) response.
pub fn sagemaker_ok(body: serde_json::Value) -> HttpResponse {
    http(
        200,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-requestid", "3f1e7c2a-0000-4000-8000-000000000001"),
        ],
        &body.to_string(),
    )
}

/// An S3 (REST-XML) error as the service sends it.
pub fn s3_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>4442587FB7D0A2F9</RequestId><HostId>aGVsbG8=</HostId></Error>"
    );
    http(
        status,
        &[
            ("content-type", "application/xml"),
            ("x-amz-request-id", "4442587FB7D0A2F9"),
        ],
        &body,
    )
}

pub const ENDPOINT_ARN: &str = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/churn-model";
pub const CONFIG_ARN: &str =
    "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/churn-model-r-0a1b2c3d4e5f";
pub const MODEL_ARN: &str =
    "arn:aws:sagemaker:eu-west-1:123456789012:model/churn-model-r-0a1b2c3d4e5f";
