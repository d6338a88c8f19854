//! Calls the functions must never be able to make, made on purpose as each
//! function (signed `<function>.<stack>.deny-<scenario>`): the emulator does
//! not enforce IAM, so they succeed here, and tests/policy checks that the
//! function's policy in template.yaml denies at least one call of every
//! scenario (issue 10). In AWS the first denied call ends the scenario.

use crate::deployer::World;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, ProductionVariant, ProductionVariantInstanceType, Tag,
};
use integration_tests::{set_endpoint_status, unique};
use shared::tags::{MANAGED_BY_KEY, MANAGED_BY_VALUE};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn managed() -> Tag {
    tag(MANAGED_BY_KEY, MANAGED_BY_VALUE)
}

fn instance_variant() -> aws_sdk_sagemaker::types::builders::ProductionVariantBuilder {
    ProductionVariant::builder()
        .instance_type(ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(1)
}

/// A SageMaker client signing as `function` in a forbidden `scenario`.
async fn forbidden_sagemaker(
    world: &World,
    function: &str,
    scenario: &str,
) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(&world.stack.forbidden_config(function, scenario).await)
}

async fn arn_of_endpoint(world: &World, endpoint: &str) -> String {
    world
        .endpoint(endpoint)
        .await
        .endpoint_arn()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn adopting_an_unmanaged_endpoint_or_config_and_deleting_it_is_denied() {
    let world = World::new().await;
    let endpoint = unique("unmanaged");
    let (_, config) = world
        .create_unmanaged_endpoint(&endpoint, instance_variant())
        .await;
    let endpoint_arn = arn_of_endpoint(&world, &endpoint).await;
    let sweeper = forbidden_sagemaker(&world, "cost-sweeper", "adopt-unmanaged").await;
    let _ = sweeper
        .add_tags()
        .resource_arn(&endpoint_arn)
        .tags(managed())
        .send()
        .await;
    let _ = sweeper
        .delete_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await;

    let config_arn = world.config_arn(&config).await;
    let deployer = forbidden_sagemaker(&world, "deployer", "adopt-unmanaged").await;
    let _ = deployer
        .add_tags()
        .resource_arn(&config_arn)
        .tags(managed())
        .send()
        .await;
    let _ = deployer
        .delete_endpoint_config()
        .endpoint_config_name(&config)
        .send()
        .await;
}

#[tokio::test]
async fn updating_an_opted_out_managed_endpoint_is_denied() {
    let world = World::new().await;
    let endpoint = unique("opted-out");
    let model = format!("{endpoint}-model");
    world
        .sm()
        .create_model()
        .model_name(&model)
        .execution_role_arn(world.stack.execution_role_arn())
        .primary_container(ContainerDefinition::builder().image(world.image()).build())
        .tags(managed())
        .send()
        .await
        .unwrap();
    for config in ["a", "b"] {
        world
            .sm()
            .create_endpoint_config()
            .endpoint_config_name(format!("{endpoint}-{config}"))
            .production_variants(
                instance_variant()
                    .variant_name("AllTraffic")
                    .model_name(&model)
                    .build(),
            )
            .tags(managed())
            .send()
            .await
            .unwrap();
    }
    world
        .sm()
        .create_endpoint()
        .endpoint_name(&endpoint)
        .endpoint_config_name(format!("{endpoint}-a"))
        .tags(managed())
        .tags(tag("serverless-migration", "exclude"))
        .send()
        .await
        .unwrap();
    set_endpoint_status(&endpoint, "InService");
    let sweeper = forbidden_sagemaker(&world, "cost-sweeper", "update-opted-out").await;
    let _ = sweeper
        .update_endpoint()
        .endpoint_name(&endpoint)
        .endpoint_config_name(format!("{endpoint}-b"))
        .send()
        .await;
}

#[tokio::test]
async fn passing_an_arbitrary_role_is_denied() {
    let world = World::new().await;
    for function in ["cost-sweeper", "deployer"] {
        let client = forbidden_sagemaker(&world, function, "pass-any-role").await;
        let _ = client
            .create_model()
            .model_name(unique("any-role"))
            .execution_role_arn("arn:aws:iam::123456789012:role/someone-elses-admin")
            .primary_container(ContainerDefinition::builder().image(world.image()).build())
            .tags(managed())
            .send()
            .await;
    }
}

#[tokio::test]
async fn writing_outside_the_reports_prefix_is_denied() {
    let world = World::new().await;
    let sweeper = aws_sdk_s3::Client::new(
        &world
            .stack
            .forbidden_config("cost-sweeper", "write-outside-reports")
            .await,
    );
    let _ = sweeper
        .put_object()
        .bucket(&world.bucket)
        .key("models/fraud/v9/model.tar.gz")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
}

#[tokio::test]
async fn reading_another_bucket_is_denied() {
    let world = World::new().await;
    let other = unique("someone-elses").to_ascii_lowercase();
    world.clients.create_versioned_bucket(&other).await;
    world.clients.put(&other, "secret.json", b"{}", &[]).await;
    for function in ["smoke-tester", "deployer"] {
        let client = aws_sdk_s3::Client::new(
            &world
                .stack
                .forbidden_config(function, "read-other-bucket")
                .await,
        );
        let _ = client
            .get_object()
            .bucket(&other)
            .key("secret.json")
            .send()
            .await;
    }
}
