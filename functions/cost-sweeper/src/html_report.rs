//! The HTML report written next to the Markdown one: the summary, three SVG
//! charts (see `charts`) and the rows. Well-formed XHTML, so it can be read
//! back as XML. The saving over the last sweeps comes from a small JSON
//! history kept under the reports prefix (`History`).

use crate::charts::{self, BreakEven, CostBar, SavingPoint};
use crate::domain::rows::{Decision, Row};
use crate::report::SweepReport;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Sweeps the history keeps (the chart shows them all).
pub const HISTORY_LIMIT: usize = 30;
/// Endpoints in the cost chart (the largest costs now).
pub const COST_CHART_LIMIT: usize = 25;
/// Candidates in the break-even chart (the largest savings).
pub const BREAK_EVEN_LIMIT: usize = 20;

/// One past sweep, as the history object keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub run_at: String,
    pub region: String,
    pub dry_run: bool,
    pub endpoints: usize,
    pub candidates: usize,
    pub estimated_monthly_saving: f64,
    pub migrations_completed: usize,
}

/// The last sweeps' summaries, oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    pub sweeps: Vec<HistoryEntry>,
}

impl History {
    /// The history with `report` appended, at most `HISTORY_LIMIT` long.
    pub fn with(mut self, report: &SweepReport) -> History {
        self.sweeps.push(HistoryEntry {
            run_at: report.run_at.clone(),
            region: report.region.clone(),
            dry_run: report.dry_run,
            endpoints: report.endpoints,
            candidates: report.candidates,
            estimated_monthly_saving: report.estimated_monthly_saving,
            migrations_completed: report.migrations_completed,
        });
        let excess = self.sweeps.len().saturating_sub(HISTORY_LIMIT);
        self.sweeps.drain(..excess);
        self
    }
}

/// Text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn money(value: Option<f64>, not_applicable: bool) -> String {
    match value {
        _ if not_applicable => "n/a".into(),
        Some(v) => format!("{v:.2}"),
        None => "unknown".into(),
    }
}

fn is_candidate(row: &Row) -> bool {
    matches!(row.decision, Decision::Migrate | Decision::Deferred)
}

fn cost_bars(rows: &[Row]) -> Vec<CostBar> {
    let mut bars: Vec<CostBar> = rows
        .iter()
        .filter(|r| !r.serverless_not_applicable && r.instance_type != "serverless")
        .filter_map(|r| {
            Some(CostBar {
                endpoint: r.endpoint.clone(),
                now: r.monthly_cost_now?,
                serverless: r.monthly_cost_serverless?,
            })
        })
        .collect();
    bars.sort_by(|a, b| b.now.total_cmp(&a.now));
    bars.truncate(COST_CHART_LIMIT);
    bars
}

/// Candidates with a cost now and some serverless cost (one with no
/// traffic costs nothing on serverless: no curve to draw).
fn break_even_points(rows: &[Row]) -> (Vec<BreakEven>, Vec<&str>) {
    let mut points = Vec::new();
    let mut no_traffic = Vec::new();
    for row in rows.iter().filter(|r| is_candidate(r)) {
        match (row.monthly_cost_now, row.monthly_cost_serverless) {
            (Some(now), Some(serverless)) if now > 0.0 && serverless > 0.0 => {
                points.push(BreakEven {
                    endpoint: row.endpoint.clone(),
                    now,
                    serverless,
                })
            }
            (Some(_), Some(_)) => no_traffic.push(row.endpoint.as_str()),
            _ => {}
        }
    }
    points.sort_by(|a, b| (b.now - b.serverless).total_cmp(&(a.now - a.serverless)));
    points.truncate(BREAK_EVEN_LIMIT);
    (points, no_traffic)
}

fn figure(html: &mut String, id: &str, title: &str, caption: &str, svg: Result<String, String>) {
    let _ = writeln!(html, "<h2>{}</h2>", escape(title));
    let _ = writeln!(html, "<figure id=\"{id}\">");
    match svg {
        Ok(svg) => html.push_str(&svg),
        Err(e) => {
            let _ = write!(html, "<p>{}</p>", escape(&e));
        }
    }
    let _ = writeln!(
        html,
        "<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

/// The whole report as an XHTML document.
pub fn html(report: &SweepReport, history: &History) -> String {
    let mut html = String::new();
    let mode = if report.dry_run {
        "dry run: nothing changed"
    } else {
        "applied"
    };
    let title = format!("Cost sweep {} ({}, {mode})", report.run_at, report.region);
    let _ = writeln!(
        html,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <title>{0}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}td.n{{text-align:right}}</style></head><body>\
         <h1>{0}</h1>",
        escape(&title)
    );
    let _ = writeln!(
        html,
        "<p id=\"summary\">{} endpoints, {} candidates, estimated saving ${:.2}/month. Migrations started {}, completed {}, failed {}.</p>",
        report.endpoints,
        report.candidates,
        report.estimated_monthly_saving,
        report.migrations_started,
        report.migrations_completed,
        report.migrations_failed
    );
    let _ = writeln!(
        html,
        "<p id=\"prices\">{}</p>",
        escape(&report.prices_line())
    );

    let bars = cost_bars(&report.rows);
    figure(
        &mut html,
        "chart-cost",
        "Cost now and on serverless, per endpoint",
        &format!(
            "USD per month; orange: now, green: serverless. The {} largest costs now of {} endpoints priced on both sides.",
            bars.len(),
            report.rows.len()
        ),
        charts::cost_bars(&bars),
    );
    let (points, no_traffic) = break_even_points(&report.rows);
    let mut caption = format!(
        "Each line is one candidate ({} of {}): its serverless cost as a share of its cost now, as its traffic grows; \
         the dot is today, and where the line crosses 100% it would stop saving.",
        points.len(),
        report.candidates
    );
    if !no_traffic.is_empty() {
        let _ = write!(
            caption,
            " Without traffic (no cost on serverless, not drawn): {}.",
            no_traffic.join(", ")
        );
    }
    figure(
        &mut html,
        "chart-break-even",
        "Candidates against their break-even",
        &caption,
        charts::break_even(&points),
    );
    let saving: Vec<SavingPoint> = history
        .sweeps
        .iter()
        .map(|s| SavingPoint {
            label: s.run_at.get(5..16).unwrap_or(&s.run_at).to_string(),
            saving: s.estimated_monthly_saving,
        })
        .collect();
    figure(
        &mut html,
        "chart-history",
        "Estimated monthly saving over the last sweeps",
        &format!(
            "USD per month, the candidates' estimated saving at each of the last {} sweeps (UTC).",
            saving.len()
        ),
        charts::saving_history(&saving),
    );
    rows_table(&mut html, report);
    html.push_str("</body></html>\n");
    html
}

fn rows_table(html: &mut String, report: &SweepReport) {
    html.push_str(
        "<h2>Endpoints</h2><table id=\"rows\"><tr><th>endpoint</th><th>instance type</th><th>invocations</th>\
         <th>cost now ($/mo)</th><th>cost on serverless ($/mo)</th><th>saving ($/mo)</th><th>priced by</th>\
         <th>decision</th><th>reason</th></tr>\n",
    );
    for row in &report.rows {
        let reason = if row.reasons.is_empty() {
            row.note.clone()
        } else {
            let details: Vec<&str> = row.reasons.iter().map(|r| r.detail.as_str()).collect();
            details.join("; ")
        };
        let decision = serde_json::to_value(row.decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.endpoint),
            escape(&row.instance_type),
            row.invocations,
            money(row.monthly_cost_now, false),
            money(row.monthly_cost_serverless, row.serverless_not_applicable),
            money(row.monthly_saving, row.serverless_not_applicable),
            escape(&report.prices.describe(row.priced_by)),
            escape(&decision),
            escape(&reason),
        );
    }
    html.push_str("</table>\n");
}

#[cfg(test)]
#[path = "html_report_tests.rs"]
mod tests;
