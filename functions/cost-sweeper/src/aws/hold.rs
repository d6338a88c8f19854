//! The last re-check before a destructive step: an original opted out
//! since the sweep read the fleet (or since its migration started) is
//! neither retired nor replaced. The step is held, people are told (SNS),
//! and the report says so; each run re-plans, so it stays held until the
//! tag goes or the migration is reverted.

use crate::aws::apply::Applier;
use crate::domain::fleet::user_tags;
use shared::aws::AwsError;
use std::collections::BTreeMap;

impl Applier {
    /// `Some(why)` when `current_tags` (just re-read from `name`) opt it
    /// out: then `step` must not go ahead, and the notice has been sent.
    pub(crate) async fn held_by_opt_out(
        &self,
        name: &str,
        current_tags: &BTreeMap<String, String>,
        step: &str,
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
        let subject = format!("SageMaker endpoint {name}: migration to serverless held");
        let sent = self.notifier.notify(&subject, &why).await?;
        tracing::warn!(endpoint = name, message_id = ?sent, "{why}");
        Ok(Some(why))
    }
}
