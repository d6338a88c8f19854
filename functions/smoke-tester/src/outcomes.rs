//! How a deployment ended, as the state-change events tell it. The smoke
//! tester is the one consumer of "SageMaker Endpoint State Change" events,
//! so every settled state is judged in one place: FAILED is a failed
//! create; IN_SERVICE is either an update SageMaker rolled back (the live
//! config is not the newest deployment, and the event carries a
//! FailureReason) or a deployment to test, whose verdict ends it
//! (`deployed` or `smoke-test-failed`). Everything is told through the
//! shared outcome path (shared::aws::outcomes), whose conditional ledger
//! write makes a duplicate event tell nothing twice.

use crate::report::{Outcome as TestOutcome, SmokeTestReport};
use crate::rollback::rollback_marks;
use crate::tester::SmokeTester;
use crate::trigger::Trigger;
use aws_sdk_sagemaker::types::EndpointStatus;
use shared::aws::outcomes::Told;
use shared::aws::sagemaker::EndpointInfo;
use shared::aws::AwsError;
use shared::deployment::capacity_tag_value;
use shared::ledger::{LedgerEntry, Outcome};
use shared::outcome::Ending;
use shared::smoke::{Verdict, ROLLED_BACK_FROM_TAG, TESTED_AT_TAG, TESTED_CONFIG_TAG, VERDICT_TAG};
use std::collections::BTreeMap;
use tracing::info;

/// What a verdict already on the endpoint means for an IN_SERVICE event
/// of its config.
pub(crate) enum Tested {
    /// Its deployment has ended: nothing to test; what this event told, if
    /// anything.
    Told(Option<(Outcome, Told)>),
    /// Its deployment never ended: the test is run again.
    NeverTold,
}

/// `true` for a deployment that changed the endpoint (or was meant to):
/// refused and abandoned uploads never got that far, and a rejection of
/// the live package is a note about another deployment, not one.
fn started(entry: &LedgerEntry) -> bool {
    !matches!(
        entry.outcome,
        Outcome::Refused | Outcome::Abandoned | Outcome::LivePackageRejected
    )
}

impl SmokeTester {
    /// A FAILED event: the create of the event's config failed.
    pub(crate) async fn report_failed_create(
        &self,
        trigger: &Trigger,
    ) -> Result<SmokeTestReport, AwsError> {
        let endpoint = &trigger.endpoint;
        let Some(config) = &trigger.event_config else {
            let why = format!("endpoint {endpoint} is Failed, but the event names no config");
            return Ok(SmokeTestReport::ignored(Some(endpoint.clone()), why));
        };
        let reason = trigger
            .failure_reason
            .clone()
            .unwrap_or_else(|| "SageMaker gave no FailureReason".into());
        let ending = Ending::new(endpoint, config, Outcome::CreateFailed).because(reason.clone());
        let told = self.outcomes.report_outcome(&ending).await?;
        let mut report = SmokeTestReport::ignored(
            Some(endpoint.clone()),
            format!("endpoint {endpoint} is Failed ({reason}); nothing to test"),
        );
        report.endpoint_config = Some(config.clone());
        self.note(&mut report, Outcome::CreateFailed, told);
        Ok(report)
    }

    /// An IN_SERVICE event with a FailureReason: when the endpoint runs
    /// another config than its newest deployment, still in progress,
    /// SageMaker rolled that update back. Needs the ledger (the newest
    /// deployment); without one, nothing is concluded.
    pub(crate) async fn report_sagemaker_rollback(
        &self,
        trigger: &Trigger,
    ) -> Result<Option<Told>, AwsError> {
        let (Some(reason), Some(ledger)) = (&trigger.failure_reason, &self.outcomes.ledger) else {
            return Ok(None);
        };
        let name = &trigger.endpoint;
        let Some(live) = self.sagemaker.describe_endpoint(name).await? else {
            return Ok(None);
        };
        if live.status != EndpointStatus::InService {
            return Ok(None);
        }
        let history = ledger.deployment_history(name).await?;
        let Some(newest) = history.iter().find(|e| started(e)) else {
            return Ok(None);
        };
        if newest.config_name == live.config_name || newest.outcome != Outcome::InProgress {
            return Ok(None);
        }
        let mut ending = Ending::new(
            name,
            &newest.config_name,
            Outcome::UpdateRolledBackBySagemaker,
        )
        .because(reason.clone());
        ending.details = Some(format!(
            "The endpoint serves {} again (the config it ran before the update).",
            live.config_name
        ));
        ending.only_if_recorded = true;
        Ok(Some(self.outcomes.report_outcome(&ending).await?))
    }

    /// An IN_SERVICE event for the config the endpoint's verdict is about.
    /// Its deployment still open in the ledger means the tester died
    /// between tagging the verdict and telling it: the test is run again
    /// ([`Tested::NeverTold`]). Otherwise nothing is tested, and the event
    /// may still end something: an ending of this config whose alert was
    /// never published (published now), or a concurrency change made in
    /// place on it. Without a ledger the verdict stands.
    pub(crate) async fn tested_before(
        &self,
        endpoint: &EndpointInfo,
        verdict: Verdict,
    ) -> Result<Tested, AwsError> {
        let Some(ledger) = &self.outcomes.ledger else {
            return Ok(Tested::Told(None));
        };
        let history = ledger.deployment_history(&endpoint.name).await?;
        match history
            .iter()
            .find(|e| e.config_name == endpoint.config_name)
        {
            Some(own) if own.outcome == Outcome::InProgress => return Ok(Tested::NeverTold),
            Some(own) if own.alert_pending => {
                let mut ending = Ending::new(&endpoint.name, &own.config_name, own.outcome);
                ending.only_if_recorded = true;
                let told = self.outcomes.report_outcome(&ending).await?;
                return Ok(Tested::Told(Some((own.outcome, told))));
            }
            _ => {}
        }
        let ended = self.report_capacity_change(endpoint, verdict.as_str(), &history);
        Ok(Tested::Told(
            ended.await?.map(|told| (Outcome::Deployed, told)),
        ))
    }

    /// An IN_SERVICE event while the endpoint's tags hold the `failed`
    /// verdict of another config: the rollback from that config ended here,
    /// and the tester that made it may have died before telling it. When
    /// the failed deployment is still open and replaced this config (where
    /// a rollback goes), it ends now, `smoke-test-failed`, rolled back to
    /// this config, with the rollback's tags written if they are missing
    /// (the deployer reads them); an ending whose alert was never published
    /// is published. Needs the ledger; reads it only after a failed test.
    pub(crate) async fn finish_interrupted_rollback(
        &self,
        endpoint: &EndpointInfo,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tag = |key: &str| tags.get(key).map(String::as_str);
        let (Some(ledger), Some(failed)) = (&self.outcomes.ledger, tag(TESTED_CONFIG_TAG)) else {
            return Ok(());
        };
        if failed == endpoint.config_name || tag(VERDICT_TAG) != Some(Verdict::Failed.as_str()) {
            return Ok(());
        }
        let history = ledger.deployment_history(&endpoint.name).await?;
        let Some(entry) = history.iter().find(|e| e.config_name == failed) else {
            return Ok(());
        };
        let went_back = entry.outcome == Outcome::InProgress
            && entry.replaces_config.as_deref() == Some(endpoint.config_name.as_str());
        if !went_back && !entry.alert_pending {
            return Ok(());
        }
        let to = &endpoint.config_name;
        if went_back && tag(ROLLED_BACK_FROM_TAG) != Some(failed) {
            let marks = rollback_marks(failed, to);
            self.sagemaker.add_tags(&endpoint.arn, &marks).await?;
        }
        let when = tag(TESTED_AT_TAG).unwrap_or("an unrecorded time");
        let mut ending = Ending::new(&endpoint.name, failed, Outcome::SmokeTestFailed).because(
            format!("smoke test failed (verdict of {when}; the smoke tester stopped before telling why); rolled back to {to}"),
        );
        ending.only_if_recorded = true;
        let told = self.outcomes.report_outcome(&ending).await?;
        info!(endpoint = %endpoint.name, failed, ?told, "an interrupted rollback's ending told");
        Ok(())
    }

    /// An IN_SERVICE event for a config tested before: when the newest
    /// deployment in `history` is a concurrency change made in place on
    /// this config, still in progress, and the endpoint now runs its
    /// concurrency, the change is done: `deployed` (no new model or
    /// config, so the config's own verdict stands and nothing is tested
    /// again).
    async fn report_capacity_change(
        &self,
        endpoint: &EndpointInfo,
        verdict: &str,
        history: &[LedgerEntry],
    ) -> Result<Option<Told>, AwsError> {
        if endpoint.status != EndpointStatus::InService {
            return Ok(None);
        }
        let Some(newest) = history.iter().find(|e| started(e)) else {
            return Ok(None);
        };
        let runs_target = newest.capacity_target.is_some()
            && newest.capacity_target == endpoint.capacity.as_ref().map(capacity_tag_value);
        if newest.outcome != Outcome::InProgress
            || newest.replaces_config.as_deref() != Some(endpoint.config_name.as_str())
            || !runs_target
        {
            return Ok(None);
        }
        let change = newest.capacity_change.as_deref().unwrap_or("concurrency");
        let ending =
            Ending::new(&endpoint.name, &newest.config_name, Outcome::Deployed).because(format!(
                "{change}: applied; {} keeps its smoke-test verdict ({verdict})",
                endpoint.config_name
            ));
        Ok(Some(self.outcomes.report_outcome(&ending).await?))
    }

    /// The verdict ends the tested deployment: `deployed` (passed or not
    /// tested) or `smoke-test-failed` (with what became of the rollback).
    /// The deployment it replaced (`replaced`, from the tested config's own
    /// record), if still open, was `superseded`.
    pub(crate) async fn report_verdict(
        &self,
        report: &mut SmokeTestReport,
        replaced: Option<&str>,
        force: bool,
    ) -> Result<(), AwsError> {
        let (Some(endpoint), Some(config)) =
            (report.endpoint.clone(), report.endpoint_config.clone())
        else {
            return Ok(());
        };
        let outcome = match report.outcome {
            TestOutcome::Passed | TestOutcome::NotTested => Outcome::Deployed,
            TestOutcome::Failed => Outcome::SmokeTestFailed,
            TestOutcome::Ignored => return Ok(()),
        };
        let mut why = match report.outcome {
            TestOutcome::Passed => "smoke test passed".to_string(),
            TestOutcome::NotTested => format!("not tested: {}", report.reasons.join("; ")),
            _ => format!("smoke test failed: {}", report.reasons.join("; ")),
        };
        if let Some(rollback) = &report.rollback {
            why.push_str(&format!("; {rollback}"));
        }
        let mut ending = Ending::new(&endpoint, &config, outcome).because(why);
        if outcome == Outcome::SmokeTestFailed {
            ending.details = serde_json::to_string_pretty(report).ok();
        }
        // A forced re-test is a new test of a deployment that has ended
        // already: told again, outside the ledger.
        let reporter = match force {
            true => shared::aws::outcomes::OutcomeReporter {
                ledger: None,
                ..self.outcomes.clone()
            },
            false => self.outcomes.clone(),
        };
        let told = reporter.report_outcome(&ending).await?;
        self.note(report, outcome, told);
        if let Some(previous) = replaced {
            if previous != config && !force {
                let mut replaced = Ending::new(&endpoint, previous, Outcome::Superseded)
                    .because(format!("{config} replaced it before its test ended"));
                replaced.only_if_recorded = true;
                self.outcomes.report_outcome(&replaced).await?;
            }
        }
        Ok(())
    }

    fn note(&self, report: &mut SmokeTestReport, outcome: Outcome, told: Told) {
        if let Told::Now { alerted } = told {
            report.deployment_outcome = Some(outcome);
            report.notified = alerted;
        }
    }
}
