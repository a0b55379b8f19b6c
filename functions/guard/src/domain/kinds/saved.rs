//! What cost-guard saves, before a stop, of a resource that has no stopped
//! state of its own (an Auto Scaling group, an ECS service): `key=value`
//! pairs separated by spaces, in one tag value. Keys are lowercase words,
//! values counts or words joined by `+`: within the tag alphabet of every
//! service (ECS allows only letters, digits, spaces and `+-=._:/@`). Pure.
//!
//! Anyone who may tag the resource may write that tag, so the guard seals
//! what it writes: `at=` the stop's time in unix seconds, then `mac=` and
//! the hexadecimal HMAC, made by KMS with the stack's key, of the
//! resource's ARN, the stop's trigger and the pairs before it
//! ([`seal_message`]). Resume acts only on a saved state whose seal KMS
//! verifies for the stamp the resource carries, and a stop keeps an earlier
//! saved state (a retry) only when it is this alert's; a forged, copied,
//! replayed or unsealed one is refused.

use std::collections::BTreeMap;

use crate::domain::inventory::Tags;
use crate::domain::tags::SAVED_TAG;

/// A saved state, read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Saved(BTreeMap<String, String>);

/// The state of a resource whose stop is a count set to 0 (a service, a
/// node group), from its tags and whether it `wants` capacity now:
/// `stopped` once stamped at 0, or while a resume that did not finish is
/// marked on it; `running` while it wants capacity; `stopping` when a stop
/// saved it but was cut short before the stamp; else `empty`.
pub(crate) fn state_of(tags: &Tags, wants: bool) -> &'static str {
    match crate::domain::resume::stamp_of(tags) {
        Some(s) if s.resuming => "stopped",
        _ if wants => "running",
        Some(_) => "stopped",
        None if crate::domain::inventory::tag(tags, SAVED_TAG).is_some() => "stopping",
        None => "empty",
    }
}

/// The key of the seal's pair.
const SEAL_KEY: &str = "mac";

/// What the seal of `value` on the resource `arn`, written by the stop
/// `by`, is made over: the ARN binds it to that one resource (a sealed tag
/// copied onto another does not open there), the trigger to that stop (a
/// rewritten `stopped-by` does not open it). Each field is preceded by its
/// length, so none can run into the next.
pub(crate) fn seal_message(arn: &str, by: &str, value: &str) -> Vec<u8> {
    format!(
        "{SAVED_TAG}\n{}:{arn}\n{}:{by}\n{value}",
        arn.len(),
        by.len()
    )
    .into_bytes()
}

/// `value` with its seal `mac` appended.
pub(crate) fn sealed(value: &str, mac: &[u8]) -> String {
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("{value} {SEAL_KEY}={hex}")
}

/// A sealed tag value's pairs and its seal; `None` when it has no seal or
/// the seal is not hexadecimal bytes.
pub(crate) fn unseal(value: &str) -> Option<(&str, Vec<u8>)> {
    let (pairs, hex) = value.rsplit_once(&format!(" {SEAL_KEY}="))?;
    if hex.is_empty() || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mac = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .ok()?;
    Some((pairs, mac))
}

/// Writes pairs as one tag value.
pub(crate) fn encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a tag value back. Anyone who may tag the resource may write it, so
/// anything but exactly the format above is refused, with what is wrong.
pub(crate) fn parse(value: Option<&str>) -> Result<Saved, String> {
    let Some(value) = value else {
        return Err(format!(
            "it has no {SAVED_TAG} tag, so what it was before the stop is unknown; start it by hand"
        ));
    };
    let damaged = |why: &str| {
        Err(format!(
            "its {SAVED_TAG} tag ({value:?}) cannot be read ({why}), so what it was before the stop is unknown; start it by hand"
        ))
    };
    let mut map = BTreeMap::new();
    for pair in value.split(' ').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return damaged("a part without =");
        };
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+');
        if !word(k) || !word(v) {
            return damaged("a part that is not key=value");
        }
        if k == SEAL_KEY {
            // The seal is checked by the adapter, before anything is read.
            continue;
        }
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return damaged("a key given twice");
        }
    }
    Ok(Saved(map))
}

impl Saved {
    /// A word value.
    pub(crate) fn word(&self, key: &str) -> Result<&str, String> {
        self.0.get(key).map(String::as_str).ok_or_else(|| {
            format!("its {SAVED_TAG} tag has no {key}, so what it was before the stop is unknown; start it by hand")
        })
    }

    /// A count: a whole number from 0 to `i32::MAX`.
    pub(crate) fn count(&self, key: &str) -> Result<i32, String> {
        let v = self.word(key)?;
        v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            format!("its {SAVED_TAG} tag says {key}={v}, which is not a count; start it by hand")
        })
    }

    /// A count, if it was saved.
    pub(crate) fn optional_count(&self, key: &str) -> Result<Option<i32>, String> {
        match self.0.contains_key(key) {
            true => self.count(key).map(Some),
            false => Ok(None),
        }
    }

    /// Words joined by `+`; `none` for an empty list.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<&str>, String> {
        Ok(match self.word(key)? {
            "none" => Vec::new(),
            v => v.split('+').filter(|s| !s.is_empty()).collect(),
        })
    }
}

/// Words joined by `+`, `none` for none.
pub(crate) fn list_value<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::state_of;

    #[test]
    fn a_stamped_resource_that_wants_capacity_again_is_running_unless_resume_is_under_way() {
        use crate::domain::kinds::fixtures::tags;
        use crate::domain::tags::{RESUMING_TAG, SAVED_TAG, STOPPED_AT_TAG};
        let stamped = tags(&[(STOPPED_AT_TAG, "2026-12-04T10:00:00Z")]);
        assert_eq!(state_of(&stamped, false), "stopped");
        assert_eq!(state_of(&stamped, true), "running");
        let resuming = tags(&[(RESUMING_TAG, "2026-12-04T10:00:00Z budget:b")]);
        assert_eq!(state_of(&resuming, true), "stopped");
        assert_eq!(
            state_of(&tags(&[(SAVED_TAG, "desired=2")]), false),
            "stopping"
        );
        assert_eq!(state_of(&tags(&[]), false), "empty");
    }
    use super::*;

    #[test]
    fn round_trip() {
        let v = encode(&[
            ("desired", "3".into()),
            ("ours", list_value(&["Launch", "HealthCheck"])),
            ("kept", list_value::<&str>(&[])),
        ]);
        assert_eq!(v, "desired=3 ours=Launch+HealthCheck kept=none");
        let s = parse(Some(&v)).unwrap();
        assert_eq!(s.count("desired"), Ok(3));
        assert_eq!(s.list("ours").unwrap(), ["Launch", "HealthCheck"]);
        assert!(s.list("kept").unwrap().is_empty());
        assert_eq!(s.optional_count("min"), Ok(None));
    }

    #[test]
    fn a_seal_is_appended_read_back_and_ignored_by_the_pairs() {
        let value = sealed("desired=3", &[0x00, 0xab, 0x7f]);
        assert_eq!(value, "desired=3 mac=00ab7f");
        assert_eq!(unseal(&value), Some(("desired=3", vec![0x00, 0xab, 0x7f])));
        assert_eq!(parse(Some(&value)).unwrap().count("desired"), Ok(3));
        for bad in [
            "desired=3",
            "desired=3 mac=",
            "desired=3 mac=abc",
            "desired=3 mac=zz",
        ] {
            assert_eq!(unseal(bad), None, "{bad}");
        }
        // The message names the resource, so a seal opens on that one only.
        let m = |arn, by, value| seal_message(arn, by, value);
        assert_ne!(
            m("arn:a", "budget:x", "desired=3"),
            m("arn:b", "budget:x", "desired=3")
        );
        assert_ne!(
            m("arn:a", "budget:x", "desired=3"),
            m("arn:a", "tripwire:x", "desired=3")
        );
        assert_ne!(
            m("arn:a", "budget:x", "desired=3"),
            m("arn:a", "budget:x", "desired=4")
        );
        // No field can run into the next.
        assert_ne!(m("arn:a", "b\nc", "d"), m("arn:a", "b", "c\nd"));
        assert_ne!(m("a\nb", "c", "d"), m("a", "b\nc", "d"));
    }

    #[test]
    fn damage_is_refused_with_what_is_wrong() {
        assert!(parse(None)
            .unwrap_err()
            .contains("has no cost-guard:saved tag"));
        for bad in [
            "desired",
            "desired=3 desired=4",
            "desired=$(rm)",
            "=3",
            "a=b=c",
            "desired=-1",
        ] {
            let err = parse(Some(bad)).unwrap_err();
            assert!(err.contains("cannot be read"), "{bad}: {err}");
        }
        let s = parse(Some("max=x min=99999999999")).unwrap();
        for key in ["max", "min"] {
            assert!(s.count(key).unwrap_err().contains("not a count"), "{key}");
        }
        assert!(s.count("absent").unwrap_err().contains("has no absent"));
    }
}
