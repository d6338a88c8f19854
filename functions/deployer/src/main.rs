use deployer::config::DeployerConfig;
use deployer::deploy::Deployer;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = shared::aws::load_sdk_config().await;
    let config = DeployerConfig::from_env(sdk_config.region().map(|r| r.to_string()))?;
    let deployer = Deployer {
        sagemaker: SageMaker::new(aws_sdk_sagemaker::Client::new(&sdk_config)),
        store: ArtifactStore::new(aws_sdk_s3::Client::new(&sdk_config)),
        config,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        deployer::handle(event, &deployer)
    }))
    .await
}
