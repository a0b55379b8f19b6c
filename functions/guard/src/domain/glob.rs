//! Glob patterns, as the tripwire's settings write them: `*` stands for any run
//! of characters (none included), `?` for exactly one, everything else for
//! itself. Instance types compare without regard to case; ARNs exactly, as
//! IAM's `ArnLike` does. Pure.
//!
//! Written here rather than taken from a crate: the glob crates match file
//! paths (`*` stops at `/`, `[...]` is a class, `**` crosses directories),
//! and an ARN pattern such as `arn:aws:sts::123456789012:assumed-role/ci/*`
//! must mean exactly what IAM makes of it, no more. It is one loop, linear
//! in both lengths, and the `settings` fuzz target checks it against a plain
//! recursive matcher on every input (`fuzzing::glob_agrees`).

/// One pattern, checked when the setting is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    ignore_case: bool,
}

impl Glob {
    pub(crate) fn new(pattern: &str, ignore_case: bool) -> Glob {
        Glob {
            pattern: if ignore_case {
                pattern.to_ascii_lowercase()
            } else {
                pattern.to_string()
            },
            ignore_case,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` matches the whole pattern. Linear in both lengths: the
    /// last `*` seen is the only point it backs up to.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = if self.ignore_case {
            text.to_ascii_lowercase().chars().collect()
        } else {
            text.chars().collect()
        };
        let pat: Vec<char> = self.pattern.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            // A `*` in the pattern is always the wildcard, even against a
            // `*` in the text.
            if p < pat.len() && pat[p] == '*' {
                star = Some((p, t));
                p += 1;
            } else if p < pat.len() && (pat[p] == '?' || pat[p] == text[t]) {
                p += 1;
                t += 1;
            } else if let Some((sp, st)) = star {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        pat[p..].iter().all(|&c| c == '*')
    }
}

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// The first pattern of `patterns` that `text` matches.
pub(crate) fn first_match<'a>(patterns: &'a [Glob], text: &str) -> Option<&'a Glob> {
    patterns.iter().find(|g| g.matches(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_reads_back_as_it_is_matched() {
        assert_eq!(Glob::new("P3.*", true).as_str(), "p3.*");
        assert_eq!(
            Glob::new("arn:*:user/CI-*", false).as_str(),
            "arn:*:user/CI-*"
        );
        assert_eq!(Glob::new("P3.*", true).to_string(), "p3.*");
    }

    /// Cases where a linear matcher goes wrong if it backs up to the wrong
    /// place, or treats `?` and `*` at the ends carelessly: each agrees with
    /// the recursive reference the fuzz target uses.
    #[test]
    fn agrees_with_the_reference_where_backtracking_matters() {
        for (pattern, text) in [
            ("*a*b", "aaab"),
            ("*a*b", "aaba"),
            ("a*?b", "ab"),
            ("a*?b", "axb"),
            ("*?", ""),
            ("**", ""),
            ("?*?", "x"),
            ("p*.*xlarge", "p4d.24xlarge"),
            ("P*", "p3.2xlarge"),
            ("arn:*:user/ci-*", "arn:aws:iam::1:user/ci-deploy"),
            ("*ab*ab", "abab"),
            ("*ab*ab", "aabab"),
            // A star in the text is no reason to stop being one.
            ("**", "**x"),
            ("arn:aws:iam::1:user/ci-*", "arn:aws:iam::1:user/ci-*x"),
        ] {
            crate::domain::fuzzing::glob_agrees(pattern, text);
        }
    }

    #[test]
    fn stars_and_question_marks() {
        let g = |p: &str| Glob::new(p, true);
        assert!(g("p*").matches("p3.2xlarge"));
        assert!(g("p*").matches("p"));
        assert!(!g("p*").matches("m5.large"));
        assert!(g("*.16xlarge").matches("m5.16xlarge"));
        assert!(!g("*.16xlarge").matches("m5.16xlarge2"));
        assert!(g("*.metal*").matches("i3.metal"));
        assert!(g("*.metal*").matches("m7i.metal-24xl"));
        assert!(g("g?dn.*").matches("g4dn.xlarge"));
        assert!(!g("g?dn.*").matches("g44dn.xlarge"));
        assert!(g("*").matches(""));
        assert!(g("a*b*c").matches("aXXbYYc"));
        assert!(g("a*b*c").matches("abc"));
        assert!(!g("a*b*c").matches("acb"));
        assert!(g("P3.*").matches("p3.8XLARGE"), "types ignore case");
        assert!(!g("").matches("x"));
        assert!(g("").matches(""));
    }

    #[test]
    fn arns_compare_exactly() {
        let g = Glob::new("arn:aws:iam::123456789012:user/ci-*", false);
        assert!(g.matches("arn:aws:iam::123456789012:user/ci-deployer"));
        assert!(!g.matches("arn:aws:iam::123456789012:user/CI-deployer"));
        assert!(!g.matches("arn:aws:iam::999999999999:user/ci-deployer"));
    }

    #[test]
    fn backtracking_stays_linear() {
        // The classic blow-up for naive recursive matchers.
        let g = Glob::new(&format!("{}c", "a*".repeat(50)), true);
        assert!(!g.matches(&format!("{}b", "a".repeat(5_000))));
        assert!(g.matches(&format!("{}c", "a".repeat(5_000))));
    }
}
