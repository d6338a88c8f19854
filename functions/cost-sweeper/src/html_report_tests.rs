use super::*;

/// The report starts with `<!DOCTYPE html>`.
const XHTML: roxmltree::ParsingOptions = roxmltree::ParsingOptions {
    allow_dtd: true,
    nodes_limit: u32::MAX,
};
use crate::charts::{NOW_COLOUR, SAVING_COLOUR, SERVERLESS_COLOUR};
use crate::domain::prices::PricedBy;
use crate::domain::rows::ReasonOut;
use plotters::style::RGBColor;
use std::collections::BTreeMap;

fn row(endpoint: &str, decision: Decision, now: Option<f64>, serverless: Option<f64>) -> Row {
    Row {
        endpoint: endpoint.into(),
        status: "InService".into(),
        instance_type: "ml.m5.large".into(),
        instance_count: 1,
        invocations: 700.0,
        average_latency_ms: Some(200.0),
        monthly_cost_now: now,
        monthly_cost_serverless: serverless,
        monthly_saving: now.zip(serverless).map(|(n, s)| n - s),
        serverless_memory_mb: Some(6144),
        serverless_not_applicable: false,
        priced_by: PricedBy {
            price_list: true,
            embedded_table: false,
        },
        decision,
        reasons: vec![ReasonOut {
            code: "busy",
            detail: "a <b> & c".into(),
        }],
        migration_state: None,
        step: None,
        note: String::new(),
    }
}

fn report(rows: Vec<Row>, at: i64) -> SweepReport {
    let now = chrono::DateTime::from_timestamp(1_800_000_000 + at * 86_400, 0).unwrap();
    SweepReport::new(
        now,
        "eu-central-1",
        true,
        rows,
        Vec::new(),
        Vec::new(),
        4,
        BTreeMap::new(),
    )
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// Elements named `tag` under `node` whose fill is `colour`.
fn filled(node: roxmltree::Node, tag: &str, colour: RGBColor) -> usize {
    node.descendants()
        .filter(|n| n.has_tag_name(tag))
        .filter(|n| {
            n.attribute("fill")
                .is_some_and(|f| f.eq_ignore_ascii_case(&hex(colour)))
        })
        .count()
}

fn svg_of<'a>(doc: &'a roxmltree::Document, id: &str) -> roxmltree::Node<'a, 'a> {
    let figure = doc
        .descendants()
        .find(|n| n.has_tag_name("figure") && n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no figure {id}"));
    figure
        .children()
        .find(|n| n.has_tag_name("svg"))
        .unwrap_or_else(|| panic!("figure {id} has no svg: {:?}", figure.text()))
}

#[test]
fn the_html_report_has_the_three_charts_drawn_from_the_rows_and_history() {
    let rows = vec![
        row("big", Decision::Migrate, Some(167.9), Some(0.5)),
        row("mid", Decision::Deferred, Some(83.95), Some(20.0)),
        row("idle", Decision::Migrate, Some(83.95), Some(0.0)),
        row("busy", Decision::Skip, Some(83.95), Some(300.0)),
        row("unpriced", Decision::Skip, None, None),
    ];
    let mut history = History::default();
    for (day, saving) in [(0, 10.0), (1, 20.0)] {
        let mut past = report(Vec::new(), day);
        past.estimated_monthly_saving = saving;
        history = history.with(&past);
    }
    let current = report(rows, 2);
    let history = history.with(&current);
    let text = html(&current, &history);
    let doc = roxmltree::Document::parse_with_options(&text, XHTML)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(doc.root_element().has_tag_name("html"));

    // Cost chart: one bar each side per endpoint priced on both sides.
    let cost = svg_of(&doc, "chart-cost");
    assert_eq!(filled(cost, "rect", NOW_COLOUR), 4, "{text}");
    assert_eq!(filled(cost, "rect", SERVERLESS_COLOUR), 4);
    let labels: Vec<&str> = cost
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for name in ["big", "mid", "idle", "busy"] {
        assert!(labels.contains(&name), "{name} not labelled: {labels:?}");
    }
    // Break-even: a dot for today per candidate with serverless cost; the
    // one without traffic is named in the caption instead.
    let break_even = svg_of(&doc, "chart-break-even");
    assert_eq!(filled(break_even, "circle", SERVERLESS_COLOUR), 2);
    let lines = break_even
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(lines >= 3, "break-even line and one per candidate: {lines}");
    let caption = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("figcaption")
                && n.parent().and_then(|p| p.attribute("id")) == Some("chart-break-even")
        })
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(caption.contains("not drawn): idle."), "{caption}");
    // History: one point per sweep kept.
    let history_svg = svg_of(&doc, "chart-history");
    assert_eq!(filled(history_svg, "circle", SAVING_COLOUR), 3);
    // The table: a header and one escaped row per endpoint.
    let table = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("rows"))
        .unwrap();
    assert_eq!(table.children().filter(|n| n.has_tag_name("tr")).count(), 6);
    assert!(text.contains("a &lt;b&gt; &amp; c"));
}

#[test]
fn the_history_keeps_the_last_sweeps_only() {
    let mut history = History::default();
    for day in 0..(HISTORY_LIMIT as i64 + 5) {
        history = history.with(&report(Vec::new(), day));
    }
    assert_eq!(history.sweeps.len(), HISTORY_LIMIT);
    assert_eq!(history.sweeps[0].run_at, report(Vec::new(), 5).run_at);
    let text = serde_json::to_string(&history).unwrap();
    let back: History = serde_json::from_str(&text).unwrap();
    assert_eq!(back, history);
}

#[test]
fn the_notification_links_the_html_report() {
    let mut r = report(
        vec![row("big", Decision::Migrate, Some(167.9), Some(0.5))],
        0,
    );
    r.html_location = Some("s3://b-models/reports/cost-sweep-20270115T080000Z.html".into());
    r.report_location = Some("s3://b-models/reports/cost-sweep-20270115T080000Z.md".into());
    let (subject, message) = crate::publish::summary(&r, "eu-central-1");
    assert_eq!(
        subject,
        "Cost sweep eu-central-1: 1 candidates, $167.40/month (dry run)"
    );
    let lines: Vec<&str> = message.lines().collect();
    assert!(
        lines.contains(
            &"HTML report with charts: s3://b-models/reports/cost-sweep-20270115T080000Z.html"
        ),
        "{message}"
    );
    assert!(lines.contains(&"Open it in the S3 console: https://s3.console.aws.amazon.com/s3/object/b-models?region=eu-central-1&prefix=reports/cost-sweep-20270115T080000Z.html"), "{message}");
    assert!(
        lines.contains(&"Markdown report: s3://b-models/reports/cost-sweep-20270115T080000Z.md"),
        "{message}"
    );
    // Without an HTML report there is no link to it.
    r.html_location = None;
    let (_, message) = crate::publish::summary(&r, "eu-central-1");
    assert!(!message.contains("HTML"), "{message}");
}
