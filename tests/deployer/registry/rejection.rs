//! Rejecting the package an endpoint serves: nothing is deleted or changed
//! (by design), but the people who rejected it are told, once, that it
//! still serves, and the rejection is in the endpoint's ledger history.

use super::*;

/// The alerts published about this endpoint so far.
async fn alerts_about(registry: &Registry, endpoint: &str) -> Vec<String> {
    let mut alerts = registry.alerts().await;
    alerts.retain(|a| a.contains(endpoint));
    alerts
}

/// The endpoint's ledger entries recording a rejection of its live package.
async fn rejections(registry: &Registry, endpoint: &str) -> Vec<LedgerEntry> {
    let mut history = registry.world().ledger_history(endpoint).await;
    history.retain(|e| e.outcome == Ending::LivePackageRejected);
    history
}

#[tokio::test]
async fn rejecting_the_live_package_alerts_once_naming_the_endpoint_the_version_and_what_to_do() {
    let mut registry = Registry::new().await;
    let mut target = Target::new("registry-reject-live");
    let endpoint = target.name.clone();
    let properties = [("endpoint_name", endpoint.as_str())];
    let v1 = registry.register(&properties).await;
    let v2 = registry.register(&properties).await;
    let never_deployed = registry.register(&properties).await;
    let first = registry.approve(&v1).await;
    registry.settle(&mut target).await;
    let live = registry.approve(&v2).await;
    registry.settle(&mut target).await;
    let live_config = live.endpoint_config.clone().unwrap();
    assert_ne!(first.endpoint_config.as_deref(), Some(live_config.as_str()));

    // A package that never served is rejected: nothing to tell.
    registry
        .set_status(&never_deployed, ModelApprovalStatus::Rejected)
        .await;
    registry.deliver().await;
    assert_eq!(
        alerts_about(&registry, &endpoint).await,
        Vec::<String>::new()
    );
    assert!(rejections(&registry, &endpoint).await.is_empty());

    // The live package is rejected: it keeps serving, and that is told.
    registry
        .set_status(&v2, ModelApprovalStatus::Rejected)
        .await;
    let delivered = registry.deliver().await;
    assert!(
        delivered.iter().all(|(v, _)| *v == Verdict::Done),
        "{delivered:#?}"
    );
    let alerts = alerts_about(&registry, &endpoint).await;
    assert_eq!(alerts.len(), 1, "one alert: {alerts:#?}");
    let alert = &alerts[0];
    for expected in [
        v2.as_str(),
        "version 2",
        live_config.as_str(),
        "still serving",
        "approve another version",
        // The version it replaced, to re-approve.
        v1.as_str(),
    ] {
        assert!(alert.contains(expected), "{expected:?} in {alert}");
    }

    // EventBridge delivers at least once: the same rejection again tells
    // nothing more.
    registry.redeliver().await;
    assert_eq!(alerts_about(&registry, &endpoint).await.len(), 1);
    let recorded = rejections(&registry, &endpoint).await;
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    let reason = recorded[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&v2) && reason.contains(&endpoint),
        "{reason}"
    );

    // Nothing was deleted or changed.
    let described = registry.world().endpoint(&endpoint).await;
    assert_eq!(status_of(&described), "InService");
    assert_eq!(described.endpoint_config_name(), Some(live_config.as_str()));
    assert_eq!(registry.deletes(), Vec::<String>::new());

    // Approved again, then rejected again: a new rejection, told again.
    registry
        .set_status(&v2, ModelApprovalStatus::Approved)
        .await;
    registry.deliver().await;
    registry
        .set_status(&v2, ModelApprovalStatus::Rejected)
        .await;
    registry.deliver().await;
    assert_eq!(alerts_about(&registry, &endpoint).await.len(), 2);
    assert_eq!(rejections(&registry, &endpoint).await.len(), 2);
}
