//! One smoke test, start to finish: observe the endpoint, claim the test,
//! find the request, call the endpoint, judge, record, and on failure roll
//! back or alert.

use crate::check::judge;
use crate::config::SmokeTesterConfig;
use crate::invoke::{CallResult, Invoker};
use crate::outcomes::Tested;
use crate::report::SmokeTestReport;
use crate::request::{find_request, Lookup};
use crate::trigger::{parse_trigger, Ignored, Trigger};
use aws_sdk_sagemaker::types::EndpointStatus;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use shared::aws::dynamodb::Ledger;
use shared::aws::outcomes::{OutcomeReporter, Told};
use shared::aws::s3::ArtifactStore;
use shared::aws::sagemaker::SageMaker;
use shared::aws::AwsError;
use shared::ledger::Outcome;
use shared::smoke::{verdict_for, Verdict, TESTED_AT_TAG, TESTED_CONFIG_TAG, VERDICT_TAG};
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// On the endpoint: which invocation is running the test.
pub const CLAIM_TAG: &str = "pipeline:smoke-test-claim";
const IN_PROGRESS: &str = "in-progress";
pub const COLD_MS_TAG: &str = "pipeline:smoke-test-cold-ms";
pub const WARM_MS_TAG: &str = "pipeline:smoke-test-warm-p50-ms";
/// Serverless invocations time out after 60 s; a call needs that much room.
const CALL_BUDGET: Duration = Duration::from_secs(65);

/// Why a state-change event starts no test, and the deployment it ended
/// instead, if any.
struct NoTest {
    why: String,
    ended: Option<(Outcome, Told)>,
}

impl NoTest {
    fn because(why: String) -> Self {
        NoTest { why, ended: None }
    }
}

#[derive(Clone, Debug)]
pub struct SmokeTester {
    /// The deployment ledger, whose per-endpoint lease a rollback takes
    /// (`None`, no `LEDGER_TABLE`: the rollback runs without it).
    pub ledger: Option<Ledger>,
    pub sagemaker: SageMaker,
    pub store: ArtifactStore,
    pub invoker: Invoker,
    /// Ledger, alerts and the outcome metric: how each deployment ended.
    pub outcomes: OutcomeReporter,
    pub config: SmokeTesterConfig,
}

impl SmokeTester {
    /// Handles one payload. `Err` only for AWS faults a retry can fix.
    pub async fn run(
        &self,
        payload: &Value,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<SmokeTestReport, AwsError> {
        let trigger = match parse_trigger(payload) {
            Ok(trigger) => trigger,
            Err(Ignored(why)) => return Ok(SmokeTestReport::ignored(None, why)),
        };
        if trigger.status == EndpointStatus::Failed {
            return self.report_failed_create(&trigger).await;
        }
        let endpoint = trigger.endpoint.clone();
        let rolled_back = self.report_sagemaker_rollback(&trigger).await?;
        let (config, endpoint_arn, tags) = match self.claim(&trigger, request_id).await? {
            Ok(claimed) => claimed,
            Err(NoTest { why, ended }) => {
                let mut report = SmokeTestReport::ignored(Some(endpoint), why);
                let rolled_back = rolled_back.map(|t| (Outcome::UpdateRolledBackBySagemaker, t));
                if let Some((outcome, Told::Now { alerted })) = ended.or(rolled_back) {
                    report.deployment_outcome = Some(outcome);
                    report.notified = alerted;
                }
                return Ok(report);
            }
        };
        let (mut report, replaced) = self.test(&endpoint, &config, deadline).await?;
        self.record(&endpoint_arn, &config, &report).await?;
        if report.outcome == crate::report::Outcome::Failed {
            report.rollback = Some(
                self.maybe_roll_back(
                    &endpoint,
                    &endpoint_arn,
                    &config,
                    &tags,
                    deadline.and_then(shared::lease::invocation_deadline),
                )
                .await,
            );
        }
        // The verdict is tagged already, so a retry would find the test
        // done: a failure to tell the outcome is logged, not retried.
        if let Err(e) = self
            .report_verdict(&mut report, replaced.as_deref(), trigger.force)
            .await
        {
            warn!(endpoint, error = %e, "the deployment outcome could not be told");
        }
        if let Some(metrics) = report.metrics(&self.config.metrics_namespace) {
            metrics.emit();
        }
        Ok(report)
    }

    /// Checks the endpoint is one to test now and takes the test for this
    /// invocation. Returns the config, the endpoint ARN and its tags.
    async fn claim(
        &self,
        trigger: &Trigger,
        request_id: &str,
    ) -> Result<Result<(String, String, BTreeMap<String, String>), NoTest>, AwsError> {
        let name = &trigger.endpoint;
        let Some(endpoint) = self.sagemaker.describe_endpoint(name).await? else {
            return Ok(Err(NoTest::because(format!(
                "endpoint {name} does not exist (deleted?)"
            ))));
        };
        if endpoint.status != EndpointStatus::InService {
            return Ok(Err(NoTest::because(format!(
                "endpoint {name} is {} now; the event is stale",
                endpoint.status
            ))));
        }
        if let Some(event_config) = &trigger.event_config {
            if event_config != &endpoint.config_name {
                return Ok(Err(NoTest::because(format!(
                    "endpoint {name} now runs {}, not {event_config}; that config gets its own event",
                    endpoint.config_name
                ))));
            }
        }
        let config = endpoint.config_name.clone();
        let tags = self.sagemaker.list_tags(&endpoint.arn).await?;
        if tags.get(MANAGED_BY_KEY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
            return Ok(Err(NoTest::because(format!(
                "endpoint {name} is not managed by this pipeline"
            ))));
        }
        self.finish_interrupted_rollback(&endpoint, &tags).await?;
        if let Some(verdict) = verdict_for(&tags, &config) {
            if !trigger.force {
                match self.tested_before(&endpoint, verdict).await? {
                    Tested::Told(ended) => {
                        return Ok(Err(NoTest {
                            why: format!("{config} was already tested: {}", verdict.as_str()),
                            ended,
                        }))
                    }
                    Tested::NeverTold => info!(
                        endpoint = name,
                        config,
                        "its verdict was never told (the tester stopped first): testing again"
                    ),
                }
            }
        }
        if self.claimed_by_other(&tags, &config, request_id) {
            return Ok(Err(NoTest::because(format!(
                "another invocation is testing {config}"
            ))));
        }
        let claim = BTreeMap::from([
            (VERDICT_TAG.to_string(), IN_PROGRESS.to_string()),
            (TESTED_CONFIG_TAG.to_string(), config.clone()),
            (TESTED_AT_TAG.to_string(), now_rfc3339()),
            (CLAIM_TAG.to_string(), request_id.to_string()),
        ]);
        self.sagemaker.add_tags(&endpoint.arn, &claim).await?;
        // Tags are not a lock: a racing twin may write its claim just after
        // ours. After a pause, whoever's claim stands runs the test.
        tokio::time::sleep(self.config.claim_settle).await;
        let after = self.sagemaker.list_tags(&endpoint.arn).await?;
        if after.get(CLAIM_TAG).map(String::as_str) != Some(request_id) {
            return Ok(Err(NoTest::because(format!(
                "another invocation claimed the test of {config}"
            ))));
        }
        Ok(Ok((config, endpoint.arn, tags)))
    }

    fn claimed_by_other(
        &self,
        tags: &BTreeMap<String, String>,
        config: &str,
        request_id: &str,
    ) -> bool {
        let get = |k: &str| tags.get(k).map(String::as_str);
        let fresh = get(TESTED_AT_TAG)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| (Utc::now() - t.with_timezone(&Utc)).to_std().ok())
            .is_some_and(|age| age < self.config.claim_lease);
        get(VERDICT_TAG) == Some(IN_PROGRESS)
            && get(TESTED_CONFIG_TAG) == Some(config)
            && get(CLAIM_TAG) != Some(request_id)
            && fresh
    }

    /// Finds the request and calls the endpoint: one cold call, then warm
    /// ones. Also returns the config the tested one replaced, from the
    /// tested config's own record (written with it, so present even when a
    /// deploy died before tagging the endpoint).
    async fn test(
        &self,
        endpoint: &str,
        config: &str,
        deadline: Option<SystemTime>,
    ) -> Result<(SmokeTestReport, Option<String>), AwsError> {
        let Some(config_info) = self.sagemaker.describe_endpoint_config(config).await? else {
            let report = SmokeTestReport::tested(
                endpoint,
                config,
                Verdict::NotTested,
                vec![format!("endpoint config {config} does not exist")],
                &[],
            );
            return Ok((report, None));
        };
        let config_tags = self.sagemaker.list_tags(&config_info.arn).await?;
        let replaced = shared::deployment::DeploymentRecord::from_tags(config, &config_tags)
            .and_then(|record| record.replaces_config);
        let report = self
            .call_and_judge(endpoint, config, &config_tags, deadline)
            .await?;
        Ok((report, replaced))
    }

    /// The calls of one test and their verdict.
    async fn call_and_judge(
        &self,
        endpoint: &str,
        config: &str,
        config_tags: &BTreeMap<String, String>,
        deadline: Option<SystemTime>,
    ) -> Result<SmokeTestReport, AwsError> {
        let (request, payload) =
            match find_request(&self.store, &self.sagemaker, config_tags).await? {
                Lookup::Found {
                    request,
                    payload,
                    source,
                } => {
                    info!(endpoint, config, source, "smoke-test request found");
                    (request, payload)
                }
                Lookup::NotRecorded { why } => {
                    info!(endpoint, config, why, "not tested");
                    return Ok(SmokeTestReport::tested(
                        endpoint,
                        config,
                        Verdict::NotTested,
                        vec![why],
                        &[],
                    ));
                }
            };
        let mut calls: Vec<CallResult> = Vec::with_capacity(1 + self.config.warm_invocations);
        let mut notes = Vec::new();
        for index in 0..=self.config.warm_invocations {
            if index > 0 && !has_room(deadline) {
                notes.push(format!(
                    "stopped after {index} calls: the Lambda deadline is near"
                ));
                break;
            }
            let call = self.invoker.call(endpoint, &payload).await;
            let failed = call.outcome.is_err();
            calls.push(call);
            if failed {
                break; // a failing endpoint will not pass on the next call
            }
        }
        let judgement = judge(&calls, request.expect.as_ref());
        let mut reasons = judgement.reasons;
        reasons.extend(notes);
        Ok(SmokeTestReport::tested(
            endpoint,
            config,
            judgement.verdict,
            reasons,
            &calls,
        ))
    }

    /// Tags the verdict on the endpoint.
    async fn record(
        &self,
        endpoint_arn: &str,
        config: &str,
        report: &SmokeTestReport,
    ) -> Result<(), AwsError> {
        let verdict = match report.outcome {
            crate::report::Outcome::Passed => Verdict::Passed,
            crate::report::Outcome::Failed => Verdict::Failed,
            _ => Verdict::NotTested,
        };
        let mut tags = BTreeMap::from([
            (VERDICT_TAG.to_string(), verdict.as_str().to_string()),
            (TESTED_CONFIG_TAG.to_string(), config.to_string()),
            (TESTED_AT_TAG.to_string(), now_rfc3339()),
            (CLAIM_TAG.to_string(), "done".to_string()),
        ]);
        // Always written, empty when not measured, so no figure from an
        // earlier test is left standing next to this verdict.
        let figure = |ms: Option<f64>| ms.map(|v| format!("{v:.0}")).unwrap_or_default();
        tags.insert(COLD_MS_TAG.into(), figure(report.cold_start_ms));
        tags.insert(WARM_MS_TAG.into(), figure(report.warm_p50_ms));
        self.sagemaker.add_tags(endpoint_arn, &tags).await
    }
}

fn has_room(deadline: Option<SystemTime>) -> bool {
    deadline
        .and_then(|d| d.duration_since(SystemTime::now()).ok())
        .is_none_or(|left| left > CALL_BUDGET)
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
