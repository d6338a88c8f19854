//! Acting on a failed test: roll the endpoint back when the rules allow
//! ([`crate::rollback`]), and only while that is still safe. The target is
//! the config the failed one replaced, from the failed config's own record;
//! its bytes must still be the ones it was deployed with; and right before
//! UpdateEndpoint, under the endpoint's lease in the ledger (the one the
//! deployer takes), the endpoint must still run the failed config.

use crate::rollback::{decide_rollback, rollback_marks, RollbackDecision};
use crate::tester::SmokeTester;
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use chrono::{DateTime, Utc};
use shared::aws::{AwsError, AwsErrorKind};
use shared::deployment::DeploymentRecord;
use std::collections::BTreeMap;
use tracing::warn;

impl SmokeTester {
    /// Rolls back when the rules allow, in an invocation that ends at
    /// `deadline` (the endpoint's lease lasts until then); returns what
    /// happened, for the report.
    pub(crate) async fn maybe_roll_back(
        &self,
        endpoint: &str,
        endpoint_arn: &str,
        failed: &str,
        tags: &BTreeMap<String, String>,
        deadline: Option<DateTime<Utc>>,
    ) -> String {
        match self
            .roll_back(endpoint, endpoint_arn, failed, tags, deadline)
            .await
        {
            Ok(done) => done,
            Err(e) => format!("not rolled back: {e}"),
        }
    }

    async fn roll_back(
        &self,
        endpoint: &str,
        endpoint_arn: &str,
        failed: &str,
        tags: &BTreeMap<String, String>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<String, AwsError> {
        let previous_name = self
            .record_of(failed)
            .await?
            .and_then(|record| record.replaces_config);
        let previous = match &previous_name {
            Some(name) => self.sagemaker.describe_endpoint_config(name).await?,
            None => None,
        };
        let to = match decide_rollback(
            failed,
            tags,
            previous_name.as_deref(),
            previous.as_ref(),
            self.config.rollback_on_failure,
        ) {
            RollbackDecision::ReportOnly { why } => return Ok(format!("not rolled back: {why}")),
            RollbackDecision::RollBack { to } => to,
        };
        if let Some(why) = self.bytes_changed(&to).await? {
            return Ok(format!("not rolled back: {to} {why}"));
        }
        let Some(ledger) = &self.ledger else {
            return self.update_to(endpoint, endpoint_arn, failed, &to).await;
        };
        let holder = format!(
            "rollback#{failed}#{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let Some(lease) = ledger.take_lease(endpoint, &holder, deadline).await? else {
            return Ok(format!(
                "not rolled back: a deployment of {endpoint} is in progress (it holds the endpoint's lease), so {failed} is being replaced anyway"
            ));
        };
        let result = self.update_to(endpoint, endpoint_arn, failed, &to).await;
        lease.give_back().await;
        result
    }

    /// Under the lease: rolls back only if the endpoint still runs (or is
    /// moving to) the failed config; a newer deployment is never undone.
    async fn update_to(
        &self,
        endpoint: &str,
        endpoint_arn: &str,
        failed: &str,
        to: &str,
    ) -> Result<String, AwsError> {
        let Some(now) = self.sagemaker.describe_endpoint(endpoint).await? else {
            return Ok(format!("not rolled back: {endpoint} no longer exists"));
        };
        let live = now.pending_config_name.unwrap_or(now.config_name);
        if live != failed {
            return Ok(format!("not rolled back: {live} is live"));
        }
        match self.sagemaker.update_endpoint(endpoint, to).await {
            Ok(()) => {}
            Err(e) if e.kind == AwsErrorKind::InProgress => {
                return Ok(format!(
                    "not rolled back: the endpoint is already changing ({e})"
                ))
            }
            Err(e) => return Ok(format!("rollback to {to} failed: {e}")),
        }
        if let Err(e) = self
            .sagemaker
            .add_tags(endpoint_arn, &rollback_marks(failed, to))
            .await
        {
            warn!(endpoint, error = %e, "rolled back but could not tag the endpoint");
        }
        Ok(format!("rolled back to {to}"))
    }

    /// A config's deployment record (its tags), if the pipeline made it.
    async fn record_of(&self, config: &str) -> Result<Option<DeploymentRecord>, AwsError> {
        let Some(info) = self.sagemaker.describe_endpoint_config(config).await? else {
            return Ok(None);
        };
        let tags = self.sagemaker.list_tags(&info.arn).await?;
        Ok(DeploymentRecord::from_tags(config, &tags))
    }

    /// `Some(why)` when the bytes `config`'s model would load are no longer
    /// those it was deployed with: SageMaker reads the artifact's key
    /// without a version, so a key overwritten (or deleted) since would
    /// make the rollback load other bytes while reporting success.
    async fn bytes_changed(&self, config: &str) -> Result<Option<String>, AwsError> {
        let Some(record) = self.record_of(config).await? else {
            return Ok(Some(
                "has no deployment record, so its artifact's bytes cannot be checked".into(),
            ));
        };
        let artifact = &record.artifact;
        if let Some(package) = artifact.model_package() {
            return self.package_withdrawn(package).await;
        }
        let url = artifact.s3_url();
        Ok(
            match self.store.head(&artifact.bucket, &artifact.key, None).await? {
                None => Some(format!(
                    "was deployed from {url}, which has been deleted since; SageMaker would find no model there"
                )),
                Some(head) if head.version() != Some(artifact.version.as_str()) => Some(format!(
                    "was deployed from {url} version {}, which has been overwritten since (now {}); SageMaker would load the newer bytes",
                    artifact.version,
                    head.version().unwrap_or("?")
                )),
                Some(_) => None,
            },
        )
    }
}

impl SmokeTester {
    /// For a Model Registry deployment, `Some(why)` when its package may no
    /// longer serve: deleted, or no longer approved (rolling back onto a
    /// rejected version would undo the registry's decision).
    async fn package_withdrawn(&self, package: &str) -> Result<Option<String>, AwsError> {
        Ok(
            match self.sagemaker.describe_model_package(package).await? {
                None => Some(format!(
                    "was deployed from model package {package}, which has been deleted since"
                )),
                Some(p) if p.approval != Some(ModelApprovalStatus::Approved) => Some(format!(
                "was deployed from model package {package}, which is {} now, no longer Approved",
                p.approval.as_ref().map(|s| s.as_str()).unwrap_or("unknown")
            )),
                Some(_) => None,
            },
        )
    }
}
