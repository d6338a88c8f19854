//! Decide before acting: from what SageMaker shows now and what this
//! artifact wants, choose one action. Pure code, so every case is a unit test.

use crate::capacity::{self, InPlace};
use aws_sdk_sagemaker::types::EndpointStatus;
use shared::aws::sagemaker::{EndpointConfigInfo, EndpointInfo, ServerlessCapacity};
use shared::deployment::{ArtifactRef, DeploymentRecord};
use shared::s3_event::compare_sequencers;
use shared::tags::MANAGED_BY_VALUE;
use std::cmp::Ordering;

/// What SageMaker shows for the target endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub endpoint: Option<EndpointInfo>,
    /// The config the endpoint runs, or is being updated to.
    pub config: Option<EndpointConfigInfo>,
    /// That config's deployment record; `None` when the pipeline did not create it.
    pub record: Option<DeploymentRecord>,
    /// The config the smoke tester rolled the endpoint back from, if any.
    pub rolled_back_from: Option<String>,
    /// The config the endpoint's last smoke test failed, if any (its
    /// verdict tags: present even when the rollback's mark is not).
    pub failed_smoke_test: Option<String>,
    /// The endpoint's own `managed-by` tag value; the deployer's role may
    /// update only endpoints whose value is the pipeline's.
    pub endpoint_managed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No endpoint yet: create model, config and endpoint.
    Create,
    /// A serverless endpoint the pipeline manages runs an older deployment.
    Update {
        previous_config: String,
        /// The endpoint's ARN, for tagging it after the update.
        endpoint_arn: String,
    },
    /// A serverless endpoint the pipeline manages ended `Failed` on an
    /// older deployment: SageMaker takes only DeleteEndpoint on it, so it
    /// is deleted and created again with this one.
    Recreate {
        failed_config: String,
        reason: Option<String>,
    },
    /// Only the concurrency differs from what the endpoint runs: change it
    /// in place (UpdateEndpointWeightsAndCapacities), keeping `config`.
    UpdateCapacity {
        config: String,
        endpoint_arn: String,
        from: Option<ServerlessCapacity>,
        to: ServerlessCapacity,
    },
    /// The endpoint already runs (or is moving to) exactly this config.
    AlreadyCurrent { status: EndpointStatus },
    /// The endpoint runs a newer artifact than this event carries.
    SkipStale { why: String },
    /// Acting would be wrong; the reason says what a person should do.
    Refuse(Refusal),
}

impl Decision {
    /// Whether acting on it creates or changes anything (and so needs the
    /// endpoint's lease and a fresh look under it).
    pub fn changes_anything(&self) -> bool {
        // Exhaustive on purpose: a new kind of decision must say which it is.
        match self {
            Decision::Create
            | Decision::Update { .. }
            | Decision::Recreate { .. }
            | Decision::UpdateCapacity { .. } => true,
            Decision::AlreadyCurrent { .. } | Decision::SkipStale { .. } | Decision::Refuse(_) => {
                false
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// AWS rejects UpdateEndpoint from an instance-based config to a serverless one.
    InstanceBased { config: String },
    /// A serverless endpoint someone else created.
    NotManaged { config: String },
    /// The endpoint runs a pipeline config but is itself not tagged
    /// `managed-by` with the pipeline's value (`found` is what it has), so
    /// the deployer's role may not update it.
    EndpointNotManaged {
        config: String,
        found: Option<String>,
    },
    /// Being created or updated: retry later.
    Busy { status: EndpointStatus },
    /// In a state UpdateEndpoint refuses that no deploy can mend.
    Unusable {
        status: EndpointStatus,
        reason: Option<String>,
    },
}

impl Refusal {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Refusal::Busy { .. })
    }
}

/// Chooses what to do to deploy `desired` given `observed`.
pub fn decide(desired: &DeploymentRecord, observed: &Observed) -> Decision {
    let Some(endpoint) = &observed.endpoint else {
        return Decision::Create;
    };
    let live_config = endpoint
        .pending_config_name
        .as_deref()
        .unwrap_or(&endpoint.config_name);
    if live_config == desired.config_name && !capacity::drifted(desired, endpoint) {
        return Decision::AlreadyCurrent {
            status: endpoint.status.clone(),
        };
    }
    // Not live (checked above) and failed its smoke test here: rolled back,
    // even if the rollback's own mark was never written.
    let failed_here = [&observed.rolled_back_from, &observed.failed_smoke_test]
        .iter()
        .any(|config| config.as_deref() == Some(desired.config_name.as_str()));
    if failed_here {
        return Decision::SkipStale {
            why: format!(
                "{} failed its smoke test and was rolled back; upload a fixed artifact or change deploy.json to deploy again",
                desired.config_name
            ),
        };
    }
    // A config that cannot be described (deleted by hand) is treated as
    // unknown, which the checks below refuse rather than guess about.
    let config_name = live_config.to_string();
    match &observed.config {
        Some(config) if !config.serverless => {
            return Decision::Refuse(Refusal::InstanceBased {
                config: config_name,
            })
        }
        Some(_) => {}
        None => {
            return Decision::Refuse(Refusal::NotManaged {
                config: config_name,
            })
        }
    }
    let Some(current) = &observed.record else {
        return Decision::Refuse(Refusal::NotManaged {
            config: config_name,
        });
    };
    if observed.endpoint_managed_by.as_deref() != Some(MANAGED_BY_VALUE) {
        return Decision::Refuse(Refusal::EndpointNotManaged {
            config: config_name,
            found: observed.endpoint_managed_by.clone(),
        });
    }
    if let Some(why) = staleness(&desired.artifact, &current.artifact) {
        return Decision::SkipStale { why };
    }
    let in_place = capacity::in_place(desired, current, endpoint);
    if in_place == Some(InPlace::Current) {
        return Decision::AlreadyCurrent {
            status: endpoint.status.clone(),
        };
    }
    if endpoint.is_busy() {
        return Decision::Refuse(Refusal::Busy {
            status: endpoint.status.clone(),
        });
    }
    if endpoint.status == EndpointStatus::Failed {
        return Decision::Recreate {
            failed_config: config_name,
            reason: endpoint.failure_reason.clone(),
        };
    }
    if endpoint.status != EndpointStatus::InService {
        return Decision::Refuse(Refusal::Unusable {
            status: endpoint.status.clone(),
            reason: endpoint.failure_reason.clone(),
        });
    }
    if let Some(InPlace::Change { from, to }) = in_place {
        return Decision::UpdateCapacity {
            config: config_name,
            endpoint_arn: endpoint.arn.clone(),
            from,
            to,
        };
    }
    Decision::Update {
        previous_config: config_name,
        endpoint_arn: endpoint.arn.clone(),
    }
}

/// `Some(why)` when `incoming` is older than the artifact already deployed.
///
/// Same key: the S3 sequencer orders events when both sides have one;
/// otherwise the same version is "not older" and a different version is
/// ordered by time. Different keys: only time orders them.
pub fn staleness(incoming: &ArtifactRef, deployed: &ArtifactRef) -> Option<String> {
    let same_key = incoming.bucket == deployed.bucket && incoming.key == deployed.key;
    if same_key {
        if let (Some(a), Some(b)) = (&incoming.sequencer, &deployed.sequencer) {
            return (compare_sequencers(a, b) == Ordering::Less).then(|| {
                format!(
                    "s3://{}/{} sequencer {a} is older than the deployed one ({b})",
                    incoming.bucket, incoming.key
                )
            });
        }
        if incoming.version == deployed.version {
            return None;
        }
    }
    (incoming.time < deployed.time).then(|| {
        format!(
            "{} (stored {}) is older than the deployed {} (stored {})",
            incoming.s3_url(),
            incoming.time.to_rfc3339(),
            deployed.s3_url(),
            deployed.time.to_rfc3339()
        )
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
