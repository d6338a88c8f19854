use super::*;
use crate::domain::rows::ReasonOut;

fn row(endpoint: &str, decision: Decision, saving: Option<f64>) -> Row {
    Row {
        endpoint: endpoint.into(),
        status: "InService".into(),
        instance_type: "ml.m5.large".into(),
        instance_count: 2,
        invocations: 700.0,
        average_latency_ms: Some(200.0),
        monthly_cost_now: Some(167.9),
        monthly_cost_serverless: saving.map(|s| 167.9 - s),
        monthly_saving: saving,
        serverless_memory_mb: Some(6144),
        serverless_not_applicable: false,
        priced_by: crate::domain::prices::PricedBy {
            price_list: true,
            embedded_table: false,
        },
        decision,
        reasons: vec![ReasonOut {
            code: "busy",
            detail: "a | b".into(),
        }],
        migration_state: None,
        step: None,
        note: String::new(),
    }
}

fn report(rows: Vec<Row>, steps: Vec<StepOutcome>) -> SweepReport {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    SweepReport::new(
        now,
        "us-east-1",
        true,
        rows,
        steps,
        Vec::new(),
        4,
        BTreeMap::new(),
    )
}

#[test]
fn the_summary_counts_decisions_candidates_and_savings() {
    let r = report(
        vec![
            row("a", Decision::Migrate, Some(100.0)),
            row("b", Decision::Deferred, Some(50.5)),
            row("c", Decision::Skip, None),
        ],
        vec![StepOutcome {
            endpoint: "a".into(),
            step: "start",
            status: StepStatus::Done,
            message: String::new(),
        }],
    );
    assert_eq!(r.candidates, 2);
    assert_eq!(r.estimated_monthly_saving, 150.5);
    assert_eq!(r.migrations_started, 1);
    assert_eq!(r.decisions.get("skip"), Some(&1));
    assert!(r.summary().get("rows").is_none());
    assert!(!r.has_failures());
}

#[test]
fn the_markdown_table_has_one_escaped_row_per_endpoint() {
    let mut r = report(vec![row("a", Decision::Skip, None)], Vec::new());
    r.prices.price_list_fetched_at = Some("2027-01-15T08:00:00Z".into());
    r.prices.table_as_of = Some("2026-12-02".into());
    let md = r.markdown();
    assert!(md.contains("(us-east-1, dry run: nothing changed)"), "{md}");
    assert!(
        md.contains(
            "| a | ml.m5.large x2 | 700 | 167.90 | unknown | unknown | price list (fetched 2027-01-15T08:00:00Z) | skip | a / b |  |"
        ),
        "{md}"
    );
    assert!(
        md.contains("Prices: AWS Price List API, fetched 2027-01-15T08:00:00Z; the embedded table (as of 2026-12-02) for any rate it lacks."),
        "{md}"
    );
}

#[test]
fn rows_that_cannot_go_serverless_show_n_a_not_unknown() {
    let mut gpu = row("g", Decision::Skip, None);
    gpu.serverless_not_applicable = true;
    let md = report(vec![gpu], Vec::new()).markdown();
    assert!(
        md.contains("| g | ml.m5.large x2 | 700 | 167.90 | n/a | n/a | price list (fetched unknown) | skip |"),
        "{md}"
    );
}

#[test]
fn report_keys_sit_under_the_prefix() {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    assert_eq!(
        report_key("reports/", now),
        "reports/cost-sweep-20270115T080000Z.md"
    );
    assert_eq!(
        html_key("reports/", now),
        "reports/cost-sweep-20270115T080000Z.html"
    );
    assert_eq!(history_key("reports/"), "reports/cost-sweep-history.json");
}
