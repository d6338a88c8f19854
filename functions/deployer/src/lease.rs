//! One deployment of an endpoint at a time: the ledger's per-endpoint
//! lease around observe, decide and act (held for the invocation's whole
//! life, and confirmed again before acting after packing), and the ledger
//! entry written before anything changes.

use crate::archives::ArchiveFolder;
use crate::cleanup;
use crate::deploy::{Deployer, Done};
use crate::outcome::{DeployError, Status};
use crate::packing::PackJob;
use crate::plan::{decide, Decision};
use chrono::{DateTime, Utc};
use shared::aws::lease::Lease;
use shared::deployment::DeploymentRecord;
use shared::ledger::{LedgerEntry, Outcome};
use shared::settings::DeploySettings;
use std::time::Duration;
use tracing::info;

/// First wait for a held lease; it doubles while it is at most
/// `LEASE_PATIENCE` (about 13 s of waiting in all).
const LEASE_POLL: Duration = Duration::from_millis(100);
const LEASE_PATIENCE: Duration = Duration::from_millis(6400);

impl Deployer {
    /// Plans and applies `desired`: first from what SageMaker shows, with
    /// no lease (a duplicate, stale, busy or refused upload is answered
    /// from that alone and costs no ledger call); a create or update then
    /// takes the endpoint's lease and plans again from what SageMaker shows
    /// under it (without a ledger: acts on the first plan). The lease
    /// lasts until the invocation's `deadline` (plus a margin,
    /// `shared::lease`), so it covers everything this attempt does.
    pub(crate) async fn deploy_leased(
        &self,
        desired: DeploymentRecord,
        settings: &DeploySettings,
        trigger: &str,
        pack: Option<&PackJob>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Done, DeployError> {
        let observed = self
            .observe(&settings.endpoint_name, Some(&desired.config_name))
            .await?;
        let decision = decide(&desired, &observed);
        let ledger = match &self.ledger {
            Some(ledger) if decision.changes_anything() => ledger,
            _ => {
                return self
                    .act(decision, desired, settings, trigger, pack, None)
                    .await
            }
        };
        // One deployment of an endpoint at a time: observe, decide and act
        // under its lease, so a concurrent twin re-plans after this one.
        let endpoint = settings.endpoint_name.clone();
        let holder = format!(
            "{}#{}",
            desired.config_name,
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        // A twin (a redelivery, the other file of one upload) usually
        // holds it for a second: wait a little before giving up this try,
        // looking again meanwhile. A holder is never taken to be making
        // this deployment just because its name says so: one that crashed
        // keeps its lease until it lapses, with its work half done, and
        // this try is then the one that must finish it.
        let mut wait = LEASE_POLL;
        let lease = loop {
            if let Some(lease) = ledger.take_lease(&endpoint, &holder, deadline).await? {
                break lease;
            }
            if wait > LEASE_PATIENCE {
                return Err(DeployError::Leased { endpoint });
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
            let observed = self.observe(&endpoint, Some(&desired.config_name)).await?;
            let decision = decide(&desired, &observed);
            if !decision.changes_anything() {
                // The holder made this deployment (or a newer one): done.
                return self
                    .act(decision, desired, settings, trigger, pack, None)
                    .await;
            }
        };
        let result = self
            .plan_and_act(desired, settings, trigger, pack, &lease)
            .await;
        lease.give_back().await;
        result
    }

    /// Plans again from what SageMaker shows now, then acts.
    async fn plan_and_act(
        &self,
        desired: DeploymentRecord,
        settings: &DeploySettings,
        trigger: &str,
        pack: Option<&PackJob>,
        lease: &Lease<'_>,
    ) -> Result<Done, DeployError> {
        let observed = self
            .observe(&settings.endpoint_name, Some(&desired.config_name))
            .await?;
        let decision = decide(&desired, &observed);
        self.act(decision, desired, settings, trigger, pack, Some(lease))
            .await
    }

    /// Acts on `decision`; `lease` is the endpoint's, when this attempt
    /// holds it.
    async fn act(
        &self,
        decision: Decision,
        desired: DeploymentRecord,
        settings: &DeploySettings,
        trigger: &str,
        pack: Option<&PackJob>,
        lease: Option<&Lease<'_>>,
    ) -> Result<Done, DeployError> {
        info!(endpoint = %settings.endpoint_name, decision = ?decision, "planned");
        if matches!(
            decision,
            Decision::Create | Decision::Update { .. } | Decision::Recreate { .. }
        ) {
            // A new model and config are about to be made: refuse first
            // what could never run serverless.
            self.preflight(&desired.artifact, settings).await?;
            // The code archive the new model names, unless already written.
            if let Some(job) = pack {
                self.ensure_packed(job).await?;
                // Packing can outlast the plan (a multi-GB repack): act on
                // it only if no one took the endpoint's lease meanwhile.
                // Otherwise a newer deployment may have acted since; this
                // attempt stops, changing nothing, and its retry plans again
                // from what SageMaker shows then.
                if let Some(lease) = lease {
                    if !lease.still_held().await? {
                        return Err(DeployError::LeaseLost {
                            endpoint: settings.endpoint_name.clone(),
                        });
                    }
                }
            }
        }
        if let Decision::UpdateCapacity { from, to, .. } = &decision {
            // More concurrency in place must fit the account's quota too.
            if from.is_none_or(|f| to.max_concurrency > f.max_concurrency) {
                self.quota_preflight(settings).await?;
            }
        }
        // The entry is written before acting; how it ends is told later,
        // once: refused or abandoned by the queue consumer, the rest by the
        // smoke tester from the endpoint's state-change events.
        self.record_start(&decision, &desired, trigger).await?;
        // Packed code lives in the models bucket; a package's artifact may
        // be elsewhere, and its deploy packs nothing.
        let archives = desired.artifact.model_package().is_none().then(|| {
            ArchiveFolder::new(
                &desired.artifact.bucket,
                &self.config.packed_prefix,
                &settings.endpoint_name,
            )
        });
        let result = self.apply(decision, desired, settings).await;
        let done = result?;
        if matches!(done.status, Status::Created | Status::Updated) {
            cleanup::prune(
                &self.sagemaker,
                &settings.endpoint_name,
                self.config.keep_superseded,
                archives.as_ref().map(|folder| cleanup::Archives {
                    store: &self.store,
                    folder,
                    new_model_packed: pack.is_some(),
                }),
            )
            .await;
        }
        Ok(done)
    }

    /// Writes the ledger entry of a deployment about to be made, with the
    /// config it replaces (the rollback target), before anything changes.
    async fn record_start(
        &self,
        decision: &Decision,
        desired: &DeploymentRecord,
        trigger: &str,
    ) -> Result<Option<LedgerEntry>, DeployError> {
        let Some(ledger) = &self.ledger else {
            return Ok(None);
        };
        let (replaces_config, capacity_change, capacity_target) = match decision {
            Decision::Create | Decision::Recreate { .. } => (None, None, None),
            Decision::Update {
                previous_config, ..
            } => (Some(previous_config.clone()), None, None),
            Decision::UpdateCapacity {
                config, from, to, ..
            } => (
                Some(config.clone()),
                Some(crate::capacity::describe_change(*from, *to)),
                Some(shared::deployment::capacity_tag_value(to)),
            ),
            _ => return Ok(None),
        };
        let entry = LedgerEntry {
            endpoint: desired.endpoint_name.clone(),
            config_name: desired.config_name.clone(),
            model_name: desired.model_name.clone(),
            artifact_bucket: desired.artifact.bucket.clone(),
            artifact_key: desired.artifact.key.clone(),
            artifact_version: desired.artifact.version.clone(),
            settings_version: desired.settings_version.clone(),
            trigger: trigger.to_string(),
            replaces_config,
            capacity_change,
            capacity_target,
            started_at: chrono::Utc::now(),
            outcome: Outcome::InProgress,
            finished_at: None,
            reason: None,
            alert_pending: false,
        };
        ledger.record_deployment(&entry).await?;
        Ok(Some(entry))
    }
}
