//! The built-in table of on-demand prices: what the burn rate falls back to
//! when AWS's price list cannot be asked or has no figure, and what the
//! tripwire's alert quotes for a costly launch. Every figure is us-east-1's
//! hourly on-demand price in US dollars, as AWS published it on its pricing
//! pages ([`TABLE_DATE`]); other regions cost more or less, so a report
//! marks every figure taken from here. Exact decimals, read with
//! [`Usd::parse`]. Pure.

use crate::domain::burn::usage::{Component, Os, Product, Tenancy};
use crate::domain::burn::usd::Usd;

/// When the figures were read from AWS's pricing pages.
pub const TABLE_DATE: &str = "2024";

/// Where they come from, as reports say it.
pub const TABLE_SOURCE: &str =
    "us-east-1 on-demand prices from AWS's pricing pages (2024), built into cost-guard";

/// EC2 instances (Linux, shared tenancy; from the EC2 On-Demand pricing
/// page), and SageMaker's `ml.` instances (notebook and real-time
/// inference, from the SageMaker pricing page).
const EC2_AND_ML: &[(&str, &str)] = &[
    ("p2.xlarge", "0.90"),
    ("p2.8xlarge", "7.20"),
    ("p2.16xlarge", "14.40"),
    ("p3.2xlarge", "3.06"),
    ("p3.8xlarge", "12.24"),
    ("p3.16xlarge", "24.48"),
    ("p3dn.24xlarge", "31.212"),
    ("p4d.24xlarge", "32.7726"),
    ("p4de.24xlarge", "40.9657"),
    ("p5.48xlarge", "98.32"),
    ("g4dn.xlarge", "0.526"),
    ("g4dn.2xlarge", "0.752"),
    ("g4dn.4xlarge", "1.204"),
    ("g4dn.8xlarge", "2.176"),
    ("g4dn.12xlarge", "3.912"),
    ("g4dn.16xlarge", "4.352"),
    ("g4dn.metal", "7.824"),
    ("g5.xlarge", "1.006"),
    ("g5.2xlarge", "1.212"),
    ("g5.4xlarge", "1.624"),
    ("g5.8xlarge", "2.448"),
    ("g5.12xlarge", "5.672"),
    ("g5.16xlarge", "4.096"),
    ("g5.24xlarge", "8.144"),
    ("g5.48xlarge", "16.288"),
    ("g6.xlarge", "0.8048"),
    ("g6.12xlarge", "4.6016"),
    ("g6.48xlarge", "13.3504"),
    ("inf1.xlarge", "0.228"),
    ("inf2.xlarge", "0.7582"),
    ("inf2.48xlarge", "12.9813"),
    ("trn1.2xlarge", "1.3438"),
    ("trn1.32xlarge", "21.50"),
    ("dl1.24xlarge", "13.1090"),
    ("f1.2xlarge", "1.65"),
    ("f1.16xlarge", "13.20"),
    ("x1.16xlarge", "6.669"),
    ("x1.32xlarge", "13.338"),
    ("x1e.32xlarge", "26.688"),
    ("x2iedn.32xlarge", "26.676"),
    ("u-6tb1.112xlarge", "54.60"),
    ("m5.16xlarge", "3.072"),
    ("m5.24xlarge", "4.608"),
    ("c5.18xlarge", "3.06"),
    ("c5.24xlarge", "4.08"),
    ("r5.16xlarge", "4.032"),
    ("r5.24xlarge", "6.048"),
    ("m7i.48xlarge", "9.6768"),
    ("c7i.48xlarge", "8.568"),
    ("hpc7a.96xlarge", "7.20"),
    // The general-purpose types most accounts run.
    ("t3.micro", "0.0104"),
    ("t3.small", "0.0208"),
    ("m5.large", "0.096"),
    ("t2.nano", "0.0058"),
    ("t2.micro", "0.0116"),
    ("t2.small", "0.023"),
    ("t2.medium", "0.0464"),
    ("t2.large", "0.0928"),
    ("t2.xlarge", "0.1856"),
    ("t3.nano", "0.0052"),
    ("t3.medium", "0.0416"),
    ("t3.large", "0.0832"),
    ("t3.xlarge", "0.1664"),
    ("t4g.micro", "0.0084"),
    ("t4g.small", "0.0168"),
    ("t4g.medium", "0.0336"),
    ("m5.xlarge", "0.192"),
    ("m5.2xlarge", "0.384"),
    ("m6i.large", "0.096"),
    ("c5.large", "0.085"),
    ("c5.xlarge", "0.17"),
    ("r5.large", "0.126"),
    // SageMaker real-time inference and notebook instances (the `ml.`
    // prefix), on demand, us-east-1, from AWS's SageMaker pricing page.
    ("ml.t2.medium", "0.056"),
    ("ml.t3.medium", "0.05"),
    ("ml.m5.large", "0.115"),
    ("ml.m5.xlarge", "0.23"),
    ("ml.g4dn.xlarge", "0.736"),
    ("ml.g5.xlarge", "1.408"),
    ("ml.p3.2xlarge", "3.825"),
];

/// RDS for MySQL, PostgreSQL and MariaDB, Single-AZ (from the RDS pricing
/// pages; the three engines cost the same per class). Multi-AZ is twice the
/// Single-AZ price for these engines.
const RDS_OPEN_SOURCE: &[(&str, &str)] = &[
    ("db.t3.micro", "0.017"),
    ("db.t3.small", "0.034"),
    ("db.t3.medium", "0.068"),
    ("db.t3.large", "0.136"),
    ("db.t4g.micro", "0.016"),
    ("db.t4g.small", "0.032"),
    ("db.t4g.medium", "0.065"),
    ("db.m5.large", "0.171"),
    ("db.m5.xlarge", "0.342"),
    ("db.m6g.large", "0.152"),
    ("db.r5.large", "0.25"),
    ("db.r5.xlarge", "0.50"),
    ("db.r6g.large", "0.225"),
];

/// Redshift, per node (from the Redshift pricing page).
const REDSHIFT: &[(&str, &str)] = &[
    ("dc2.large", "0.25"),
    ("dc2.8xlarge", "4.80"),
    ("ra3.xlplus", "1.086"),
    ("ra3.4xlarge", "3.26"),
    ("ra3.16xlarge", "13.04"),
];

/// Fargate, Linux: per vCPU hour and per GB hour, x86 then ARM (from the
/// Fargate pricing page).
const FARGATE_VCPU: [&str; 2] = ["0.04048", "0.03238"];
const FARGATE_GB: [&str; 2] = ["0.004445", "0.00356"];

fn find(table: &[(&str, &'static str)], name: &str) -> Option<Usd> {
    table
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(name))
        .and_then(|(_, p)| Usd::parse(p))
}

/// The table's hourly price of `product`, when it has one. A spot
/// instance gets its on-demand price (the most it can cost); an operating
/// system other than Linux, or a tenancy other than shared, has none here.
pub fn table_price(product: &Product) -> Option<Usd> {
    match product {
        Product::Ec2 {
            instance_type,
            os: Os::Linux,
            tenancy: Tenancy::Shared,
            ..
        } => find(EC2_AND_ML, instance_type).filter(|_| !instance_type.starts_with("ml.")),
        Product::Ec2 { .. } => None,
        Product::Rds {
            class,
            engine,
            multi_az,
        } => {
            if !matches!(engine.as_str(), "mysql" | "postgres" | "mariadb") {
                return None;
            }
            let single = find(RDS_OPEN_SOURCE, class)?;
            Some(if *multi_az {
                single.times(2, 1)
            } else {
                single
            })
        }
        Product::SageMaker {
            instance_type,
            component: Component::Notebook | Component::Hosting,
        } => find(EC2_AND_ML, instance_type).filter(|_| instance_type.starts_with("ml.")),
        Product::Redshift { node_type } => find(REDSHIFT, node_type),
        Product::FargateVcpu { arm } => Usd::parse(FARGATE_VCPU[usize::from(*arm)]),
        Product::FargateGb { arm } => Usd::parse(FARGATE_GB[usize::from(*arm)]),
    }
}

/// The on-demand hourly price of an EC2 or SageMaker `instance_type` in
/// us-east-1, when the table has it (the tripwire's alert).
pub(crate) fn hourly_usd(instance_type: &str) -> Option<f64> {
    // Display only: the alert prints it rounded to the cent.
    find(EC2_AND_ML, instance_type).map(|p| p.nanos() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2(t: &str, os: Os, tenancy: Tenancy, spot: bool) -> Product {
        Product::Ec2 {
            instance_type: t.into(),
            os,
            tenancy,
            spot,
        }
    }

    #[test]
    fn known_and_unknown_types() {
        assert_eq!(hourly_usd("p3.2xlarge"), Some(3.06));
        assert_eq!(hourly_usd("P3.2XLARGE"), Some(3.06));
        assert_eq!(hourly_usd("p9.mega"), None);
    }

    #[test]
    fn every_figure_is_a_price() {
        let all = EC2_AND_ML
            .iter()
            .chain(RDS_OPEN_SOURCE)
            .chain(REDSHIFT)
            .map(|(_, p)| *p)
            .chain(FARGATE_VCPU)
            .chain(FARGATE_GB);
        for p in all {
            let usd = Usd::parse(p).unwrap_or_else(|| panic!("{p}"));
            assert!(usd > Usd::ZERO && usd < Usd::dollars(200), "{p}");
        }
    }

    #[test]
    fn prices_products_it_knows_and_no_others() {
        let t2 = |os, tenancy, spot| table_price(&ec2("t2.large", os, tenancy, spot));
        assert_eq!(t2(Os::Linux, Tenancy::Shared, false), Usd::parse("0.0928"));
        assert_eq!(t2(Os::Linux, Tenancy::Shared, true), Usd::parse("0.0928"));
        assert_eq!(t2(Os::Windows, Tenancy::Shared, false), None);
        assert_eq!(t2(Os::Linux, Tenancy::Dedicated, false), None);
        // An ml. type is SageMaker's, not an EC2 instance's, and back.
        assert_eq!(
            table_price(&ec2("ml.p3.2xlarge", Os::Linux, Tenancy::Shared, false)),
            None
        );
        let sm = |t: &str| {
            table_price(&Product::SageMaker {
                instance_type: t.into(),
                component: Component::Notebook,
            })
        };
        assert_eq!(sm("ml.p3.2xlarge"), Usd::parse("3.825"));
        assert_eq!(sm("p3.2xlarge"), None);
        let db = |engine: &str, multi_az| {
            table_price(&Product::Rds {
                class: "db.t3.micro".into(),
                engine: engine.into(),
                multi_az,
            })
        };
        assert_eq!(db("postgres", false), Usd::parse("0.017"));
        assert_eq!(db("mysql", true), Usd::parse("0.034"));
        assert_eq!(db("oracle-ee", false), None);
        assert_eq!(db("aurora-postgresql", false), None);
        assert_eq!(
            table_price(&Product::Redshift {
                node_type: "dc2.large".into()
            }),
            Usd::parse("0.25")
        );
        assert_eq!(
            table_price(&Product::FargateVcpu { arm: true }),
            Usd::parse("0.03238")
        );
        assert_eq!(
            table_price(&Product::FargateGb { arm: false }),
            Usd::parse("0.004445")
        );
    }
}
