//! Telling how a deployment ended ([`crate::outcome`]): the one path every
//! function reports outcomes through. The ledger's conditional write comes
//! first and decides whether this is news: a duplicate event, or a second
//! function reaching the same conclusion, finds the deployment already
//! ended and tells nothing again.

use super::dynamodb::Ledger;
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
    /// publishes its alert. When the alert cannot be published the ledger
    /// write is taken back and the error returned, so a retry tells it.
    pub async fn report_outcome(&self, ending: &Ending) -> Result<Told, AwsError> {
        let recorded = match (&self.ledger, &ending.endpoint, &ending.config_name) {
            (Some(ledger), Some(endpoint), Some(config)) => Some((ledger, endpoint, config)),
            _ => None,
        };
        if let Some((ledger, endpoint, config)) = recorded {
            let now = chrono::Utc::now();
            let reason = ending.reason.as_deref();
            if !ledger
                .finish_deployment(
                    endpoint,
                    config,
                    ending.outcome,
                    reason,
                    now,
                    ending.only_if_recorded,
                )
                .await?
            {
                info!(
                    endpoint,
                    config,
                    outcome = ending.outcome.as_str(),
                    "deployment had already ended; not reported again"
                );
                return Ok(Told::Already);
            }
        }
        let alerted = match ending.alert() {
            None => false,
            Some((subject, message)) => match self.notifier.notify(&subject, &message).await {
                Ok(id) => id.is_some(),
                Err(e) => {
                    if let Some((ledger, endpoint, config)) = recorded {
                        if let Err(undo) = ledger
                            .reopen_deployment(endpoint, config, ending.outcome)
                            .await
                        {
                            warn!(endpoint, config, error = %undo, "alert failed and the outcome could not be taken back");
                        }
                    }
                    return Err(e);
                }
            },
        };
        // Counted once the ending stands (a failed alert is retried whole).
        ending.metric(&self.namespace).emit();
        Ok(Told::Now { alerted })
    }
}
