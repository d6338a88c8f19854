use cost_sweeper::api_calls::ApiCalls;
use cost_sweeper::apply::Applier;
use cost_sweeper::config::SweepConfig;
use cost_sweeper::metrics::MetricsReader;
use cost_sweeper::observe::Observer;
use cost_sweeper::Sweeper;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::sagemaker::SageMaker;
use shared::aws::sns::Notifier;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk_config = shared::aws::load_sdk_config().await;
    let config = SweepConfig::from_env(sdk_config.region().map(|r| r.to_string()))?;
    // Every client counts its calls into one tally (reported per sweep).
    let api_calls = ApiCalls::default();
    let sagemaker = aws_sdk_sagemaker::Client::from_conf(
        aws_sdk_sagemaker::config::Builder::from(&sdk_config)
            .interceptor(api_calls.clone())
            .build(),
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk_config)
            .interceptor(api_calls.clone())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk_config)
            .interceptor(api_calls.clone())
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .interceptor(api_calls.clone())
            .build(),
    );
    let sweeper = Sweeper {
        observer: Observer::new(sagemaker.clone()),
        metrics: MetricsReader::new(cloudwatch),
        applier: Applier {
            sagemaker: SageMaker::new(sagemaker),
            notifier: Notifier::new(sns, config.notify_topic_arn.clone()),
        },
        s3,
        config,
        api_calls,
    };
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        cost_sweeper::handle(event, &sweeper)
    }))
    .await
}
