//! Prices: AWS's price list (`pricing:GetProducts`, answered in us-east-1)
//! for exactly the products found running, the spot price history for spot
//! instances, and the built-in table when either cannot answer. A
//! [`PriceBook`] lives as long as the function's instance: what the price
//! list said is never asked again while it is warm; spot prices are asked
//! again after an hour. A failed request is not remembered, so the next
//! check asks again.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_pricing::types::{Filter, FilterType};
use futures::StreamExt;

use crate::domain::burn::usage::{Basis, Os, Product, Quote};
use crate::domain::burn::usd::Usd;
use crate::domain::error::AwsError;
use crate::domain::prices::{table_price, TABLE_SOURCE};

/// Where the Price List Query API answers (it also answers in ap-south-1).
pub const PRICING_REGION: &str = "us-east-1";
/// How long a spot price is taken as current.
const SPOT_FRESH: Duration = Duration::from_secs(3600);
/// `GetProducts` requests in flight at once (the API allows a few a second).
const AT_ONCE: usize = 4;
/// Pages of one product's answer read at most: with these filters a product
/// has one or two entries; more means the filters matched far too much.
const MAX_PAGES: usize = 3;

/// A Price List Query API client in [`PRICING_REGION`], from the function's
/// configuration; `AWS_ENDPOINT_URL_PRICING` points it elsewhere (the
/// demo's and the tests' stand-in).
pub fn client(sdk: &aws_types::SdkConfig) -> aws_sdk_pricing::Client {
    let mut config = aws_sdk_pricing::config::Builder::from(sdk)
        .region(aws_types::region::Region::new(PRICING_REGION));
    // The SDK's own service-specific variable, read here too: a loader
    // given AWS_ENDPOINT_URL in code would otherwise win over it.
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL_PRICING")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        config = config.endpoint_url(url.trim());
    }
    let config = config.build();
    aws_sdk_pricing::Client::from_conf(config)
}

/// The price list's name of an RDS engine, and its edition where the
/// engine has several: `None` for an engine the price list is not asked
/// about.
fn rds_engine(engine: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match engine {
        "mysql" => ("MySQL", None),
        "postgres" => ("PostgreSQL", None),
        "mariadb" => ("MariaDB", None),
        "aurora-mysql" | "aurora" => ("Aurora MySQL", None),
        "aurora-postgresql" => ("Aurora PostgreSQL", None),
        "oracle-ee" => ("Oracle", Some("Enterprise")),
        "oracle-se2" => ("Oracle", Some("Standard Two")),
        "sqlserver-ee" => ("SQL Server", Some("Enterprise")),
        "sqlserver-se" => ("SQL Server", Some("Standard")),
        "sqlserver-ex" => ("SQL Server", Some("Express")),
        "sqlserver-web" => ("SQL Server", Some("Web")),
        _ => return None,
    })
}

/// What `GetProducts` is asked for one product in one region: the service
/// code and the `TERM_MATCH` filters. `None`: the price list is not asked.
pub(crate) fn query(
    region: &str,
    product: &Product,
) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let mut filters = vec![("regionCode", region.to_string())];
    let service = match product {
        Product::Ec2 {
            instance_type,
            os,
            tenancy,
            ..
        } => {
            filters.push(("instanceType", instance_type.clone()));
            filters.push(("operatingSystem", os.price_list_name().to_string()));
            filters.push(("tenancy", tenancy.price_list_name().to_string()));
            filters.push(("preInstalledSw", "NA".into()));
            filters.push(("capacitystatus", "Used".into()));
            if *os != Os::Windows {
                filters.push(("licenseModel", "No License required".into()));
            }
            "AmazonEC2"
        }
        Product::Rds {
            class,
            engine,
            multi_az,
        } => {
            let (name, edition) = rds_engine(engine)?;
            filters.push(("instanceType", class.clone()));
            filters.push(("databaseEngine", name.into()));
            if let Some(edition) = edition {
                filters.push(("databaseEdition", edition.into()));
            }
            let deployment = if *multi_az { "Multi-AZ" } else { "Single-AZ" };
            filters.push(("deploymentOption", deployment.into()));
            "AmazonRDS"
        }
        Product::SageMaker {
            instance_type,
            component,
        } => {
            filters.push(("instanceName", instance_type.clone()));
            filters.push(("component", component.price_list_name().into()));
            "AmazonSageMaker"
        }
        Product::Redshift { node_type } => {
            filters.push(("instanceType", node_type.clone()));
            filters.push(("productFamily", "Compute Instance".into()));
            "AmazonRedshift"
        }
        Product::FargateVcpu { .. } | Product::FargateGb { .. } => {
            filters.push(("productFamily", "Compute".into()));
            "AmazonECS"
        }
    };
    Some((service, filters))
}

/// The on-demand hourly figures in one `PriceList` document (a JSON text
/// per product), each with the product's `usagetype`. Anything else in it
/// (reserved terms, other units, other currencies) is left out.
pub(crate) fn on_demand(doc: &str) -> Vec<(String, Usd)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return Vec::new();
    };
    let usage = v["product"]["attributes"]["usagetype"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut out = Vec::new();
    for term in v["terms"]["OnDemand"]
        .as_object()
        .into_iter()
        .flat_map(|t| t.values())
    {
        for dim in term["priceDimensions"]
            .as_object()
            .into_iter()
            .flat_map(|d| d.values())
        {
            let unit = dim["unit"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !(unit.starts_with("hr") || unit.starts_with("hour")) {
                continue;
            }
            if let Some(p) = dim["pricePerUnit"]["USD"].as_str().and_then(Usd::parse) {
                out.push((usage.clone(), p));
            }
        }
    }
    out
}

/// The product's figure among an answer's: Fargate's by its usage type;
/// any other product's the highest non-zero one (with these filters there
/// is one; more means a license or edition the filters cannot tell apart,
/// and the burn rate must not be understated).
pub(crate) fn pick(product: &Product, figures: &[(String, Usd)]) -> Option<Usd> {
    let suffix = match product {
        Product::FargateVcpu { arm: false } => Some("Fargate-vCPU-Hours:perCPU"),
        Product::FargateVcpu { arm: true } => Some("Fargate-ARM-vCPU-Hours:perCPU"),
        Product::FargateGb { arm: false } => Some("Fargate-GB-Hours"),
        Product::FargateGb { arm: true } => Some("Fargate-ARM-GB-Hours"),
        _ => None,
    };
    figures
        .iter()
        .filter(|(usage, p)| match suffix {
            // `USE1-Fargate-GB-Hours`: a region's prefix, then the name
            // (the dash keeps `Fargate-GB-Hours` from matching ARM's).
            Some(s) => usage == s || usage.ends_with(&format!("-{s}")),
            None => *p > Usd::ZERO,
        })
        .map(|(_, p)| *p)
        .max()
}

/// Every quote of one pricing, and what readers must know about them.
#[derive(Debug, Default)]
pub struct Quotes {
    pub quotes: HashMap<(String, Product), Quote>,
    /// A failure of the price list or the spot history, once each.
    pub notes: Vec<String>,
}

impl Quotes {
    pub fn get(&self, region: &str, product: &Product) -> Option<Quote> {
        self.quotes
            .get(&(region.to_string(), product.clone()))
            .copied()
    }
}

type SpotKey = (String, String, String);

/// The price list's answers and the spot prices, kept while the function
/// is warm.
pub struct PriceBook {
    client: Option<aws_sdk_pricing::Client>,
    /// What the price list said for each region and product: a figure, or
    /// none (then the table is used).
    listed: Mutex<HashMap<(String, Product), Option<Usd>>>,
    /// By region, type and product description: the price, and when it was read.
    spot: Mutex<HashMap<SpotKey, (Option<Usd>, Instant)>>,
    requests: AtomicUsize,
}

impl PriceBook {
    pub fn new(client: aws_sdk_pricing::Client) -> PriceBook {
        PriceBook {
            client: Some(client),
            listed: Mutex::default(),
            spot: Mutex::default(),
            requests: AtomicUsize::new(0),
        }
    }

    /// `GetProducts` requests sent so far (the benchmark's and the tests'
    /// count: a warm book sends none for what it knows).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// What the price list says of one product, from the book or asked now.
    async fn listed(&self, region: &str, product: &Product) -> Result<Option<Usd>, AwsError> {
        let key = (region.to_string(), product.clone());
        if let Some(known) = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(*known);
        }
        let (Some(client), Some((service, filters))) = (&self.client, query(region, product))
        else {
            return Ok(None);
        };
        let filters: Vec<Filter> = filters
            .into_iter()
            .filter_map(|(field, value)| {
                Filter::builder()
                    .r#type(FilterType::TermMatch)
                    .field(field)
                    .value(value)
                    .build()
                    .ok()
            })
            .collect();
        let mut figures = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let page = client
                .get_products()
                .service_code(service)
                .set_filters(Some(filters.clone()))
                .format_version("aws_v1")
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("pricing:GetProducts", e))?;
            figures.extend(page.price_list().iter().flat_map(|doc| on_demand(doc)));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        let figure = pick(product, &figures);
        self.listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, figure);
        Ok(figure)
    }

    /// The latest spot price of a type in a region: the highest of its
    /// zones' latest figures.
    async fn spot_price(
        &self,
        ec2: &aws_sdk_ec2::Client,
        region: &str,
        instance_type: &str,
        description: &str,
    ) -> Result<Option<Usd>, AwsError> {
        let key = (
            region.to_string(),
            instance_type.to_string(),
            description.to_string(),
        );
        if let Some((price, at)) = self
            .spot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if at.elapsed() < SPOT_FRESH {
                return Ok(*price);
            }
        }
        let out = ec2
            .describe_spot_price_history()
            .instance_types(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .product_descriptions(description)
            .start_time(aws_smithy_types::DateTime::from(
                std::time::SystemTime::now(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSpotPriceHistory", e))?;
        let price = out
            .spot_price_history()
            .iter()
            .filter_map(|p| p.spot_price().and_then(Usd::parse))
            .max();
        self.spot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (price, Instant::now()));
        Ok(price)
    }

    /// The on-demand quote of one product: the price list's figure, else
    /// the table's. Once the price list has failed in this pricing, it is
    /// not asked again until the next: the table answers the rest.
    async fn on_demand(
        &self,
        region: &str,
        product: &Product,
        notes: &Mutex<Vec<String>>,
        failed: &AtomicBool,
    ) -> Option<Quote> {
        let listed = if failed.load(Ordering::Relaxed) {
            self.known(region, product).ok_or(None)
        } else {
            self.listed(region, product).await.map_err(Some)
        };
        match listed {
            Ok(Some(per_hour)) => {
                return Some(Quote {
                    per_hour,
                    basis: Basis::PriceList,
                })
            }
            Ok(None) | Err(None) => {}
            Err(Some(e)) => {
                failed.store(true, Ordering::Relaxed);
                tracing::warn!(region, error = %e, "price list not answering");
                note(
                    notes,
                    format!("{e}: prices from the built-in table ({TABLE_SOURCE}) instead"),
                );
            }
        }
        table_price(product).map(|per_hour| Quote {
            per_hour,
            basis: Basis::Table,
        })
    }

    /// What the book already knows of one product, asking nothing.
    fn known(&self, region: &str, product: &Product) -> Option<Option<Usd>> {
        self.listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(region.to_string(), product.clone()))
            .copied()
    }

    /// Quotes every product in its region. Spot instances are priced by
    /// `ec2` (the region's client) from the spot price history, else at
    /// most their on-demand price.
    pub async fn quote(
        &self,
        wanted: &BTreeSet<(String, Product)>,
        ec2: &(dyn Fn(&str) -> aws_sdk_ec2::Client + Sync),
    ) -> Quotes {
        let notes = Mutex::new(Vec::new());
        let notes_ref = &notes;
        let failed = AtomicBool::new(false);
        let failed = &failed;
        // Owned items: a stream of borrowed ones makes the future's
        // lifetimes too general to prove `Send` in a handler.
        let items: Vec<(String, Product)> = wanted.iter().cloned().collect();
        let quotes: Vec<_> = futures::stream::iter(items)
            .map(|(region, product)| async move {
                let (region, product) = (&region, &product);
                let quote = match product {
                    Product::Ec2 {
                        instance_type,
                        os,
                        spot: true,
                        ..
                    } => {
                        let spot = match os.spot_product() {
                            Some(d) => self.spot_price(&ec2(region), region, instance_type, d).await,
                            None => Ok(None),
                        };
                        match spot {
                            Ok(Some(per_hour)) => Some(Quote {
                                per_hour,
                                basis: Basis::Spot,
                            }),
                            other => {
                                if let Err(e) = other {
                                    note(notes_ref, format!("{e}: spot instances counted at their on-demand price, the most they can cost"));
                                }
                                let on_demand = match product {
                                    Product::Ec2 { instance_type, os, tenancy, .. } => Product::Ec2 {
                                        instance_type: instance_type.clone(),
                                        os: os.clone(),
                                        tenancy: *tenancy,
                                        spot: false,
                                    },
                                    other => other.clone(),
                                };
                                self.on_demand(region, &on_demand, notes_ref, failed).await.map(|q| Quote {
                                    per_hour: q.per_hour,
                                    basis: Basis::SpotUpperBound,
                                })
                            }
                        }
                    }
                    _ => self.on_demand(region, product, notes_ref, failed).await,
                };
                ((region.clone(), product.clone()), quote)
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        Quotes {
            quotes: quotes
                .into_iter()
                .filter_map(|(k, q)| q.map(|q| (k, q)))
                .collect(),
            notes: notes.into_inner().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// Adds a note unless one of the same call is there (one per failing call,
/// however many products it failed for).
fn note(notes: &Mutex<Vec<String>>, text: String) {
    let mut notes = notes.lock().unwrap_or_else(|p| p.into_inner());
    let call = text.split(':').take(2).collect::<Vec<_>>().join(":");
    if !notes.iter().any(|n| n.starts_with(&call)) {
        notes.push(text);
    }
}
