//! What a running resource is charged for by the hour: one or more products
//! of AWS's price list, each in some quantity. The adapters turn what they
//! list into a [`Running`]; the price book quotes each [`Product`] once per
//! region. Pure.

use serde::Serialize;

use super::usd::Usd;
use crate::domain::inventory::Resource;

/// An EC2 instance's operating system, as the price list tells them apart
/// (EC2's `PlatformDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Os {
    Linux,
    Windows,
    RedHat,
    Suse,
    /// Anything else (Windows with SQL Server, Ubuntu Pro...): priced only
    /// when the price list is asked for it by name, never from the table.
    Other(String),
}

impl Os {
    /// From EC2's `PlatformDetails` (`Linux/UNIX`, `Windows`, `Red Hat
    /// Enterprise Linux`, `SUSE Linux`); a missing one is Linux, EC2's
    /// default.
    pub fn from_platform(details: Option<&str>) -> Os {
        match details.map(str::trim) {
            None | Some("") | Some("Linux/UNIX") => Os::Linux,
            Some("Windows") => Os::Windows,
            Some("Red Hat Enterprise Linux") => Os::RedHat,
            Some("SUSE Linux") => Os::Suse,
            Some(other) => Os::Other(other.to_string()),
        }
    }

    /// The price list's `operatingSystem`.
    pub fn price_list_name(&self) -> &str {
        match self {
            Os::Linux => "Linux",
            Os::Windows => "Windows",
            Os::RedHat => "RHEL",
            Os::Suse => "SUSE",
            Os::Other(name) => name,
        }
    }

    /// The spot price history's `ProductDescription`.
    pub fn spot_product(&self) -> Option<&'static str> {
        match self {
            Os::Linux => Some("Linux/UNIX"),
            Os::Windows => Some("Windows"),
            Os::RedHat => Some("Red Hat Enterprise Linux"),
            Os::Suse => Some("SUSE Linux"),
            Os::Other(_) => None,
        }
    }
}

/// An EC2 instance's tenancy, as the price list names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Tenancy {
    Shared,
    Dedicated,
    Host,
}

impl Tenancy {
    /// From EC2's `Placement.Tenancy` (`default`, `dedicated`, `host`).
    pub fn from_placement(tenancy: Option<&str>) -> Tenancy {
        match tenancy {
            Some("dedicated") => Tenancy::Dedicated,
            Some("host") => Tenancy::Host,
            _ => Tenancy::Shared,
        }
    }

    pub fn price_list_name(self) -> &'static str {
        match self {
            Tenancy::Shared => "Shared",
            Tenancy::Dedicated => "Dedicated",
            Tenancy::Host => "Host",
        }
    }
}

/// What SageMaker charges an instance as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Component {
    Notebook,
    Hosting,
}

impl Component {
    pub fn price_list_name(self) -> &'static str {
        match self {
            Component::Notebook => "Notebook",
            Component::Hosting => "Hosting",
        }
    }
}

/// One product of the price list, in one region (the region is the price
/// book's key beside it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "product", rename_all = "kebab-case")]
pub enum Product {
    /// An EC2 instance hour; a spot instance is priced at the spot price.
    Ec2 {
        instance_type: String,
        os: Os,
        tenancy: Tenancy,
        spot: bool,
    },
    /// An RDS DB instance hour: class, engine (as RDS names it:
    /// `postgres`, `aurora-mysql`...), and whether it is Multi-AZ.
    Rds {
        class: String,
        engine: String,
        multi_az: bool,
    },
    SageMaker {
        instance_type: String,
        component: Component,
    },
    /// A Redshift node hour.
    Redshift { node_type: String },
    /// A Fargate vCPU hour.
    FargateVcpu { arm: bool },
    /// A Fargate hour of a GB of memory.
    FargateGb { arm: bool },
}

/// Per unit of a product, a quantity in 1,024ths: Fargate counts CPU in
/// 1,024ths of a vCPU and memory in MiB; everything else is `1024` per
/// instance or node.
pub const WHOLE: u64 = 1024;

/// A product and how much of it one resource runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    pub product: Product,
    /// In 1,024ths of the product's unit ([`WHOLE`] is one).
    pub quantity: u64,
}

impl Charge {
    /// `count` whole units.
    pub fn units(product: Product, count: u64) -> Charge {
        Charge {
            product,
            quantity: count.saturating_mul(WHOLE),
        }
    }
}

/// One running resource and what it is charged for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    /// The account, when the survey covered several.
    pub account: Option<String>,
    pub region: String,
    pub resource: Resource,
    /// How many instances, nodes or tasks it runs (what reports say).
    pub count: u64,
    pub charges: Vec<Charge>,
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// AWS's price list, for this region.
    PriceList,
    /// The spot price history's latest figure.
    Spot,
    /// A spot instance at its on-demand price: the most it can cost.
    SpotUpperBound,
    /// The built-in table (us-east-1's on-demand price): the price list
    /// could not be asked or had no figure.
    Table,
}

impl Basis {
    /// The footnote mark reports put after a price.
    pub fn mark(self) -> &'static str {
        match self {
            Basis::PriceList => "",
            Basis::Spot => " (spot)",
            Basis::SpotUpperBound => " (spot, at most)",
            Basis::Table => " (table)",
        }
    }
}

/// What one unit of a product costs an hour, and where the figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub per_hour: Usd,
    pub basis: Basis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_os_and_tenancy_ec2_reports_become_the_price_lists() {
        let os = |d: Option<&str>| Os::from_platform(d);
        assert_eq!(os(None), Os::Linux);
        assert_eq!(os(Some("Linux/UNIX")), Os::Linux);
        assert_eq!(os(Some("Windows")), Os::Windows);
        assert_eq!(os(Some("Red Hat Enterprise Linux")), Os::RedHat);
        assert_eq!(os(Some("SUSE Linux")), Os::Suse);
        let sql = os(Some("Windows with SQL Server Enterprise"));
        assert_eq!(sql, Os::Other("Windows with SQL Server Enterprise".into()));
        let all = [Os::Linux, Os::Windows, Os::RedHat, Os::Suse, sql.clone()];
        let names: Vec<&str> = all.iter().map(|o| o.price_list_name()).collect();
        assert_eq!(
            names,
            [
                "Linux",
                "Windows",
                "RHEL",
                "SUSE",
                "Windows with SQL Server Enterprise"
            ]
        );
        assert_eq!(Os::Suse.spot_product(), Some("SUSE Linux"));
        assert_eq!(Os::Windows.spot_product(), Some("Windows"));
        assert_eq!(sql.spot_product(), None);
        assert_eq!(Tenancy::from_placement(None), Tenancy::Shared);
        assert_eq!(Tenancy::from_placement(Some("default")), Tenancy::Shared);
        assert_eq!(
            Tenancy::from_placement(Some("dedicated")),
            Tenancy::Dedicated
        );
        assert_eq!(
            Tenancy::from_placement(Some("host")).price_list_name(),
            "Host"
        );
    }

    #[test]
    fn sagemakers_components_as_the_price_list_names_them() {
        assert_eq!(Component::Notebook.price_list_name(), "Notebook");
        assert_eq!(Component::Hosting.price_list_name(), "Hosting");
    }
}
