//! Library shared by the pipeline's Lambda functions.
//!
//! Pure modules (naming, settings, events, deployment records) hold the
//! rules; `aws` holds the adapters that talk to AWS.

pub mod aws;
pub mod deployment;
pub mod emf;
pub mod env;
pub mod image_uri;
pub mod lease;
pub mod ledger;
pub mod model_package;
pub mod naming;
pub mod outcome;
pub mod packing;
pub mod preflight;
pub mod price_list;
pub mod quota;
pub mod s3_event;
pub mod settings;
pub mod smoke;
pub mod tags;
