//! One invocation end to end: parse the event, observe the fleet, read its
//! traffic, plan, apply each step (unless dry run), publish the report.
//! Also a revert on request.

use crate::aws::api_calls::ApiCalls;
use crate::aws::apply::{Applied, Applier};
use crate::aws::bulk_tags::BulkTags;
use crate::aws::metrics::{self, MetricsReader};
use crate::aws::observe::Observer;
use crate::config::{SweepConfig, SweepRequest};
use crate::domain::fleet::{migration_tags, Usage};
use crate::domain::prices::{LivePrices, Prices};
use crate::domain::steps::Action;
use crate::domain::{eligibility, rows};
use crate::domain::{plan, revert};
use crate::publish;
use crate::report::{EndpointError, StepOutcome, StepStatus, SweepReport};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::aws::pricing::{PriceList, PRICE_LIST_REGION};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::service_quotas::ServiceQuotas;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use tracing::{error, info, warn};

/// Everything a sweep needs, built once per Lambda instance.
pub struct Sweeper {
    observer: Observer,
    metrics: MetricsReader,
    tags: BulkTags,
    applier: Applier,
    price_list: PriceList,
    reports: ArtifactStore,
    pub config: SweepConfig,
    api_calls: ApiCalls,
}

impl Sweeper {
    /// Clients from `sdk_config` (region, credentials and endpoint from the
    /// standard sources), each counting its calls into one tally.
    pub fn new(sdk_config: &aws_config::SdkConfig, config: SweepConfig) -> Self {
        let api_calls = ApiCalls::default();
        let sagemaker = aws_sdk_sagemaker::Client::from_conf(
            aws_sdk_sagemaker::config::Builder::from(sdk_config)
                .interceptor(api_calls.clone())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(sdk_config)
                .interceptor(api_calls.clone())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk_config)
                .interceptor(api_calls.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk_config)
                .interceptor(api_calls.clone())
                .build(),
        );
        // The Price List Query API answers in us-east-1 for every Region's
        // prices; endpoint and credentials come from `sdk_config` as for the rest.
        let pricing = aws_sdk_pricing::Client::from_conf(
            aws_sdk_pricing::config::Builder::from(sdk_config)
                .region(aws_sdk_pricing::config::Region::new(PRICE_LIST_REGION))
                .interceptor(api_calls.clone())
                .build(),
        );
        let tagging = aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::config::Builder::from(sdk_config)
                .interceptor(api_calls.clone())
                .build(),
        );
        let sagemaker = SageMaker::new(sagemaker);
        let metrics = MetricsReader::new(cloudwatch);
        Sweeper {
            observer: Observer::new(sagemaker.clone()),
            metrics: metrics.clone(),
            tags: BulkTags::new(tagging),
            applier: Applier {
                sagemaker,
                notifier: shared::aws::sns::Notifier::new(sns, config.notify_topic_arn.clone()),
                metrics,
                quotas: ServiceQuotas::new(aws_sdk_servicequotas::Client::from_conf(
                    aws_sdk_servicequotas::config::Builder::from(sdk_config)
                        .interceptor(api_calls.clone())
                        .build(),
                )),
                deadline: None,
            },
            price_list: PriceList::from_client(pricing),
            reports: ArtifactStore::new(s3),
            config,
            api_calls,
        }
    }
}

/// Why a sweep could not run (or finished with failures).
#[derive(Debug)]
pub enum SweepFailed {
    /// Nothing was decided: the input or a fleet-wide read failed.
    Aborted { message: String, retryable: bool },
    /// The sweep ran; some endpoints or steps failed (in the report).
    Partial(Box<SweepReport>),
}

impl fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepFailed::Aborted { message, .. } => write!(f, "sweep aborted: {message}"),
            SweepFailed::Partial(report) => {
                let failed: Vec<String> = report
                    .steps
                    .iter()
                    .filter(|s| s.status == StepStatus::Failed)
                    .map(|s| format!("{} {}: {}", s.endpoint, s.step, s.message))
                    .chain(
                        report
                            .errors
                            .iter()
                            .map(|e| format!("{}: {}", e.endpoint, e.error)),
                    )
                    .collect();
                write!(
                    f,
                    "sweep finished with {} failures (the next run retries them): {}",
                    failed.len(),
                    failed.join("; ")
                )
            }
        }
    }
}

impl std::error::Error for SweepFailed {}

impl From<SweepFailed> for lambda_runtime::Diagnostic {
    fn from(failed: SweepFailed) -> Self {
        let retryable = match &failed {
            SweepFailed::Aborted { retryable, .. } => *retryable,
            SweepFailed::Partial(_) => true,
        };
        lambda_runtime::Diagnostic {
            error_type: if retryable {
                "Sweep.Retryable".into()
            } else {
                "Sweep.NonRetryable".into()
            },
            error_message: failed.to_string(),
        }
    }
}

fn aborted(e: shared::aws::AwsError) -> SweepFailed {
    SweepFailed::Aborted {
        retryable: e.is_retryable(),
        message: e.to_string(),
    }
}

/// Handles one invocation: a scheduled sweep, a direct one with options,
/// or a revert.
pub async fn handle(
    event: LambdaEvent<Value>,
    sweeper: &Sweeper,
) -> Result<SweepReport, SweepFailed> {
    let request = SweepRequest::from_event(&event.payload).map_err(|e| SweepFailed::Aborted {
        message: e.to_string(),
        retryable: false,
    })?;
    let mut config = sweeper.config.for_request(&request);
    config.invocation_deadline = invocation_deadline(event.context.deadline);
    let report = match &request.revert {
        Some(name) => {
            revert(
                sweeper,
                &config,
                name,
                request.dry_run.unwrap_or(false),
                Utc::now(),
            )
            .await?
        }
        None => sweep(sweeper, &config, Utc::now()).await?,
    };
    if report.has_failures() {
        error!(report = %report.summary(), "sweep finished with failures");
        return Err(SweepFailed::Partial(Box::new(report)));
    }
    info!(report = %report.summary(), "sweep finished");
    Ok(report)
}

/// Lambda's deadline (milliseconds since the epoch; 0 outside Lambda) as
/// an instant of the runtime's clock.
fn invocation_deadline(deadline_ms: u64) -> Option<tokio::time::Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let end = std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms);
    let left = end
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Some(tokio::time::Instant::now() + left)
}

/// One sweep: observe, read metrics, plan, apply (unless dry run), report.
pub async fn sweep(
    sweeper: &Sweeper,
    config: &SweepConfig,
    now: DateTime<Utc>,
) -> Result<SweepReport, SweepFailed> {
    let calls_before = sweeper.api_calls.snapshot();
    let config = &SweepConfig {
        prices: run_prices(sweeper, config, now).await,
        ..config.clone()
    };
    let listed = sweeper
        .observer
        .list_endpoints(config.endpoint_name_contains.as_deref())
        .await
        .map_err(aborted)?;
    // Tags in bulk first: opted-out and young endpoints are settled from
    // them and their creation time, without describing them.
    let arns: Vec<String> = listed.iter().map(|l| l.arn.clone()).collect();
    let tags = sweeper.tags.tags_of(&arns).await.map_err(aborted)?;
    let claimed: BTreeSet<&str> = tags
        .values()
        .filter_map(|t| t.get(migration_tags::MIGRATION_OF))
        .map(String::as_str)
        .collect();
    let none = BTreeMap::new();
    let mut settled = Vec::new();
    let mut to_describe = Vec::with_capacity(listed.len());
    for l in &listed {
        let own = tags.get(&l.arn).unwrap_or(&none);
        match eligibility::settled_before_describe(&l.name, own, l.created, &claimed, config, now) {
            Some(reason) => settled.push(rows::undescribed_row(&l.name, &reason)),
            None => to_describe.push(l.clone()),
        }
    }
    // What each endpoint runs from Search, in bulk; configs only where the
    // endpoint itself does not decide (serverless, several variants).
    let (mut views, describe_errors) = sweeper
        .observer
        .observe(
            &to_describe,
            config.endpoint_name_contains.as_deref(),
            &tags,
            |v| eligibility::settled_without_config(v, &claimed),
            config.describe_concurrency,
        )
        .await;
    drop(claimed);
    drop(tags);

    let series = metrics::series_for(&views);
    let window = metrics::Window::new(now, config.lookback_days, config.drain_days);
    let readings = sweeper
        .metrics
        .read(&series, &window)
        .await
        .map_err(aborted)?;
    let mut usage = metrics::usage_from(&series, &readings.points, &window);
    metrics::mark_gaps(&mut usage, &series, &readings.gaps);
    drop(readings);

    // The busiest minute, only for candidates whose busiest day could hide
    // a burst over MaxConcurrency (minute series are large).
    let zero = Usage::default();
    let bursty = views
        .iter()
        .filter(|v| plan::needs_peak_minute(v, usage.get(&v.name).unwrap_or(&zero), config, now));
    let minute_series = metrics::minute_series_for(bursty);
    if !minute_series.is_empty() {
        let minutes = window.minutes();
        let readings = sweeper
            .metrics
            .read(&minute_series, &minutes)
            .await
            .map_err(aborted)?;
        metrics::add_peak_minutes(&mut usage, &minute_series, &readings.points, &minutes);
        metrics::mark_gaps(&mut usage, &minute_series, &readings.gaps);
    }

    let model_errors = sweeper
        .observer
        .describe_models(
            &mut views,
            |v| plan::needs_model(v, usage.get(&v.name).unwrap_or(&zero), config, now),
            config.describe_concurrency,
        )
        .await;
    let mut planned = plan::plan(&views, &usage, config, now);
    planned.rows.extend(settled);
    planned.rows.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));

    let mut steps = Vec::with_capacity(planned.steps.len());
    for step in &planned.steps {
        steps.push(
            apply_step(
                sweeper,
                (config.dry_run, config.invocation_deadline),
                &step.endpoint,
                &step.action,
                now,
            )
            .await,
        );
    }
    let errors = describe_errors
        .into_iter()
        .chain(model_errors)
        .map(|(endpoint, e)| EndpointError {
            endpoint,
            error: e.to_string(),
        })
        .collect();
    let mut report = SweepReport::new(
        now,
        &config.region,
        config.dry_run,
        planned.rows,
        steps,
        errors,
        series.len() + minute_series.len(),
        sweeper.api_calls.since(&calls_before),
    );
    report.prices = config.prices.origin(&config.region);
    let notifier = &sweeper.applier.notifier;
    Ok(publish::publish(&sweeper.reports, notifier, config, report, now).await)
}

/// This run's prices: the Price List API's answer for the Region (one set
/// of GetProducts calls per run, used for every endpoint) in front of the
/// table. An answer that fails or is empty leaves the table alone, and the
/// report says why; the sweep goes on.
async fn run_prices(sweeper: &Sweeper, config: &SweepConfig, now: DateTime<Utc>) -> Prices {
    match sweeper.price_list.sagemaker_prices(&config.region).await {
        Ok(prices) if !prices.is_empty() => config.prices.with_live(LivePrices {
            region: config.region.clone(),
            prices,
            fetched_at: now,
        }),
        Ok(_) => config.prices.without_live(format!(
            "the price list has no SageMaker prices for {}",
            config.region
        )),
        Err(e) => {
            warn!(error = %e, "price list not read; pricing from the embedded table");
            config.prices.without_live(e.to_string())
        }
    }
}

/// Applies one step (or reports it as planned in a dry run). A failed
/// start leaves nothing recorded on the original: the report (and the
/// sweep's error) says why, and the next run decides afresh.
/// `run` is the dry-run switch and when the invocation ends.
async fn apply_step(
    sweeper: &Sweeper,
    (dry_run, deadline): (bool, Option<tokio::time::Instant>),
    endpoint: &str,
    action: &Action,
    now: DateTime<Utc>,
) -> StepOutcome {
    let outcome = |status, message: String| StepOutcome {
        endpoint: endpoint.to_string(),
        step: action.name(),
        status,
        message,
    };
    if dry_run {
        return outcome(StepStatus::Planned, describe_action(action));
    }
    let applier = Applier {
        deadline,
        ..sweeper.applier.clone()
    };
    match applier.apply(action, now).await {
        Ok(Applied::Done(message)) => outcome(StepStatus::Done, message),
        Ok(Applied::Skipped(message)) => outcome(StepStatus::Skipped, message),
        Err(e) => {
            warn!(endpoint, step = action.name(), error = %e, "step failed");
            outcome(StepStatus::Failed, e.to_string())
        }
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Start { canary, .. } => format!(
            "would create canary {} ({} MB, {}) and smoke-test it",
            canary.endpoint_name,
            canary.memory_mb,
            canary.strategy.as_str()
        ),
        other => format!("would {}", other.name()),
    }
}

/// Puts `name` back on its kept persistent config (a direct invocation).
pub async fn revert(
    sweeper: &Sweeper,
    config: &SweepConfig,
    name: &str,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<SweepReport, SweepFailed> {
    let calls_before = sweeper.api_calls.snapshot();
    let listed = sweeper
        .observer
        .list_endpoints(Some(name))
        .await
        .map_err(aborted)?;
    let (views, errors) = sweeper
        .observer
        .describe_all(&listed, config.describe_concurrency)
        .await;
    if let Some((endpoint, e)) = errors.first() {
        return Err(SweepFailed::Aborted {
            message: format!("{endpoint}: {e}"),
            retryable: e.is_retryable(),
        });
    }
    let group = plan::group_for(&views, name);
    let action = revert::revert(&group).map_err(|why| SweepFailed::Aborted {
        message: format!("cannot revert {name}: {why}"),
        retryable: false,
    })?;
    let step = apply_step(
        sweeper,
        (dry_run, config.invocation_deadline),
        name,
        &action,
        now,
    )
    .await;
    let report = SweepReport::new(
        now,
        &config.region,
        dry_run,
        Vec::new(),
        vec![step],
        Vec::new(),
        0,
        sweeper.api_calls.since(&calls_before),
    );
    Ok(report)
}
