//! What a sweep leaves behind: EMF metrics, the Markdown and HTML reports
//! under the reports prefix (with the sweeps' history the HTML report's
//! saving chart reads), and a summary on the notification topic linking
//! the HTML report. What cannot be written is reported as an error.

use crate::config::SweepConfig;
use crate::html_report::{self, History};
use crate::report::{self, EndpointError, SweepReport};
use chrono::{DateTime, Utc};
use shared::aws::s3::ArtifactStore;
use shared::aws::sns::Notifier;
use tracing::warn;

/// Largest history object read back (30 short entries are a few KB).
const MAX_HISTORY_BYTES: i64 = 256 * 1024;

pub(crate) async fn publish(
    reports: &ArtifactStore,
    notifier: &Notifier,
    config: &SweepConfig,
    mut report: SweepReport,
    now: DateTime<Utc>,
) -> SweepReport {
    report.metrics(&config.metrics_namespace).emit();
    if let Some(bucket) = &config.report_bucket {
        let prefix = &config.report_prefix;
        let key = report::report_key(prefix, now);
        let markdown = report.markdown().into_bytes();
        match reports
            .put_small(bucket, &key, "text/markdown; charset=utf-8", markdown)
            .await
        {
            Ok(()) => report.report_location = Some(format!("s3://{bucket}/{key}")),
            Err(e) => report.errors.push(not_written(bucket, &key, e)),
        }
        let history = read_history(reports, bucket, prefix, &mut report).await;
        let history = history.with(&report);
        let key = report::html_key(prefix, now);
        let html = html_report::html(&report, &history).into_bytes();
        match reports
            .put_small(bucket, &key, "text/html; charset=utf-8", html)
            .await
        {
            Ok(()) => report.html_location = Some(format!("s3://{bucket}/{key}")),
            Err(e) => report.errors.push(not_written(bucket, &key, e)),
        }
        let key = report::history_key(prefix);
        // Two sweeps at once may each append to the history they read; one
        // entry is then lost from the chart, nothing else.
        let body = serde_json::to_vec(&history).unwrap_or_default();
        if let Err(e) = reports
            .put_small(bucket, &key, "application/json", body)
            .await
        {
            report.errors.push(not_written(bucket, &key, e));
        }
    }
    if notifier.is_enabled() {
        let (subject, message) = summary(&report, &config.region);
        if let Err(e) = notifier.notify(&subject, &message).await {
            report.errors.push(EndpointError {
                endpoint: "notification topic".into(),
                error: format!("sweep summary not sent: {e}"),
            });
        }
    }
    report
}

fn not_written(bucket: &str, key: &str, e: shared::aws::AwsError) -> EndpointError {
    EndpointError {
        endpoint: format!("s3://{bucket}/{key}"),
        error: format!("report not written: {e}"),
    }
}

/// The history so far; a missing object is an empty history, an unreadable
/// one starts anew (it only feeds a chart).
async fn read_history(
    reports: &ArtifactStore,
    bucket: &str,
    prefix: &str,
    report: &mut SweepReport,
) -> History {
    let key = report::history_key(prefix);
    match reports.get_small(bucket, &key, MAX_HISTORY_BYTES).await {
        Ok(None) => History::default(),
        Ok(Some(object)) => serde_json::from_slice(&object.bytes).unwrap_or_else(|e| {
            warn!(key, error = %e, "sweep history unreadable; starting a new one");
            History::default()
        }),
        Err(e) => {
            report.errors.push(EndpointError {
                endpoint: format!("s3://{bucket}/{key}"),
                error: format!("sweep history not read: {e}"),
            });
            History::default()
        }
    }
}

/// The notification: the summary and where the reports are.
pub(crate) fn summary(report: &SweepReport, region: &str) -> (String, String) {
    let subject = format!(
        "Cost sweep {region}: {} candidates, ${:.2}/month{}",
        report.candidates,
        report.estimated_monthly_saving,
        if report.dry_run { " (dry run)" } else { "" }
    );
    let mut lines = vec![
        format!(
            "Cost sweep {} in {region}: {} endpoints, {} candidates, estimated saving ${:.2}/month. \
             Migrations started {}, completed {}, failed {}. Errors: {}.",
            report.run_at,
            report.endpoints,
            report.candidates,
            report.estimated_monthly_saving,
            report.migrations_started,
            report.migrations_completed,
            report.migrations_failed,
            report.errors.len()
        ),
        report.prices_line(),
    ];
    if let Some(location) = &report.html_location {
        lines.push(format!("HTML report with charts: {location}"));
        if let Some((bucket, key)) = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
        {
            lines.push(format!(
                "Open it in the S3 console: https://s3.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"
            ));
        }
    }
    if let Some(location) = &report.report_location {
        lines.push(format!("Markdown report: {location}"));
    }
    (subject, lines.join("\n"))
}
