use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::dynamodb::Ledger;
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::sns::Notifier;
use smoke_tester::config::SmokeTesterConfig;
use smoke_tester::invoke::Invoker;
use smoke_tester::tester::SmokeTester;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = shared::aws::load_sdk_config().await;
    let config = SmokeTesterConfig::from_env()?;
    // Invocations are timed one attempt at a time: the invoker retries
    // throttling itself, and a serverless call never takes over 60 s.
    let runtime_config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(62))
                .build(),
        )
        .build();
    let tester = SmokeTester {
        ledger: shared::env::optional("LEDGER_TABLE")
            .map(|table| Ledger::new(aws_sdk_dynamodb::Client::new(&sdk_config), table)),
        sagemaker: SageMaker::new(aws_sdk_sagemaker::Client::new(&sdk_config)),
        store: ArtifactStore::new(aws_sdk_s3::Client::new(&sdk_config)),
        invoker: Invoker::new(aws_sdk_sagemakerruntime::Client::from_conf(runtime_config)),
        outcomes: OutcomeReporter {
            // LEDGER_TABLE: the deployment ledger, where outcomes are recorded.
            ledger: shared::env::optional("LEDGER_TABLE")
                .map(|table| Ledger::new(aws_sdk_dynamodb::Client::new(&sdk_config), table)),
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(&sdk_config),
                config.notify_topic_arn.clone(),
            ),
            namespace: config.metrics_namespace.clone(),
        },
        config,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        smoke_tester::handle(event, &tester)
    }))
    .await
}
