//! Shared pieces of the integration tests: clients pointed at the local AWS
//! emulator (through the standard `AWS_ENDPOINT_URL`), unique names so
//! tests can run in parallel against one emulator, event fixtures from
//! `events/`, and the emulator's control API.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod crash;
pub mod fixtures;
pub mod lifecycle;
pub mod pause;
pub mod runtime_api;

/// The emulator's base URL; the tests cannot run without it.
pub fn emulator_url() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "integration tests need the local AWS emulator: run the README's test command \
             (scripts/test), or `scripts/emulator start` and export AWS_ENDPOINT_URL, \
             AWS_REGION and dummy AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    })
}

/// A name no other test in this run uses: `<label>-<pid>-<n>`.
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{}-{n}", std::process::id() % 100_000)
}

/// Repository root, for reading `events/`.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a JSON file from `events/`.
pub fn event_file(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// SDK clients built exactly as the functions build them.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub region: String,
}

impl Clients {
    pub async fn new() -> Self {
        emulator_url();
        let config = shared::aws::load_sdk_config().await;
        Clients {
            s3: aws_sdk_s3::Client::new(&config),
            sagemaker: aws_sdk_sagemaker::Client::new(&config),
            region: config
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
        }
    }

    /// A fresh versioned bucket.
    pub async fn versioned_bucket(&self, label: &str) -> String {
        let bucket = unique(label).to_ascii_lowercase();
        self.create_versioned_bucket(&bucket).await;
        bucket
    }

    /// Creates `bucket`, versioned.
    pub async fn create_versioned_bucket(&self, bucket: &str) {
        self.s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }

    /// Uploads an object; returns (version id, ETag without quotes).
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        metadata: &[(&str, &str)],
    ) -> (String, String) {
        let mut request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()));
        for (name, value) in metadata {
            request = request.metadata(*name, *value);
        }
        let out = request.send().await.expect("put object");
        (
            out.version_id().unwrap_or_default().to_string(),
            out.e_tag()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        )
    }
}

/// Calls the emulator's control API (`POST /_emulator/...`) with a JSON body.
pub fn emulator_post(path: &str, body: &Value) -> Value {
    emulator_call("POST", path, Some(body))
}

/// Calls the emulator's control API with DELETE and returns the JSON answer.
pub fn emulator_delete(path: &str) -> Value {
    emulator_call("DELETE", path, None)
}

/// One control-API request; panics unless the answer is 200.
fn emulator_call(method: &str, path: &str, body: Option<&Value>) -> Value {
    let url = emulator_url();
    let host_port = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host_port).expect("connect to emulator");
    let content = match body {
        Some(body) => {
            let payload = body.to_string();
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
        }
        None => "\r\n".to_string(),
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n{content}"
    )
    .expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "emulator control call {method} {path} failed: {head}\n{body}"
    );
    serde_json::from_str(body.trim()).unwrap_or(Value::Null)
}

/// Moves an endpoint to `status` as if SageMaker had finished its work.
pub fn set_endpoint_status(endpoint: &str, status: &str) {
    emulator_post(
        &format!("/_emulator/endpoints/{endpoint}/status"),
        &serde_json::json!({ "status": status }),
    );
}

/// Calls the emulator's control API with GET and returns the JSON answer.
pub fn emulator_get(path: &str) -> Value {
    emulator_call("GET", path, None)
}

/// Queues what the endpoint answers to its next InvokeEndpoint calls (the
/// last one repeats); see docs/emulator.md.
pub fn queue_invoke_results(endpoint: &str, results: Value) {
    emulator_post(
        &format!("/_emulator/endpoints/{endpoint}/invoke-results"),
        &serde_json::json!({ "results": results, "replace": true }),
    );
}

/// The InvokeEndpoint calls the endpoint received.
pub fn invocations(endpoint: &str) -> Vec<Value> {
    emulator_get(&format!("/_emulator/endpoints/{endpoint}/invocations"))["Invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One deployment of template.yaml that a test plays, so that
/// tests/policy can evaluate each call a function makes against that
/// function's policy as this deployment would hold it. Its resources are
/// named as tests/policy/template_policies.py resolves the template: the
/// models bucket `<stack>-<account>-<region>-models` (BucketPrefix is the
/// stack name), the execution role `<stack>-SageMakerExecutionRole`, the
/// topic `<stack>-NotificationTopic`. Each function gets its own clients,
/// signed with the access key id `<function>.<stack>` (any credentials work
/// with the emulator), which is how the emulator's call log tells the callers
/// apart; the tests' own set-up keeps the default credentials.
pub struct Stack {
    pub name: String,
    pub region: String,
}

pub const ACCOUNT: &str = "123456789012";

impl Stack {
    /// A new stack with these parameter values (the rest are the template's
    /// defaults), registered in the emulator's call log.
    pub async fn new(label: &str, parameters: &[(&str, &str)]) -> Stack {
        let config = shared::aws::load_sdk_config().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let stack = Stack {
            name: unique(label).to_ascii_lowercase(),
            region,
        };
        let mut values = serde_json::Map::new();
        values.insert("BucketPrefix".into(), stack.name.clone().into());
        for (k, v) in parameters {
            values.insert((*k).into(), (*v).into());
        }
        emulator_post(
            "/_emulator/calls/stacks",
            &serde_json::json!({ "stack": stack.name, "parameters": values }),
        );
        stack
    }

    pub fn models_bucket(&self) -> String {
        format!("{}-{ACCOUNT}-{}-models", self.name, self.region)
    }

    pub fn execution_role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{ACCOUNT}:role/{}-SageMakerExecutionRole",
            self.name
        )
    }

    /// The deployment ledger's DynamoDB table.
    pub fn ledger_table(&self) -> String {
        format!("{}-DeploymentLedger", self.name)
    }

    pub fn topic_name(&self) -> String {
        format!("{}-NotificationTopic", self.name)
    }

    /// The SDK configuration `function` runs with in this stack.
    pub async fn function_config(&self, function: &str) -> aws_config::SdkConfig {
        self.caller_config(&self.access_key_id(function)).await
    }

    /// The access key id `function` signs with in this stack (a binary
    /// gets it as `AWS_ACCESS_KEY_ID`).
    pub fn access_key_id(&self, function: &str) -> String {
        format!("{function}.{}", self.name)
    }

    /// The configuration of calls a test makes as `function` on purpose,
    /// to show its policy denies them (scenario: a short label).
    pub async fn forbidden_config(&self, function: &str, scenario: &str) -> aws_config::SdkConfig {
        self.caller_config(&format!("{function}.{}.deny-{scenario}", self.name))
            .await
    }

    async fn caller_config(&self, access_key_id: &str) -> aws_config::SdkConfig {
        use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
        shared::aws::load_sdk_config()
            .await
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                access_key_id,
                "test",
                None,
                None,
                "integration-tests",
            )))
            .build()
    }
}

/// The AWS calls the emulator recorded from `caller` (an access key id,
/// see [`Stack::access_key_id`]), oldest first, as `service:Operation`.
pub fn calls_by(caller: &str) -> Vec<String> {
    emulator_get(&format!("/_emulator/calls?caller={caller}"))["calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    format!(
                        "{}:{}",
                        c["service"].as_str().unwrap_or("?"),
                        c["operation"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
