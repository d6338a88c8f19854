//! Calling the endpoint through SageMaker Runtime `InvokeEndpoint`, timing
//! each call. Throttling is retried here with backoff (the client's own
//! retries are off, so a retried attempt never inflates a latency); a
//! model error is an answer, not something to retry.

use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use shared::aws::{AwsError, AwsErrorKind};
use std::fmt;
use std::time::{Duration, Instant};

/// A prepared request: content type, optional accept, body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub content_type: String,
    pub accept: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeFailure {
    /// The container answered 4xx/5xx (SageMaker's `ModelError`).
    Model {
        message: String,
        original_status: Option<i32>,
    },
    /// Still throttled after every retry.
    Throttled { attempts: u32, message: String },
    /// Anything else SageMaker Runtime said (validation, unavailable, timeout).
    Call(AwsError),
}

impl fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeFailure::Model {
                message,
                original_status,
            } => write!(
                f,
                "the model returned an error{}: {message}",
                original_status
                    .map(|s| format!(" (HTTP {s})"))
                    .unwrap_or_default()
            ),
            InvokeFailure::Throttled { attempts, message } => {
                write!(f, "throttled on all {attempts} attempts: {message}")
            }
            InvokeFailure::Call(e) => write!(f, "{e}"),
        }
    }
}

/// One call: how long the answering attempt took, and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub latency: Duration,
    pub outcome: Result<Response, InvokeFailure>,
}

#[derive(Clone, Debug)]
pub struct Invoker {
    client: aws_sdk_sagemakerruntime::Client,
    /// Attempts per call when throttled (first try included).
    pub max_attempts: u32,
    /// First backoff; doubles each retry.
    pub backoff: Duration,
}

impl Invoker {
    pub fn new(client: aws_sdk_sagemakerruntime::Client) -> Self {
        Invoker {
            client,
            max_attempts: 5,
            backoff: Duration::from_millis(250),
        }
    }

    /// Invokes once, retrying only throttling (with doubling backoff).
    pub async fn call(&self, endpoint: &str, payload: &Payload) -> CallResult {
        let mut attempt = 1;
        loop {
            let (latency, outcome) = self.attempt(endpoint, payload).await;
            match outcome {
                Err(Retry::Throttled(_)) if attempt < self.max_attempts => {
                    tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                Err(Retry::Throttled(message)) => {
                    return CallResult {
                        latency,
                        outcome: Err(InvokeFailure::Throttled {
                            attempts: attempt,
                            message,
                        }),
                    }
                }
                Err(Retry::No(failure)) => {
                    return CallResult {
                        latency,
                        outcome: Err(failure),
                    }
                }
                Ok(response) => {
                    return CallResult {
                        latency,
                        outcome: Ok(response),
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        endpoint: &str,
        payload: &Payload,
    ) -> (Duration, Result<Response, Retry>) {
        let started = Instant::now();
        let result = self
            .client
            .invoke_endpoint()
            .endpoint_name(endpoint)
            .content_type(&payload.content_type)
            .set_accept(payload.accept.clone())
            .body(Blob::new(payload.body.clone()))
            .send()
            .await;
        let latency = started.elapsed();
        let outcome = match result {
            Ok(out) => Ok(Response {
                body: out.body().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
                content_type: out.content_type().map(str::to_string),
            }),
            Err(err) => Err(classify(err)),
        };
        (latency, outcome)
    }
}

enum Retry {
    Throttled(String),
    No(InvokeFailure),
}

fn classify(
    err: aws_sdk_sagemakerruntime::error::SdkError<
        InvokeEndpointError,
        aws_sdk_sagemakerruntime::config::http::HttpResponse,
    >,
) -> Retry {
    if let Some(InvokeEndpointError::ModelError(model)) = err.as_service_error() {
        return Retry::No(InvokeFailure::Model {
            message: model.message().unwrap_or("no message").to_string(),
            original_status: model.original_status_code(),
        });
    }
    // A serverless endpoint still provisioning answers ModelNotReady: wait, like throttling.
    let not_ready = matches!(
        err.as_service_error(),
        Some(InvokeEndpointError::ModelNotReadyException(_))
    );
    let error = AwsError::from_sdk("InvokeEndpoint", err);
    if not_ready || error.kind == AwsErrorKind::Throttled {
        Retry::Throttled(error.message)
    } else {
        Retry::No(InvokeFailure::Call(error))
    }
}
