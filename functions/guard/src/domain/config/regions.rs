//! `REGIONS`: which regions a sweep covers.

use super::ConfigError;

/// Which regions a sweep covers.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionScope {
    /// The regions enabled for the account, as `DescribeRegions` reports them.
    AllEnabled,
    /// Exactly these regions.
    List(Vec<String>),
}

/// Reads `REGIONS`: `all` or a comma list of region names.
pub fn regions_from(value: Option<String>) -> Result<RegionScope, ConfigError> {
    let raw = value.unwrap_or_default();
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("all") {
        return Ok(RegionScope::AllEnabled);
    }
    let mut regions: Vec<String> = Vec::new();
    for part in trimmed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !is_region_name(part) {
            return Err(ConfigError::Invalid {
                name: "REGIONS",
                value: raw.clone(),
                expected: "`all` or a comma list of region names such as us-east-1,eu-west-1",
            });
        }
        if !regions.iter().any(|r| r == part) {
            regions.push(part.to_string());
        }
    }
    if regions.is_empty() {
        return Ok(RegionScope::AllEnabled);
    }
    Ok(RegionScope::List(regions))
}

/// A region name: lowercase letters, digits and dashes, with at least two dashes
/// (`us-east-1`, `us-gov-west-1`, `ap-southeast-5`).
pub(crate) fn is_region_name(name: &str) -> bool {
    (6..=32).contains(&name.len())
        && name.matches('-').count() >= 2
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().last().is_some_and(|c| c.is_ascii_digit())
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "ap-southeast-5",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us_east_1",
            "-us-east-1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }
}
