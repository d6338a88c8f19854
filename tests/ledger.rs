//! The deployment ledger's DynamoDB adapter against the emulator's
//! DynamoDB: the lease is exclusive until released or expired, entries are
//! written once and their outcomes updated, history comes newest first.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::{Duration as Span, TimeZone, Utc};
use integration_tests::Stack;
use shared::aws::dynamodb::{Finish, Finished, Ledger};
use shared::ledger::{LedgerEntry, Outcome, PARTITION_KEY, SORT_KEY};

/// A new stack's ledger as its deployer uses it (so the policy evaluation
/// checks these calls against the deployer's policy), and the same table
/// read with the tests' own credentials: the history query is for people
/// (the README's), not something the deployer does.
async fn new_ledger() -> (Ledger, Ledger) {
    let stack = Stack::new("ledger", &[]).await;
    let table = stack.ledger_table();
    let deployer = ledger_table_as(&stack.function_config("deployer").await, &table).await;
    let tests = shared::aws::load_sdk_config().await;
    (
        deployer,
        Ledger::new(aws_sdk_dynamodb::Client::new(&tests), table),
    )
}

/// Creates `table` (with the tests' own credentials) and returns the
/// ledger as a function with `caller` reaches it (for the policy check).
pub(crate) async fn ledger_table_as(caller: &aws_config::SdkConfig, table: &str) -> Ledger {
    let config = shared::aws::load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PARTITION_KEY))
        .attribute_definitions(attribute(SORT_KEY))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .send()
        .await
        .expect("create table");
    Ledger::new(aws_sdk_dynamodb::Client::new(caller), table)
}

fn entry(endpoint: &str, config: &str, minute: u32) -> LedgerEntry {
    LedgerEntry {
        endpoint: endpoint.into(),
        config_name: config.into(),
        model_name: format!("{config}-model"),
        artifact_bucket: "models".into(),
        artifact_key: format!("models/{endpoint}/model.tar.gz"),
        artifact_version: format!("v{minute}"),
        settings_version: None,
        trigger: format!("s3://models/models/{endpoint}/model.tar.gz"),
        replaces_config: None,
        capacity_change: None,
        capacity_target: None,
        started_at: Utc.with_ymd_and_hms(2026, 11, 28, 10, minute, 0).unwrap(),
        outcome: Outcome::InProgress,
        finished_at: None,
        reason: None,
        alert_pending: false,
    }
}

#[tokio::test]
async fn the_lease_is_exclusive_until_released_or_expired() {
    let (ledger, _) = new_ledger().await;
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
    let until = now + Span::seconds(120);
    assert!(ledger
        .acquire_lease("fraud", "a", now, until)
        .await
        .unwrap());
    assert!(!ledger
        .acquire_lease("fraud", "b", now, until)
        .await
        .unwrap());
    // Another endpoint's lease is separate; the holder may renew its own.
    assert!(ledger
        .acquire_lease("churn", "b", now, until)
        .await
        .unwrap());
    assert!(ledger
        .acquire_lease("fraud", "a", now, until)
        .await
        .unwrap());
    // Releasing someone else's lease does nothing.
    ledger.release_lease("fraud", "b").await.unwrap();
    assert!(!ledger
        .acquire_lease("fraud", "b", now, until)
        .await
        .unwrap());
    ledger.release_lease("fraud", "a").await.unwrap();
    assert!(ledger
        .acquire_lease("fraud", "b", now, until)
        .await
        .unwrap());
    // A holder that crashed: its lease lapses at its expiry.
    let later = now + Span::seconds(121);
    assert!(!ledger
        .acquire_lease("fraud", "c", now + Span::seconds(60), later)
        .await
        .unwrap());
    assert!(ledger
        .acquire_lease("fraud", "c", later, later + Span::seconds(120))
        .await
        .unwrap());
}

#[tokio::test]
async fn a_lease_is_renewed_only_by_the_attempt_that_still_holds_it() {
    let (ledger, _) = new_ledger().await;
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
    let until = now + Span::seconds(90);
    assert!(ledger
        .acquire_lease("fraud", "a", now, until)
        .await
        .unwrap());
    // Renewed to a later expiry: b cannot take it at the old one.
    let renewed = now + Span::seconds(930);
    assert!(ledger.renew_lease("fraud", "a", renewed).await.unwrap());
    assert!(!ledger
        .acquire_lease("fraud", "b", until + Span::seconds(1), until)
        .await
        .unwrap());
    assert!(!ledger.renew_lease("fraud", "b", renewed).await.unwrap());
    // Lapsed but not taken: no one acted meanwhile, so it is still a's.
    let after = renewed + Span::seconds(1);
    assert!(ledger.renew_lease("fraud", "a", after).await.unwrap());
    // Lapsed and taken by b: a has lost it, even once b gives it back.
    let later = after + Span::seconds(1);
    assert!(ledger
        .acquire_lease("fraud", "b", later, later + Span::seconds(90))
        .await
        .unwrap());
    assert!(!ledger.renew_lease("fraud", "a", later).await.unwrap());
    ledger.release_lease("fraud", "b").await.unwrap();
    assert!(!ledger.renew_lease("fraud", "a", later).await.unwrap());
    // Never leased: nothing to renew, and nothing is created.
    assert!(!ledger.renew_lease("churn", "a", later).await.unwrap());
    assert!(ledger
        .acquire_lease("churn", "b", now, until)
        .await
        .unwrap());
}

#[tokio::test]
async fn entries_are_written_once_and_history_is_newest_first() {
    let (ledger, reader) = new_ledger().await;
    let first = entry("fraud", "fraud-c1", 1);
    let mut second = entry("fraud", "fraud-c2", 5);
    second.replaces_config = Some("fraud-c1".into());
    second.settings_version = Some("s1".into());
    assert!(ledger.record_deployment(&first).await.unwrap());
    assert!(ledger.record_deployment(&second).await.unwrap());
    // A redelivery does not overwrite the first write.
    let mut again = first.clone();
    again.trigger = "s3://elsewhere".into();
    assert!(!ledger.record_deployment(&again).await.unwrap());
    ledger
        .record_deployment(&entry("other", "other-c1", 9))
        .await
        .unwrap();

    let at = Utc.with_ymd_and_hms(2026, 11, 28, 10, 20, 0).unwrap();
    // Ends `config` (only if recorded) with `outcome`.
    let end = |config: &'static str, outcome, reason: Option<&'static str>| {
        let ledger = &ledger;
        async move {
            let ending = Finish {
                outcome,
                reason,
                alert: None,
            };
            ledger
                .finish_deployment("fraud", config, ending, at, true)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        end("fraud-c1", Outcome::Superseded, None).await,
        Finished::Now
    );
    assert_eq!(
        end("fraud-c2", Outcome::CreateFailed, Some("ping failed")).await,
        Finished::Now
    );
    assert_eq!(
        end("fraud-c9", Outcome::Deployed, None).await,
        Finished::Already {
            pending_alert: None
        }
    );

    let history = reader.deployment_history("fraud").await.unwrap();
    let mut expected_second = second.clone();
    expected_second.outcome = Outcome::CreateFailed;
    expected_second.finished_at = Some(at);
    expected_second.reason = Some("ping failed".into());
    let mut expected_first = first.clone();
    expected_first.outcome = Outcome::Superseded;
    expected_first.finished_at = Some(at);
    assert_eq!(history, vec![expected_second, expected_first]);
    assert!(reader
        .deployment_history("nobody")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_ending_keeps_its_alert_pending_until_it_is_told() {
    let (ledger, reader) = new_ledger().await;
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 10, 20, 0).unwrap();
    let refused = Finish {
        outcome: Outcome::Refused,
        reason: Some("instance-based"),
        alert: Some(("Deploy refused: fraud", "Outcome: refused")),
    };
    assert_eq!(
        ledger
            .finish_deployment("fraud", "fraud-c1", refused, at, false)
            .await
            .unwrap(),
        Finished::Now
    );
    // Its teller died before publishing: the next report finds it pending.
    let pending = Finished::Already {
        pending_alert: Some(("Deploy refused: fraud".into(), "Outcome: refused".into())),
    };
    for _ in 0..2 {
        let again = ledger
            .finish_deployment("fraud", "fraud-c1", refused, at, false)
            .await
            .unwrap();
        assert_eq!(again, pending);
    }
    // The history shows it pending too (what a later reader goes by).
    let pending_in_history =
        || async { reader.deployment_history("fraud").await.unwrap()[0].alert_pending };
    assert!(pending_in_history().await);
    ledger.alert_told("fraud", "fraud-c1").await.unwrap();
    ledger.alert_told("fraud", "fraud-c1").await.unwrap();
    assert!(!pending_in_history().await);
    assert_eq!(
        ledger
            .finish_deployment("fraud", "fraud-c1", refused, at, false)
            .await
            .unwrap(),
        Finished::Already {
            pending_alert: None
        }
    );
    // Clearing never creates an entry.
    ledger.alert_told("fraud", "fraud-c9").await.unwrap();
    assert_eq!(
        reader
            .deployment_history("fraud")
            .await
            .unwrap()
            .iter()
            .map(|e| e.config_name.as_str())
            .collect::<Vec<_>>(),
        ["fraud-c1"]
    );
}
