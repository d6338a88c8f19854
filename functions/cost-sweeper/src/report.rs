//! What a sweep reports: a JSON summary (returned and logged), a Markdown
//! report for people (written to S3 under `reports/`), and EMF metrics.

use crate::domain::prices::PriceOrigin;
use crate::domain::rows::{Decision, Row};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use shared::emf::{MetricDocument, Unit};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Dry run: what would be done.
    Planned,
    Done,
    /// Not applied: the world changed since it was observed.
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    pub endpoint: String,
    pub step: &'static str,
    pub status: StepStatus,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointError {
    pub endpoint: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub run_at: String,
    pub region: String,
    pub dry_run: bool,
    pub endpoints: usize,
    /// Rows by decision.
    pub decisions: BTreeMap<String, usize>,
    /// Eligible endpoints (started now or deferred by the per-run limit).
    pub candidates: usize,
    /// Monthly saving of all candidates, USD.
    pub estimated_monthly_saving: f64,
    pub migrations_started: usize,
    pub migrations_completed: usize,
    pub migrations_failed: usize,
    pub steps: Vec<StepOutcome>,
    pub errors: Vec<EndpointError>,
    pub metric_series: usize,
    pub api_calls: BTreeMap<String, u64>,
    /// Where this run's prices came from and how old they are (each row
    /// says which of them priced it).
    pub prices: PriceOrigin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_location: Option<String>,
    /// The HTML report with charts, next to the Markdown one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_location: Option<String>,
    pub rows: Vec<Row>,
}

fn counted(steps: &[StepOutcome], names: &[&str]) -> usize {
    steps
        .iter()
        .filter(|s| s.status == StepStatus::Done && names.contains(&s.step))
        .count()
}

impl SweepReport {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        now: DateTime<Utc>,
        region: &str,
        dry_run: bool,
        rows: Vec<Row>,
        steps: Vec<StepOutcome>,
        errors: Vec<EndpointError>,
        metric_series: usize,
        api_calls: BTreeMap<String, u64>,
    ) -> Self {
        let mut decisions = BTreeMap::new();
        for row in &rows {
            let key = serde_json::to_value(row.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *decisions.entry(key).or_insert(0) += 1;
        }
        let candidates: Vec<&Row> = rows
            .iter()
            .filter(|r| matches!(r.decision, Decision::Migrate | Decision::Deferred))
            .collect();
        SweepReport {
            run_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            region: region.to_string(),
            dry_run,
            endpoints: rows.len(),
            decisions,
            candidates: candidates.len(),
            estimated_monthly_saving: round2(
                candidates.iter().filter_map(|r| r.monthly_saving).sum(),
            ),
            migrations_started: counted(&steps, &["start"]),
            migrations_completed: counted(&steps, &["retire-original", "finish-replacement"]),
            migrations_failed: counted(&steps, &["fail", "roll-back-replacement"]),
            steps,
            errors,
            metric_series,
            api_calls,
            prices: PriceOrigin::default(),
            report_location: None,
            html_location: None,
            rows,
        }
    }

    /// The summary without the per-endpoint rows (for the log line).
    pub fn summary(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("rows");
        }
        value
    }

    pub fn has_failures(&self) -> bool {
        !self.errors.is_empty() || self.steps.iter().any(|s| s.status == StepStatus::Failed)
    }

    /// CloudWatch metrics, as one EMF log line.
    pub fn metrics(&self, namespace: &str) -> MetricDocument {
        MetricDocument::new(namespace)
            .dimension("Function", "cost-sweeper")
            .metric("SweepEndpoints", Unit::Count, self.endpoints as f64)
            .metric("SweepCandidates", Unit::Count, self.candidates as f64)
            .metric(
                "MigrationsStarted",
                Unit::Count,
                self.migrations_started as f64,
            )
            .metric(
                "MigrationsCompleted",
                Unit::Count,
                self.migrations_completed as f64,
            )
            .metric(
                "MigrationsFailed",
                Unit::Count,
                self.migrations_failed as f64,
            )
            .metric(
                "EstimatedMonthlySaving",
                Unit::None,
                self.estimated_monthly_saving,
            )
            .metric("SweepErrors", Unit::Count, self.errors.len() as f64)
            .property("DryRun", serde_json::json!(self.dry_run))
    }

    /// The report for people: a summary and one table row per endpoint.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let mode = if self.dry_run {
            "dry run: nothing changed"
        } else {
            "applied"
        };
        let _ = writeln!(
            md,
            "# Cost sweep {} ({}, {mode})\n",
            self.run_at, self.region
        );
        let _ = writeln!(
            md,
            "{} endpoints, {} candidates, estimated saving ${:.2}/month. Migrations started {}, completed {}, failed {}.\n",
            self.endpoints,
            self.candidates,
            self.estimated_monthly_saving,
            self.migrations_started,
            self.migrations_completed,
            self.migrations_failed
        );
        let _ = writeln!(md, "{}\n", self.prices_line());
        let _ = writeln!(
            md,
            "| endpoint | instance type | invocations | cost now ($/mo) | cost on serverless ($/mo) | saving ($/mo) | priced by | decision | reason | migration state |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---|---|---|---|");
        for row in &self.rows {
            let reason = if row.reasons.is_empty() {
                row.note.clone()
            } else {
                row.reasons
                    .iter()
                    .map(|r| r.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let decision = serde_json::to_value(row.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {}{} | {:.0} | {} | {} | {} | {} | {}{} | {} | {} |",
                cell(&row.endpoint),
                cell(&row.instance_type),
                if row.instance_count > 1 {
                    format!(" x{}", row.instance_count)
                } else {
                    String::new()
                },
                row.invocations,
                money(row.monthly_cost_now),
                serverless_money(row, row.monthly_cost_serverless),
                serverless_money(row, row.monthly_saving),
                cell(&self.prices.describe(row.priced_by)),
                decision,
                row.step.map(|s| format!(" ({s})")).unwrap_or_default(),
                cell(&reason),
                cell(row.migration_state.as_deref().unwrap_or("")),
            );
        }
        if !self.errors.is_empty() {
            let _ = writeln!(md, "\n## Errors\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {}: {}", cell(&e.endpoint), cell(&e.error));
            }
        }
        md
    }
}

impl SweepReport {
    /// One line on where the run's prices came from.
    pub fn prices_line(&self) -> String {
        let p = &self.prices;
        let live = match (&p.price_list_fetched_at, &p.price_list_error) {
            (Some(at), _) => format!(
                "Prices: AWS Price List API, fetched {at}{}",
                p.price_list_effective
                    .as_deref()
                    .map(|e| format!(" (newest rate effective {e})"))
                    .unwrap_or_default()
            ),
            (None, Some(error)) => format!(
                "Prices: the AWS Price List API could not be used ({})",
                cell(error)
            ),
            (None, None) => "Prices: the AWS Price List API was not read".into(),
        };
        let table = match (&p.table_as_of, &p.price_list_fetched_at) {
            (Some(d), Some(_)) => format!("the embedded table (as of {d}) for any rate it lacks"),
            (Some(d), None) => format!("every rate from the embedded table (as of {d})"),
            (None, _) => "the embedded table has no rates for this Region".into(),
        };
        format!("{live}; {table}.")
    }
}

fn round2(value: f64) -> f64 {
    // `+ 0.0` turns a rounded -0.0 into 0.0.
    (value * 100.0).round() / 100.0 + 0.0
}

fn money(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "unknown".into())
}

/// A serverless figure: "n/a" for an endpoint that cannot run on
/// serverless (a structural reason), never $0.00 or a whole-cost saving.
fn serverless_money(row: &Row, value: Option<f64>) -> String {
    if row.serverless_not_applicable {
        "n/a".into()
    } else {
        money(value)
    }
}

/// Table cells cannot hold `|` or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// The S3 key of a report written at `now`.
pub fn report_key(prefix: &str, now: DateTime<Utc>) -> String {
    format!("{prefix}cost-sweep-{}.md", now.format("%Y%m%dT%H%M%SZ"))
}

/// The S3 key of the HTML report written at `now` (next to the Markdown one).
pub fn html_key(prefix: &str, now: DateTime<Utc>) -> String {
    format!("{prefix}cost-sweep-{}.html", now.format("%Y%m%dT%H%M%SZ"))
}

/// The S3 key of the sweeps' history (the HTML report's saving chart).
pub fn history_key(prefix: &str) -> String {
    format!("{prefix}cost-sweep-history.json")
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
