//! A function's real `bootstrap` binary started as Lambda starts it, with
//! one event waiting on a Lambda Runtime API the test serves itself (no
//! cargo-lambda: a process start costs what the binary's init costs). The
//! test decides what happens next: read the answer, or kill the process
//! with SIGKILL wherever it stands (tests/deployer/crash_process.rs).
//!
//! Served: `GET /2018-06-01/runtime/invocation/next` (the event once, with
//! Lambda's headers; later polls are parked, as Lambda freezes a sandbox
//! between events), `POST .../invocation/<id>/response|error` and
//! `POST .../init/error`.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const API: &str = "/2018-06-01/runtime";
const REQUEST_ID: &str = "c0ffee00-0000-4000-8000-000000000001";

/// What the function told the Runtime API.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `POST /invocation/<id>/response`: the handler's result.
    Response(Value),
    /// `POST /invocation/<id>/error`: the handler failed.
    Error(Value),
    /// `POST /init/error`: it failed before polling.
    InitError(Value),
}

/// How waiting for a process ended.
#[derive(Debug)]
pub enum Ended {
    Answered(Answer),
    /// It exited without answering (a panic, a failed init).
    Exited(ExitStatus),
    TimedOut,
}

/// One process start of a function with one event for it.
pub struct FunctionProcess {
    child: Child,
    answers: Receiver<Answer>,
    server: Arc<AtomicBool>,
    address: SocketAddr,
    log: PathBuf,
}

/// The event a started process is handed, and what Lambda tells it
/// about the invocation.
struct Invocation {
    body: Vec<u8>,
    deadline_ms: u128,
    delivered: AtomicBool,
}

impl FunctionProcess {
    /// Starts `binary` with the environment Lambda sets for a function
    /// (`name`, the Runtime API address) plus `env`, over this process's
    /// environment; `event` waits for its first poll, with a deadline
    /// `timeout` from now (the function's Timeout). Its stdout and stderr
    /// go to `log`.
    pub fn start(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
        event: &Value,
        timeout: Duration,
        log: &Path,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Runtime API");
        let address = listener.local_addr().expect("Runtime API address");
        let deadline = SystemTime::now() + timeout;
        let invocation = Arc::new(Invocation {
            body: event.to_string().into_bytes(),
            deadline_ms: deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
            delivered: AtomicBool::new(false),
        });
        let stopped = Arc::new(AtomicBool::new(false));
        let (tell, answers) = channel();
        {
            let stopped = stopped.clone();
            std::thread::spawn(move || serve(listener, invocation, tell, stopped));
        }
        let out = std::fs::File::create(log).expect("create the function's log");
        let err = out.try_clone().expect("log handle");
        let child = Command::new(binary)
            .envs(lambda_environment(name, address))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        FunctionProcess {
            child,
            answers,
            server: stopped,
            address,
            log: log.to_path_buf(),
        }
    }

    /// The answer, if it comes within `wait`; or how the process ended.
    pub fn wait(&mut self, wait: Duration) -> Ended {
        let until = Instant::now() + wait;
        loop {
            match self.answers.recv_timeout(Duration::from_millis(5)) {
                Ok(answer) => return Ended::Answered(answer),
                Err(RecvTimeoutError::Disconnected) => {}
                Err(RecvTimeoutError::Timeout) => {}
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // An answer posted just before exiting still counts.
                return match self.answers.try_recv() {
                    Ok(answer) => Ended::Answered(answer),
                    Err(_) => Ended::Exited(status),
                };
            }
            if Instant::now() >= until {
                return Ended::TimedOut;
            }
        }
    }

    /// SIGKILL: the process ends where it stands (no destructor runs,
    /// nothing is flushed); returns how it ended.
    pub fn kill(mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap the function process")
    }

    /// The function's log so far (its stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees it is stopped.
        let _ = TcpStream::connect(self.address);
    }
}

/// The variables Lambda sets for a function.
fn lambda_environment(name: &str, address: SocketAddr) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", address.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn serve(
    listener: TcpListener,
    invocation: Arc<Invocation>,
    tell: Sender<Answer>,
    stopped: Arc<AtomicBool>,
) {
    let tell = Mutex::new(tell);
    let tell = Arc::new(tell);
    for stream in listener.incoming() {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let invocation = invocation.clone();
        let tell = tell.clone();
        std::thread::spawn(move || {
            let _ = connection(stream, &invocation, &tell);
        });
    }
}

/// One HTTP/1.1 connection of the runtime client (kept alive across
/// requests).
fn connection(
    stream: TcpStream,
    invocation: &Invocation,
    tell: &Mutex<Sender<Answer>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some((method, path, body)) = read_request(&mut reader)? else {
            return Ok(());
        };
        let answer_path = |kind: &str| format!("{API}/invocation/{REQUEST_ID}/{kind}");
        if method == "GET" && path == format!("{API}/invocation/next") {
            if invocation.delivered.swap(true, Ordering::SeqCst) {
                // No second event: parked until the process goes away.
                let _ = reader.read(&mut [0u8; 1]);
                return Ok(());
            }
            let headers = [
                ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID.to_string()),
                (
                    "Lambda-Runtime-Deadline-Ms",
                    invocation.deadline_ms.to_string(),
                ),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local".into(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
                ),
            ];
            reply(&mut writer, "200 OK", &headers, &invocation.body)?;
            continue;
        }
        let answer = match (method.as_str(), path.as_str()) {
            ("POST", p) if p == answer_path("response") => Answer::Response(json_or_text(&body)),
            ("POST", p) if p == answer_path("error") => Answer::Error(json_or_text(&body)),
            ("POST", p) if p == format!("{API}/init/error") => {
                Answer::InitError(json_or_text(&body))
            }
            _ => {
                reply(&mut writer, "404 Not Found", &[], b"{}")?;
                continue;
            }
        };
        reply(&mut writer, "202 Accepted", &[], b"{}")?;
        let _ = tell.lock().map(|t| t.send(answer));
    }
}

/// Reads one request: method, path, body (by Content-Length or chunked).
/// `None` when the client closed the connection.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<(String, String, Vec<u8>)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = headers.get("content-length") {
        body = vec![0u8; length.parse().unwrap_or(0)];
        reader.read_exact(&mut body)?;
    }
    Ok(Some((method, path, body)))
}

fn reply(
    writer: &mut impl Write,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
