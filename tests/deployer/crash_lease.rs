//! A killed deployer process keeps its endpoint's lease until the lease
//! lapses (it never released it). S3 delivers a notification at least
//! once, so a duplicate of the same upload can reach the queue meanwhile:
//! it must be postponed with the queue's backoff, neither lost nor blocked
//! for ever, and the try that finds the lease lapsed finishes the
//! deployment the killed process left half done. The original message then
//! comes back after its visibility timeout and changes nothing: one
//! outcome. Real processes as in crash_process.rs; the lease is on the
//! wall clock, the queue's waits in virtual time, so each try sees the
//! lease as it would stand that long after the kill.

use super::crash_process::{epoch_seconds, Deploy, Processes};
use integration_tests::calls_by;
use integration_tests::crash::{CrashPoint, Run};
use integration_tests::runtime_api::Answer;
use std::time::{Instant, SystemTime};

#[tokio::test]
async fn a_duplicate_arriving_while_a_killed_process_holds_the_lease_waits_for_it_to_lapse() {
    let mut p = Processes::new().await;
    let caller = p.crashes.deployer.clone();
    let timeout = p.timing.function_timeout;

    // Where the lease is taken: the first PutItem of a deploy.
    let mut first = p.prepare(Deploy::First).await;
    let batch = p.receive().await;
    let answer = p.answer(&batch);
    let Answer::Response(response) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(p.crashes.q.conclude(&batch, &response).await, 0);
    first.clock.advance(10.0);
    p.crashes.settle(first.feed.take()).await;
    let calls = calls_by(&caller);
    let lease_taken = 1 + calls
        .iter()
        .position(|c| c == "dynamodb:PutItem")
        .expect("the deploy takes the lease");

    // Killed right after taking the lease.
    let mut attempt = p.prepare(Deploy::First).await;
    let original = p.receive().await;
    let crash = CrashPoint::after(&caller, lease_taken);
    let run = crash.run_process(p.start(&original), timeout);
    let killed_at = SystemTime::now();
    drop(crash);
    assert!(matches!(run, Run::Crashed { .. }), "{run:?}");
    let endpoint = attempt.endpoint.clone();
    let held = p
        .lease_held_after(&endpoint, killed_at)
        .await
        .expect("the killed process holds the lease");

    // S3 delivers the notification again; the duplicate is tried, and
    // postponed by the deployer, until the lease has lapsed.
    p.crashes.q.notify(&attempt.upload).await;
    let mut since_kill = 0.0;
    let mut blocked_tries = Vec::new();
    loop {
        let left = held - since_kill;
        if left > 0.0 {
            let now = epoch_seconds(SystemTime::now());
            p.crashes
                .move_lease_expiry(&endpoint, (now + left).ceil() as i64)
                .await;
        } else {
            p.crashes.lease_lapses(&endpoint).await;
        }
        let batch = p.receive().await;
        let tried = Instant::now();
        let Answer::Response(response) = p.answer(&batch) else {
            panic!("a queue batch never fails as a whole")
        };
        let real = tried.elapsed().as_secs_f64();
        if p.crashes.q.conclude(&batch, &response).await == 0 {
            eprintln!(
                "crash_lease: lease held {held:.0} s after the kill; the duplicate was postponed \
                 {} times (tries of {blocked_tries:.1?} s real), deployed {since_kill:.0} s \
                 (virtual) after the kill, in {real:.1} s",
                blocked_tries.len()
            );
            break;
        }
        // Postponed by the deployer for its backoff, by the receive count.
        let receives = blocked_tries.len() as u32 + 1;
        since_kill += deployer::retry::backoff(receives).as_secs_f64() + real;
        blocked_tries.push(real);
        assert!(
            blocked_tries.len() <= 3,
            "still blocked {since_kill:.0} s after the kill (lease held {held:.0} s)"
        );
        p.crashes.q.time_passes().await;
    }
    assert!(
        !blocked_tries.is_empty(),
        "the lease held the duplicate back"
    );

    // The original comes back after its visibility timeout: a duplicate.
    p.crashes.q.visibility_ends(&original).await;
    let batch = p.receive().await;
    let Answer::Response(response) = p.answer(&batch) else {
        panic!("a queue batch never fails as a whole")
    };
    assert_eq!(p.crashes.q.conclude(&batch, &response).await, 0);
    attempt.clock.advance(10.0);
    p.crashes.settle(attempt.feed.take()).await;
    p.crashes
        .check(&attempt, "killed holding the lease, duplicate meanwhile")
        .await;
    assert!(
        p.crashes.q.alerts().await.is_empty(),
        "nothing to alert about"
    );
}
