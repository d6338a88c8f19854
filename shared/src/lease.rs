//! How long an endpoint's lease in the ledger lasts ([`crate::aws::lease`]
//! takes, confirms and gives it back). The lease keeps two attempts on one
//! endpoint from interleaving, so it must last as long as its holder may
//! still act: the whole Lambda invocation, however long its `Timeout`, and
//! no longer (a holder that died keeps others waiting until it lapses).

use chrono::{DateTime, TimeDelta, Utc};
use std::time::{Duration, SystemTime};

/// How long a lease outlives its holder's deadline: a call sent just
/// before Lambda stops the invocation reaches AWS after the deadline, and
/// the writer's clock and DynamoDB's readers' clocks differ a little.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
/// Lambda's longest timeout: no invocation acts longer, so no lease lasts
/// longer than this (plus the margin), whatever deadline it is given.
pub const LONGEST_INVOCATION: Duration = Duration::from_secs(900);
/// A lease taken with no deadline known (a run outside Lambda: a local
/// invoke, a test): twice the deployer's default timeout.
pub const UNKNOWN_DEADLINE_LEASE: Duration = Duration::from_secs(120);

/// The invocation's deadline as Lambda gives it (`Context::deadline()`);
/// `None` when none was given (lambda_runtime's `Context::default()`
/// holds the epoch).
pub fn invocation_deadline(deadline: SystemTime) -> Option<DateTime<Utc>> {
    (deadline > SystemTime::UNIX_EPOCH).then(|| deadline.into())
}

/// Until when a lease taken (or confirmed) at `now` by an invocation that
/// ends at `deadline` lasts: the deadline plus [`DEADLINE_MARGIN`], never
/// less than the margin from now (an invocation past its deadline is being
/// stopped, its last calls may still land) and never more than
/// [`LONGEST_INVOCATION`] plus the margin from now.
pub fn lease_until(now: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let span = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
    let margin = span(DEADLINE_MARGIN);
    match deadline {
        None => now + span(UNKNOWN_DEADLINE_LEASE),
        Some(deadline) => {
            (deadline + margin).clamp(now + margin, now + span(LONGEST_INVOCATION) + margin)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    #[test]
    fn a_lease_lasts_until_the_invocations_deadline_and_a_margin() {
        // The default 60 s timeout, taken 5 s in.
        assert_eq!(lease_until(at(5), Some(at(60))), at(90));
        // Timeout raised to 15 minutes for a multi-GB repack: the lease
        // covers all of it, not 120 s.
        assert_eq!(lease_until(at(0), Some(at(900))), at(930));
        // Confirmed later in the same invocation: the same expiry.
        assert_eq!(lease_until(at(700), Some(at(900))), at(930));
    }

    #[test]
    fn a_lease_never_lasts_longer_than_lambda_can_run() {
        assert_eq!(lease_until(at(0), Some(at(3600))), at(930));
    }

    #[test]
    fn an_invocation_past_its_deadline_holds_it_only_for_the_margin() {
        assert_eq!(lease_until(at(100), Some(at(60))), at(130));
    }

    #[test]
    fn without_a_deadline_a_lease_lasts_the_fixed_time() {
        assert_eq!(lease_until(at(10), None), at(130));
    }

    #[test]
    fn the_epoch_is_no_deadline() {
        assert_eq!(invocation_deadline(SystemTime::UNIX_EPOCH), None);
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_676_800_500);
        assert_eq!(
            invocation_deadline(deadline),
            Some(Utc.timestamp_millis_opt(1_764_676_800_500).unwrap())
        );
    }
}
