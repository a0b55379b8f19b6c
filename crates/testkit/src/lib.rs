//! A loopback HTTP proxy in front of the emulator. It counts every AWS request by
//! service and action (what `cost-guard bench` prints), and can inject faults
//! for chosen regions: throttling, 5xx answers, slow answers and dropped
//! connections (what the fault tests use).
//!
//! hyper reads each request whole; the proxy classifies it from its SigV4 credential scope
//! (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`) and its action
//! (`X-Amz-Target` for JSON protocols, `Action=` for query protocols), then
//! answers with the fault or forwards it on a fresh upstream connection
//! (EKS, a REST service, is classified by method and path). Two of moto's
//! gaps are filled on the way: `DescribeRegions` gets the opt-in filter that
//! moto ignores (see [`apply_opt_in_filter`]), and EKS node groups get the
//! tags moto cannot write on them (see [`NodeGroupTags`]): tag calls on a
//! node group's ARN are answered here, and each `DescribeNodegroup` answer
//! carries the tags so written.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
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
    /// Forward, then answer with `from` replaced by `to` in the emulator's
    /// answer: a state the emulator never shows (a database `starting`).
    Edit { from: String, to: String },
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
    /// How many matching requests still pass untouched before the fault.
    pub after: u32,
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
            after: 0,
        }
    }

    /// The next `times` requests to `region` get `fault`.
    pub fn times(region: &str, fault: Fault, times: u32) -> Self {
        FaultRule {
            times: Some(times),
            ..FaultRule::always(region, fault)
        }
    }

    /// The first `n` matching requests pass untouched; the fault starts
    /// with the next (e.g. a call that works once, then fails). An SDK's
    /// retries are requests too; and while a rule lets requests pass, the
    /// rules after it are not asked about them.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
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
    node_group_tags: NodeGroupTags,
}

/// Tags written on EKS node groups through the proxy, by node group ARN:
/// moto keeps the tags a node group was created with but answers
/// `TagResource` and `UntagResource` only for clusters.
#[derive(Default)]
struct NodeGroupTags(HashMap<String, BTreeMap<String, Option<String>>>);

impl NodeGroupTags {
    /// Answers a tag call on a node group's ARN; `None` for any other
    /// request.
    fn answer(&mut self, request: &Request, call: &Call) -> Option<Answer> {
        let arn = percent_decode(request.path().strip_prefix("/tags/")?);
        if call.service != "eks" || !arn.contains(":nodegroup/") {
            return None;
        }
        let written = self.0.entry(arn).or_default();
        match call.action.as_str() {
            "TagResource" => {
                let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
                for (k, v) in body.get("tags")?.as_object()? {
                    written.insert(k.clone(), Some(v.as_str()?.to_string()));
                }
            }
            "UntagResource" => {
                let query = request.target.split_once('?').map(|(_, q)| q).unwrap_or("");
                for key in query.split('&').filter_map(|p| p.strip_prefix("tagKeys=")) {
                    written.insert(percent_decode(key), None);
                }
            }
            _ => return None,
        }
        Some(Answer::new(
            200,
            &[("content-type", "application/json")],
            "{}",
        ))
    }

    /// A `DescribeNodegroup` answer with the tags written here.
    fn apply(&self, call: &Call, answer: Answer) -> Answer {
        if call.action != "DescribeNodegroup" || answer.status != 200 {
            return answer;
        }
        let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
            return answer;
        };
        let Some(group) = body.get_mut("nodegroup").and_then(|g| g.as_object_mut()) else {
            return answer;
        };
        let arn = group
            .get("nodegroupArn")
            .and_then(|a| a.as_str())
            .unwrap_or_default()
            .to_string();
        let Some(written) = self.0.get(&arn) else {
            return answer;
        };
        let tags = group.entry("tags").or_insert_with(|| serde_json::json!({}));
        if let Some(tags) = tags.as_object_mut() {
            for (k, v) in written {
                match v {
                    Some(v) => tags.insert(k.clone(), serde_json::Value::String(v.clone())),
                    None => tags.remove(k),
                };
            }
        }
        Answer {
            body: serde_json::to_vec(&body).unwrap_or(answer.body.clone()),
            ..answer
        }
    }
}

/// `%XX` escapes decoded (as in a URL path or query).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An EKS request's action, from its method and path (EKS is a REST
/// service: no action header or parameter).
fn eks_action(method: &str, path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match (method, parts.as_slice()) {
        ("GET", ["clusters"]) => "ListClusters",
        ("POST", ["clusters"]) => "CreateCluster",
        ("GET", ["clusters", _]) => "DescribeCluster",
        ("GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("POST", ["clusters", _, "node-groups"]) => "CreateNodegroup",
        ("GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("POST", ["clusters", _, "node-groups", _, "update-config"]) => "UpdateNodegroupConfig",
        ("POST", ["tags", _]) => "TagResource",
        ("DELETE", ["tags", _]) => "UntagResource",
        ("GET", ["tags", _]) => "ListTagsForResource",
        _ => return None,
    })
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
                        let (routes, state) = (upstream.clone(), shared.clone());
                        tokio::spawn(serve_http(client, move |request| {
                            answer(request, routes.clone(), state.clone())
                        }));
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

/// A request as hyper read it off the wire, whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub method: String,
    /// The path and the query.
    pub target: String,
    /// Names in lower case, in the order they came.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (names are compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
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
            .target
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default();
        let form = String::from_utf8_lossy(&self.body);
        let rest_action = (service == "eks")
            .then(|| eks_action(&self.method, self.path()))
            .flatten()
            .map(str::to_string);
        let action = rest_action
            .or(target_action)
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

/// An answer to send: status, headers and body (hyper writes the framing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// An answer with `status`, these headers and `body`.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }
}

/// Why a connection was closed without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped without an answer")
    }
}

impl std::error::Error for Dropped {}

/// Serves HTTP/1.1 on `conn` until the client closes it: hyper parses each
/// request (a body over 8 MiB is refused), `handler` answers it. A handler
/// that gives no answer drops the connection, as a server that dies does.
pub async fn serve_http<F, Fut>(conn: TcpStream, handler: F)
where
    F: Fn(Request) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<Answer>> + Send,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let request = read(req).await.map_err(|_| Dropped)?;
            let answer = handler(request).await.ok_or(Dropped)?;
            let mut response = hyper::Response::builder().status(answer.status);
            for (k, v) in &answer.headers {
                response = response.header(k.as_str(), v.as_str());
            }
            response
                .body(Full::new(Bytes::from(answer.body)))
                .map_err(|_| Dropped)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(conn), service)
        .await;
}

/// The request, its body read whole (at most [`MAX_REQUEST`]).
async fn read(
    req: hyper::Request<Incoming>,
) -> Result<Request, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = req.into_parts();
    let body = http_body_util::Limited::new(body, MAX_REQUEST)
        .collect()
        .await?
        .to_bytes();
    Ok(Request {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Headers that describe one hop, not the message: never passed on.
fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

async fn answer(
    mut request: Request,
    routes: Arc<Routes>,
    state: Arc<Mutex<State>>,
) -> Option<Answer> {
    let arrived = std::time::Instant::now();
    let call = request.call();
    let ec2 = call.service == "ec2";
    if ec2 {
        request.body = spot_fleet_ids_as_moto(&String::from_utf8_lossy(&request.body)).into_bytes();
    }
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
            .and_then(|r| {
                if r.after > 0 {
                    r.after -= 1;
                    return None;
                }
                if let Some(n) = r.times.as_mut() {
                    *n -= 1;
                }
                Some(r.fault.clone())
            });
        s.log.push((call.clone(), fault.clone()));
        s.arrivals.push(arrived);
        fault
    };
    let answer = match fault {
        Some(Fault::Drop) => return None,
        Some(Fault::Throttle) => error_answer(&request, &call, None),
        Some(Fault::Status(code)) => error_answer(&request, &call, Some(code)),
        Some(Fault::Denied) => error_answer(&request, &call, Some(403)),
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            forward(&request, upstream).await.ok()?
        }
        Some(Fault::Edit { from, to }) => {
            let answer = forward(&request, upstream).await.ok()?;
            let body = String::from_utf8_lossy(&answer.body).replace(&from, &to);
            Answer {
                body: body.into_bytes(),
                ..answer
            }
        }
        None => {
            let local = state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .node_group_tags
                .answer(&request, &call);
            if let Some(answer) = local {
                return Some(answer);
            }
            let start = std::time::Instant::now();
            let answer = forward(&request, upstream).await.ok()?;
            let end = std::time::Instant::now();
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .upstream
                .push((start, end));
            answer
        }
    };
    let mut answer = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .node_group_tags
        .apply(&call, answer);
    if ec2 {
        answer.body = spot_fleet_ids_as_ec2(&String::from_utf8_lossy(&answer.body)).into_bytes();
    }
    Some(apply_opt_in_filter(&call, &request, answer))
}

/// moto names a spot fleet request `sfr-` and 17 hexadecimal digits; EC2
/// names it by a UUID, and the guard takes nothing else for one. The proxy
/// shows moto's ids as UUIDs (the 17 digits, then 15 zeros) in EC2's
/// answers, and turns them back in the requests.
pub fn spot_fleet_ids_as_ec2(text: &str) -> String {
    rewrite_after(text, "sfr-", |rest| {
        let digits = rest.get(..17)?;
        let next = rest[17..].chars().next();
        (digits.chars().all(|c| c.is_ascii_hexdigit())
            && !next.is_some_and(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| {
            let hex = format!("{digits}{}", "0".repeat(15));
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            (17, uuid)
        })
    })
}

/// The reverse of [`spot_fleet_ids_as_ec2`].
pub fn spot_fleet_ids_as_moto(text: &str) -> String {
    rewrite_after(text, "sfr-", |rest| {
        let uuid = rest.get(..36)?;
        let hex: String = uuid.split('-').collect();
        let shaped = uuid.split('-').map(str::len).eq([8, 4, 4, 4, 12]);
        (shaped && hex.len() == 32 && hex[17..].chars().all(|c| c == '0'))
            .then(|| (36, hex[..17].to_string()))
    })
}

/// `text` with what follows each `marker` replaced where `f` gives the
/// length it replaces and the replacement.
fn rewrite_after(text: &str, marker: &str, f: impl Fn(&str) -> Option<(usize, String)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = at + marker.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        if let Some((len, new)) = f(rest) {
            out.push_str(&new);
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

/// Sends the request upstream on a fresh connection and reads the answer
/// whole.
async fn forward(request: &Request, upstream: &str) -> std::io::Result<Answer> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| std::io::Error::other(e);
    let up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(up))
        .await
        .map_err(|e| failed(e.into()))?;
    tokio::spawn(connection);
    let mut out = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(request.target.as_str());
    for (k, v) in request.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out = out.header(k.as_str(), v.as_str());
    }
    let out = out
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| failed(e.into()))?;
    let response = sender
        .send_request(out)
        .await
        .map_err(|e| failed(e.into()))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| failed(e.into()))?
        .to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter(|(k, _)| !hop_by_hop(k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    })
}

/// moto answers `DescribeRegions` with every region, ignoring an
/// `opt-in-status` filter, where AWS leaves out the regions that do not match.
/// The proxy applies the filter as AWS would, so that tools which trust the
/// server's filtering (Cloud Custodian does) see the regions AWS would give them.
fn apply_opt_in_filter(call: &Call, request: &Request, answer: Answer) -> Answer {
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
    let body = String::from_utf8_lossy(&answer.body).into_owned();
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
    Answer {
        body: kept.into_bytes(),
        ..answer
    }
}

/// An error answer in the format the service speaks: EC2's `<Response><Errors>`,
/// the query services' `<ErrorResponse>`, or JSON for `X-Amz-Target` services.
/// `status: None` means the service's throttling error.
fn error_answer(request: &Request, call: &Call, status: Option<u16>) -> Answer {
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
    Answer::new(
        status,
        &[
            ("content-type", content_type),
            ("x-amzn-requestid", "fault-proxy"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `raw` bytes to a server on loopback and returns the requests
    /// hyper read from them (each answered 200).
    async fn served(raw: &[u8]) -> Vec<Request> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let sink = seen.clone();
        let server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            serve_http(conn, move |r| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(r);
                    Some(Answer::new(200, &[], "ok"))
                }
            })
            .await
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        client.write_all(raw).await.unwrap();
        client.shutdown().await.unwrap();
        let mut answers = Vec::new();
        let _ = client.read_to_end(&mut answers).await;
        let _ = server.await;
        let seen = seen.lock().unwrap().clone();
        seen
    }

    async fn parse(raw: &str) -> Request {
        served(raw.as_bytes()).await.remove(0)
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
        let two = served(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(two[0].body, b"abc");
        assert_eq!(
            (two[1].method.as_str(), two[1].target.as_str()),
            ("POST", "/b?q=1")
        );
        assert_eq!(two[1].path(), "/b");
        let huge = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
            MAX_REQUEST + 1,
            "x".repeat(MAX_REQUEST + 1)
        );
        assert!(served(huge.as_bytes()).await.is_empty());
    }

    #[test]
    fn describe_regions_answers_honour_the_opt_in_filter() {
        let request = Request {
            method: "POST".into(),
            target: "/".into(),
            headers: Vec::new(),
            body: b"Action=DescribeRegions&Filter.1.Name=opt-in-status&Filter.1.Value.1=opt-in-not-required&Filter.1.Value.2=opted-in".to_vec(),
        };
        let call = Call {
            service: "ec2".into(),
            region: "us-east-1".into(),
            action: "DescribeRegions".into(),
        };
        let body = "<r><regionInfo><item><regionName>us-east-1</regionName><optInStatus>opt-in-not-required</optInStatus></item><item><regionName>ap-east-1</regionName><optInStatus>not-opted-in</optInStatus></item></regionInfo></r>";
        let answer = Answer::new(200, &[("content-type", "text/xml")], body);
        let out = apply_opt_in_filter(&call, &request, answer.clone());
        let kept = String::from_utf8(out.body).unwrap();
        assert!(
            kept.contains("us-east-1") && !kept.contains("ap-east-1"),
            "{kept}"
        );
        assert_eq!(out.headers, answer.headers);
        let unfiltered = Request {
            body: b"Action=DescribeRegions".to_vec(),
            ..request
        };
        assert_eq!(
            apply_opt_in_filter(&call, &unfiltered, answer.clone()),
            answer
        );
    }

    fn eks(method: &str, target: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: vec![(
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=K/20261204/eu-west-1/eks/aws4_request, SignedHeaders=host".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn eks_requests_are_named_by_method_and_path() {
        for (method, path, action) in [
            ("GET", "/clusters", "ListClusters"),
            (
                "GET",
                "/clusters/lab/node-groups?maxResults=100",
                "ListNodegroups",
            ),
            ("GET", "/clusters/lab/node-groups/gpu", "DescribeNodegroup"),
            (
                "POST",
                "/clusters/lab/node-groups/gpu/update-config",
                "UpdateNodegroupConfig",
            ),
            ("POST", "/tags/arn%3Aaws%3Aeks", "TagResource"),
            ("DELETE", "/tags/arn%3Aaws%3Aeks?tagKeys=a", "UntagResource"),
            ("PUT", "/clusters", "?"),
        ] {
            let call = eks(method, path, "").call();
            assert_eq!(
                (call.service.as_str(), call.action.as_str()),
                ("eks", action),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn node_group_tags_are_kept_and_shown_in_describe_answers() {
        let arn = "arn:aws:eks:eu-west-1:123456789012:nodegroup/lab/gpu/0a1b";
        let path = format!("/tags/{}", arn.replace(':', "%3A").replace('/', "%2F"));
        let mut tags = NodeGroupTags::default();
        let tag = eks(
            "POST",
            &path,
            r#"{"tags":{"cost-guard:saved":"min=1 desired=2 max=3","b":"x"}}"#,
        );
        assert_eq!(tags.answer(&tag, &tag.call()).map(|a| a.status), Some(200));
        let untag = eks("DELETE", &format!("{path}?tagKeys=b&tagKeys=team"), "");
        assert!(tags.answer(&untag, &untag.call()).is_some());
        // A cluster's tags are moto's own.
        let cluster = eks(
            "POST",
            "/tags/arn%3Aaws%3Aeks%3Aeu-west-1%3A1%3Acluster%2Flab",
            "{}",
        );
        assert!(tags.answer(&cluster, &cluster.call()).is_none());

        let describe = eks("GET", "/clusters/lab/node-groups/gpu", "");
        let moto = format!(
            r#"{{"nodegroup":{{"nodegroupArn":"{arn}","tags":{{"team":"ml","keep":"1"}}}}}}"#
        );
        let answer = tags.apply(&describe.call(), Answer::new(200, &[], moto));
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(
            body["nodegroup"]["tags"],
            serde_json::json!({"keep": "1", "cost-guard:saved": "min=1 desired=2 max=3"})
        );
    }

    #[test]
    fn spot_fleet_ids_are_shown_as_ec2_writes_them_and_taken_back() {
        let moto = "<spotFleetRequestId>sfr-0a1b2c3d4e5f6a7b8</spotFleetRequestId>";
        let ec2 = spot_fleet_ids_as_ec2(moto);
        assert_eq!(
            ec2,
            "<spotFleetRequestId>sfr-0a1b2c3d-4e5f-6a7b-8000-000000000000</spotFleetRequestId>"
        );
        assert_eq!(spot_fleet_ids_as_moto(&ec2), moto);
        let form = "Action=DescribeSpotFleetInstances&SpotFleetRequestId=sfr-0a1b2c3d-4e5f-6a7b-8000-000000000000";
        assert!(spot_fleet_ids_as_moto(form).ends_with("=sfr-0a1b2c3d4e5f6a7b8"));
        // A real UUID, or anything else, is left as it is.
        for other in [
            "sfr-8f3c2b1a-4d5e-4f6a-9b7c-0d1e2f3a4b5c",
            "sfr-0a1b2c3d4e5f6a7b8c",
            "sfr-",
            "no id",
        ] {
            assert_eq!(spot_fleet_ids_as_moto(other), other);
            assert_eq!(spot_fleet_ids_as_ec2(other), other);
        }
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
        let req = Request::default();
        let call = |service: &str| Call {
            service: service.into(),
            region: "eu-west-1".into(),
            action: "A".into(),
        };
        let text = |a: &Answer| String::from_utf8(a.body.clone()).unwrap();
        let ec2 = error_answer(&req, &call("ec2"), None);
        assert!(ec2.status == 503 && text(&ec2).contains("<Code>RequestLimitExceeded</Code>"));
        let rds = error_answer(&req, &call("rds"), None);
        assert!(rds.status == 400 && text(&rds).contains("<ErrorResponse>"));
        assert_eq!(error_answer(&req, &call("rds"), Some(500)).status, 500);
        let json = Request {
            headers: vec![(
                "x-amz-target".into(),
                "AWSInsightsIndexService.GetCostAndUsage".into(),
            )],
            ..Request::default()
        };
        let ce = error_answer(&json, &call("ce"), None);
        assert!(ce.status == 400 && text(&ce).contains(r#""__type":"ThrottlingException""#));
    }
}
