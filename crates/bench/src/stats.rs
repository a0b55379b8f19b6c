//! Figures from repeated runs: the statistics, the root alert's handler time
//! against the emulator, and each function binary's start-up time until it
//! first asks the Lambda runtime API for an event.

use guard::domain::config::{RootLoginAlertConfig, Settings};
use guard::handlers::root_login_alert::RootLoginAlert;
use guard::handlers::{Function, Invocation};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use emulator::Moto;

use crate::Error;

/// Median, minimum, maximum and 90th percentile of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub p90: Duration,
    pub n: usize,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        let p90 = s[((n as f64 * 0.9).ceil() as usize).clamp(1, n) - 1];
        Some(Stats {
            median,
            min: s[0],
            max: s[n - 1],
            p90,
            n,
        })
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Times root-login-alert's `handle` from the event to the published alert, `runs` times.
pub async fn root_alert(runs: usize) -> Result<Stats, Error> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let (topic, inbox) = emulator::notify_topic(&sdk, "bench-notify").await?;
    let vars: HashMap<String, String> = [("NOTIFY_TOPIC_ARN".to_string(), topic)].into();
    let handler = RootLoginAlert::new(RootLoginAlertConfig::from_map(&vars)?, &sdk);
    let event = emulator::sample_event("root-signin-no-mfa.json")?;
    // One warm-up: connection set-up is a cold-start cost, measured separately.
    handler.handle(&Invocation::new(&event)).await?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let summary = handler.handle(&Invocation::new(&event)).await?;
        samples.push(start.elapsed());
        if !summary.alerted {
            return Err("the alert was not published".into());
        }
    }
    let delivered = inbox.take().await?.len();
    if delivered != runs + 1 {
        return Err(format!(
            "expected {} alerts in the inbox, found {delivered}",
            runs + 1
        )
        .into());
    }
    Stats::of(&samples).ok_or_else(|| "no runs".into())
}

/// One start-up: time from spawn until the binary's first request to the
/// runtime API, and its resident memory (VmRSS, KiB) at that moment.
pub fn startup_once(binary: &Path) -> Result<(Duration, u64), Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let name = crate::process::function_name(binary);
    let start = Instant::now();
    let mut child = crate::process::lambda_command(binary, &addr.to_string())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env(
            "NOTIFY_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:notify",
        )
        .env("SPEND_LIMIT_USD", "100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Wait for the first connection, but notice a binary that exits instead.
    listener.set_nonblocking(true)?;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait()? {
                    return Err(
                        format!("{name} exited with {status} before asking for an event").into(),
                    );
                }
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{name} did not ask for an event within 10 s").into());
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e.into()),
        }
    };
    stream.set_nonblocking(false)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let elapsed = start.elapsed();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    if !line.contains("/runtime/invocation/next") {
        return Err(format!("{name}: first request was {line:?}, not invocation/next").into());
    }
    Ok((elapsed, rss))
}

/// One binary's start-up figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    pub binary: String,
    pub time: Stats,
    /// Largest resident memory seen at the first request, KiB.
    pub rss_kib: u64,
}

/// Start-up of each binary, `runs` times: time statistics and the largest RSS.
pub fn startup(binaries: &[PathBuf], runs: usize) -> Result<Vec<Startup>, Error> {
    let mut out = Vec::new();
    for bin in binaries {
        if !bin.is_file() {
            return Err(format!(
                "{} not found: build the release binaries first (cargo build --release --workspace --bins)",
                bin.display()
            )
            .into());
        }
        let mut samples = Vec::with_capacity(runs);
        let mut rss = 0;
        startup_once(bin)?; // page cache warm-up
        for _ in 0..runs {
            let (t, r) = startup_once(bin)?;
            samples.push(t);
            rss = rss.max(r);
        }
        let name = bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        out.push(Startup {
            binary: name,
            time: Stats::of(&samples).ok_or("no runs")?,
            rss_kib: rss,
        });
    }
    Ok(out)
}

/// The function binaries of a release build.
pub fn release_binaries() -> Vec<PathBuf> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| emulator::workspace_root().join("target"))
        .join("release");
    [
        "stop-on-overspend",
        "root-login-alert",
        "spend-watch",
        "resume",
        "keep-stopped",
        "launch-tripwire",
    ]
    .iter()
    .map(|b| dir.join(b))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let d = |ms| Duration::from_millis(ms);
        let s = Stats::of(&[d(5), d(1), d(3), d(10), d(2)]).unwrap();
        assert_eq!(
            (s.median, s.min, s.max, s.p90, s.n),
            (d(3), d(1), d(10), d(10), 5)
        );
        let s = Stats::of(&[d(1), d(3)]).unwrap();
        assert_eq!(s.median, d(2));
        assert!(Stats::of(&[]).is_none());
    }
}
