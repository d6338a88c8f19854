//! Crash injection (tests/emulator/crash_points.py): the emulator serves
//! the first N AWS calls of one caller and holds the next one unanswered;
//! the test then drops the code under test right there, as if its process
//! died before that call reached AWS. Everything done before stays done,
//! nothing after happened: the state a real crash leaves. Or, for a real
//! `bootstrap` process (crate::runtime_api), the test kills it there with
//! SIGKILL ([`CrashPoint::run_process`]).

use crate::runtime_api::{Answer, Ended, FunctionProcess};
use crate::{emulator_delete, emulator_get, emulator_post};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::pin;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

/// A crash armed for one caller (an access key id, see
/// [`crate::Stack::access_key_id`]); cleared when dropped.
pub struct CrashPoint {
    caller: String,
}

/// How a run under a [`CrashPoint`] ended.
#[derive(Debug)]
pub enum Run<T> {
    /// The code finished without reaching the crash, after `calls` calls.
    Finished { out: T, calls: usize },
    /// It died before this call (`service:Operation`) reached AWS.
    Crashed { before: String },
}

impl CrashPoint {
    /// Serves `after` calls of `caller`, then crashes it.
    pub fn after(caller: &str, after: usize) -> Self {
        emulator_post(
            "/_emulator/crash",
            &json!({ "caller": caller, "after": after }),
        );
        CrashPoint {
            caller: caller.to_string(),
        }
    }

    /// Runs `work` until it finishes or its caller crashes; a crashed
    /// future is dropped where it stood (its held call never answered).
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> Run<T> {
        let caller = self.caller.clone();
        // Blocking long polls on their own thread, so they never stall `work`.
        let mut tripped = pin!(tokio::task::spawn_blocking(move || watch(&caller)));
        let mut work = pin!(work);
        tokio::select! {
            out = &mut work => Run::Finished { out, calls: self.clear() },
            view = &mut tripped => {
                let view: Value = view.expect("crash watcher");
                match view["held"][0].as_str() {
                    Some(before) => Run::Crashed { before: before.to_string() },
                    // Cleared under us: nothing crashed.
                    None => {
                        let out = work.await;
                        Run::Finished { out, calls: self.clear() }
                    }
                }
            }
        }
    }

    /// Runs a started function process until it answers or its caller
    /// crashes: then the process is killed with SIGKILL where it stands
    /// (no destructor runs, nothing is flushed), its held call never
    /// answered. Panics if it exits or stays silent for `timeout` instead.
    pub fn run_process(&self, mut process: FunctionProcess, timeout: Duration) -> Run<Answer> {
        let caller = self.caller.clone();
        let (tell, tripped) = channel();
        std::thread::spawn(move || tell.send(watch(&caller)));
        let until = Instant::now() + timeout;
        loop {
            if let Ok(view) = tripped.try_recv() {
                // Without a held call it was cleared under us: nothing crashed.
                if let Some(before) = view["held"][0].as_str() {
                    process.kill();
                    return Run::Crashed {
                        before: before.to_string(),
                    };
                }
            }
            match process.wait(Duration::from_millis(10)) {
                Ended::Answered(out) => {
                    drop(process);
                    return Run::Finished {
                        out,
                        calls: self.clear(),
                    };
                }
                Ended::TimedOut if Instant::now() < until => {}
                ended => panic!("the function did not answer: {ended:?}\n{}", process.log()),
            }
        }
    }

    /// Clears the point (a held call is answered, to no one); returns
    /// how many calls it served.
    fn clear(&self) -> usize {
        let view = emulator_delete(&format!("/_emulator/crash/{}", self.caller));
        view["served"].as_u64().unwrap_or_default() as usize
    }
}

/// Long-polls the point of `caller` until it trips or is cleared.
fn watch(caller: &str) -> Value {
    loop {
        let view = emulator_get(&format!("/_emulator/crash/{caller}?wait=30"));
        if view["tripped"] == true || view["armed"] != true {
            return view;
        }
    }
}

impl Drop for CrashPoint {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One crash spread over several runs (the deliveries of one path): the
/// first runs serve what is left of `after` calls between them, the run
/// that reaches the limit dies there, and every run after the crash (the
/// redeliveries) goes uncrashed.
#[derive(Debug)]
pub struct Budget {
    left: usize,
    /// Calls served under the budget so far.
    pub calls: usize,
    /// The call the crash came before, once it came.
    pub crashed: Option<String>,
}

impl Budget {
    /// Crashes the caller after `after` calls in all.
    pub fn after(after: usize) -> Self {
        Budget {
            left: after,
            calls: 0,
            crashed: None,
        }
    }

    /// No crash: only counts the calls.
    pub fn unlimited() -> Self {
        Self::after(usize::MAX >> 8)
    }

    /// The point for the next run of `caller`; `None` once crashed.
    pub fn point(&self, caller: &str) -> Option<CrashPoint> {
        self.crashed
            .is_none()
            .then(|| CrashPoint::after(caller, self.left))
    }

    /// Accounts for a run made under [`Budget::point`].
    pub fn spent(&mut self, calls: usize, crashed: Option<String>) {
        self.left = self.left.saturating_sub(calls);
        self.calls += calls;
        if crashed.is_some() {
            self.crashed = crashed;
        }
    }

    /// Runs `work` as `caller` under what is left; `None` if it crashed.
    pub async fn run<T>(&mut self, caller: &str, work: impl Future<Output = T>) -> Option<T> {
        let Some(point) = self.point(caller) else {
            return Some(work.await);
        };
        match point.run(work).await {
            Run::Finished { out, calls } => {
                self.spent(calls, None);
                Some(out)
            }
            Run::Crashed { before } => {
                self.spent(0, Some(before));
                None
            }
        }
    }
}
