//! What a costly instance costs an hour: a small built-in table of on-demand
//! Linux prices in us-east-1 for the families the tripwire watches, so an
//! alert can say what a launch was burning. Other regions cost more or less;
//! the alert says the figure is us-east-1's. Pure.

/// USD per hour, on demand, Linux, us-east-1 (AWS's public price list).
const HOURLY_USD: &[(&str, f64)] = &[
    ("p2.xlarge", 0.90),
    ("p2.8xlarge", 7.20),
    ("p2.16xlarge", 14.40),
    ("p3.2xlarge", 3.06),
    ("p3.8xlarge", 12.24),
    ("p3.16xlarge", 24.48),
    ("p3dn.24xlarge", 31.212),
    ("p4d.24xlarge", 32.7726),
    ("p4de.24xlarge", 40.9657),
    ("p5.48xlarge", 98.32),
    ("g4dn.xlarge", 0.526),
    ("g4dn.2xlarge", 0.752),
    ("g4dn.4xlarge", 1.204),
    ("g4dn.8xlarge", 2.176),
    ("g4dn.12xlarge", 3.912),
    ("g4dn.16xlarge", 4.352),
    ("g4dn.metal", 7.824),
    ("g5.xlarge", 1.006),
    ("g5.2xlarge", 1.212),
    ("g5.4xlarge", 1.624),
    ("g5.8xlarge", 2.448),
    ("g5.12xlarge", 5.672),
    ("g5.16xlarge", 4.096),
    ("g5.24xlarge", 8.144),
    ("g5.48xlarge", 16.288),
    ("g6.xlarge", 0.8048),
    ("g6.12xlarge", 4.6016),
    ("g6.48xlarge", 13.3504),
    ("inf1.xlarge", 0.228),
    ("inf2.xlarge", 0.7582),
    ("inf2.48xlarge", 12.9813),
    ("trn1.2xlarge", 1.3438),
    ("trn1.32xlarge", 21.50),
    ("dl1.24xlarge", 13.1090),
    ("f1.2xlarge", 1.65),
    ("f1.16xlarge", 13.20),
    ("x1.16xlarge", 6.669),
    ("x1.32xlarge", 13.338),
    ("x1e.32xlarge", 26.688),
    ("x2iedn.32xlarge", 26.676),
    ("u-6tb1.112xlarge", 54.60),
    ("m5.16xlarge", 3.072),
    ("m5.24xlarge", 4.608),
    ("c5.18xlarge", 3.06),
    ("c5.24xlarge", 4.08),
    ("r5.16xlarge", 4.032),
    ("r5.24xlarge", 6.048),
    ("m7i.48xlarge", 9.6768),
    ("c7i.48xlarge", 8.568),
    ("hpc7a.96xlarge", 7.20),
    // Small ones the demo and the tests launch, so their cost is known too.
    ("t3.micro", 0.0104),
    ("t3.small", 0.0208),
    ("m5.large", 0.096),
    // SageMaker real-time inference and notebook instances (the `ml.`
    // prefix), on demand, us-east-1, from AWS's SageMaker pricing page.
    ("ml.t2.medium", 0.056),
    ("ml.t3.medium", 0.05),
    ("ml.m5.large", 0.115),
    ("ml.m5.xlarge", 0.23),
    ("ml.g4dn.xlarge", 0.736),
    ("ml.g5.xlarge", 1.408),
    ("ml.p3.2xlarge", 3.825),
];

/// The on-demand hourly price of `instance_type` in us-east-1, when the table has it.
pub(crate) fn hourly_usd(instance_type: &str) -> Option<f64> {
    HOURLY_USD
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(instance_type))
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_types() {
        assert_eq!(hourly_usd("p3.2xlarge"), Some(3.06));
        assert_eq!(hourly_usd("P3.2XLARGE"), Some(3.06));
        assert_eq!(hourly_usd("p9.mega"), None);
        for (t, p) in HOURLY_USD {
            assert!(*p > 0.0 && *p < 200.0, "{t}");
        }
    }
}
