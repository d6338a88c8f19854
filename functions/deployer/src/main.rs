use deployer::config::{DeployerConfig, QueueConfig};
use deployer::deploy::Deployer;
use deployer::queue::QueueConsumer;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::dynamodb::Ledger;
use shared::aws::outcomes::OutcomeReporter;
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::service_quotas::ServiceQuotas;
use shared::aws::sns::Notifier;
use shared::aws::sqs::DeployQueue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = shared::aws::load_sdk_config().await;
    let config = DeployerConfig::from_env(sdk_config.region().map(|r| r.to_string()))?;
    let queue_config = QueueConfig::from_env()?;
    let ledger = deployer::config::ledger_table()
        .map(|table| Ledger::new(aws_sdk_dynamodb::Client::new(&sdk_config), table));
    let consumer = QueueConsumer {
        deployer: Deployer {
            sagemaker: SageMaker::new(aws_sdk_sagemaker::Client::new(&sdk_config)),
            store: ArtifactStore::new(aws_sdk_s3::Client::new(&sdk_config)),
            config,
            ledger: ledger.clone(),
            quotas: ServiceQuotas::from_config(&sdk_config),
        },
        queue: queue_config
            .queue_url
            .clone()
            .map(|url| DeployQueue::new(aws_sdk_sqs::Client::new(&sdk_config), url)),
        outcomes: OutcomeReporter {
            ledger,
            notifier: Notifier::new(
                aws_sdk_sns::Client::new(&sdk_config),
                queue_config.notify_topic_arn.clone(),
            ),
            namespace: queue_config.metrics_namespace.clone(),
        },
        config: queue_config,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        deployer::dispatch(event, &consumer)
    }))
    .await
}
