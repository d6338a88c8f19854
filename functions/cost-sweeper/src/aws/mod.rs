//! The sweeper's side effects: reading the fleet and its traffic, and
//! applying planned steps, all through `shared::aws` (SageMaker, SNS) and
//! CloudWatch; each client counts its calls.

pub(crate) mod api_calls;
pub(crate) mod apply;
mod apply_recreate;
pub(crate) mod bulk_tags;
mod hold;
pub(crate) mod metrics;
pub(crate) mod observe;
mod quota_hold;
mod tagging;
