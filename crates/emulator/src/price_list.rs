//! A stand-in for AWS's Price List Query API, which moto does not
//! implement: a loopback HTTP endpoint that answers `GetProducts` in its
//! real format (each product a JSON document in `PriceList`, matched by
//! `TERM_MATCH` filters on its attributes), over a small catalogue of the
//! products the demo, the tests and the benchmark run. It counts the
//! requests, and can be made to refuse them (as AWS does a role without
//! `pricing:GetProducts`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::EmulatorError;

/// The stand-in; stops when dropped.
pub struct PriceList {
    pub endpoint: String,
    requests: Arc<AtomicUsize>,
    refusing: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for PriceList {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Regions the catalogue prices, with their price-list prefix and how much
/// more than us-east-1 they cost (in percent).
const REGIONS: &[(&str, &str, u64)] = &[
    ("us-east-1", "", 100),
    ("eu-west-1", "EU-", 112),
    ("ap-southeast-2", "APS2-", 125),
    ("ap-south-1", "APS3-", 105),
    ("us-west-2", "USW2-", 100),
    ("eu-central-1", "EUC1-", 115),
];

/// us-east-1's prices (USD an hour) the catalogue holds: EC2 Linux.
const EC2: &[(&str, &str)] = &[
    ("t3.micro", "0.0104"),
    ("t3.small", "0.0208"),
    ("t2.large", "0.0928"),
    ("m5.large", "0.096"),
    ("g4dn.xlarge", "0.526"),
    ("p3.2xlarge", "3.06"),
];

/// `price × percent / 100`, as the price list writes it (ten decimals).
fn scaled(price: &str, percent: u64) -> String {
    let (whole, frac) = price.split_once('.').unwrap_or((price, ""));
    let nanos: u64 = format!("{whole}{frac:0<9}").parse().unwrap_or(0);
    let v = nanos * percent / 100;
    format!("{}.{:09}0", v / 1_000_000_000, v % 1_000_000_000)
}

fn product(service: &str, sku: &str, attributes: Value, price: &str, unit: &str) -> Value {
    let term = format!("{sku}.JRTCKXETXF");
    let dim = format!("{term}.6YS6EN2CT7");
    let mut attributes = attributes;
    attributes["servicecode"] = json!(service);
    json!({
        "product": {"productFamily": attributes["productFamily"].clone(), "attributes": attributes, "sku": sku},
        "serviceCode": service,
        "terms": {
            "OnDemand": {term.clone(): {
                "priceDimensions": {dim.clone(): {
                    "unit": unit, "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                    "description": format!("${price} per {unit}"), "rateCode": dim,
                    "pricePerUnit": {"USD": price}
                }},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", "termAttributes": {}
            }},
            "Reserved": {format!("{sku}.4NA7Y494T4"): {
                "priceDimensions": {format!("{sku}.4NA7Y494T4.6YS6EN2CT7"): {
                    "unit": "Hrs", "pricePerUnit": {"USD": "0.0010000000"}, "description": "reserved, never on demand"
                }}
            }}
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z"
    })
}

/// The catalogue: EC2 (Linux, shared), RDS PostgreSQL, a SageMaker
/// notebook and hosting type, a Redshift node and Fargate, in each region
/// of [`REGIONS`].
pub fn sample_catalogue() -> Vec<Value> {
    let mut out = Vec::new();
    for (n, (region, prefix, percent)) in REGIONS.iter().enumerate() {
        for (i, (t, price)) in EC2.iter().enumerate() {
            out.push(product(
                "AmazonEC2",
                &format!("EC2{n}{i}"),
                json!({"productFamily": "Compute Instance", "regionCode": region, "instanceType": t,
                       "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                       "capacitystatus": "Used", "licenseModel": "No License required",
                       "usagetype": format!("{prefix}BoxUsage:{t}")}),
                &scaled(price, *percent),
                "Hrs",
            ));
        }
        for (i, (class, multi, price)) in [
            ("db.t3.medium", "Single-AZ", "0.072"),
            ("db.t3.medium", "Multi-AZ", "0.144"),
            ("db.t3.micro", "Single-AZ", "0.018"),
        ]
        .iter()
        .enumerate()
        {
            out.push(product(
                "AmazonRDS",
                &format!("RDS{n}{i}"),
                json!({"productFamily": "Database Instance", "regionCode": region, "instanceType": class,
                       "databaseEngine": "PostgreSQL", "deploymentOption": multi,
                       "usagetype": format!("{prefix}InstanceUsage:{class}")}),
                &scaled(price, *percent),
                "Hrs",
            ));
        }
        for (i, (t, component, price)) in [
            ("ml.p3.2xlarge", "Notebook", "3.825"),
            ("ml.t3.medium", "Notebook", "0.05"),
            ("ml.m5.large", "Hosting", "0.115"),
        ]
        .iter()
        .enumerate()
        {
            out.push(product(
                "AmazonSageMaker",
                &format!("SM{n}{i}"),
                json!({"productFamily": "ML Instance", "regionCode": region, "instanceName": t,
                       "component": component, "usagetype": format!("{prefix}{component}:{t}")}),
                &scaled(price, *percent),
                "Hrs",
            ));
        }
        out.push(product(
            "AmazonRedshift",
            &format!("RS{n}"),
            json!({"productFamily": "Compute Instance", "regionCode": region, "instanceType": "dc2.large",
                   "usagetype": format!("{prefix}Node:dc2.large")}),
            &scaled("0.25", *percent),
            "Hrs",
        ));
        for (i, (usage, price)) in [
            ("Fargate-vCPU-Hours:perCPU", "0.04048"),
            ("Fargate-GB-Hours", "0.004445"),
            ("Fargate-ARM-vCPU-Hours:perCPU", "0.03238"),
            ("Fargate-ARM-GB-Hours", "0.00356"),
        ]
        .iter()
        .enumerate()
        {
            let prefix = if prefix.is_empty() { "USE1-" } else { prefix };
            out.push(product(
                "AmazonECS",
                &format!("ECS{n}{i}"),
                json!({"productFamily": "Compute", "regionCode": region, "usagetype": format!("{prefix}{usage}")}),
                &scaled(price, *percent),
                "hours",
            ));
        }
    }
    out
}

/// The products of `catalogue` a `GetProducts` request asks for.
pub fn answer(catalogue: &[Value], request: &Value) -> Value {
    let service = request["ServiceCode"].as_str().unwrap_or_default();
    let filters: Vec<(&str, &str)> = request["Filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["Type"] == "TERM_MATCH")
        .filter_map(|f| Some((f["Field"].as_str()?, f["Value"].as_str()?)))
        .collect();
    let list: Vec<String> = catalogue
        .iter()
        .filter(|p| p["serviceCode"] == service)
        .filter(|p| {
            let attrs = &p["product"]["attributes"];
            filters.iter().all(|(field, value)| {
                let have = if *field == "productFamily" {
                    p["product"]["productFamily"].as_str()
                } else {
                    attrs[*field].as_str()
                };
                have.is_some_and(|h| h.eq_ignore_ascii_case(value))
            })
        })
        .map(|p| p.to_string())
        .collect();
    json!({"FormatVersion": "aws_v1", "PriceList": list})
}

impl PriceList {
    /// Starts the stand-in on a free loopback port with [`sample_catalogue`].
    pub async fn start() -> Result<PriceList, EmulatorError> {
        PriceList::with(sample_catalogue()).await
    }

    /// Starts it with these products.
    pub async fn with(catalogue: Vec<Value>) -> Result<PriceList, EmulatorError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| EmulatorError::Start(format!("price list: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| EmulatorError::Start(format!("price list: {e}")))?
            .port();
        let requests = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(AtomicBool::new(false));
        let catalogue = Arc::new(catalogue);
        let (count, refuse) = (requests.clone(), refusing.clone());
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (catalogue, count, refuse) = (catalogue.clone(), count.clone(), refuse.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &catalogue, &count, &refuse).await;
                });
            }
        });
        Ok(PriceList {
            endpoint: format!("http://127.0.0.1:{port}"),
            requests,
            refusing,
            server,
        })
    }

    /// `GetProducts` requests answered or refused so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// From now on, refuse every request with AccessDeniedException.
    pub fn refuse(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }

    /// A Price List client for `sdk`, aimed at the stand-in.
    pub fn client(&self, sdk: &aws_types::SdkConfig) -> aws_sdk_pricing::Client {
        let config = aws_sdk_pricing::config::Builder::from(sdk)
            .region(aws_types::region::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_pricing::Client::from_conf(config)
    }
}

/// Answers the requests of one connection (the SDK keeps it alive).
async fn serve(
    mut stream: tokio::net::TcpStream,
    catalogue: &[Value],
    count: &AtomicUsize,
    refuse: &AtomicBool,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            data.extend_from_slice(&buf[..n]);
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while data.len() < end + 4 + length {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            data.extend_from_slice(&buf[..n]);
        }
        let body: Vec<u8> = data[end + 4..end + 4 + length].to_vec();
        data.drain(..end + 4 + length);
        count.fetch_add(1, Ordering::SeqCst);
        let get_products = head.contains("awspricelistservice.getproducts");
        let (status, answer) = if refuse.load(Ordering::SeqCst) {
            (
                "400 Bad Request",
                json!({"__type": "AccessDeniedException", "Message": "User is not authorized to perform: pricing:GetProducts"}),
            )
        } else if !get_products {
            (
                "400 Bad Request",
                json!({"__type": "InvalidParameterException", "Message": "the stand-in answers GetProducts only"}),
            )
        } else {
            match serde_json::from_slice::<Value>(&body) {
                Ok(request) => ("200 OK", answer(catalogue, &request)),
                Err(e) => (
                    "400 Bad Request",
                    json!({"__type": "InvalidParameterException", "Message": e.to_string()}),
                ),
            }
        };
        let text = answer.to_string();
        stream
            .write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: stand-in\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                )
                .as_bytes(),
            )
            .await?;
    }
}
