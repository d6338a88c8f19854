//! Live prices (issue 12 item 1): the sweeper prices its fleet from the
//! Price List API's answer (the emulator serves the recorded GetProducts
//! pages in shared/tests/data/price_list/), once per run; when the API
//! fails or lacks a rate, the embedded table prices it, and each row says
//! which did.

use super::fleet::{self, Kind};
use super::world::World;
use super::{row, SMOKE};
use cost_sweeper::domain::prices::PricedBy;

/// The HTML report starts with `<!DOCTYPE html>`.
const XHTML: roxmltree::ParsingOptions = roxmltree::ParsingOptions {
    allow_dtd: true,
    nodes_limit: u32::MAX,
};
use cost_sweeper::domain::rows::Decision;

const LIST: PricedBy = PricedBy {
    price_list: true,
    embedded_table: false,
};
const TABLE: PricedBy = PricedBy {
    price_list: false,
    embedded_table: true,
};
const BOTH: PricedBy = PricedBy {
    price_list: true,
    embedded_table: true,
};

fn idle(label: &'static str, count: usize, instance: &'static str) -> Kind {
    let mut kind = Kind::new(label, count, Some(instance));
    kind.tags = vec![(SMOKE.0, SMOKE.1.to_string())];
    kind.daily_invocations = 100.0;
    kind
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// eu-central-1 is not in the embedded table: before live prices, every
/// endpoint there was `price-unknown`.
#[tokio::test]
async fn a_fleet_outside_the_table_is_priced_from_the_price_list() {
    let world = World::in_region("sweepeu", "eu-central-1").await;
    let mut quiet = Kind::new("serverless", 1, None);
    quiet.daily_invocations = 100.0;
    let kinds = [
        idle("m5", 2, "ml.m5.large"),
        idle("c5", 1, "ml.c5.large"),
        // In neither the recorded answer nor the table.
        idle("r5", 1, "ml.r5.large"),
        quiet,
    ];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &kinds).await;
    let p = &world.prefix;

    let report = world.sweep(true).await;
    assert_eq!(report.region, "eu-central-1");
    // 1 GetProducts page per kind of usage type (hosting, serverless,
    // provisioned concurrency): once per run, not per endpoint.
    assert_eq!(report.api_calls.get("GetProducts"), Some(&3));

    let m5 = row(&report, &format!("{p}-m5-0"));
    // EUC1-Host:ml.m5.large at $0.138/h in the recorded answer.
    assert!(close(m5.monthly_cost_now.unwrap(), 0.138 * 730.0), "{m5:?}");
    // 700 calls a week at 200 ms on 6 GB at EUC1-ServerlessInf:Mem-6GB $0.000144/s.
    let per_month = 700.0 * 730.0 / (7.0 * 24.0);
    assert!(
        close(
            m5.monthly_cost_serverless.unwrap(),
            per_month * 0.2 * 0.000144
        ),
        "{m5:?}"
    );
    assert_eq!(m5.decision, Decision::Migrate, "{m5:?}");
    assert_eq!(m5.priced_by, LIST, "{m5:?}");
    let fetched = report.prices.price_list_fetched_at.clone().expect("read");
    assert_eq!(report.prices.table_as_of, None);
    let c5 = row(&report, &format!("{p}-c5-0"));
    assert!(close(c5.monthly_cost_now.unwrap(), 0.119 * 730.0), "{c5:?}");
    // 4 GB (ml.c5.large) at EUC1-ServerlessInf:Mem-4GB $0.000096/s.
    assert!(
        close(
            c5.monthly_cost_serverless.unwrap(),
            per_month * 0.2 * 0.000096
        ),
        "{c5:?}"
    );
    let r5 = row(&report, &format!("{p}-r5-0"));
    assert_eq!(r5.reasons[0].code, "price-unknown", "{r5:?}");
    assert_eq!(r5.monthly_cost_now, None);
    let serverless = row(&report, &format!("{p}-serverless-0"));
    assert!(
        close(
            serverless.monthly_cost_now.unwrap(),
            per_month * 0.2 * 0.000144
        ),
        "{serverless:?}"
    );
    assert_eq!(serverless.priced_by, LIST);

    // The Markdown report says, per row, what priced it and when.
    let markdown = world.report_text(&report).await;
    assert!(
        markdown.contains(&format!("| price list (fetched {fetched}) |")),
        "{markdown}"
    );
    assert!(
        markdown.contains("Prices: AWS Price List API, fetched"),
        "{markdown}"
    );

    // The HTML report next to it: its charts drawn from these rows, and
    // the saving over the sweeps so far (one more point each sweep).
    let html = world
        .object_text(report.html_location.as_deref().expect("html"))
        .await;
    let doc = roxmltree::Document::parse_with_options(&html, XHTML)
        .unwrap_or_else(|e| panic!("{e}\n{html}"));
    let svg = |id: &str| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .and_then(|f| f.children().find(|n| n.has_tag_name("svg")))
            .unwrap_or_else(|| panic!("no chart {id}"))
    };
    let labels: Vec<&str> = svg("chart-cost")
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for label in ["m5-0", "m5-1", "c5-0"] {
        let name = format!("{p}-{label}");
        assert!(labels.contains(&name.as_str()), "{name}: {labels:?}");
    }
    let dots = |id: &str| {
        svg(id)
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count()
    };
    assert_eq!(dots("chart-break-even"), 3, "a dot per candidate");
    let first = dots("chart-history");
    let again = world.sweep(true).await;
    let html = world
        .object_text(again.html_location.as_deref().expect("html"))
        .await;
    let doc = roxmltree::Document::parse_with_options(&html, XHTML)
        .unwrap_or_else(|e| panic!("{e}\n{html}"));
    let history = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("chart-history"))
        .expect("history chart");
    let points = history
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(points, first + 1, "one more sweep in the history");
}

/// The API fails (here: not authorized) or lacks a rate: the table prices
/// it, each row says so, and the sweep goes on.
#[tokio::test]
async fn without_the_price_list_the_table_prices_and_each_row_says_so() {
    let world = World::new("sweeppl").await;
    let kinds = [idle("m5", 1, "ml.m5.large"), idle("m5x", 1, "ml.m5.xlarge")];
    fleet::seed(world.sm(), &world.cloudwatch, &world.prefix, &kinds).await;
    let p = &world.prefix;

    let live = world.sweep(true).await;
    assert_eq!(live.api_calls.get("GetProducts"), Some(&3));
    assert_eq!(row(&live, &format!("{p}-m5-0")).priced_by, LIST);
    // The recorded answer has no ml.m5.xlarge: the table prices the
    // instance, the answer prices serverless.
    let m5x = row(&live, &format!("{p}-m5x-0"));
    assert!(
        close(m5x.monthly_cost_now.unwrap(), 0.23 * 730.0),
        "{m5x:?}"
    );
    assert_eq!(m5x.priced_by, BOTH);

    world.fail_price_list();
    let fallback = world.sweep(true).await;
    // One refused call, not retried; the sweep itself does not fail.
    assert_eq!(fallback.api_calls.get("GetProducts"), Some(&1));
    let error = fallback.prices.price_list_error.clone().expect("why");
    assert!(error.contains("AccessDeniedException"), "{error}");
    assert_eq!(fallback.prices.price_list_fetched_at, None);
    assert_eq!(fallback.prices.table_as_of.as_deref(), Some("2026-12-02"));
    for (label, hourly) in [("m5", 0.115), ("m5x", 0.23)] {
        let r = row(&fallback, &format!("{p}-{label}-0"));
        assert_eq!(r.priced_by, TABLE, "{r:?}");
        assert!(close(r.monthly_cost_now.unwrap(), hourly * 730.0), "{r:?}");
        assert_eq!(r.decision, row(&live, &r.endpoint).decision);
    }
    let markdown = world.report_text(&fallback).await;
    assert!(
        markdown.contains(&format!("| {p}-m5-0 | ml.m5.large | 700 |")),
        "{markdown}"
    );
    assert!(
        markdown.contains("| embedded table (as of 2026-12-02) | migrate (start) |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("Prices: the AWS Price List API could not be used (GetProducts failed (AccessDeniedException)"
        ) && markdown.contains("; every rate from the embedded table (as of 2026-12-02)."),
        "{markdown}"
    );
}
