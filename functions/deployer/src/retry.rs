//! When a queued upload that could not deploy yet is tried again, and when
//! it is given up. Pure code: the clock and the receive count come in.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// The first wait after a busy endpoint.
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between two tries.
pub const LONGEST_RETRY: Duration = Duration::from_secs(15 * 60);
/// How long after its upload an artifact may still wait for its endpoint.
pub const DEFAULT_MAX_DEPLOY_WAIT: Duration = Duration::from_secs(2 * 60 * 60);

/// The wait after the `receive_count`-th delivery of a message (1 for the
/// first): 30 s, doubling, at most 15 minutes.
pub fn backoff(receive_count: u32) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(1u32 << doublings)
        .min(LONGEST_RETRY)
}

/// What to do with a queued upload that failed in a retryable way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Hide the message this long, then try again.
    After(Duration),
    /// It has waited `waited` since its upload, longer than allowed.
    Abandon { waited: Duration },
}

/// Retries with [`backoff`] until `max_wait` after `uploaded`; the last wait
/// is cut so the final try happens at the deadline, not past it.
pub fn retry_or_abandon(
    uploaded: DateTime<Utc>,
    now: DateTime<Utc>,
    receive_count: u32,
    max_wait: Duration,
) -> Retry {
    let waited = (now - uploaded).to_std().unwrap_or_default();
    if waited >= max_wait {
        return Retry::Abandon { waited };
    }
    let left = max_wait - waited;
    Retry::After(backoff(receive_count).min(left).max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn waits_double_from_30_seconds_to_15_minutes() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(backoff(0), FIRST_RETRY);
        assert_eq!(backoff(u32::MAX), LONGEST_RETRY);
    }

    #[test]
    fn gives_up_only_after_the_maximum_wait_since_the_upload() {
        let uploaded = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
        let max = DEFAULT_MAX_DEPLOY_WAIT;
        let at = |minutes: i64| uploaded + chrono::Duration::minutes(minutes);
        assert_eq!(
            retry_or_abandon(uploaded, at(1), 1, max),
            Retry::After(Duration::from_secs(30))
        );
        assert_eq!(
            retry_or_abandon(uploaded, at(60), 9, max),
            Retry::After(LONGEST_RETRY)
        );
        // Five minutes before the deadline, the last wait ends at it.
        assert_eq!(
            retry_or_abandon(uploaded, at(115), 12, max),
            Retry::After(Duration::from_secs(300))
        );
        assert_eq!(
            retry_or_abandon(uploaded, at(120), 13, max),
            Retry::Abandon {
                waited: Duration::from_secs(7200)
            }
        );
        // A clock behind the upload time counts as no wait yet.
        assert_eq!(
            retry_or_abandon(uploaded, at(-5), 1, max),
            Retry::After(FIRST_RETRY)
        );
    }
}
