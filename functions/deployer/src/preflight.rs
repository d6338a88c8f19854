//! Pre-flight checks before anything is created (issue 13 item 5): the
//! rules are `shared::preflight`; this reads what they need (the gzip
//! header and trailer of the artifact and its size, the smoke-test
//! body's size).
//! Serverless-excluded deploy.json fields are refused while the settings
//! are read (`SettingsError::ServerlessExcluded`). Last, the account's
//! serverless quotas (`shared::quota`): a new endpoint, or more
//! concurrency, that would not fit is refused before anything is made,
//! rather than failing at CreateEndpoint after the model and config exist.

use crate::deploy::Deployer;
use crate::outcome::DeployError;
use shared::aws::service_quotas::Room;
use shared::deployment::ArtifactRef;
use shared::preflight::{
    check_artifact, check_image, check_smoke_body, gzip_inflated_lower_bound, PreflightRefusal,
    GZIP_HEAD_BYTES, GZIP_TAIL_BYTES,
};
use shared::settings::{DeploySettings, SmokeTestBody};

impl Deployer {
    /// Refuses (not retryable) what can never run serverless, or cannot
    /// in this account's serverless quotas.
    pub(crate) async fn preflight(
        &self,
        artifact: &ArtifactRef,
        settings: &DeploySettings,
    ) -> Result<(), DeployError> {
        check_image(&settings.container.image_uri)?;
        if artifact.model_package().is_some() {
            // A registry package's artifact lives where its owner put it,
            // which the deployer's role may not read (it reads the models
            // prefix only); its size is not checked (docs/deployer.md).
            return Ok(());
        }
        let body_key = match settings.smoke_test.as_ref().map(|s| &s.body) {
            Some(SmokeTestBody::S3Key(key)) => Some(key),
            _ => None,
        };
        // Only under the models prefix: the deployer's role reads nothing
        // else. A missing body is the smoke tester's to report, as before.
        if let Some(key) = body_key.filter(|k| self.config.below_prefix(k).is_some()) {
            if let Some(body) = self.store.head(&artifact.bucket, key, None).await? {
                check_smoke_body(&artifact.bucket, key, non_negative(body.size))?;
            }
        }
        // The key's current bytes, which SageMaker will read (it takes
        // ModelDataUrl without a version).
        let ends = self
            .store
            .ends(
                &artifact.bucket,
                &artifact.key,
                (GZIP_HEAD_BYTES, GZIP_TAIL_BYTES),
            )
            .await?;
        if let Some(ends) = ends {
            let uncompressed = gzip_inflated_lower_bound(&ends.head, &ends.tail, ends.size);
            check_artifact(ends.size, uncompressed, settings.memory_size_mb)?;
        }
        self.quota_preflight(settings).await
    }

    /// The endpoint at `settings.max_concurrency` against the Region's
    /// serverless quotas (when they cannot be read: the documented
    /// defaults, which the refusal then names as such).
    pub(crate) async fn quota_preflight(
        &self,
        settings: &DeploySettings,
    ) -> Result<(), DeployError> {
        let room = self
            .quotas
            .room_for(
                &self.sagemaker,
                &settings.endpoint_name,
                settings.max_concurrency,
            )
            .await?;
        match room {
            Room::Enough => Ok(()),
            Room::Short(short) => Err(PreflightRefusal::from(short).into()),
        }
    }
}

fn non_negative(size: i64) -> u64 {
    u64::try_from(size).unwrap_or(0)
}
