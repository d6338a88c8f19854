//! The re-checks right before an original is deleted, against the
//! emulator: traffic that came back after a recreate's canary started
//! holds the replacement, and people are told once, not every sweep.

use super::fleet::{self, Kind};
use super::world::World;
use super::SMOKE;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{Duration, Utc};
use cost_sweeper::report::StepStatus;

/// `count` invocations of `endpoint`'s `variant`, `ago` before now.
async fn called(world: &World, endpoint: &str, variant: &str, count: f64, ago: Duration) {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let datum = MetricDatum::builder()
        .metric_name("Invocations")
        .dimensions(dimension("EndpointName", endpoint))
        .dimensions(dimension("VariantName", variant))
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            (Utc::now() - ago).timestamp(),
        ))
        .value(count)
        .unit(StandardUnit::None)
        .build();
    world
        .cloudwatch
        .put_metric_data()
        .namespace("AWS/SageMaker")
        .metric_data(datum)
        .send()
        .await
        .expect("put metric data");
}

#[tokio::test]
async fn traffic_back_after_the_canary_started_holds_the_replacement_with_one_notice() {
    let world = World::new("recheck").await;
    let mut idle = Kind::new("rc", 1, Some("ml.c5.xlarge"));
    idle.tags = vec![
        (SMOKE.0, SMOKE.1.to_string()),
        ("serverless-migration:strategy", "recreate".into()),
    ];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &[idle]).await;
    let name = format!("{}-rc-0", world.prefix);
    let persistent_config = format!("{}-rc-c", world.prefix);

    assert_eq!(world.sweep(false).await.migrations_started, 1);
    world
        .smoke_tester_verdict(&format!("{name}-serverless"), "passed")
        .await;
    // The migration started two hours ago (as the drain is simulated in the
    // fleet test), and callers came back half an hour ago: 200,000 calls,
    // far over what serverless could serve for less than the instance.
    world
        .tag(
            &name,
            "pipeline:migration-started-at",
            &(Utc::now() - Duration::hours(2)).to_rfc3339(),
        )
        .await;
    called(&world, &name, "Variant0", 200_000.0, Duration::minutes(30)).await;

    let first = world.sweep(false).await;
    let step = first
        .steps
        .iter()
        .find(|s| s.endpoint == name)
        .expect("a step for the original");
    assert_eq!(step.step, "replace-original");
    assert_eq!(step.status, StepStatus::Skipped, "{step:?}");
    assert!(step.message.contains("held"), "{}", step.message);
    assert!(
        step.message.contains("200000 invocations"),
        "{}",
        step.message
    );
    assert_eq!(first.api_calls.get("Publish"), Some(&1), "people are told");
    assert_eq!(
        world.config_of(&name).await,
        persistent_config,
        "not replaced"
    );

    let second = world.sweep(false).await;
    assert!(
        second
            .steps
            .iter()
            .any(|s| s.endpoint == name && s.status == StepStatus::Skipped),
        "{:#?}",
        second.steps
    );
    assert_eq!(
        second.api_calls.get("Publish"),
        None,
        "told once, not every sweep"
    );
    assert_eq!(
        world.config_of(&name).await,
        persistent_config,
        "still not replaced"
    );
}
