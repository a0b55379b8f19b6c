//! An Amazon Resource Name, parsed once instead of split by hand wherever a
//! field is needed. Pure.
//!
//! `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`; the resource part may
//! itself hold colons (`db:NAME`, `function:NAME`), so it is the rest of the
//! text after the fifth colon.

/// The parts of an ARN, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    /// Empty for global services (IAM).
    pub region: &'a str,
    /// Empty for some AWS-owned resources (`arn:aws:iam::aws:policy/...` has
    /// `aws` here).
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// The parts of `text`, or `None` when it is not an ARN: it must start
    /// with `arn:`, name a partition and a service, and have all six parts.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }

    /// The account, when it is a 12-digit account id.
    pub fn account_id(&self) -> Option<&'a str> {
        Some(self.account).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_twelve_digits_or_nothing() {
        let account = |a: &str| {
            Arn::parse(&format!("arn:aws:ec2:eu-west-1:{a}:instance/i-1"))
                .unwrap()
                .account_id()
                .map(str::to_string)
        };
        assert_eq!(account("123456789012"), Some("123456789012".into()));
        assert_eq!(account("12345678901"), None);
        assert_eq!(account("1234567890123"), None);
        assert_eq!(account("12345678901a"), None);
        assert_eq!(account(""), None);
    }

    #[test]
    fn parts_of_an_arn() {
        let a = Arn::parse("arn:aws:rds:eu-west-1:123456789012:db:orders").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            ("aws", "rds", "eu-west-1", "123456789012", "db:orders")
        );
        assert_eq!(a.account_id(), Some("123456789012"));
        let iam = Arn::parse("arn:aws-cn:iam::aws:policy/AWSDenyAll").unwrap();
        assert_eq!((iam.partition, iam.region), ("aws-cn", ""));
        assert_eq!(iam.account_id(), None);
        let f =
            Arn::parse("arn:aws:lambda:us-east-1:123456789012:function:cost-guard-resume").unwrap();
        assert_eq!(f.resource, "function:cost-guard-resume");
    }

    #[test]
    fn what_is_not_an_arn() {
        for bad in [
            "",
            "arn",
            "arn:aws:sns:us-east-1:123456789012",
            "urn:aws:sns:us-east-1:123456789012:t",
            "arn::sns:us-east-1:123456789012:t",
            "arn:aws::us-east-1:123456789012:t",
            "my-topic",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }
}
