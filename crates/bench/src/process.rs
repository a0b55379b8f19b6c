//! Whole processes under measurement: a function's release binary given one event
//! through a local Lambda runtime-API stub, or any command run to its end; each
//! with its wall time and its peak resident memory (`ru_maxrss` from `wait4`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use testkit::{serve_http, Answer};

use crate::Error;

/// What one measured process did.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub elapsed: Duration,
    /// Peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// The function's response (or error) body, or the command's output tail.
    pub output: String,
    pub success: bool,
    /// When the process was spawned.
    pub started: Instant,
    /// When the runtime-API stub handed the function its event (functions only).
    pub event_at: Option<Instant>,
}

/// Waits for `pid` to end and returns its exit status and peak RSS (KiB).
fn wait_rusage(pid: u32) -> std::io::Result<(i32, u64)> {
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; all-zero bytes are a
    // valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 is called for our own child, with valid pointers to
    // locals that outlive the call.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((status, usage.ru_maxrss.max(0) as u64))
}

/// Runs `command` to its end; its wall time from spawn to exit and peak memory.
pub async fn run_command(mut command: Command, timeout: Duration) -> Result<Measured, Error> {
    let out_file = tempfile_path("out");
    let out = std::fs::File::create(&out_file)?;
    let start = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()?;
    let pid = child.id();
    let waited = tokio::time::timeout(
        timeout,
        tokio::task::spawn_blocking(move || wait_rusage(pid)),
    )
    .await;
    let elapsed = start.elapsed();
    let (status, rss) = match waited {
        Ok(joined) => joined??,
        Err(_) => {
            // SAFETY: signalling our own child, not yet reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = wait_rusage(pid);
            return Err(format!("{command:?} did not finish within {timeout:?}").into());
        }
    };
    drop(child);
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    Ok(Measured {
        elapsed,
        peak_rss_kib: rss,
        output: tail(&text, 4000),
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        started: start,
        event_at: None,
    })
}

fn tail(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

fn tempfile_path(what: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "cost-guard-bench-{}-{n}.{what}",
        std::process::id()
    ))
}

/// The function's name, as Lambda would know it: the binary's file name.
pub fn function_name(binary: &Path) -> &str {
    binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
}

/// `binary` with only the environment Lambda gives a function (and fake
/// credentials), pointed at the runtime API at `runtime_api`.
pub fn lambda_command(binary: &Path, runtime_api: &str) -> Command {
    let name = function_name(binary);
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    command
}

/// The end of one invocation as the stub saw it.
type Done = (Instant, bool, String);

/// Starts `binary` as Lambda would, hands it `event` through a runtime-API stub
/// on loopback, and measures from spawn until it posts its response or error.
/// `env` comes on top of the Lambda variables; nothing else is inherited.
pub async fn invoke_function(
    binary: &Path,
    env: &[(&str, String)],
    event: &serde_json::Value,
    timeout: Duration,
) -> Result<Measured, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<Done>();
    let done = Arc::new(Mutex::new(Some(tx)));
    let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let event_body = event.to_string();
    let stub_served_at = served_at.clone();
    let stub = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(runtime_api(
                conn,
                event_body.clone(),
                served.clone(),
                stub_served_at.clone(),
                done.clone(),
            ));
        }
    });

    let name = function_name(binary);
    let mut command = lambda_command(binary, &addr.to_string());
    for (k, v) in env {
        command.env(k, v);
    }
    let start = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let outcome = tokio::time::timeout(timeout, rx).await;
    // SAFETY: signalling our own child, not yet reaped.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let (_, rss) = tokio::task::spawn_blocking(move || wait_rusage(pid)).await??;
    drop(child);
    stub.abort();
    let (end, success, output) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(_)) => return Err(format!("{name}: the runtime-API stub stopped").into()),
        Err(_) => return Err(format!("{name} did not answer within {timeout:?}").into()),
    };
    let event_at = *served_at.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Measured {
        elapsed: end - start,
        peak_rss_kib: rss,
        output,
        success,
        started: start,
        event_at,
    })
}

/// Serves one connection of the runtime API: the event on the first
/// `invocation/next`, then records the response or error.
async fn runtime_api(
    conn: tokio::net::TcpStream,
    event: String,
    served: Arc<std::sync::atomic::AtomicBool>,
    served_at: Arc<Mutex<Option<Instant>>>,
    done: Arc<Mutex<Option<oneshot::Sender<Done>>>>,
) {
    use std::sync::atomic::Ordering;
    serve_http(conn, move |req| {
        let (event, served, served_at, done) = (
            event.clone(),
            served.clone(),
            served_at.clone(),
            done.clone(),
        );
        async move {
            if req.path().ends_with("/runtime/invocation/next") {
                if served.swap(true, Ordering::SeqCst) {
                    // One event per process: the next poll just waits to be killed.
                    std::future::pending::<()>().await;
                }
                *served_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                let deadline = (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
                    + 900_000)
                    .to_string();
                return Some(Answer::new(
                    200,
                    &[
                        ("content-type", "application/json"),
                        ("lambda-runtime-aws-request-id", "bench-1"),
                        ("lambda-runtime-deadline-ms", &deadline),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:bench",
                        ),
                        (
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000",
                        ),
                    ],
                    event,
                ));
            }
            let ok = req.path().ends_with("/response");
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let sender = done.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(tx) = sender {
                let _ = tx.send((Instant::now(), ok, body));
            }
            Some(Answer::new(
                202,
                &[("content-type", "application/json")],
                "{\"status\":\"OK\"}\n",
            ))
        }
    })
    .await;
}
