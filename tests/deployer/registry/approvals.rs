//! The Model Registry scenarios of issue 13 item 3.

use super::*;
use integration_tests::{invocations, queue_invoke_results};

#[tokio::test]
async fn an_approved_package_is_deployed_smoke_tested_and_recorded() {
    let mut registry = Registry::new().await;
    let mut target = Target::new("registry-approve");
    let endpoint = target.name.clone();
    let package = registry
        .register(&[
            ("endpoint_name", endpoint.as_str()),
            ("memory_size_mb", "2048"),
            ("max_concurrency", "3"),
        ])
        .await;
    // Registered, pending approval: nothing happens.
    let pending = registry.deliver().await;
    assert!(
        pending
            .iter()
            .all(|(_, records)| records.iter().all(|r| r.status == Status::Skipped)),
        "{pending:#?}"
    );
    assert!(registry.world().names("model", &endpoint).await.is_empty());

    let outcome = registry.approve(&package).await;
    assert_eq!(outcome.status, Status::Created, "{outcome:#?}");
    let model = outcome.model.clone().unwrap();
    let config = outcome.endpoint_config.clone().unwrap();
    // CreateModel named the package; the settings came from its metadata.
    assert_eq!(
        registry.model_package_of(&model).await.as_deref(),
        Some(package.as_str())
    );
    let described = registry
        .world()
        .sm()
        .describe_endpoint_config()
        .endpoint_config_name(&config)
        .send()
        .await
        .unwrap();
    let serverless = described.production_variants()[0]
        .serverless_config()
        .unwrap();
    assert_eq!(
        (serverless.memory_size_in_mb(), serverless.max_concurrency()),
        (Some(2048), Some(3))
    );
    let entry = registry.ledger_entry(&endpoint, &config).await;
    assert_eq!(entry.trigger, package);
    assert_eq!(entry.outcome, Ending::InProgress);

    // EventBridge delivers at least once: the approval again changes nothing.
    let creates_before = registry.creates();
    let again = registry.redeliver().await;
    assert!(
        again
            .iter()
            .flat_map(|(_, r)| r)
            .all(|r| matches!(r.status, Status::Unchanged | Status::Skipped)),
        "{again:#?}"
    );
    assert_eq!(registry.creates(), creates_before);

    registry.settle(&mut target).await;
    assert_eq!(
        status_of(&registry.world().endpoint(&endpoint).await),
        "InService"
    );
    let entry = registry.ledger_entry(&endpoint, &config).await;
    assert_eq!(entry.outcome, Ending::Deployed, "{entry:#?}");
}

#[tokio::test]
async fn rejecting_a_package_never_deletes_anything() {
    let mut registry = Registry::new().await;
    let mut target = Target::new("registry-reject");
    let endpoint = target.name.clone();
    let properties = [("endpoint_name", endpoint.as_str())];
    let live = registry.register(&properties).await;
    let other = registry.register(&properties).await;
    let deployed = registry.approve(&live).await;
    registry.settle(&mut target).await;
    let config = deployed.endpoint_config.clone().unwrap();
    let models = registry.world().names("model", &endpoint).await;
    let configs = registry.world().names("config", &endpoint).await;

    // The live package rejected, then one that was never deployed.
    registry
        .set_status(&live, ModelApprovalStatus::Rejected)
        .await;
    registry
        .set_status(&other, ModelApprovalStatus::Rejected)
        .await;
    let delivered = registry.deliver().await;
    let records: Vec<&RecordOutcome> = delivered.iter().flat_map(|(_, r)| r).collect();
    assert!(
        delivered.iter().all(|(v, _)| *v == Verdict::Done),
        "{delivered:#?}"
    );
    assert!(
        records.iter().all(|r| r.status == Status::Skipped),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.message.contains(&live) && r.message.contains("left serving")),
        "{records:#?}"
    );

    let described = registry.world().endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(described.endpoint_config_name(), Some(config.as_str()));
    assert_eq!(registry.world().names("model", &endpoint).await, models);
    assert_eq!(registry.world().names("config", &endpoint).await, configs);
    assert_eq!(registry.deletes(), Vec::<String>::new());
}

#[tokio::test]
async fn re_approving_an_older_version_redeploys_it() {
    let mut registry = Registry::new().await;
    let mut target = Target::new("registry-reapprove");
    let endpoint = target.name.clone();
    let properties = [("endpoint_name", endpoint.as_str())];
    let v1 = registry.register(&properties).await;
    let v2 = registry.register(&properties).await;

    let first = registry.approve(&v1).await;
    registry.settle(&mut target).await;
    let second = registry.approve(&v2).await;
    assert_eq!(second.status, Status::Updated, "{second:#?}");
    registry.settle(&mut target).await;
    let v2_config = second.endpoint_config.clone().unwrap();
    assert_eq!(
        registry
            .world()
            .endpoint(&endpoint)
            .await
            .endpoint_config_name(),
        Some(v2_config.as_str())
    );

    // Version 2 turns out bad: version 1 is approved again (after a
    // rejection, as the registry needs a change of status).
    registry
        .set_status(&v1, ModelApprovalStatus::Rejected)
        .await;
    let again = registry.approve(&v1).await;
    assert_eq!(again.status, Status::Updated, "{again:#?}");
    assert_eq!(again.endpoint_config, first.endpoint_config);
    registry.settle(&mut target).await;
    let described = registry.world().endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(
        described.endpoint_config_name(),
        first.endpoint_config.as_deref()
    );
    assert_eq!(
        registry
            .model_package_of(first.model.as_deref().unwrap())
            .await
            .as_deref(),
        Some(v1.as_str())
    );
}

#[tokio::test]
async fn bad_package_metadata_is_refused_naming_the_field_and_creates_nothing() {
    let mut registry = Registry::new().await;
    let endpoint = unique("registry-bad");
    for (field, value) in [
        ("memory_size_mb", "lots"),
        ("max_concurency", "5"),
        ("framework", "sklearn"),
    ] {
        let package = registry
            .register(&[("endpoint_name", endpoint.as_str()), (field, value)])
            .await;
        registry
            .set_status(&package, ModelApprovalStatus::Approved)
            .await;
        let delivered = registry.deliver().await;
        let refused: Vec<&String> = delivered
            .iter()
            .filter_map(|(v, _)| match v {
                Verdict::Refused { reason } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 1, "{field}: {delivered:#?}");
        assert!(
            refused[0].contains(field) && refused[0].contains(&package),
            "{field}: {}",
            refused[0]
        );
    }
    assert!(registry.world().names("model", &endpoint).await.is_empty());
    assert!(registry.world().names("config", &endpoint).await.is_empty());
    assert!(registry
        .world()
        .sm()
        .describe_endpoint()
        .endpoint_name(&endpoint)
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_package_is_smoke_tested_with_its_own_request_and_rolled_back_only_onto_an_approved_one()
{
    let mut registry = Registry::new().await;
    let mut target = Target::new("registry-smoke");
    let endpoint = target.name.clone();
    let request = r#"{"content_type": "text/csv", "body": "5.1,3.5,1.4,0.2"}"#;
    let properties = [
        ("endpoint_name", endpoint.as_str()),
        ("smoke_test", request),
    ];
    let v1 = registry.register(&properties).await;
    let v2 = registry.register(&properties).await;
    let v3 = registry.register(&properties).await;
    let model_error = json!([{"Error": {"Code": "ModelError", "Status": 424,
        "Message": "Received server error (500) from primary with message \"boom\""}}]);

    let good = registry.approve(&v1).await.endpoint_config.unwrap();
    queue_invoke_results(
        &endpoint,
        json!([{"Body": "[0]", "ContentType": "application/json"}]),
    );
    registry.settle(&mut target).await;
    assert_eq!(
        registry.outcome_of(&endpoint, &good).await,
        Ending::Deployed
    );
    let sent = invocations(&endpoint);
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|i| i["Body"] == "5.1,3.5,1.4,0.2"),
        "the package's own request: {sent:#?}"
    );

    // Version 2 fails its smoke test: rolled back to version 1.
    let bad = registry.approve(&v2).await.endpoint_config.unwrap();
    queue_invoke_results(&endpoint, model_error.clone());
    let reports = registry.settle(&mut target).await;
    assert!(
        reports
            .iter()
            .any(|r| r.rollback.as_deref() == Some(format!("rolled back to {good}").as_str())),
        "{reports:#?}"
    );
    assert_eq!(
        registry.outcome_of(&endpoint, &bad).await,
        Ending::SmokeTestFailed
    );
    target.clock.advance(8.0);
    assert_eq!(
        registry
            .world()
            .endpoint(&endpoint)
            .await
            .endpoint_config_name(),
        Some(good.as_str())
    );

    // Version 3 replaces 1, then 1 is rejected: 3 failing is not rolled
    // back onto the rejected version.
    let third = registry.approve(&v3).await.endpoint_config.unwrap();
    registry
        .set_status(&v1, ModelApprovalStatus::Rejected)
        .await;
    registry.deliver().await;
    queue_invoke_results(&endpoint, model_error);
    let reports = registry.settle(&mut target).await;
    let refused = reports
        .iter()
        .filter_map(|r| r.rollback.as_deref())
        .find(|r| r.contains("no longer Approved"));
    assert!(refused.is_some_and(|r| r.contains(&v1)), "{reports:#?}");
    assert_eq!(
        registry
            .world()
            .endpoint(&endpoint)
            .await
            .endpoint_config_name(),
        Some(third.as_str())
    );
}

#[tokio::test]
async fn an_approval_withdrawn_before_its_event_arrives_deploys_nothing() {
    let mut registry = Registry::new().await;
    let endpoint = unique("registry-withdrawn");
    let package = registry
        .register(&[("endpoint_name", endpoint.as_str())])
        .await;
    registry
        .set_status(&package, ModelApprovalStatus::Approved)
        .await;
    registry
        .set_status(&package, ModelApprovalStatus::Rejected)
        .await;
    // Both events arrive after both clicks: the registry's answer now
    // (Rejected) decides, so the approval is old news.
    let delivered = registry.deliver().await;
    let records: Vec<&RecordOutcome> = delivered.iter().flat_map(|(_, r)| r).collect();
    assert!(
        records.iter().all(|r| r.status == Status::Skipped),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.message.contains("no longer Approved")),
        "{records:#?}"
    );
    assert!(registry.creates().is_empty());
    assert!(registry.world().names("model", &endpoint).await.is_empty());
}
