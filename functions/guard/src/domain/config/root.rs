//! `ROOT_TRUSTED_CIDRS` and `ROOT_LOGIN_ACTION`: root-login-alert's settings.

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootAction {
    /// Alert only (default).
    Alert,
    /// Alert, and run the stop sweep after a successful sign-in from an untrusted address.
    Stop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RootConfig {
    pub trusted: Vec<crate::domain::cidr::Cidr>,
    pub action: RootAction,
}

impl RootConfig {
    /// Reads `ROOT_TRUSTED_CIDRS` and `ROOT_LOGIN_ACTION`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = lookup("ROOT_TRUSTED_CIDRS").unwrap_or_default();
        let trusted = crate::domain::cidr::parse_list(&raw).map_err(|_| ConfigError::Invalid {
            name: "ROOT_TRUSTED_CIDRS",
            value: raw.clone(),
            expected: "a comma list of CIDR ranges such as 198.51.100.0/24,2001:db8::/32, or empty",
        })?;
        let action = match lookup("ROOT_LOGIN_ACTION")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("alert") => RootAction::Alert,
            Some("stop") => RootAction::Stop,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOT_LOGIN_ACTION",
                    value: lookup("ROOT_LOGIN_ACTION").unwrap_or_default(),
                    expected: "`alert` (default) or `stop`",
                })
            }
        };
        Ok(RootConfig { trusted, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_config() {
        let c = RootConfig::from_lookup(&|_| None).unwrap();
        assert_eq!(c.action, RootAction::Alert);
        assert!(c.trusted.is_empty());
        let c = RootConfig::from_lookup(&|n| match n {
            "ROOT_TRUSTED_CIDRS" => Some("203.0.113.0/24, 2001:db8::/32".into()),
            "ROOT_LOGIN_ACTION" => Some("Stop".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.action, RootAction::Stop);
        assert_eq!(c.trusted.len(), 2);
        let err =
            RootConfig::from_lookup(&|n| (n == "ROOT_TRUSTED_CIDRS").then(|| "office".to_string()))
                .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("ROOT_TRUSTED_CIDRS=\"office\" is not valid"));
        let err =
            RootConfig::from_lookup(&|n| (n == "ROOT_LOGIN_ACTION").then(|| "kill".to_string()))
                .unwrap_err();
        assert!(err.to_string().contains("`alert` (default) or `stop`"));
    }
}
