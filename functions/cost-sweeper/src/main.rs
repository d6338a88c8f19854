use cost_sweeper::config::SweepConfig;
use cost_sweeper::sweeper::{self, Sweeper};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = shared::aws::load_sdk_config().await;
    let config = SweepConfig::from_env(sdk_config.region().map(|r| r.to_string()))?;
    let sweeper = Sweeper::new(&sdk_config, config);
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        sweeper::handle(event, &sweeper)
    }))
    .await
}
