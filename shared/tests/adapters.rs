//! Adapter tests: `shared::aws` against mocked SDK clients
//! (`aws-smithy-mocks`). Error responses are raw HTTP responses shaped like
//! the ones SageMaker and S3 send, so the SDK's own deserializers and retry
//! classifiers run exactly as in production. No network, no emulator.

#[path = "adapters/errors.rs"]
mod errors;
#[path = "adapters/pricing.rs"]
mod pricing;
#[path = "adapters/s3.rs"]
mod s3;
#[path = "adapters/sagemaker.rs"]
mod sagemaker;
#[path = "adapters/sagemaker_create.rs"]
mod sagemaker_create;
#[path = "adapters/sagemaker_detail.rs"]
mod sagemaker_detail;
#[path = "adapters/service_quotas.rs"]
mod service_quotas;
#[path = "adapters/support.rs"]
mod support;
