//! CIDR ranges (`198.51.100.0/24`, `2001:db8::/32`) and membership. Pure.

use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            (IpAddr::V6(_), IpAddr::V4(v4)) => self.contains(IpAddr::V6(v4.to_ipv6_mapped())),
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parses `a.b.c.d/n` or `v6::/n`; a bare address is a single host.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a prefix length that is not 0 to {max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

/// Parses a comma list of ranges; empty means none.
pub(crate) fn parse_list(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Cidr::from_str)
        .collect()
}

/// The first range that holds `ip`.
pub fn find(ranges: &[Cidr], ip: &str) -> Option<Cidr> {
    let ip: IpAddr = ip.trim().parse().ok()?;
    ranges.iter().copied().find(|r| r.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let r = parse_list("198.51.100.0/24, 2001:db8::/32,203.0.113.7").unwrap();
        assert_eq!(find(&r, "198.51.100.23"), Some(r[0]));
        assert_eq!(find(&r, "198.51.101.1"), None);
        assert_eq!(find(&r, "2001:db8:1::5"), Some(r[1]));
        assert_eq!(find(&r, "203.0.113.7"), Some(r[2]));
        assert_eq!(find(&r, "203.0.113.8"), None);
        assert_eq!(find(&r, "::ffff:198.51.100.9"), Some(r[0]));
        assert_eq!(find(&r, "AWS Internal"), None);
        assert!(find(&parse_list("0.0.0.0/0").unwrap(), "8.8.8.8").is_some());
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn bad_ranges_are_named() {
        assert!(parse_list("10.0.0.0/33")
            .unwrap_err()
            .contains("10.0.0.0/33"));
        assert!(parse_list("office").unwrap_err().contains("office"));
        assert!(parse_list("::/129").is_err());
    }
}
