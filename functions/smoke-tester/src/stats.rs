//! Latency figures from a cold call and a few warm ones.

use std::time::Duration;

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median (p50) of the samples; the mean of the middle two for an even count.
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&ms(&[30])), Some(Duration::from_millis(30)));
        assert_eq!(median(&ms(&[50, 10, 30])), Some(Duration::from_millis(30)));
        assert_eq!(
            median(&ms(&[40, 10, 20, 30])),
            Some(Duration::from_millis(25))
        );
    }

    #[test]
    fn millis_keep_fractions() {
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }
}
