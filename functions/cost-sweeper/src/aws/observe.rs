//! Reads the fleet from SageMaker through the shared adapter: every
//! endpoint (paginated), then what each one runs, from SageMaker's `Search`
//! index 100 endpoints a call (DescribeEndpoint only for an endpoint whose
//! record is missing or differs from its listing), then the endpoint
//! configs the planner needs (each once, however many endpoints run it),
//! tags from a bulk read (or ListTags), and models only where the planner
//! needs them. A failure on one endpoint is recorded against it and does
//! not stop the others. Throttling is retried by the SDK's standard retry
//! mode (see `shared::aws::load_sdk_config`).

use crate::domain::fleet::{EndpointView, Variant};
use futures::stream::{self, StreamExt};
use shared::aws::sagemaker::{
    EndpointConfigDetail, EndpointDetail, EndpointSummary, ModelInfo, SageMaker,
};
use shared::aws::{AwsError, AwsErrorKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::warn;

type Tags = HashMap<String, BTreeMap<String, String>>;
type Observed<T> = (Vec<T>, Vec<(String, AwsError)>);
/// A view before its config is read, with the instances each variant runs
/// now (by variant name, where SageMaker gives a count).
type Partial = (EndpointView, BTreeMap<String, u32>);

#[derive(Clone, Debug)]
pub struct Observer {
    sagemaker: SageMaker,
}

/// A Search record can stand for DescribeEndpoint when it is the listed
/// endpoint (same ARN and creation) as it was listed (same status and last
/// change): the index has caught up with it. Times are compared to the
/// second, so two APIs' precisions cannot make every record look stale.
fn current(record: &EndpointDetail, listed: &EndpointSummary) -> bool {
    record.info.arn == listed.arn
        && record.created.timestamp() == listed.created.timestamp()
        && record.last_modified.timestamp() == listed.last_modified.timestamp()
        && record.info.status == listed.status
}

impl Observer {
    pub fn new(sagemaker: SageMaker) -> Self {
        Observer { sagemaker }
    }

    /// Every endpoint whose name contains `fragment` (all when `None`).
    pub async fn list_endpoints(
        &self,
        fragment: Option<&str>,
    ) -> Result<Vec<EndpointSummary>, AwsError> {
        self.sagemaker.list_endpoints(fragment).await
    }

    /// A sweep's view of `listed` (found with `fragment`): endpoints from
    /// one Search (DescribeEndpoint where a record is not `current`, or for
    /// all when Search fails), tags from `tags` (absent: none), and the
    /// config of every endpoint `decided` does not settle from the endpoint
    /// alone. Endpoints deleted since the listing are left out; other
    /// failures are returned per endpoint.
    pub async fn observe(
        &self,
        listed: &[EndpointSummary],
        fragment: Option<&str>,
        tags: &Tags,
        decided: impl Fn(&EndpointView) -> bool,
        concurrency: usize,
    ) -> Observed<EndpointView> {
        let mut records: HashMap<String, EndpointDetail> =
            match self.sagemaker.search_endpoints(fragment).await {
                Ok(found) => found
                    .into_iter()
                    .map(|d| (d.info.name.clone(), d))
                    .collect(),
                Err(e) => {
                    warn!(error = %e, "Search failed; describing every endpoint");
                    HashMap::new()
                }
            };
        let (found, stale): (Vec<_>, Vec<_>) = listed
            .iter()
            .map(|l| (l, records.remove(&l.name).filter(|r| current(r, l))))
            .partition(|(_, record)| record.is_some());
        // What is left are records of endpoints settled before (or listed
        // after) the listing: not needed.
        drop(records);
        let stale: Vec<&EndpointSummary> = stale.into_iter().map(|(l, _)| l).collect();
        let (described, mut errors) = self.describe_endpoints(&stale, concurrency).await;
        let endpoints = found
            .into_iter()
            .filter_map(|(_, record)| record)
            .chain(described);
        let none = BTreeMap::new();
        let views = endpoints.map(|e| {
            let own = tags.get(&e.info.arn).unwrap_or(&none).clone();
            partial_view(e, own)
        });
        let (views, config_errors) = self
            .add_configs(views.collect(), decided, concurrency)
            .await;
        errors.extend(config_errors);
        (views, errors)
    }

    /// Describes every listed endpoint and its config, with one `ListTags`
    /// each (a revert: one endpoint and its canary).
    pub async fn describe_all(
        &self,
        listed: &[EndpointSummary],
        concurrency: usize,
    ) -> Observed<EndpointView> {
        let listed: Vec<&EndpointSummary> = listed.iter().collect();
        let (endpoints, mut errors) = self.describe_endpoints(&listed, concurrency).await;
        let mut views = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            match self.sagemaker.list_tags(&endpoint.info.arn).await {
                Ok(tags) => views.push(partial_view(endpoint, tags)),
                Err(e) => errors.push((endpoint.info.name.clone(), e)),
            }
        }
        let (views, config_errors) = self.add_configs(views, |_| false, concurrency).await;
        errors.extend(config_errors);
        (views, errors)
    }

    /// DescribeEndpoint for each of `listed`, `concurrency` at a time.
    async fn describe_endpoints(
        &self,
        listed: &[&EndpointSummary],
        concurrency: usize,
    ) -> Observed<EndpointDetail> {
        let results: Vec<(String, Result<Option<EndpointDetail>, AwsError>)> = stream::iter(listed)
            .map(|l| async move {
                let detail = self.sagemaker.describe_endpoint_detail(&l.name).await;
                (l.name.clone(), detail)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut found = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (name, result) in results {
            match result {
                Ok(Some(detail)) => found.push(detail),
                Ok(None) => {}
                Err(e) => errors.push((name, e)),
            }
        }
        (found, errors)
    }

    /// Lays each endpoint's config onto its view, unless `decided` settles
    /// it from the endpoint alone; each config is described once.
    async fn add_configs(
        &self,
        views: Vec<Partial>,
        decided: impl Fn(&EndpointView) -> bool,
        concurrency: usize,
    ) -> Observed<EndpointView> {
        let (settled, pending): (Vec<_>, Vec<_>) = views.into_iter().partition(|(v, _)| decided(v));
        let config_names: BTreeSet<String> =
            pending.iter().map(|(v, _)| v.config_name.clone()).collect();
        let configs: HashMap<String, Result<Option<EndpointConfigDetail>, AwsError>> =
            stream::iter(config_names)
                .map(|name| async move {
                    let config = self.sagemaker.describe_endpoint_config_detail(&name).await;
                    (name, config)
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        let mut views: Vec<EndpointView> = settled.into_iter().map(|(v, _)| v).collect();
        let mut errors = Vec::new();
        for (view, running) in pending {
            match configs.get(&view.config_name) {
                Some(Ok(Some(config))) => views.push(with_config(view, &running, config)),
                Some(Err(e)) => errors.push((view.name, e.clone())),
                Some(Ok(None)) | None => {
                    let message = format!(
                        "endpoint config {} of {} does not exist",
                        view.config_name, view.name
                    );
                    let missing = AwsError {
                        operation: "DescribeEndpointConfig",
                        kind: AwsErrorKind::NotFound,
                        code: None,
                        message,
                    };
                    errors.push((view.name, missing));
                }
            }
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        (views, errors)
    }

    /// Fills in the model of each endpoint `wanted` selects.
    pub async fn describe_models(
        &self,
        views: &mut [EndpointView],
        wanted: impl Fn(&EndpointView) -> bool,
        concurrency: usize,
    ) -> Vec<(String, AwsError)> {
        let jobs: Vec<(usize, String)> = views
            .iter()
            .enumerate()
            .filter(|(_, v)| wanted(v))
            .filter_map(|(i, v)| Some((i, v.variants.first()?.model_name.clone()?)))
            .collect();
        let results: Vec<(usize, Result<Option<ModelInfo>, AwsError>)> = stream::iter(jobs)
            .map(|(i, model)| async move { (i, self.sagemaker.describe_model(&model).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut errors = Vec::new();
        for (i, result) in results {
            match result {
                Ok(model) => views[i].model = model,
                Err(e) => errors.push((views[i].name.clone(), e)),
            }
        }
        errors
    }
}

/// What the endpoint alone shows: its variants without instance types or
/// models (those are in its config).
fn partial_view(endpoint: EndpointDetail, tags: BTreeMap<String, String>) -> Partial {
    let variants = endpoint
        .variants
        .into_iter()
        .map(|v| Variant {
            instance_count: v.current_instance_count.unwrap_or(0),
            name: v.name,
            model_name: None,
            instance_type: None,
            serverless: v.serverless,
        })
        .collect();
    let view = EndpointView {
        name: endpoint.info.name,
        arn: endpoint.info.arn,
        status: endpoint.info.status,
        failure_reason: endpoint.info.failure_reason,
        created: endpoint.created,
        last_modified: endpoint.last_modified,
        config_name: endpoint.info.config_name,
        variants,
        data_capture: endpoint.data_capture,
        async_inference: false,
        kms_volume_key: false,
        tags,
        model: None,
        config_read: false,
    };
    (view, endpoint.current_instance_counts)
}

/// The view with its config: variants as configured (instance counts as
/// running where the endpoint gives them), async inference, volume key.
fn with_config(
    mut view: EndpointView,
    running: &BTreeMap<String, u32>,
    config: &EndpointConfigDetail,
) -> EndpointView {
    view.variants = config
        .variants
        .iter()
        .map(|v| Variant {
            instance_count: running
                .get(&v.name)
                .copied()
                .or(v.initial_instance_count)
                .unwrap_or(0),
            name: v.name.clone(),
            model_name: v.model_name.clone(),
            instance_type: v.instance_type.clone(),
            serverless: v.serverless.clone(),
        })
        .collect();
    // Data capture is on when configured and not explicitly disabled.
    view.data_capture |= config.data_capture;
    view.async_inference = config.async_inference;
    view.kms_volume_key = config.kms_volume_key;
    view.config_read = true;
    view
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
