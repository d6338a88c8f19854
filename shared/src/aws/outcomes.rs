//! Telling how a deployment ended ([`crate::outcome`]): the one path every
//! function reports outcomes through. The ledger's conditional write comes
//! first and decides whether this is news: a duplicate event, or a second
//! function reaching the same conclusion, finds the deployment already
//! ended and tells nothing again, unless that ending's alert is still
//! pending (its teller died before publishing it), which it then publishes.

use super::dynamodb::{Finish, Finished, Ledger};
use super::sns::Notifier;
use super::AwsError;
use crate::outcome::Ending;
use tracing::{info, warn};

#[derive(Clone, Debug)]
pub struct OutcomeReporter {
    /// `None`: no ledger, so no way to tell a repeat; every report is told.
    pub ledger: Option<Ledger>,
    pub notifier: Notifier,
    /// CloudWatch namespace of the `DeployOutcomes` metric.
    pub namespace: String,
}

/// What reporting an ending did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Recorded now, counted, and for a failure alerted (`alerted` is
    /// false when no topic is configured).
    Now { alerted: bool },
    /// The deployment had already ended: nothing told again.
    Already,
}

impl OutcomeReporter {
    /// Records `ending` in the ledger (once), counts it and, for a failure,
    /// publishes its alert. The alert is written with the ending as pending
    /// and cleared once published, so a crash or a failed publish in
    /// between leaves it for the next report of that deployment (a
    /// redelivery, a retry), which publishes it: an alert is never lost,
    /// and told twice only if two reports overlap within that window.
    pub async fn report_outcome(&self, ending: &Ending) -> Result<Told, AwsError> {
        let alert = ending.alert();
        let recorded = match (&self.ledger, &ending.endpoint, &ending.config_name) {
            (Some(ledger), Some(endpoint), Some(config)) => Some((ledger, endpoint, config)),
            _ => None,
        };
        let Some((ledger, endpoint, config)) = recorded else {
            // No ledger to tell a repeat: told whole, counted once published.
            let alerted = self.publish(alert.as_ref()).await?;
            ending.metric(&self.namespace).emit();
            return Ok(Told::Now { alerted });
        };
        let finish = Finish {
            outcome: ending.outcome,
            reason: ending.reason.as_deref(),
            // With no topic an alert is only logged: nothing to keep pending.
            alert: alert
                .as_ref()
                .filter(|_| self.notifier.is_enabled())
                .map(|(s, m)| (s.as_str(), m.as_str())),
        };
        let finished = ledger
            .finish_deployment(
                endpoint,
                config,
                finish,
                chrono::Utc::now(),
                ending.only_if_recorded,
            )
            .await?;
        let pending = match finished {
            Finished::Now => {
                // The ending stands: counted once, whatever the alert does.
                ending.metric(&self.namespace).emit();
                alert
            }
            Finished::Already {
                pending_alert: None,
            } => {
                info!(
                    endpoint,
                    config,
                    outcome = ending.outcome.as_str(),
                    "deployment had already ended; not reported again"
                );
                return Ok(Told::Already);
            }
            Finished::Already {
                pending_alert: Some(alert),
            } => {
                warn!(
                    endpoint,
                    config,
                    "deployment had ended but its alert was never published; publishing it now"
                );
                Some(alert)
            }
        };
        let alerted = self.publish(pending.as_ref()).await?;
        if pending.is_some() && self.notifier.is_enabled() {
            if let Err(e) = ledger.alert_told(endpoint, config).await {
                // Published: at worst a later report of it alerts again.
                warn!(endpoint, config, error = %e, "alert published but still marked pending");
            }
        }
        Ok(Told::Now { alerted })
    }

    /// Publishes an alert (subject, message), if any; `true` when sent
    /// (`false`: no topic configured).
    async fn publish(&self, alert: Option<&(String, String)>) -> Result<bool, AwsError> {
        match alert {
            None => Ok(false),
            Some((subject, message)) => Ok(self.notifier.notify(subject, message).await?.is_some()),
        }
    }
}

#[cfg(test)]
#[path = "outcomes_tests.rs"]
mod tests;
