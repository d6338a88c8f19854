//! Reads the fleet from SageMaker through the shared adapter: every
//! endpoint (paginated), then each one's endpoint and config (each config
//! once) with bounded concurrency, tags from a bulk read (or ListTags),
//! and models only where the planner needs them. A
//! failure on one endpoint is recorded against it and does not stop the
//! others. Throttling is retried by the SDK's standard retry mode (see
//! `shared::aws::load_sdk_config`).

use crate::domain::fleet::{EndpointView, Variant};
use futures::stream::{self, StreamExt};
use shared::aws::sagemaker::{
    EndpointConfigDetail, EndpointDetail, ModelInfo, ResourceSummary, SageMaker,
};
use shared::aws::{AwsError, AwsErrorKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Debug)]
pub struct Observer {
    sagemaker: SageMaker,
}

impl Observer {
    pub fn new(sagemaker: SageMaker) -> Self {
        Observer { sagemaker }
    }

    /// Every endpoint whose name contains `fragment` (all when `None`).
    pub async fn list_endpoints(
        &self,
        fragment: Option<&str>,
    ) -> Result<Vec<ResourceSummary>, AwsError> {
        self.sagemaker.list_endpoints(fragment).await
    }

    /// Describes every listed endpoint, `concurrency` at a time, with its
    /// tags from `tags` (by ARN; absent: none) or, when `tags` is `None`,
    /// one `ListTags` each. Each endpoint config is described once, however
    /// many endpoints run it. Endpoints deleted since the listing are left
    /// out; other failures are returned per endpoint.
    pub async fn describe_all(
        &self,
        listed: &[ResourceSummary],
        tags: Option<&HashMap<String, BTreeMap<String, String>>>,
        concurrency: usize,
    ) -> (Vec<EndpointView>, Vec<(String, AwsError)>) {
        let concurrency = concurrency.max(1);
        let endpoints: Vec<(&ResourceSummary, Result<Option<EndpointDetail>, AwsError>)> =
            stream::iter(listed)
                .map(|l| async move { (l, self.sagemaker.describe_endpoint_detail(&l.name).await) })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let config_names: BTreeSet<String> = endpoints
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok()?.as_ref())
            .map(|e| e.info.config_name.clone())
            .collect();
        let configs: HashMap<String, Result<Option<EndpointConfigDetail>, AwsError>> =
            stream::iter(config_names)
                .map(|name| async move {
                    let config = self.sagemaker.describe_endpoint_config_detail(&name).await;
                    (name, config)
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let results: Vec<(String, Result<Option<EndpointView>, AwsError>)> =
            stream::iter(endpoints)
                .map(|(l, endpoint)| {
                    let configs = &configs;
                    async move {
                        let view = match endpoint {
                            Ok(Some(endpoint)) => {
                                let known =
                                    tags.map(|t| t.get(&l.arn).cloned().unwrap_or_default());
                                self.view(l, endpoint, configs, known).await.map(Some)
                            }
                            Ok(None) => Ok(None),
                            Err(e) => Err(e),
                        };
                        (l.name.clone(), view)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let mut views = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (name, result) in results {
            match result {
                Ok(Some(view)) => views.push(view),
                Ok(None) => {}
                Err(e) => errors.push((name, e)),
            }
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        (views, errors)
    }

    async fn view(
        &self,
        listed: &ResourceSummary,
        endpoint: EndpointDetail,
        configs: &HashMap<String, Result<Option<EndpointConfigDetail>, AwsError>>,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<EndpointView, AwsError> {
        let config_name = endpoint.info.config_name.clone();
        let missing = || AwsError {
            operation: "DescribeEndpointConfig",
            kind: AwsErrorKind::NotFound,
            code: None,
            message: format!(
                "endpoint config {config_name} of {} does not exist",
                listed.name
            ),
        };
        let config = match configs.get(&config_name) {
            Some(Ok(Some(config))) => config.clone(),
            Some(Err(e)) => return Err(e.clone()),
            Some(Ok(None)) | None => return Err(missing()),
        };
        let tags = match tags {
            Some(tags) => tags,
            None => self.sagemaker.list_tags(&listed.arn).await?,
        };
        let variants = config
            .variants
            .into_iter()
            .map(|v| Variant {
                instance_count: endpoint
                    .current_instance_counts
                    .get(&v.name)
                    .copied()
                    .or(v.initial_instance_count)
                    .unwrap_or(0),
                name: v.name,
                model_name: v.model_name,
                instance_type: v.instance_type,
                serverless: v.serverless,
            })
            .collect();
        Ok(EndpointView {
            name: listed.name.clone(),
            arn: listed.arn.clone(),
            status: endpoint.info.status,
            failure_reason: endpoint.info.failure_reason,
            created: endpoint.created,
            last_modified: endpoint.last_modified,
            config_name,
            variants,
            // Data capture is on when configured and not explicitly disabled.
            data_capture: config.data_capture || endpoint.data_capture,
            async_inference: config.async_inference,
            kms_volume_key: config.kms_volume_key,
            tags,
            model: None,
        })
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
