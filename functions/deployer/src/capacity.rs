//! Concurrency changes without a redeploy (issue 13 item 4): when a
//! deployment differs from the live one only in `max_concurrency` /
//! `provisioned_concurrency`, the endpoint keeps its config and containers
//! and UpdateEndpointWeightsAndCapacities sets the new values.
//!
//! The pure part (`in_place`, `drifted`) is used by `plan::decide`; the
//! acting part is `Deployer::update_capacity`.

use crate::deploy::{Deployer, Done};
use crate::outcome::{DeployError, Status};
use shared::aws::sagemaker::{EndpointInfo, ServerlessCapacity};
use shared::deployment::{capacity_tag_value, DeploymentRecord, CAPACITY_TAG};
use shared::settings::DeploySettings;

/// How a deployment relates to the live one when only capacity may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPlace {
    /// The endpoint already runs (or is moving to) the wanted capacity.
    Current,
    Change {
        from: Option<ServerlessCapacity>,
        to: ServerlessCapacity,
    },
}

/// `Some` when `desired` and the live deployment `current` have the same
/// shape (model, memory, smoke test) so that only concurrency can differ.
/// `None` when a new config is needed: another shape, a config recorded
/// before shapes were, or provisioned concurrency being removed (AWS has
/// no in-place value for "none": 0 is invalid).
pub fn in_place(
    desired: &DeploymentRecord,
    current: &DeploymentRecord,
    endpoint: &EndpointInfo,
) -> Option<InPlace> {
    let to = desired.capacity?;
    if desired.shape.is_none() || desired.shape != current.shape {
        return None;
    }
    let live = endpoint.capacity;
    if live == Some(to) {
        return Some(InPlace::Current);
    }
    let removes_provisioned = to.provisioned_concurrency.is_none()
        && live.is_some_and(|l| l.provisioned_concurrency.is_some());
    (!removes_provisioned).then_some(InPlace::Change { from: live, to })
}

/// True when the endpoint runs `desired`'s own config but its concurrency
/// was since changed in place to something else (a deploy.json changed
/// back): not "already current".
pub fn drifted(desired: &DeploymentRecord, endpoint: &EndpointInfo) -> bool {
    matches!((desired.capacity, endpoint.capacity), (Some(want), Some(live)) if want != live)
}

/// "max concurrency 5 -> 20, provisioned concurrency none -> 2, ...": what
/// the ledger entry and the report say.
pub fn describe_change(from: Option<ServerlessCapacity>, to: ServerlessCapacity) -> String {
    let value = |v: Option<u32>| v.map_or("none".to_string(), |v| v.to_string());
    let from_max = from.map(|f| f.max_concurrency);
    let from_provisioned = from.and_then(|f| f.provisioned_concurrency);
    format!(
        "max concurrency {} -> {}, provisioned concurrency {} -> {}, in place on the live config",
        value(from_max),
        to.max_concurrency,
        value(from_provisioned),
        value(to.provisioned_concurrency)
    )
}

impl Deployer {
    /// Applies an `UpdateCapacity` decision, then records the new capacity
    /// on the endpoint (`pipeline:capacity`), the console-readable mirror
    /// of the ledger entry.
    pub(crate) async fn update_capacity(
        &self,
        desired: &DeploymentRecord,
        settings: &DeploySettings,
        config: String,
        endpoint_arn: &str,
        change: (Option<ServerlessCapacity>, ServerlessCapacity),
    ) -> Result<Done, DeployError> {
        let (from, to) = change;
        let endpoint = &desired.endpoint_name;
        // A retryable failure (the endpoint became busy) re-plans on the
        // next try, which finds the capacity already asked for if a twin
        // got there first.
        self.sagemaker
            .update_serverless_capacity(endpoint, &to)
            .await?;
        let mut tags = self.endpoint_tags(settings, None);
        tags.insert(CAPACITY_TAG.into(), capacity_tag_value(&to));
        self.sagemaker.add_tags(endpoint_arn, &tags).await?;
        Ok(Done {
            status: Status::Updated,
            endpoint: Some(endpoint.clone()),
            model: Some(desired.model_name.clone()),
            config: Some(config),
            message: format!("updating capacity: {}", describe_change(from, to)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(max: u32, provisioned: Option<u32>) -> ServerlessCapacity {
        ServerlessCapacity {
            max_concurrency: max,
            provisioned_concurrency: provisioned,
        }
    }

    #[test]
    fn the_change_is_described_both_ways() {
        assert_eq!(
            describe_change(Some(cap(5, None)), cap(20, Some(2))),
            "max concurrency 5 -> 20, provisioned concurrency none -> 2, in place on the live config"
        );
        assert_eq!(
            describe_change(None, cap(3, None)),
            "max concurrency none -> 3, provisioned concurrency none -> none, in place on the live config"
        );
    }
}
