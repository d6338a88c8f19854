//! The account's serverless quotas (issue 12 item 3, issue 13 item 5):
//! whether one more serverless endpoint, or more concurrency for one, fits
//! before anything is created or deleted. Pure rules here; the values come
//! from Service Quotas (`crate::aws::service_quotas`) and the use from
//! SageMaker (`crate::aws::sagemaker`).
//!
//! The two quotas, as Service Quotas lists them for service code
//! `sagemaker` (per account, per Region):
//! - `L-99AD19BF` "Maximum number of serverless endpoints", AWS default 5;
//! - `L-96300102` "Maximum total concurrency that can be allocated across
//!   all serverless endpoints", AWS default 10.
//!
//! Older SageMaker guides quote 50 endpoints and 200 total concurrency;
//! accounts opened since get the lower defaults above, so when the quotas
//! cannot be read those are assumed (the smaller reading: a refusal or a
//! hold on it may be needless, but never lets a delete through that the
//! account cannot follow with a create). Every message says which reading
//! it used.

use std::fmt;

/// Service Quotas' service code for SageMaker.
pub const SERVICE_CODE: &str = "sagemaker";
/// The largest MaxConcurrency one serverless endpoint can have.
pub const MAX_CONCURRENCY_PER_ENDPOINT: u32 = 200;

/// One of the two serverless quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerlessQuota {
    Endpoints,
    TotalConcurrency,
}

impl ServerlessQuota {
    pub const ALL: [ServerlessQuota; 2] = [Self::Endpoints, Self::TotalConcurrency];

    pub fn code(self) -> &'static str {
        match self {
            Self::Endpoints => "L-99AD19BF",
            Self::TotalConcurrency => "L-96300102",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Endpoints => "Maximum number of serverless endpoints",
            Self::TotalConcurrency => {
                "Maximum total concurrency that can be allocated across all serverless endpoints"
            }
        }
    }

    /// AWS's default value, as Service Quotas lists it (module comment).
    pub fn documented_default(self) -> u32 {
        match self {
            Self::Endpoints => 5,
            Self::TotalConcurrency => 10,
        }
    }
}

/// Where a quota's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaSource {
    /// The account's applied value (`GetServiceQuota`).
    Applied,
    /// AWS's default (`GetAWSDefaultServiceQuota`): the account has no
    /// applied value of its own.
    AwsDefault,
    /// Service Quotas could not be read (`why`): the documented default.
    DocumentedDefault { why: String },
}

/// A quota's value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaValue {
    pub quota: ServerlessQuota,
    pub value: u32,
    pub source: QuotaSource,
}

impl QuotaValue {
    pub fn documented_default(quota: ServerlessQuota, why: impl Into<String>) -> Self {
        QuotaValue {
            quota,
            value: quota.documented_default(),
            source: QuotaSource::DocumentedDefault { why: why.into() },
        }
    }
}

impl fmt::Display for QuotaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, code) = (self.quota.name(), self.quota.code());
        write!(f, "{} (Service Quotas {code} \"{name}\": ", self.value)?;
        match &self.source {
            QuotaSource::Applied => write!(f, "the account's value)"),
            QuotaSource::AwsDefault => write!(f, "AWS's default, none applied to the account)"),
            QuotaSource::DocumentedDefault { why } => write!(
                f,
                "the documented AWS default, assumed because Service Quotas could not be read: {why})"
            ),
        }
    }
}

/// Both quotas of one account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerlessQuotas {
    pub endpoints: QuotaValue,
    pub concurrency: QuotaValue,
}

/// What the serverless endpoints of the Region already hold, apart from
/// the endpoint the change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerlessUsage {
    /// Other serverless endpoints.
    pub endpoints: u32,
    /// Their MaxConcurrency, added up.
    pub concurrency: u32,
    /// The MaxConcurrency of the endpoint itself, when it exists and is
    /// serverless (an update or a replacement under the same name).
    pub target: Option<u32>,
}

/// Why the change does not fit the account's quotas.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaShortfall {
    #[error("the Region already has {in_use} other serverless endpoints and the quota allows {quota}, so no new serverless endpoint fits; delete unused serverless endpoints or request an increase in Service Quotas")]
    Endpoints { in_use: u32, quota: QuotaValue },
    #[error("a max concurrency of {wanted} does not fit: the Region's other serverless endpoints already hold {in_use} and the total allowed is {quota}; use a lower max_concurrency, lower it elsewhere, or request an increase in Service Quotas")]
    Concurrency {
        wanted: u32,
        in_use: u32,
        quota: QuotaValue,
    },
}

/// Whether an endpoint can run serverless with `max_concurrency` given
/// what the Region's other serverless endpoints hold. An existing
/// serverless endpoint that does not grow needs no room: a change that
/// keeps or lowers its concurrency is never refused here.
pub fn check_room(
    quotas: &ServerlessQuotas,
    usage: &ServerlessUsage,
    max_concurrency: u32,
) -> Result<(), QuotaShortfall> {
    if usage
        .target
        .is_some_and(|current| max_concurrency <= current)
    {
        return Ok(());
    }
    if usage.target.is_none() && usage.endpoints.saturating_add(1) > quotas.endpoints.value {
        return Err(QuotaShortfall::Endpoints {
            in_use: usage.endpoints,
            quota: quotas.endpoints.clone(),
        });
    }
    if usage.concurrency.saturating_add(max_concurrency) > quotas.concurrency.value {
        return Err(QuotaShortfall::Concurrency {
            wanted: max_concurrency,
            in_use: usage.concurrency,
            quota: quotas.concurrency.clone(),
        });
    }
    Ok(())
}

/// True when the change fits whatever the `other_endpoints` endpoints of
/// the Region are (all serverless, each at the largest concurrency): then
/// none of them needs describing.
pub fn fits_at_worst(
    quotas: &ServerlessQuotas,
    other_endpoints: u32,
    max_concurrency: u32,
) -> bool {
    let worst = ServerlessUsage {
        endpoints: other_endpoints,
        concurrency: other_endpoints.saturating_mul(MAX_CONCURRENCY_PER_ENDPOINT),
        target: None,
    };
    check_room(quotas, &worst, max_concurrency).is_ok()
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
