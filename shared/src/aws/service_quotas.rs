//! Service Quotas: the account's serverless quotas in the function's
//! Region, and whether a serverless endpoint fits in them (the rules are
//! `crate::quota`). Used by the deployer's pre-flight and by the sweeper
//! before it deletes an original to recreate it as serverless.
//!
//! The quota values are kept for [`QUOTA_CACHE_TTL`] in the client, which
//! a function builds once per container, so warm invocations reuse them;
//! what the Region's endpoints use (ListEndpoints) is always read live, as
//! it decides refusals and changes with every deploy.

use super::sagemaker::SageMaker;
use super::AwsError;
use crate::quota::{
    check_room, fits_at_worst, QuotaShortfall, QuotaSource, QuotaValue, ServerlessQuota,
    ServerlessQuotas, ServerlessUsage, SERVICE_CODE,
};
use aws_sdk_servicequotas::types::ServiceQuota;
use aws_sdk_servicequotas::Client;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long quota values read from Service Quotas are reused. They change
/// only when AWS grants an increase request (hours to days after it is
/// made) or lowers a quota, so 10 minutes saves the two GetServiceQuota
/// calls of nearly every deploy in a burst (uploads, redeliveries, busy
/// retries) while a granted increase is seen within 10 minutes; until
/// then a deploy it would let through is refused naming the old value,
/// and uploading again later deploys it. A quota lowered meanwhile makes
/// the create fail with ResourceLimitExceeded, reported as a quota
/// problem, as a change between check and call always could.
pub const QUOTA_CACHE_TTL: Duration = Duration::from_secs(10 * 60);

/// A monotonic clock: `Instant::now` in the functions; tests pass time
/// with their own.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

#[derive(Clone)]
pub struct ServiceQuotas {
    client: Client,
    ttl: Duration,
    clock: Clock,
    /// The last quotas Service Quotas answered, and when: shared by the
    /// clones (the deployer's is cloned into each consumer).
    cached: Arc<Mutex<Option<(Instant, ServerlessQuotas)>>>,
}

impl fmt::Debug for ServiceQuotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceQuotas")
            .field("client", &self.client)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Whether the change fits, and what it was judged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    Enough,
    Short(QuotaShortfall),
}

impl ServiceQuotas {
    /// Quota values kept for [`QUOTA_CACHE_TTL`].
    pub fn new(client: Client) -> Self {
        ServiceQuotas {
            client,
            ttl: QUOTA_CACHE_TTL,
            clock: Arc::new(Instant::now),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The same client, keeping quota values for `ttl` as `clock` counts
    /// it (nothing kept yet).
    pub fn with_cache(self, ttl: Duration, clock: Clock) -> Self {
        ServiceQuotas {
            ttl,
            clock,
            cached: Arc::new(Mutex::new(None)),
            ..self
        }
    }

    /// A client with the functions' SDK configuration (Region, credentials,
    /// retries, `AWS_ENDPOINT_URL`): quotas are per Region, the function's.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Both serverless quotas, as read within the last `ttl` or read now.
    /// Never fails: a quota that cannot be read is its documented default,
    /// and says so (`QuotaSource`); such an answer is not kept, so the
    /// next check reads again rather than holding an outage's guess.
    pub async fn serverless_quotas(&self) -> ServerlessQuotas {
        let now = (self.clock)();
        if let Some(kept) = self.kept(now) {
            return kept;
        }
        let [endpoints, concurrency] = ServerlessQuota::ALL;
        let read = ServerlessQuotas {
            endpoints: self.read_quota(endpoints).await,
            concurrency: self.read_quota(concurrency).await,
        };
        let answered = [&read.endpoints, &read.concurrency]
            .iter()
            .all(|q| !matches!(q.source, QuotaSource::DocumentedDefault { .. }));
        if answered {
            if let Ok(mut slot) = self.cached.lock() {
                *slot = Some((now, read.clone()));
            }
        }
        read
    }

    /// The kept quotas, if read less than `ttl` before `now`.
    fn kept(&self, now: Instant) -> Option<ServerlessQuotas> {
        let slot = self.cached.lock().ok()?;
        let (read_at, quotas) = slot.as_ref()?;
        (now.saturating_duration_since(*read_at) < self.ttl).then(|| quotas.clone())
    }

    /// The account's applied value; AWS's default when the account has
    /// none (`NoSuchResourceException`); the documented default when
    /// neither can be read.
    async fn read_quota(&self, quota: ServerlessQuota) -> QuotaValue {
        let applied = self
            .client
            .get_service_quota()
            .service_code(SERVICE_CODE)
            .quota_code(quota.code())
            .send()
            .await;
        let why = match applied {
            Ok(out) => match whole(out.quota()) {
                Some(value) => return value_of(quota, value, QuotaSource::Applied),
                None => "GetServiceQuota gave no value".to_string(),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_resource_exception()) =>
            {
                match self.aws_default(quota).await {
                    Ok(value) => return value_of(quota, value, QuotaSource::AwsDefault),
                    Err(why) => why,
                }
            }
            Err(e) => AwsError::from_sdk("GetServiceQuota", e).to_string(),
        };
        tracing::warn!(quota = quota.code(), %why, "serverless quota unreadable; assuming the documented default");
        QuotaValue::documented_default(quota, why)
    }

    async fn aws_default(&self, quota: ServerlessQuota) -> Result<u32, String> {
        let out = self
            .client
            .get_aws_default_service_quota()
            .service_code(SERVICE_CODE)
            .quota_code(quota.code())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAWSDefaultServiceQuota", e).to_string())?;
        whole(out.quota()).ok_or_else(|| "GetAWSDefaultServiceQuota gave no value".to_string())
    }

    /// Whether `endpoint` can run serverless with `max_concurrency` in this
    /// Region now. Reads the quotas, lists the Region's endpoints, and
    /// describes them only when the list alone cannot decide (every other
    /// endpoint taken as serverless at the largest concurrency would not fit).
    pub async fn room_for(
        &self,
        sagemaker: &SageMaker,
        endpoint: &str,
        max_concurrency: u32,
    ) -> Result<Room, AwsError> {
        let quotas = self.serverless_quotas().await;
        let listed = sagemaker.list_endpoints(None).await?;
        let others: Vec<&str> = listed
            .iter()
            .map(|e| e.name.as_str())
            .filter(|name| *name != endpoint)
            .collect();
        let count = u32::try_from(others.len()).unwrap_or(u32::MAX);
        if fits_at_worst(&quotas, count, max_concurrency) {
            return Ok(Room::Enough);
        }
        // What does not fit even in an otherwise empty Region needs no
        // more describing than the endpoint itself.
        let target = sagemaker.serverless_concurrency(endpoint).await?;
        let alone = ServerlessUsage {
            target,
            ..ServerlessUsage::default()
        };
        if let Err(short) = check_room(&quotas, &alone, max_concurrency) {
            return Ok(Room::Short(short));
        }
        let usage = sagemaker.serverless_usage(target, &others).await?;
        Ok(match check_room(&quotas, &usage, max_concurrency) {
            Ok(()) => Room::Enough,
            Err(short) => Room::Short(short),
        })
    }
}

/// A quota's value as a whole number (quotas are counts; a fraction or a
/// negative value is not one: treated as unreadable).
fn whole(quota: Option<&ServiceQuota>) -> Option<u32> {
    let value = quota?.value()?;
    (value.is_finite() && value >= 0.0).then(|| value.min(f64::from(u32::MAX)).floor() as u32)
}

fn value_of(quota: ServerlessQuota, value: u32, source: QuotaSource) -> QuotaValue {
    QuotaValue {
        quota,
        value,
        source,
    }
}
