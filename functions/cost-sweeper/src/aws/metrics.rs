//! Traffic from CloudWatch: `Invocations` (sum), `ModelLatency` and
//! `OverheadLatency` (average) and `MemoryUtilization` (maximum) per
//! endpoint and variant, over the lookback window in one-day buckets, up
//! to 500 queries per `GetMetricData` call; and, for the few candidates
//! whose busiest day could hide a burst, `Invocations` per minute. No
//! datapoints means no invocations.

use crate::domain::fleet::{EndpointView, MetricsGap, Usage};
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, StatusCode,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use shared::aws::AwsError;
use std::collections::HashMap;

/// GetMetricData's limit of queries per call.
pub const MAX_QUERIES_PER_CALL: usize = 500;
const DAY_SECONDS: i32 = 86_400;
/// CloudWatch keeps one-minute datapoints for 15 days.
const MINUTE_DATA_DAYS: i64 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invocations,
    ModelLatency,
    OverheadLatency,
    MemoryUtilization,
    /// `Invocations` summed per minute: the busiest minute.
    InvocationsPerMinute,
}

impl Kind {
    fn namespace(self) -> &'static str {
        match self {
            Kind::MemoryUtilization => "/aws/sagemaker/Endpoints",
            _ => "AWS/SageMaker",
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Kind::Invocations | Kind::InvocationsPerMinute => "Invocations",
            Kind::ModelLatency => "ModelLatency",
            Kind::OverheadLatency => "OverheadLatency",
            Kind::MemoryUtilization => "MemoryUtilization",
        }
    }

    fn stat(self) -> &'static str {
        match self {
            Kind::Invocations | Kind::InvocationsPerMinute => "Sum",
            Kind::ModelLatency | Kind::OverheadLatency => "Average",
            Kind::MemoryUtilization => "Maximum",
        }
    }

    fn period(self) -> i32 {
        match self {
            Kind::InvocationsPerMinute => 60,
            _ => DAY_SECONDS,
        }
    }
}

/// One series to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub endpoint: String,
    pub variant: String,
    pub kind: Kind,
}

/// The series a sweep reads for `endpoints` (memory for instance
/// endpoints too: it sizes their serverless memory).
pub fn series_for(endpoints: &[EndpointView]) -> Vec<Series> {
    let kinds = [
        Kind::Invocations,
        Kind::ModelLatency,
        Kind::OverheadLatency,
        Kind::MemoryUtilization,
    ];
    per_variant(endpoints, &kinds)
}

/// The per-minute `Invocations` of `endpoints`.
pub fn minute_series_for<'a>(endpoints: impl IntoIterator<Item = &'a EndpointView>) -> Vec<Series> {
    per_variant(endpoints, &[Kind::InvocationsPerMinute])
}

fn per_variant<'a>(
    endpoints: impl IntoIterator<Item = &'a EndpointView>,
    kinds: &[Kind],
) -> Vec<Series> {
    let mut series = Vec::new();
    for endpoint in endpoints {
        for variant in &endpoint.variants {
            for kind in kinds {
                series.push(Series {
                    endpoint: endpoint.name.clone(),
                    variant: variant.name.clone(),
                    kind: *kind,
                });
            }
        }
    }
    series
}

/// The window read: whole days ending at the current minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Buckets starting at or after this are "recent" (the drain period).
    pub recent_from: DateTime<Utc>,
}

impl Window {
    pub fn new(now: DateTime<Utc>, lookback_days: u32, drain_days: u32) -> Self {
        let end = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
        Window {
            start: end - Duration::days(i64::from(lookback_days)),
            end,
            recent_from: end - Duration::days(i64::from(drain_days)),
        }
    }

    /// The part of the window one-minute datapoints still exist for.
    pub fn minutes(&self) -> Self {
        Window {
            start: self.start.max(self.end - Duration::days(MINUTE_DATA_DAYS)),
            ..*self
        }
    }
}

/// Datapoints of one series: (bucket start, value).
pub type Points = Vec<(DateTime<Utc>, f64)>;

/// What a read returned, per series in the order asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Readings {
    pub points: Vec<Points>,
    /// `Some` where CloudWatch's answer was not complete.
    pub gaps: Vec<Option<MetricsGap>>,
}

/// Marks the usage of every endpoint with a gap in one of its series (the
/// first gap found is kept).
pub fn mark_gaps(
    usage: &mut HashMap<String, Usage>,
    series: &[Series],
    gaps: &[Option<MetricsGap>],
) {
    for (s, gap) in series.iter().zip(gaps) {
        if let Some(gap) = gap {
            let u = usage.entry(s.endpoint.clone()).or_default();
            u.gap = u.gap.or(Some(*gap));
        }
    }
}

/// The gap of one result: any message, or a status other than
/// `Complete` (`PartialData` is settled by the reader: later pages may
/// complete the series).
fn gap_of(result: &MetricDataResult) -> Option<MetricsGap> {
    if !result.messages().is_empty() {
        return Some(MetricsGap::Message);
    }
    match result.status_code() {
        None | Some(StatusCode::Complete) => None,
        Some(StatusCode::PartialData) => Some(MetricsGap::PartialData),
        Some(_) => Some(MetricsGap::Error),
    }
}

/// Folds the datapoints of each endpoint's series into its usage.
pub fn usage_from(series: &[Series], points: &[Points], window: &Window) -> HashMap<String, Usage> {
    #[derive(Default)]
    struct Acc {
        invocations: f64,
        recent: f64,
        /// (latency x invocations, invocations with latency): model, overhead.
        latency: [(f64, f64); 2],
        /// Invocations per bucket (all variants): day, minute.
        per_day: HashMap<DateTime<Utc>, f64>,
        per_minute: HashMap<DateTime<Utc>, f64>,
        peak_memory: Option<f64>,
    }
    let mut by_variant: HashMap<(&str, &str), HashMap<DateTime<Utc>, f64>> = HashMap::new();
    for (s, pts) in series.iter().zip(points) {
        if s.kind == Kind::Invocations {
            by_variant
                .entry((s.endpoint.as_str(), s.variant.as_str()))
                .or_default()
                .extend(pts.iter().copied());
        }
    }
    let mut acc: HashMap<&str, Acc> = HashMap::new();
    for (s, pts) in series.iter().zip(points) {
        let a = acc.entry(s.endpoint.as_str()).or_default();
        match s.kind {
            Kind::Invocations => {
                for (at, value) in pts {
                    a.invocations += value;
                    *a.per_day.entry(*at).or_default() += value;
                    if *at >= window.recent_from {
                        a.recent += value;
                    }
                }
            }
            Kind::InvocationsPerMinute => {
                for (at, value) in pts {
                    *a.per_minute.entry(*at).or_default() += value;
                }
            }
            Kind::ModelLatency | Kind::OverheadLatency => {
                let slot = usize::from(s.kind == Kind::OverheadLatency);
                let counts = by_variant.get(&(s.endpoint.as_str(), s.variant.as_str()));
                for (at, micros) in pts {
                    // Each bucket's average weighs as much as its invocations.
                    let weight = counts.and_then(|c| c.get(at)).copied().unwrap_or(0.0);
                    a.latency[slot].0 += micros / 1000.0 * weight;
                    a.latency[slot].1 += weight;
                }
            }
            Kind::MemoryUtilization => {
                for (_, value) in pts {
                    a.peak_memory = Some(a.peak_memory.map_or(*value, |p: f64| p.max(*value)));
                }
            }
        }
    }
    let average = |(sum, weight): (f64, f64)| (weight > 0.0).then(|| sum / weight);
    let peak = |buckets: &HashMap<DateTime<Utc>, f64>| buckets.values().copied().reduce(f64::max);
    acc.into_iter()
        .map(|(name, a)| {
            let usage = Usage {
                invocations: a.invocations,
                recent_invocations: a.recent,
                average_latency_ms: average(a.latency[0]),
                average_overhead_ms: average(a.latency[1]),
                peak_day_invocations: peak(&a.per_day).unwrap_or(0.0),
                peak_minute_invocations: peak(&a.per_minute),
                peak_memory_percent: a.peak_memory,
                gap: None,
            };
            (name.to_string(), usage)
        })
        .collect()
}

/// Lays the busiest minute read for some endpoints onto their usage (no
/// datapoint in the minute series is no burst: 0).
pub fn add_peak_minutes(
    usage: &mut HashMap<String, Usage>,
    series: &[Series],
    points: &[Points],
    window: &Window,
) {
    let minutes = usage_from(series, points, window);
    for s in series {
        let peak = minutes
            .get(&s.endpoint)
            .and_then(|m| m.peak_minute_invocations)
            .unwrap_or(0.0);
        usage
            .entry(s.endpoint.clone())
            .or_default()
            .peak_minute_invocations = Some(peak);
    }
}

#[derive(Clone, Debug)]
pub struct MetricsReader {
    client: aws_sdk_cloudwatch::Client,
}

impl MetricsReader {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        MetricsReader { client }
    }

    /// The datapoints of every series, in order: ceil(series / 500) calls
    /// (plus a page only if CloudWatch splits a response, which one-day
    /// buckets over at most 60 days never need: 500 x 60 < 100,800 points;
    /// minute series, read for a few endpoints only, do).
    /// A series whose answer is not complete gets a gap (see `gap_of`);
    /// a message on the whole answer is a gap for every series of the call.
    pub async fn read(&self, series: &[Series], window: &Window) -> Result<Readings, AwsError> {
        let mut points: Vec<Points> = vec![Vec::new(); series.len()];
        let mut gaps: Vec<Option<MetricsGap>> = vec![None; series.len()];
        let mut partial = vec![false; series.len()];
        for (chunk_index, chunk) in series.chunks(MAX_QUERIES_PER_CALL).enumerate() {
            let offset = chunk_index * MAX_QUERIES_PER_CALL;
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, s)| query(&format!("q{}", offset + i), s))
                .collect();
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(queries.clone()))
                    .start_time(aws_smithy_types::DateTime::from_secs(
                        window.start.timestamp(),
                    ))
                    .end_time(aws_smithy_types::DateTime::from_secs(
                        window.end.timestamp(),
                    ))
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetMetricData", e))?;
                if !out.messages().is_empty() {
                    for gap in &mut gaps[offset..offset + chunk.len()] {
                        *gap = gap.or(Some(MetricsGap::Message));
                    }
                }
                for result in out.metric_data_results() {
                    let Some(index) = result
                        .id()
                        .and_then(|id| id.strip_prefix('q'))
                        .and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(target) = points.get_mut(index) else {
                        continue;
                    };
                    match gap_of(result) {
                        // More pages follow: the series is partial until one completes it.
                        Some(MetricsGap::PartialData) => partial[index] = true,
                        Some(gap) => gaps[index] = gaps[index].or(Some(gap)),
                        None => partial[index] = false,
                    }
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Some(at) = DateTime::from_timestamp(at.secs(), 0) {
                            target.push((at, *value));
                        }
                    }
                }
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        for (gap, partial) in gaps.iter_mut().zip(partial) {
            if partial {
                *gap = gap.or(Some(MetricsGap::PartialData));
            }
        }
        Ok(Readings { points, gaps })
    }
}

fn query(id: &str, series: &Series) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(series.kind.namespace())
        .metric_name(series.kind.metric())
        .dimensions(
            Dimension::builder()
                .name("EndpointName")
                .value(&series.endpoint)
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("VariantName")
                .value(&series.variant)
                .build(),
        )
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(series.kind.period())
                .stat(series.kind.stat())
                .build(),
        )
        .return_data(true)
        .build()
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
