//! Issue 11, with a real crash: the deployer's own `bootstrap` binary
//! (tests/binaries.rs builds it) receives a batch from the deploy queue as
//! Lambda's event source mapping hands it over, on a Lambda Runtime API the
//! test serves (integration_tests::runtime_api). For every N, the emulator
//! serves its first N AWS calls and holds the next one
//! (tests/emulator/crash_points.py); the test then kills the process with
//! SIGKILL right there: no destructor runs, nothing is flushed, nothing is
//! released. The message is not deleted, so the mapping delivers it again
//! once its visibility timeout (the template's) has passed, to a fresh
//! process; the endpoint settles, its state-change events go to the smoke
//! tester, and the deployment must end as tests/deployer/crash.rs requires
//! (the intended config live, one `deployed` entry, none open, nothing
//! left over, the lease free, no alert). The lease the killed process held
//! must have lapsed by the time the message comes back.

use super::crash::{Attempt, Scenario};
use super::crash_world::Crashes;
use super::mapping::Batch;
use super::*;
use integration_tests::crash::{CrashPoint, Run};
use integration_tests::lifecycle::{EventFeed, VirtualClock};
use integration_tests::runtime_api::{Answer, FunctionProcess};
use shared::lease::DEADLINE_MARGIN;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What template.yaml gives the deployer: its Timeout, and the deploy
/// queue's VisibilityTimeout (after which the mapping delivers a message
/// again whose invocation died).
pub(super) struct Timing {
    pub(super) function_timeout: Duration,
    visibility_timeout: Duration,
}

impl Timing {
    fn from_template() -> Self {
        let text = std::fs::read_to_string(integration_tests::repo_root().join("template.yaml"))
            .expect("read template.yaml");
        let template: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).expect("template.yaml parses");
        let seconds = |resource: &str, property: &str| {
            let value = &template["Resources"][resource]["Properties"][property];
            Duration::from_secs(
                value
                    .as_u64()
                    .unwrap_or_else(|| panic!("{resource}.{property} is a number: {value:?}")),
            )
        };
        Timing {
            function_timeout: seconds("Deployer", "Timeout"),
            visibility_timeout: seconds("DeployQueue", "VisibilityTimeout"),
        }
    }
}

/// The deployer binary started as Lambda starts it, one process per
/// delivery, on the world's stack.
pub(super) struct Processes {
    pub(super) crashes: Crashes,
    pub(super) timing: Timing,
    env: Vec<(String, String)>,
}

/// What a killed process left: when it died, and until when its lease
/// (if it held one) keeps the endpoint.
#[derive(Debug)]
struct Kill {
    n: usize,
    before: String,
    /// Seconds from the kill to the lease's expiry, if it was held.
    lease_held_for: Option<f64>,
    /// Multipart uploads of a packed archive it left unfinished.
    unfinished_uploads: usize,
}

/// Which deploy is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deploy {
    /// A first upload (model.tar.gz, default settings).
    First,
    /// A first upload with inference code beside it (PyTorch, `code/`):
    /// the deployer repacks model.tar.gz with the code, a multipart upload
    /// written from a blocking thread, before it creates the model.
    Repack,
}

pub(super) fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Processes {
    pub(super) async fn new() -> Self {
        let crashes = Crashes::new().await;
        let world = crashes.world();
        let q = &crashes.q;
        let env = [
            ("AWS_ACCESS_KEY_ID", crashes.deployer.clone()),
            ("EXECUTION_ROLE_ARN", world.stack.execution_role_arn()),
            ("MODELS_PREFIX", "models/".into()),
            ("PACKED_CODE_PREFIX", "packed/".into()),
            ("KEEP_SUPERSEDED", "2".into()),
            ("DEPLOY_QUEUE_URL", q.queue_url.clone()),
            ("MAX_DEPLOY_WAIT_MINUTES", "120".into()),
            ("NOTIFY_TOPIC_ARN", q.topic_arn.clone()),
            ("LEDGER_TABLE", world.stack.ledger_table()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Processes {
            crashes,
            timing: Timing::from_template(),
            env,
        }
    }

    /// A fresh deployer process handed `batch`.
    pub(super) fn start(&self, batch: &Batch) -> FunctionProcess {
        let log = std::env::temp_dir().join(format!("{}.log", unique("deployer-process")));
        FunctionProcess::start(
            &crate::binaries::binary("deployer"),
            "deployer",
            &self.env,
            &batch.event,
            self.timing.function_timeout,
            &log,
        )
    }

    /// One poll of the mapping, with the template's visibility timeout.
    pub(super) async fn receive(&self) -> Batch {
        let batch = self
            .crashes
            .q
            .receive(Some(self.timing.visibility_timeout))
            .await
            .expect("a message on the deploy queue");
        assert_eq!(batch.messages.len(), 1, "{:?}", batch.event);
        batch
    }

    /// Ends the batch as the mapping does with the process's answer.
    async fn conclude(&mut self, batch: &Batch, answer: Answer) {
        let Answer::Response(response) = answer else {
            panic!("a queue batch never fails as a whole: {answer:?}");
        };
        let failed = self.crashes.q.conclude(batch, &response).await;
        assert_eq!(failed, 0, "nothing postponed: {response}");
    }

    /// The message comes back to a fresh process, with no crash.
    async fn redeliver(&mut self) {
        let batch = self.receive().await;
        let receives = batch.messages[0]
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .cloned();
        assert_eq!(receives.as_deref(), Some("2"), "delivered a second time");
        let answer = self.answer(&batch);
        self.conclude(&batch, answer).await;
    }

    /// What a fresh process, left to finish, answers to `batch`.
    pub(super) fn answer(&self, batch: &Batch) -> Answer {
        let mut process = self.start(batch);
        match process.wait(self.timing.function_timeout) {
            integration_tests::runtime_api::Ended::Answered(answer) => answer,
            other => panic!("the process did not answer: {other:?}\n{}", process.log()),
        }
    }

    /// How long after `killed_at` the endpoint's lease stays taken.
    pub(super) async fn lease_held_after(
        &self,
        endpoint: &str,
        killed_at: SystemTime,
    ) -> Option<f64> {
        let expires = self.crashes.lease_expiry(endpoint).await? as f64;
        let held = expires - epoch_seconds(killed_at);
        (held > 0.0).then_some(held)
    }

    /// A new endpoint with `deploy`'s upload on the deploy queue.
    pub(super) async fn prepare(&mut self, deploy: Deploy) -> Attempt {
        let label = match deploy {
            Deploy::First => "crash-process",
            Deploy::Repack => "crash-repack",
        };
        if deploy == Deploy::First {
            return self.crashes.prepare(Scenario::Queued, label).await;
        }
        let world = self.crashes.world();
        let endpoint = unique(label);
        let folder = format!("models/{endpoint}/v1/");
        world
            .upload(&format!("{folder}code/inference.py"), b"# entry\n", &[])
            .await;
        let settings = super::packing::pytorch_settings().to_string();
        world
            .upload(&format!("{folder}deploy.json"), settings.as_bytes(), &[])
            .await;
        let weights = BTreeMap::from([("weights.bin".to_string(), b"weights".to_vec())]);
        let model = super::packing::tar_gz(&weights);
        let upload = world
            .upload(&format!("{folder}model.tar.gz"), &model, &[])
            .await;
        self.crashes.q.notify(&upload).await;
        Attempt {
            clock: VirtualClock::new(&endpoint),
            feed: EventFeed::new(&endpoint),
            endpoint,
            earlier: Vec::new(),
            upload,
        }
    }

    /// A repacked deploy's archive: the live model loads the one archive
    /// under the endpoint's packed prefix. Returns how many multipart
    /// uploads a killed packer left unfinished there (the bucket's
    /// lifecycle rule aborts them; they are never read).
    async fn check_packed(&self, attempt: &Attempt, what: &str) -> usize {
        let world = self.crashes.world();
        let prefix = format!("packed/{}/", attempt.endpoint);
        let models = world.names("model", &attempt.endpoint).await;
        let model = world
            .sm()
            .describe_model()
            .model_name(&models[0])
            .send()
            .await
            .expect("describe the model");
        let data = model
            .primary_container()
            .and_then(|c| c.model_data_url())
            .unwrap_or_default()
            .to_string();
        let listed = world
            .clients
            .s3
            .list_objects_v2()
            .bucket(&world.bucket)
            .prefix(&prefix)
            .send()
            .await
            .expect("list packed archives");
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys.len(), 1, "{what}: one packed archive: {keys:?}");
        assert_eq!(
            data,
            format!("s3://{}/{}", world.bucket, keys[0]),
            "{what}: the model loads it"
        );
        let unfinished = world
            .clients
            .s3
            .list_multipart_uploads()
            .bucket(&world.bucket)
            .prefix(&prefix)
            .send()
            .await
            .expect("list multipart uploads");
        let unfinished = unfinished.uploads().len();
        assert!(unfinished <= 1, "{what}: {unfinished} unfinished uploads");
        unfinished
    }

    /// Kills the deployer after each of its calls in turn (and once after
    /// its last one, its answer lost), each time on a new endpoint.
    async fn at_every_call(&mut self, deploy: Deploy) {
        let caller = self.crashes.deployer.clone();
        // A run with no crash: how many calls the binary makes.
        let mut attempt = self.prepare(deploy).await;
        let batch = self.receive().await;
        let unbounded = CrashPoint::after(&caller, usize::MAX >> 8);
        let total = match unbounded.run_process(self.start(&batch), self.timing.function_timeout) {
            Run::Finished { out, calls } => {
                self.conclude(&batch, out).await;
                calls
            }
            Run::Crashed { before } => panic!("crashed without a crash point at {before}"),
        };
        drop(unbounded);
        attempt.clock.advance(10.0);
        self.crashes.settle(attempt.feed.take()).await;
        self.crashes.check(&attempt, "no crash").await;
        if deploy == Deploy::Repack {
            let unfinished = self.check_packed(&attempt, "no crash").await;
            assert_eq!(unfinished, 0, "no crash, no unfinished upload");
        }
        assert!(total >= 8, "a deploy makes at least 8 calls: {total}");

        let started = Instant::now();
        let mut kills = Vec::new();
        for n in 0..=total {
            let mut attempt = self.prepare(deploy).await;
            let batch = self.receive().await;
            let received_at = SystemTime::now();
            let crash = CrashPoint::after(&caller, n);
            let run = crash.run_process(self.start(&batch), self.timing.function_timeout);
            let killed_at = SystemTime::now();
            drop(crash);
            let what = match &run {
                Run::Crashed { before } => format!("killed after {n} calls, before {before}"),
                Run::Finished { .. } if n == total => {
                    format!("killed after all {n} calls, its answer lost")
                }
                Run::Finished { calls, .. } => {
                    panic!("finished within {n} calls ({calls} made) of {total}")
                }
            };
            let lease_held_for = self.lease_held_after(&attempt.endpoint, killed_at).await;
            if let Some(held) = lease_held_for {
                // The mapping delivers the message again once its
                // visibility timeout has passed since it was received: by
                // then the lease must have lapsed by itself.
                let redelivered_at =
                    epoch_seconds(received_at) + self.timing.visibility_timeout.as_secs_f64();
                let expires = epoch_seconds(killed_at) + held;
                assert!(
                    held <= (self.timing.function_timeout + DEADLINE_MARGIN).as_secs_f64() + 1.0,
                    "{what}: the killed process's lease outlives its invocation's deadline plus the margin: {held:.1} s"
                );
                assert!(
                    expires < redelivered_at,
                    "{what}: the lease ({expires:.0}) still blocks the redelivery ({redelivered_at:.0})"
                );
            }
            eprintln!("crash_process: {deploy:?}: {what}");
            // The visibility timeout passes (the lease lapses first).
            self.crashes.lease_lapses(&attempt.endpoint).await;
            self.crashes.q.visibility_ends(&batch).await;
            self.redeliver().await;
            attempt.clock.advance(10.0);
            self.crashes.settle(attempt.feed.take()).await;
            self.crashes.check(&attempt, &what).await;
            let unfinished_uploads = match deploy {
                Deploy::Repack => self.check_packed(&attempt, &what).await,
                Deploy::First => 0,
            };
            kills.push(Kill {
                unfinished_uploads,
                n,
                before: match run {
                    Run::Crashed { before } => before,
                    Run::Finished { .. } => "(answer)".into(),
                },
                lease_held_for,
            });
        }
        assert!(
            self.crashes.q.alerts().await.is_empty(),
            "nothing to alert about"
        );
        let leased: Vec<f64> = kills.iter().filter_map(|k| k.lease_held_for).collect();
        let unfinished = kills.iter().filter(|k| k.unfinished_uploads > 0).count();
        eprintln!(
            "crash_process: {deploy:?}: {} kills of {total} calls in {:.1} s; {unfinished} left \
             an unfinished upload; lease held at {} of them, for at most {:.1} s \
             (TTL {} s, visibility timeout {} s)",
            kills.len(),
            started.elapsed().as_secs_f64(),
            leased.len(),
            leased.iter().cloned().fold(0.0, f64::max),
            (self.timing.function_timeout + DEADLINE_MARGIN).as_secs(),
            self.timing.visibility_timeout.as_secs(),
        );
        for kill in &kills {
            let held = kill
                .lease_held_for
                .map_or("free".into(), |s| format!("held {s:.1} s more"));
            eprintln!(
                "  after {:>2} calls, before {}: lease {held}",
                kill.n, kill.before
            );
        }
    }
}

#[tokio::test]
async fn the_deployer_process_killed_after_any_call_ends_the_queued_deploy_once_on_redelivery() {
    Processes::new().await.at_every_call(Deploy::First).await;
}

#[tokio::test]
async fn the_deployer_process_killed_while_repacking_ends_the_deploy_once_on_redelivery() {
    Processes::new().await.at_every_call(Deploy::Repack).await;
}
