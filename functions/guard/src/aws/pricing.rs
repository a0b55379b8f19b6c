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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::burn::usage::{Component, Tenancy};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn usd(t: &str) -> Usd {
        Usd::parse(t).unwrap()
    }

    fn ec2(os: Os) -> Product {
        Product::Ec2 {
            instance_type: "t3.micro".into(),
            os,
            tenancy: Tenancy::Shared,
            spot: false,
        }
    }

    /// A price list document as GetProducts returns one, shortened.
    fn doc(usage: &str, unit: &str, price: &str) -> String {
        serde_json::json!({
            "product": {"productFamily": "Compute Instance", "attributes": {"usagetype": usage}, "sku": "S"},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {"S.JRTCKXETXF": {"priceDimensions": {"S.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": unit, "pricePerUnit": {"USD": price}
                }}}},
                "Reserved": {"S.4NA7Y494T4": {"priceDimensions": {"S.4NA7Y494T4.6YS6EN2CT7": {
                    "unit": "Hrs", "pricePerUnit": {"USD": "0.0010000000"}
                }}}}
            }
        })
        .to_string()
    }

    #[test]
    fn reads_the_on_demand_hourly_figure_and_nothing_else() {
        assert_eq!(
            on_demand(&doc("BoxUsage:t3.micro", "Hrs", "0.0104000000")),
            [("BoxUsage:t3.micro".to_string(), usd("0.0104"))]
        );
        assert_eq!(on_demand(&doc("X", "hours", "0.04048")).len(), 1);
        // A monthly unit, a currency other than USD, no figure: nothing.
        assert!(on_demand(&doc("X", "GB-Mo", "0.10")).is_empty());
        assert!(on_demand(&doc("X", "Hrs", "-1")).is_empty());
        let cny = doc("X", "Hrs", "1").replace("\"USD\"", "\"CNY\"");
        assert!(on_demand(&cny).is_empty());
        assert!(on_demand("not json").is_empty());
    }

    #[test]
    fn picks_fargates_figure_by_usage_type_and_the_highest_otherwise() {
        let fargate = [
            ("USE1-Fargate-vCPU-Hours:perCPU".to_string(), usd("0.04048")),
            (
                "USE1-Fargate-ARM-vCPU-Hours:perCPU".to_string(),
                usd("0.03238"),
            ),
            ("USE1-Fargate-GB-Hours".to_string(), usd("0.004445")),
            ("USE1-Fargate-ARM-GB-Hours".to_string(), usd("0.00356")),
            (
                "USE1-Fargate-EphemeralStorage-GB-Hours".to_string(),
                usd("0.000111"),
            ),
        ];
        let pick_of = |p| pick(&p, &fargate);
        assert_eq!(
            pick_of(Product::FargateVcpu { arm: false }),
            Some(usd("0.04048"))
        );
        assert_eq!(
            pick_of(Product::FargateVcpu { arm: true }),
            Some(usd("0.03238"))
        );
        assert_eq!(
            pick_of(Product::FargateGb { arm: false }),
            Some(usd("0.004445"))
        );
        assert_eq!(
            pick_of(Product::FargateGb { arm: true }),
            Some(usd("0.00356"))
        );
        // us-east-1's own names carry no prefix in some answers.
        let bare = [("Fargate-GB-Hours".to_string(), usd("0.004445"))];
        assert_eq!(
            pick(&Product::FargateGb { arm: false }, &bare),
            Some(usd("0.004445"))
        );
        let figures = [
            ("a".to_string(), usd("0.1")),
            ("b".to_string(), usd("0.3")),
            ("c".to_string(), Usd::ZERO),
        ];
        assert_eq!(pick(&ec2(Os::Linux), &figures), Some(usd("0.3")));
        assert_eq!(pick(&ec2(Os::Linux), &figures[2..]), None);
        assert_eq!(pick(&ec2(Os::Linux), &[]), None);
    }

    #[test]
    fn asks_for_exactly_the_products_attributes() {
        let (service, filters) = query("eu-west-1", &ec2(Os::Linux)).unwrap();
        assert_eq!(service, "AmazonEC2");
        let has = |f: &[(&str, String)], k: &str, v: &str| f.iter().any(|(a, b)| *a == k && b == v);
        for (k, v) in [
            ("regionCode", "eu-west-1"),
            ("instanceType", "t3.micro"),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
            ("preInstalledSw", "NA"),
            ("capacitystatus", "Used"),
            ("licenseModel", "No License required"),
        ] {
            assert!(has(&filters, k, v), "{k}={v} in {filters:?}");
        }
        // Windows includes its license: no license filter.
        let (_, windows) = query("eu-west-1", &ec2(Os::Windows)).unwrap();
        assert!(windows.iter().all(|(k, _)| *k != "licenseModel"));
        let rds = |engine: &str, multi_az| {
            query(
                "us-east-1",
                &Product::Rds {
                    class: "db.t3.micro".into(),
                    engine: engine.into(),
                    multi_az,
                },
            )
        };
        let (service, f) = rds("postgres", true).unwrap();
        assert_eq!(service, "AmazonRDS");
        assert!(has(&f, "databaseEngine", "PostgreSQL") && has(&f, "deploymentOption", "Multi-AZ"));
        let (_, f) = rds("oracle-se2", false).unwrap();
        assert!(
            has(&f, "databaseEdition", "Standard Two") && has(&f, "deploymentOption", "Single-AZ")
        );
        assert!(rds("custom-oracle-ee", false).is_none());
        let (service, f) = query(
            "us-east-1",
            &Product::SageMaker {
                instance_type: "ml.p3.2xlarge".into(),
                component: Component::Notebook,
            },
        )
        .unwrap();
        assert_eq!(service, "AmazonSageMaker");
        assert!(has(&f, "instanceName", "ml.p3.2xlarge") && has(&f, "component", "Notebook"));
        let (service, f) = query("us-east-1", &Product::FargateGb { arm: true }).unwrap();
        assert_eq!(service, "AmazonECS");
        assert!(has(&f, "regionCode", "us-east-1") && has(&f, "productFamily", "Compute"));
    }

    fn spot(instance_type: &str) -> Product {
        Product::Ec2 {
            instance_type: instance_type.into(),
            os: Os::Linux,
            tenancy: Tenancy::Shared,
            spot: true,
        }
    }

    /// A price list that answers every product with `price`.
    fn price_list(price: &'static str) -> aws_sdk_pricing::Client {
        use aws_sdk_pricing::operation::get_products::GetProductsOutput;
        let answer = mock!(aws_sdk_pricing::Client::get_products).then_output(move || {
            GetProductsOutput::builder()
                .price_list(doc("BoxUsage:g4dn.xlarge", "Hrs", price))
                .build()
        });
        mock_client!(aws_sdk_pricing, RuleMode::MatchAny, [&answer])
    }

    #[tokio::test]
    async fn a_spot_instance_is_priced_at_the_highest_zones_latest_figure() {
        use aws_sdk_ec2::operation::describe_spot_price_history::DescribeSpotPriceHistoryOutput;
        use aws_sdk_ec2::types::SpotPrice;
        let history = mock!(aws_sdk_ec2::Client::describe_spot_price_history).then_output(|| {
            DescribeSpotPriceHistoryOutput::builder()
                .spot_price_history(
                    SpotPrice::builder()
                        .availability_zone("us-east-1a")
                        .spot_price("0.1578")
                        .build(),
                )
                .spot_price_history(
                    SpotPrice::builder()
                        .availability_zone("us-east-1b")
                        .spot_price("0.2104")
                        .build(),
                )
                .build()
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&history]);
        let book = PriceBook::new(price_list("0.5260000000"));
        let wanted = [("us-east-1".to_string(), spot("g4dn.xlarge"))]
            .into_iter()
            .collect();
        let quotes = book.quote(&wanted, &|_| ec2.clone()).await;
        assert_eq!(
            quotes.get("us-east-1", &spot("g4dn.xlarge")),
            Some(Quote {
                per_hour: usd("0.2104"),
                basis: Basis::Spot
            })
        );
        assert!(quotes.notes.is_empty());
        // Asked once an hour: a second pricing asks nothing.
        book.quote(&wanted, &|_| ec2.clone()).await;
        assert_eq!(history.num_calls(), 1);
        assert_eq!(book.requests(), 0);
    }

    #[tokio::test]
    async fn without_its_history_a_spot_instance_costs_at_most_its_on_demand_price() {
        use aws_sdk_ec2::operation::describe_spot_price_history::DescribeSpotPriceHistoryError;
        let refused = mock!(aws_sdk_ec2::Client::describe_spot_price_history).then_error(|| {
            DescribeSpotPriceHistoryError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("not allowed")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&refused]);
        let book = PriceBook::new(price_list("0.5260000000"));
        let wanted = [("us-east-1".to_string(), spot("g4dn.xlarge"))]
            .into_iter()
            .collect();
        let quotes = book.quote(&wanted, &|_| ec2.clone()).await;
        assert_eq!(
            quotes.get("us-east-1", &spot("g4dn.xlarge")),
            Some(Quote {
                per_hour: usd("0.526"),
                basis: Basis::SpotUpperBound
            })
        );
        assert_eq!(quotes.notes.len(), 1, "{:?}", quotes.notes);
        assert!(
            quotes.notes[0].contains("ec2:DescribeSpotPriceHistory"),
            "{:?}",
            quotes.notes
        );
        // The on-demand figure is the price list's, asked once and kept.
        assert_eq!(book.requests(), 1);
        book.quote(&wanted, &|_| ec2.clone()).await;
        assert_eq!(book.requests(), 1);
    }
}
