use super::*;
use crate::domain::fleet::MetricsGap;
use crate::test_support::{now, persistent, serverless};
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::types::{MessageData, MetricDataResult, StatusCode};
use aws_sdk_cloudwatch::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

fn series(endpoint: &str, kind: Kind) -> Series {
    Series {
        endpoint: endpoint.into(),
        variant: "AllTraffic".into(),
        kind,
    }
}

fn day(window: &Window, index: i64) -> DateTime<Utc> {
    window.start + Duration::days(index)
}

#[test]
fn every_endpoint_reads_four_series_per_variant() {
    let all = series_for(&[persistent("a"), serverless("b", 2048)]);
    let kinds: Vec<(&str, Kind)> = all.iter().map(|s| (s.endpoint.as_str(), s.kind)).collect();
    let four = |e| {
        [
            (e, Kind::Invocations),
            (e, Kind::ModelLatency),
            (e, Kind::OverheadLatency),
            (e, Kind::MemoryUtilization),
        ]
    };
    assert_eq!(kinds, [four("a"), four("b")].concat());
}

#[test]
fn overhead_is_weighed_like_latency_and_the_busiest_day_and_minute_are_kept() {
    let w = Window::new(now(), 7, 1);
    let s = vec![
        series("a", Kind::Invocations),
        series("a", Kind::OverheadLatency),
        Series {
            variant: "Other".into(),
            ..series("a", Kind::Invocations)
        },
    ];
    let points = vec![
        vec![(day(&w, 0), 300.0), (day(&w, 6), 100.0)],
        // 10 ms on day 0, 50 ms on day 6 (microseconds).
        vec![(day(&w, 0), 10_000.0), (day(&w, 6), 50_000.0)],
        vec![(day(&w, 6), 250.0)],
    ];
    let usage = usage_from(&s, &points, &w);
    let a = usage["a"];
    // (300 x 10 + 100 x 50) / 400 = 20 ms
    assert!((a.average_overhead_ms.unwrap() - 20.0).abs() < 1e-9);
    // Day 6 has 100 + 250 across both variants.
    assert_eq!(a.peak_day_invocations, 350.0);
    assert_eq!(a.peak_minute_invocations, None);

    let minute = vec![series("a", Kind::InvocationsPerMinute)];
    let at = w.end - Duration::minutes(5);
    let mut with_minutes = usage.clone();
    add_peak_minutes(
        &mut with_minutes,
        &minute,
        &[vec![(at, 12.0), (at + Duration::minutes(1), 40.0)]],
        &w.minutes(),
    );
    assert_eq!(with_minutes["a"].peak_minute_invocations, Some(40.0));
    // A minute series with no datapoint: no burst.
    let mut quiet = usage;
    add_peak_minutes(&mut quiet, &minute, &[vec![]], &w.minutes());
    assert_eq!(quiet["a"].peak_minute_invocations, Some(0.0));
    // Minute data exists for 15 days only.
    let long = Window::new(now(), 30, 1);
    assert_eq!(
        long.minutes().end - long.minutes().start,
        Duration::days(15)
    );
}

#[test]
fn the_window_is_whole_days_ending_at_the_current_minute() {
    let w = Window::new(now() + Duration::seconds(42), 7, 1);
    assert_eq!(w.end, now());
    assert_eq!(w.end - w.start, Duration::days(7));
    assert_eq!(w.end - w.recent_from, Duration::days(1));
}

#[test]
fn usage_sums_invocations_weighs_latency_and_splits_off_the_drain_period() {
    let w = Window::new(now(), 7, 1);
    let s = vec![
        series("a", Kind::Invocations),
        series("a", Kind::ModelLatency),
        series("idle", Kind::Invocations),
    ];
    let points = vec![
        vec![(day(&w, 0), 300.0), (day(&w, 6), 100.0)],
        // ModelLatency is in microseconds: 100 ms on day 0, 300 ms on day 6.
        vec![(day(&w, 0), 100_000.0), (day(&w, 6), 300_000.0)],
        vec![],
    ];
    let usage = usage_from(&s, &points, &w);
    let a = usage["a"];
    assert_eq!(a.invocations, 400.0);
    assert_eq!(a.recent_invocations, 100.0);
    // (300 x 100 + 100 x 300) / 400 = 150 ms
    assert!((a.average_latency_ms.unwrap() - 150.0).abs() < 1e-9);
    // No datapoints is zero invocations, not unknown.
    assert_eq!(usage["idle"].invocations, 0.0);
    assert_eq!(usage["idle"].average_latency_ms, None);
}

#[test]
fn peak_memory_is_the_maximum() {
    let w = Window::new(now(), 7, 1);
    let s = vec![series("b", Kind::MemoryUtilization)];
    let usage = usage_from(&s, &[vec![(day(&w, 1), 20.0), (day(&w, 2), 35.5)]], &w);
    assert_eq!(usage["b"].peak_memory_percent, Some(35.5));
}

fn fast_retries() -> aws_sdk_cloudwatch::config::retry::RetryConfig {
    aws_sdk_cloudwatch::config::retry::RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(std::time::Duration::ZERO)
        .with_max_backoff(std::time::Duration::from_millis(1))
}

#[tokio::test]
async fn at_most_500_queries_per_call_and_results_map_back_by_id() {
    let w = Window::new(now(), 7, 1);
    let many: Vec<Series> = (0..1001)
        .map(|i| series(&format!("e{i}"), Kind::Invocations))
        .collect();
    let at = aws_smithy_types::DateTime::from_secs(day(&w, 3).timestamp());
    let rule = mock!(Client::get_metric_data)
        .match_requests(|r| r.metric_data_queries().len() <= MAX_QUERIES_PER_CALL)
        .sequence()
        .output(|| GetMetricDataOutput::builder().build())
        .output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("q777")
                        .timestamps(at)
                        .values(42.0)
                        .build(),
                )
                .build()
        })
        .output(|| GetMetricDataOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(fast_retries()));
    let points = MetricsReader::new(client)
        .read(&many, &w)
        .await
        .unwrap()
        .points;
    assert_eq!(rule.num_calls(), 3, "ceil(1001 / 500) calls");
    assert_eq!(points[777], vec![(day(&w, 3), 42.0)]);
    assert_eq!(points.iter().map(Vec::len).sum::<usize>(), 1);
}

#[tokio::test]
async fn throttling_is_retried() {
    let w = Window::new(now(), 7, 1);
    let rule = mock!(Client::get_metric_data)
        .sequence()
        .error(|| {
            GetMetricDataError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .times(2)
        .output(|| GetMetricDataOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(fast_retries()));
    let points = MetricsReader::new(client)
        .read(&[series("a", Kind::Invocations)], &w)
        .await
        .unwrap()
        .points;
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(points, vec![vec![]]);
}

fn result(id: &str, status: StatusCode) -> MetricDataResult {
    MetricDataResult::builder()
        .id(id)
        .status_code(status)
        .build()
}

#[tokio::test]
async fn an_answer_that_is_not_complete_leaves_the_series_with_a_gap() {
    let w = Window::new(now(), 7, 1);
    let s: Vec<Series> = ["partial", "failed", "noted", "fine"]
        .iter()
        .map(|e| series(e, Kind::Invocations))
        .collect();
    let rule = mock!(Client::get_metric_data).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", StatusCode::PartialData))
            .metric_data_results(result("q1", StatusCode::InternalError))
            .metric_data_results(
                MetricDataResult::builder()
                    .id("q2")
                    .status_code(StatusCode::Complete)
                    .messages(MessageData::builder().code("ArithmeticError").build())
                    .build(),
            )
            .metric_data_results(result("q3", StatusCode::Complete))
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(fast_retries()));
    let read = MetricsReader::new(client).read(&s, &w).await.unwrap();
    assert_eq!(
        read.gaps,
        vec![
            Some(MetricsGap::PartialData),
            Some(MetricsGap::Error),
            Some(MetricsGap::Message),
            None
        ]
    );
    let mut usage = usage_from(&s, &read.points, &w);
    mark_gaps(&mut usage, &s, &read.gaps);
    assert_eq!(usage["partial"].gap, Some(MetricsGap::PartialData));
    assert_eq!(usage["fine"].gap, None);
}

#[tokio::test]
async fn a_message_on_the_whole_answer_is_a_gap_for_every_series_of_the_call() {
    let w = Window::new(now(), 7, 1);
    let s = vec![
        series("a", Kind::Invocations),
        series("b", Kind::Invocations),
    ];
    let rule = mock!(Client::get_metric_data).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("q0", StatusCode::Complete))
            .messages(
                MessageData::builder()
                    .code("MaxMetricsExceeded")
                    .value("too many metrics")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(fast_retries()));
    let read = MetricsReader::new(client).read(&s, &w).await.unwrap();
    assert_eq!(read.gaps, vec![Some(MetricsGap::Message); 2]);
}

#[tokio::test]
async fn partial_data_completed_by_the_next_page_is_no_gap() {
    let w = Window::new(now(), 7, 1);
    let at = aws_smithy_types::DateTime::from_secs(day(&w, 3).timestamp());
    let rule = mock!(Client::get_metric_data)
        .sequence()
        .output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("q0")
                        .status_code(StatusCode::PartialData)
                        .timestamps(at)
                        .values(5.0)
                        .build(),
                )
                .next_token("more")
                .build()
        })
        .output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("q0", StatusCode::Complete))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(fast_retries()));
    let read = MetricsReader::new(client)
        .read(&[series("a", Kind::Invocations)], &w)
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(read.gaps, vec![None]);
    assert_eq!(read.points, vec![vec![(day(&w, 3), 5.0)]]);
}
