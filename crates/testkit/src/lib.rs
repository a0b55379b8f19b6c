//! A loopback HTTP proxy in front of the emulator. It counts every AWS request by
//! service and action (what `cost-guard bench` prints), and can inject faults
//! for chosen regions: throttling, 5xx answers, slow answers and dropped
//! connections (what the fault tests use).
//!
//! It reads each request whole, classifies it from its SigV4 credential scope
//! (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`) and its action
//! (`X-Amz-Target` for JSON protocols, `Action=` for query protocols), then
//! answers with the fault or forwards it on a fresh upstream connection. One
//! answer is corrected on the way back: `DescribeRegions` gets the opt-in
//! filter that moto ignores (see [`apply_opt_in_filter`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head or body the proxy accepts (SNS allows 256 KiB messages).
const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    pub service: String,
    pub region: String,
    pub action: String,
}

/// What to do instead of forwarding a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// A throttling error in the service's own format: `RequestLimitExceeded`
    /// (EC2, HTTP 503) or `Throttling` (query services, HTTP 400).
    Throttle,
    /// An empty-bodied error answer with this HTTP status (500, 503, ...).
    Status(u16),
    /// Wait this long, then forward.
    Slow(Duration),
    /// Close the connection without answering.
    Drop,
    /// An `AccessDenied` answer (HTTP 403) in the service's format: a role
    /// that does not exist or does not trust the caller, a denied call.
    Denied,
}

/// A fault for the requests of one region (optionally one action), for the
/// next `times` matching requests or, with `None`, until it is cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub region: String,
    pub action: Option<String>,
    /// Only requests whose body contains this text (e.g. a role's account id
    /// in `AssumeRole`).
    pub body_contains: Option<String>,
    pub fault: Fault,
    pub times: Option<u32>,
}

impl FaultRule {
    /// Every request to `region` gets `fault`, until cleared.
    pub fn always(region: &str, fault: Fault) -> Self {
        FaultRule {
            region: region.into(),
            action: None,
            body_contains: None,
            fault,
            times: None,
        }
    }

    /// The next `times` requests to `region` get `fault`.
    pub fn times(region: &str, fault: Fault, times: u32) -> Self {
        FaultRule {
            times: Some(times),
            ..FaultRule::always(region, fault)
        }
    }

    /// Only requests for `action` (e.g. `StopInstances`) match.
    pub fn on_action(mut self, action: &str) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Only requests whose body contains `text` match.
    pub fn body_contains(mut self, text: &str) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    fn matches(&self, call: &Call) -> bool {
        self.region == call.region
            && self.action.as_deref().is_none_or(|a| a == call.action)
            && self.times != Some(0)
    }

    fn matches_request(&self, call: &Call, body: &[u8]) -> bool {
        self.matches(call)
            && self
                .body_contains
                .as_deref()
                .is_none_or(|text| !text.is_empty() && find(body, text.as_bytes()).is_some())
    }
}

/// Where requests go.
struct Routes {
    default: String,
    by_region: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    /// Every request, in arrival order, with the fault it got (if any).
    log: Vec<(Call, Option<Fault>)>,
    rules: Vec<FaultRule>,
    /// When each forwarded request was sent upstream and answered.
    upstream: Vec<(std::time::Instant, std::time::Instant)>,
    /// When each request had been read whole, in arrival order (as `log`).
    arrivals: Vec<std::time::Instant>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream`
    /// (`host:port`). It runs on its own thread, so it serves blocking callers
    /// and async tests alike.
    pub fn start(upstream: &str) -> std::io::Result<Proxy> {
        Proxy::start_routed(upstream, HashMap::new())
    }

    /// Like [`Proxy::start`], but a request signed for a region in `by_region`
    /// goes to that region's own upstream: separate emulators per region answer
    /// at once, as AWS regions do.
    pub fn start_routed(
        upstream: &str,
        by_region: HashMap<String, String>,
    ) -> std::io::Result<Proxy> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", std_listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let host = |u: &str| {
            u.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string()
        };
        let upstream = Arc::new(Routes {
            default: host(upstream),
            by_region: by_region
                .iter()
                .map(|(r, u)| (r.clone(), host(u)))
                .collect(),
        });
        let shared = state.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                let accept = async {
                    while let Ok((client, _)) = listener.accept().await {
                        let _ = client.set_nodelay(true);
                        tokio::spawn(serve(client, upstream.clone(), shared.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = rx => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(100));
        });
        Ok(Proxy {
            endpoint,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Adds a fault rule; the first matching rule applies.
    pub fn inject(&self, rule: FaultRule) {
        self.with(|s| s.rules.push(rule));
    }

    /// Removes every fault rule: the emulator answers normally again.
    pub fn clear_faults(&self) {
        self.with(|s| s.rules.clear());
    }

    /// Every request so far, in order, with the fault it got.
    pub fn log(&self) -> Vec<(Call, Option<Fault>)> {
        self.with(|s| s.log.clone())
    }

    /// Forgets the requests seen so far.
    pub fn reset_log(&self) {
        self.with(|s| {
            s.log.clear();
            s.upstream.clear();
            s.arrivals.clear();
        });
    }

    /// When the first request for `action` seen since the last reset had
    /// arrived whole: the moment it left its sender, give or take loopback.
    pub fn first_arrival(&self, action: &str) -> Option<std::time::Instant> {
        self.with(|s| {
            s.log
                .iter()
                .zip(&s.arrivals)
                .find(|((call, _), _)| call.action == action)
                .map(|(_, at)| *at)
        })
    }

    /// How long the emulator was busy since the last reset: the time during
    /// which at least one forwarded request awaited its answer.
    pub fn upstream_busy(&self) -> Duration {
        busy_time(self.with(|s| s.upstream.clone()))
    }

    /// Requests so far, counted by service and action.
    pub fn counts(&self) -> BTreeMap<(String, String), usize> {
        count_calls(self.log().iter().map(|(c, _)| c))
    }

    /// How many requests for `action` reached the proxy from `region`.
    pub fn attempts(&self, region: &str, action: &str) -> usize {
        self.log()
            .iter()
            .filter(|(c, _)| c.region == region && c.action == action)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The length of the union of `intervals`.
pub fn busy_time(mut intervals: Vec<(std::time::Instant, std::time::Instant)>) -> Duration {
    intervals.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(std::time::Instant, std::time::Instant)> = None;
    for (start, end) in intervals {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// Counts calls by (service, action).
pub fn count_calls<'a>(calls: impl Iterator<Item = &'a Call>) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for c in calls {
        *m.entry((c.service.clone(), c.action.clone())).or_insert(0) += 1;
    }
    m
}

/// A request read off the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Service, region and action, from the signature scope and the request.
    pub fn call(&self) -> Call {
        let (region, service) = self
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .map(|c| {
                let scope: Vec<&str> = c
                    .split([',', ' '])
                    .next()
                    .unwrap_or("")
                    .split('/')
                    .collect();
                (
                    scope.get(2).copied().unwrap_or("").to_string(),
                    scope.get(3).copied().unwrap_or("").to_string(),
                )
            })
            .unwrap_or_default();
        let target_action = self
            .header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .map(str::to_string);
        let query = self
            .head
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.split_once('?'))
            .map(|(_, q)| q.to_string())
            .unwrap_or_default();
        let form = String::from_utf8_lossy(&self.body);
        let action = target_action
            .or_else(|| form_value(&form, "Action"))
            .or_else(|| form_value(&query, "Action"))
            .unwrap_or_else(|| "?".into());
        Call {
            service: if service.is_empty() {
                "?".into()
            } else {
                service
            },
            region,
            action,
        }
    }
}

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// Reads one request (head and `Content-Length` body) and nothing more. `None`
/// at a clean end of the connection.
pub async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Request>> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let before = head.len();
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        if head.len() > MAX_REQUEST {
            return Err(std::io::Error::other("request head too large"));
        }
        if &head[before..] == b"\r\n" || &head[before..] == b"\n" {
            break;
        }
    }
    let head = String::from_utf8_lossy(&head).trim_end().to_string();
    let request = Request { head, body: vec![] };
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        return Err(std::io::Error::other(
            "chunked request bodies are not supported",
        ));
    }
    let len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_REQUEST {
        return Err(std::io::Error::other("request body too large"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(Some(Request { body, ..request }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn serve(client: TcpStream, routes: Arc<Routes>, state: Arc<Mutex<State>>) {
    let mut client = BufReader::new(client);
    loop {
        let request = match read_request(&mut client).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let arrived = std::time::Instant::now();
        let call = request.call();
        let upstream = routes
            .by_region
            .get(&call.region)
            .unwrap_or(&routes.default)
            .as_str();
        let fault = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            let fault = s
                .rules
                .iter_mut()
                .find(|r| r.matches_request(&call, &request.body))
                .map(|r| {
                    if let Some(n) = r.times.as_mut() {
                        *n -= 1;
                    }
                    r.fault.clone()
                });
            s.log.push((call.clone(), fault.clone()));
            s.arrivals.push(arrived);
            fault
        };
        let answer = match fault {
            Some(Fault::Drop) => return,
            Some(Fault::Throttle) => error_answer(&request, &call, None),
            Some(Fault::Status(code)) => error_answer(&request, &call, Some(code)),
            Some(Fault::Denied) => error_answer(&request, &call, Some(403)),
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                forward(&request, upstream).await
            }
            None => {
                let start = std::time::Instant::now();
                let answer = forward(&request, upstream).await;
                let end = std::time::Instant::now();
                state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .upstream
                    .push((start, end));
                answer
            }
        };
        let answer =
            answer.map(|(bytes, keep)| (apply_opt_in_filter(&call, &request, bytes), keep));
        let Ok((bytes, keep_alive)) = answer else {
            return;
        };
        if client.write_all(&bytes).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// Sends the request upstream on a fresh connection that closes after the
/// answer, so the answer is simply everything read until the end. Returns the
/// answer to relay and whether the client's connection can stay open.
async fn forward(request: &Request, upstream: &str) -> std::io::Result<(Vec<u8>, bool)> {
    let mut up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    let mut head: Vec<&str> = request
        .head
        .split("\r\n")
        .filter(|l| {
            !l.to_ascii_lowercase().starts_with("connection:")
                && !l.to_ascii_lowercase().starts_with("keep-alive:")
        })
        .collect();
    head.push("Connection: close");
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&request.body);
    up.write_all(&out).await?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).await?;
    let Some(end) = find(&answer, b"\r\n\r\n") else {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    };
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let framed = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("content-length:") || l.starts_with("transfer-encoding:")
    });
    if !framed {
        // Only the end of the connection marks the end of this answer.
        return Ok((answer, false));
    }
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut relay = kept.join("\r\n").into_bytes();
    relay.extend_from_slice(&answer[end..]);
    Ok((relay, true))
}

/// moto answers `DescribeRegions` with every region, ignoring an
/// `opt-in-status` filter, where AWS leaves out the regions that do not match.
/// The proxy applies the filter as AWS would, so that tools which trust the
/// server's filtering (Cloud Custodian does) see the regions AWS would give them.
fn apply_opt_in_filter(call: &Call, request: &Request, answer: Vec<u8>) -> Vec<u8> {
    let form = String::from_utf8_lossy(&request.body);
    if call.action != "DescribeRegions" || !form.contains("opt-in-status") {
        return answer;
    }
    let wanted: Vec<String> = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| k.starts_with("Filter.") && k.contains(".Value."))
        .map(|(_, v)| v.to_string())
        .collect();
    let Some(end) = find(&answer, b"\r\n\r\n") else {
        return answer;
    };
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let body = String::from_utf8_lossy(&answer[end + 4..]).into_owned();
    let mut kept = String::with_capacity(body.len());
    let mut rest = body.as_str();
    while let Some(start) = rest.find("<item>") {
        let Some(len) = rest[start..].find("</item>") else {
            break;
        };
        let item = &rest[start..start + len + "</item>".len()];
        kept.push_str(&rest[..start]);
        let status = item
            .split("<optInStatus>")
            .nth(1)
            .and_then(|s| s.split("</optInStatus>").next());
        if status.is_none_or(|s| wanted.iter().any(|w| w == s)) {
            kept.push_str(item);
        }
        rest = &rest[start + item.len()..];
    }
    kept.push_str(rest);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", kept.len())
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{kept}", head.join("\r\n")).into_bytes()
}

/// An error answer in the format the service speaks: EC2's `<Response><Errors>`,
/// the query services' `<ErrorResponse>`, or JSON for `X-Amz-Target` services.
/// `status: None` means the service's throttling error.
fn error_answer(
    request: &Request,
    call: &Call,
    status: Option<u16>,
) -> std::io::Result<(Vec<u8>, bool)> {
    let json = request.header("x-amz-target").is_some();
    let (status, code, message) = match status {
        None if call.service == "ec2" => (503, "RequestLimitExceeded", "Request limit exceeded."),
        None if json => (400, "ThrottlingException", "Rate exceeded"),
        None => (400, "Throttling", "Rate exceeded"),
        Some(503) => (503, "ServiceUnavailable", "Service is unavailable."),
        Some(403) if call.service == "ec2" => (
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ),
        Some(403) => (
            403,
            "AccessDenied",
            "User is not authorized to perform this action on the resource (injected by the fault proxy)",
        ),
        Some(code) => (code, "InternalError", "An internal error has occurred."),
    };
    let (content_type, body) = if json {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        )
    } else if call.service == "ec2" {
        (
            "text/xml",
            format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"),
        )
    };
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault-proxy\r\n\r\n{body}",
        body.len()
    );
    Ok((answer.into_bytes(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &str) -> Request {
        read_request(&mut raw.as_bytes()).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn classifies_query_and_json_requests() {
        let ec2 = parse("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261122/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature=abc\r\nContent-Length: 39\r\n\r\nAction=StopInstances&Version=2016-11-15").await;
        assert_eq!(
            ec2.call(),
            Call {
                service: "ec2".into(),
                region: "eu-west-1".into(),
                action: "StopInstances".into()
            }
        );
        let ce = parse("POST / HTTP/1.1\r\nX-Amz-Target: AWSInsightsIndexService.GetCostAndUsage\r\nauthorization: AWS4-HMAC-SHA256 Credential=k/20261122/us-east-1/ce/aws4_request,SignedHeaders=host,Signature=x\r\ncontent-length: 2\r\n\r\n{}").await;
        assert_eq!(ce.call().action, "GetCostAndUsage");
        assert_eq!(ce.call().service, "ce");
        let unsigned = parse("GET /moto-api/data.json?Action=X HTTP/1.1\r\n\r\n").await;
        assert_eq!(unsigned.call().service, "?");
        assert_eq!(unsigned.call().action, "X");
    }

    #[tokio::test]
    async fn reads_bodies_exactly_and_refuses_oversized_ones() {
        let mut two =
            "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\n\r\n".as_bytes();
        assert_eq!(read_request(&mut two).await.unwrap().unwrap().body, b"abc");
        assert!(read_request(&mut two)
            .await
            .unwrap()
            .unwrap()
            .head
            .starts_with("POST /b"));
        assert!(read_request(&mut two).await.unwrap().is_none());
        let huge = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_REQUEST + 1
        );
        assert!(read_request(&mut huge.as_bytes()).await.is_err());
    }

    #[test]
    fn describe_regions_answers_honour_the_opt_in_filter() {
        let request = Request {
            head: "POST / HTTP/1.1".into(),
            body: b"Action=DescribeRegions&Filter.1.Name=opt-in-status&Filter.1.Value.1=opt-in-not-required&Filter.1.Value.2=opted-in".to_vec(),
        };
        let call = Call {
            service: "ec2".into(),
            region: "us-east-1".into(),
            action: "DescribeRegions".into(),
        };
        let body = "<r><regionInfo><item><regionName>us-east-1</regionName><optInStatus>opt-in-not-required</optInStatus></item><item><regionName>ap-east-1</regionName><optInStatus>not-opted-in</optInStatus></item></regionInfo></r>";
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let out = String::from_utf8(apply_opt_in_filter(
            &call,
            &request,
            answer.clone().into_bytes(),
        ))
        .unwrap();
        let (head, kept) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            kept.contains("us-east-1") && !kept.contains("ap-east-1"),
            "{kept}"
        );
        assert!(head.ends_with(&format!("Content-Length: {}", kept.len())));
        let unfiltered = Request {
            body: b"Action=DescribeRegions".to_vec(),
            ..request
        };
        assert_eq!(
            apply_opt_in_filter(&call, &unfiltered, answer.clone().into_bytes()),
            answer.into_bytes()
        );
    }

    #[test]
    fn busy_time_counts_overlaps_once() {
        let t0 = std::time::Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let busy = busy_time(vec![(at(0), at(10)), (at(5), at(15)), (at(20), at(30))]);
        assert_eq!(busy, Duration::from_millis(25));
        assert_eq!(busy_time(vec![]), Duration::ZERO);
    }

    #[test]
    fn rules_match_region_action_and_count() {
        let call = Call {
            service: "ec2".into(),
            region: "eu-west-1".into(),
            action: "StopInstances".into(),
        };
        assert!(FaultRule::always("eu-west-1", Fault::Drop).matches(&call));
        assert!(!FaultRule::always("us-east-1", Fault::Drop).matches(&call));
        assert!(!FaultRule::always("eu-west-1", Fault::Drop)
            .on_action("DescribeInstances")
            .matches(&call));
        assert!(!FaultRule::times("eu-west-1", Fault::Throttle, 0).matches(&call));
        let role = b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fm";
        let denied = FaultRule::always("eu-west-1", Fault::Denied).body_contains("111111111111");
        assert!(denied.matches_request(&call, role));
        assert!(!denied.matches_request(&call, b"Action=AssumeRole&RoleArn=222222222222"));
    }

    #[test]
    fn throttling_speaks_each_service_format() {
        let req = Request {
            head: "POST / HTTP/1.1".into(),
            body: vec![],
        };
        let call = |service: &str| Call {
            service: service.into(),
            region: "eu-west-1".into(),
            action: "A".into(),
        };
        let text = |b: (Vec<u8>, bool)| String::from_utf8(b.0).unwrap();
        let ec2 = text(error_answer(&req, &call("ec2"), None).unwrap());
        assert!(
            ec2.starts_with("HTTP/1.1 503") && ec2.contains("<Code>RequestLimitExceeded</Code>")
        );
        let rds = text(error_answer(&req, &call("rds"), None).unwrap());
        assert!(rds.starts_with("HTTP/1.1 400") && rds.contains("<ErrorResponse>"));
        let e500 = text(error_answer(&req, &call("rds"), Some(500)).unwrap());
        assert!(e500.starts_with("HTTP/1.1 500"));
    }
}
