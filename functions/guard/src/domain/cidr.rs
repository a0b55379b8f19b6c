//! CIDR ranges (`198.51.100.0/24`, `2001:db8::/32`) and membership, on
//! `ipnet`'s network type. Pure.

use std::net::IpAddr;

/// A range of addresses; a bare address is a single host.
pub(crate) type Cidr = ipnet::IpNet;

/// Parses `a.b.c.d/n`, `v6::/n`, or a bare address (a single host).
fn parse(text: &str) -> Result<Cidr, String> {
    let s = text.trim();
    if let Ok(net) = s.parse::<Cidr>() {
        return Ok(net);
    }
    match s.parse::<IpAddr>() {
        Ok(host) => Ok(Cidr::from(host)),
        Err(_) if s.contains('/') => Err(format!(
            "`{s}` is not a CIDR range (an address and a prefix length of 0 to 32, or 0 to 128 for IPv6)"
        )),
        Err(_) => Err(format!("`{s}` is not an IP address or CIDR range")),
    }
}

/// Parses a comma list of ranges; empty means none.
pub(crate) fn parse_list(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse)
        .collect()
}

/// Whether `range` holds `ip`, also when one is IPv4 and the other an
/// IPv4-mapped IPv6 address (`::ffff:198.51.100.9`), as CloudTrail may write
/// a sign-in's source.
fn holds(range: &Cidr, ip: IpAddr) -> bool {
    match (range, ip) {
        (Cidr::V4(_), IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .is_some_and(|v4| range.contains(&IpAddr::V4(v4))),
        (Cidr::V6(_), IpAddr::V4(v4)) => range.contains(&IpAddr::V6(v4.to_ipv6_mapped())),
        _ => range.contains(&ip),
    }
}

/// The first range that holds `ip`.
pub fn find(ranges: &[Cidr], ip: &str) -> Option<Cidr> {
    let ip: IpAddr = ip.trim().parse().ok()?;
    ranges.iter().copied().find(|r| holds(r, ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_whether_a_range_or_an_address_was_meant() {
        let err = parse_list("198.51.100.0/33").unwrap_err();
        assert!(err.contains("is not a CIDR range"), "{err}");
        let err = parse_list("198.51.100.300").unwrap_err();
        assert!(err.contains("is not an IP address or CIDR range"), "{err}");
    }

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
        // An IPv6 range written for mapped addresses holds the IPv4 address.
        let mapped = parse_list("::ffff:198.51.100.0/120").unwrap();
        assert_eq!(find(&mapped, "198.51.100.9"), Some(mapped[0]));
        // A range prints as it parses back.
        assert_eq!(r[2].to_string(), "203.0.113.7/32");
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
