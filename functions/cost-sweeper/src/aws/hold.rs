//! The last re-checks before a destructive step: an original opted out
//! since the sweep read the fleet (or since its migration started), or
//! called since the switch was announced (more than a recreate allows),
//! is neither retired nor replaced. The step is held, people are told once
//! (the canary records the hold they were told about), and the report
//! says so; each run re-plans and re-checks, so it stays held until the
//! tag goes, the traffic stops, or the migration is reverted.

use crate::aws::apply::Applier;
use crate::aws::metrics::{Kind, Series, Window};
use crate::aws::tagging::tag_map;
use crate::domain::fleet::{migration_tags as tags, user_tags};
use crate::domain::steps::{HoldKind, TrafficCheck};
use chrono::{DateTime, Duration, Utc};
use shared::aws::AwsError;
use std::collections::BTreeMap;

impl Applier {
    /// `Some(why)` when `current_tags` (just re-read from `name`) opt it
    /// out: then `step` must not go ahead (people are told, once).
    pub(crate) async fn held_by_opt_out(
        &self,
        name: &str,
        current_tags: &BTreeMap<String, String>,
        step: &str,
        canary_arn: &str,
    ) -> Result<Option<String>, AwsError> {
        if current_tags.get(user_tags::OPT_OUT).map(String::as_str)
            != Some(user_tags::OPT_OUT_VALUE)
        {
            return Ok(None);
        }
        let why = format!(
            "{name} was opted out ({}={}) after its migration started: {step} held; \
             revert the migration or remove the tag",
            user_tags::OPT_OUT,
            user_tags::OPT_OUT_VALUE
        );
        self.notify_hold(name, canary_arn, HoldKind::OptedOut, &why)
            .await?;
        Ok(Some(why))
    }

    /// `Some(why)` when `name` was called since `check.since` more than
    /// `check` allows, or CloudWatch's answer about it is incomplete
    /// (unknown traffic is not no traffic: the next run reads again).
    pub(crate) async fn held_by_traffic(
        &self,
        name: &str,
        check: &TrafficCheck,
        step: &str,
        canary_arn: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, AwsError> {
        let series: Vec<Series> = check
            .variants
            .iter()
            .map(|variant| Series {
                endpoint: name.to_string(),
                variant: variant.clone(),
                kind: Kind::InvocationsPerMinute,
            })
            .collect();
        // Per minute up to this second (CloudWatch keeps minutes 15 days).
        let window = Window {
            start: check.since.min(now - Duration::minutes(1)),
            end: now,
            recent_from: now,
        }
        .minutes();
        let readings = self.metrics.read(&series, &window).await?;
        if let Some(gap) = readings.gaps.iter().flatten().next() {
            return Ok(Some(format!(
                "{}: {name}'s traffic since {} is unknown, so {step} waits for the next run",
                gap.describe(),
                window.start.to_rfc3339()
            )));
        }
        let invocations: f64 = readings.points.iter().flatten().map(|(_, n)| n).sum();
        // A recreate's allowance accrues per day, at least a day's worth.
        let days = ((now - window.start).num_seconds() as f64 / 86_400.0).max(1.0);
        let allowed = check.allowed_per_day as f64 * days;
        if invocations <= allowed {
            return Ok(None);
        }
        let why = if check.allowed_per_day == 0 {
            format!(
                "{name} had {invocations} invocations since {} (callers were told to switch): \
                 {step} held until they stop",
                window.start.to_rfc3339()
            )
        } else {
            format!(
                "{name} had {invocations} invocations since {} (its migration started), more than the \
                 {} a day at which serverless still saves: {step} held; revert the migration if the \
                 traffic is here to stay",
                window.start.to_rfc3339(),
                check.allowed_per_day
            )
        };
        self.notify_hold(name, canary_arn, HoldKind::Traffic, &why)
            .await?;
        Ok(Some(why))
    }

    /// Tells people `name`'s migration is held, unless its canary records
    /// that they were told about this kind of hold already; then records it
    /// there. Told first, recorded after: a run cut short in between tells
    /// them again rather than never.
    pub(crate) async fn notify_hold(
        &self,
        name: &str,
        canary_arn: &str,
        kind: HoldKind,
        why: &str,
    ) -> Result<bool, AwsError> {
        let canary_tags = self.sagemaker.list_tags(canary_arn).await?;
        if canary_tags.get(tags::HOLD).map(String::as_str) == Some(kind.as_str()) {
            tracing::info!(
                endpoint = name,
                "{why} (people were told on an earlier run)"
            );
            return Ok(false);
        }
        let subject = format!("SageMaker endpoint {name}: migration to serverless held");
        let sent = self.notifier.notify(&subject, why).await?;
        tracing::warn!(endpoint = name, message_id = ?sent, "{why}");
        self.sagemaker
            .add_tags(canary_arn, &tag_map(&[(tags::HOLD, kind.as_str())]))
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "hold_tests.rs"]
mod tests;
