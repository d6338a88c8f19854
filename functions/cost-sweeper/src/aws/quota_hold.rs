//! The recreate strategy's check before it deletes an original: the
//! serverless replacement (created from the canary's config, next to the
//! canary) must fit the Region's serverless quotas, or the original would
//! be deleted for a create that AWS then refuses. Not enough room: the
//! step is held with the reason, nothing is deleted, and each run checks
//! again.

use crate::aws::apply::Applier;
use shared::aws::sagemaker::EndpointInfo;
use shared::aws::service_quotas::Room;
use shared::aws::AwsError;

impl Applier {
    /// `Some(why)` when the replacement of `name` at the canary's
    /// concurrency does not fit: then the original must not be deleted.
    pub(crate) async fn held_by_quota(
        &self,
        name: &str,
        canary: &EndpointInfo,
    ) -> Result<Option<String>, AwsError> {
        let Some(capacity) = canary.capacity else {
            return Ok(Some(format!(
                "canary {} shows no serverless concurrency, so the room its replacement needs is unknown: {name} is not deleted",
                canary.name
            )));
        };
        let room = self
            .quotas
            .room_for(&self.sagemaker, name, capacity.max_concurrency)
            .await?;
        let Room::Short(short) = room else {
            return Ok(None);
        };
        let why = format!(
            "serverless quota: the replacement of {name} (max concurrency {}, besides its canary) does not fit: {short}. \
             {name} is not deleted; the replacement is held and each run checks again",
            capacity.max_concurrency
        );
        tracing::warn!(endpoint = name, "{why}");
        Ok(Some(why))
    }
}
