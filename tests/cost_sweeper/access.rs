//! What a migration needs from this stack's permissions, checked before
//! anything is touched (issue 10): the original model's execution role must
//! be one the sweeper may pass, and the smoke-test request must be in a
//! bucket the smoke tester may read. Otherwise the endpoint is skipped with
//! a reason naming the template parameter to change, and left untagged.

use super::fleet::{self, Kind, ROLE};
use super::world::World;
use super::{first_reason, row, SMOKE};
use cost_sweeper::domain::rows::Decision;

const TEAM_ROLE: &str = "arn:aws:iam::123456789012:role/team-model-role";

fn idle(label: &'static str, smoke: &str, role: &'static str) -> Kind {
    let mut kind = Kind::new(label, 1, Some("ml.m5.large"));
    kind.tags = vec![(SMOKE.0, smoke.to_string())];
    kind.daily_invocations = 100.0;
    kind.role = role;
    kind
}

#[tokio::test]
async fn a_model_whose_role_may_not_be_passed_is_skipped_and_left_untouched() {
    let world = World::new("sweeprole").await;
    let kinds = [
        idle("foreign", SMOKE.1, TEAM_ROLE),
        idle("own", SMOKE.1, ROLE),
    ];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &kinds).await;
    let (foreign, own) = (
        format!("{}-foreign-0", world.prefix),
        format!("{}-own-0", world.prefix),
    );

    let report = world.sweep(false).await;
    assert_eq!(first_reason(&report, &foreign), "role-not-passable");
    let detail = &row(&report, &foreign).reasons[0].detail;
    assert!(
        detail.contains(TEAM_ROLE) && detail.contains("MigratableModelRoleArns"),
        "{detail}"
    );
    assert!(
        !world
            .tags(&foreign)
            .await
            .contains_key("pipeline:migration-state"),
        "nothing recorded on {foreign}"
    );
    assert!(!world.exists(&format!("{foreign}-serverless")).await);
    // A model on a role the stack lists starts as before.
    assert_eq!(row(&report, &own).decision, Decision::Migrate);
    assert!(world.exists(&format!("{own}-serverless")).await);
}

#[tokio::test]
async fn a_smoke_request_the_smoke_tester_cannot_read_is_skipped() {
    let world = World::new("sweepsmoke").await;
    let models = format!("s3://{}/smoke/{{name}}.json", world.report_bucket);
    let kinds = [
        idle("elsewhere", "s3://elsewhere-requests/{name}.json", ROLE),
        idle("listed", SMOKE.1, ROLE),
        idle("models", &models, ROLE),
    ];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &kinds).await;
    let p = &world.prefix;

    let report = world.sweep(true).await;
    let elsewhere = format!("{p}-elsewhere-0");
    assert_eq!(
        first_reason(&report, &elsewhere),
        "smoke-request-unreadable"
    );
    let detail = &row(&report, &elsewhere).reasons[0].detail;
    assert!(
        detail.contains("elsewhere-requests") && detail.contains("SmokeTestBuckets"),
        "{detail}"
    );
    // A bucket the stack lists, and the models bucket, are readable.
    for label in ["listed", "models"] {
        assert_eq!(
            row(&report, &format!("{p}-{label}-0")).decision,
            Decision::Migrate,
            "{label}"
        );
    }
}
