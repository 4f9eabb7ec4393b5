//! The trust bundle: everything a gate needs to decide offline.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use roaring::RoaringTreemap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::{IssuerKey, KeyId};
use crate::pass::{CheckpointId, EnterpriseId, PassClass, PassNumber};
use crate::time::UnixSeconds;

/// The exact set of revoked pass numbers, as a compressed bitmap: no false positives, and a
/// million numbers of one area take a few hundred kilobytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevocationSet(RoaringTreemap);

impl RevocationSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, n: PassNumber) -> bool {
        self.0.insert(n.get())
    }

    /// Add every number of `other`.
    pub fn extend(&mut self, other: &RevocationSet) {
        self.0 |= &other.0;
    }

    pub fn contains(&self, n: PassNumber) -> bool {
        self.0.contains(n.get())
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every revoked number, ascending (numbers that are not valid pass numbers are skipped).
    pub fn iter(&self) -> impl Iterator<Item = PassNumber> + '_ {
        self.0.iter().filter_map(PassNumber::from_u64)
    }

    /// The portable roaring serialisation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.serialized_size());
        // Writing into a Vec cannot fail.
        let _ = self.0.serialize_into(&mut out);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        RoaringTreemap::deserialize_from(bytes)
            .ok()
            .map(RevocationSet)
    }
}

impl FromIterator<PassNumber> for RevocationSet {
    fn from_iter<T: IntoIterator<Item = PassNumber>>(iter: T) -> Self {
        RevocationSet(iter.into_iter().map(PassNumber::get).collect())
    }
}

impl Serialize for RevocationSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for RevocationSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = B64.decode(s).map_err(serde::de::Error::custom)?;
        RevocationSet::from_bytes(&bytes)
            .ok_or_else(|| serde::de::Error::custom("not a roaring bitmap of revoked numbers"))
    }
}

/// What a gate does when its bundle is older than the staleness limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleAction {
    /// Decide as usual, with a loud warning on every verdict.
    Warn,
    /// Refuse every pass until the gate syncs.
    Reject,
}

/// Per-class limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPolicy {
    pub class: PassClass,
    /// Entries a pass of this class may make per day (across all gates), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_entry_limit: Option<u32>,
}

/// The zone's gate policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Default max dwell for load-unload-leave passes, in minutes.
    pub default_max_dwell_minutes: u16,
    /// Clock tolerance applied to validity windows, in minutes.
    pub clock_tolerance_minutes: u32,
    /// A bundle older than this is stale, in hours.
    pub stale_after_hours: u32,
    pub stale_action: StaleAction,
    #[serde(default)]
    pub classes: Vec<ClassPolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default_max_dwell_minutes: 120,
            clock_tolerance_minutes: 10,
            stale_after_hours: 72,
            stale_action: StaleAction::Warn,
            classes: Vec::new(),
        }
    }
}

/// A checkpoint as gates know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    pub id: CheckpointId,
    pub name: String,
    pub inside_zone: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_id: Option<EnterpriseId>,
}

/// Everything a gate needs offline, with a version that only grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub version: u64,
    /// Server time when this bundle was made.
    pub generated_at: UnixSeconds,
    pub keys: Vec<IssuerKey>,
    pub revoked: RevocationSet,
    pub policy: Policy,
    pub checkpoints: Vec<CheckpointInfo>,
}

impl Bundle {
    pub fn key(&self, id: KeyId) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn checkpoint(&self, id: CheckpointId) -> Option<&CheckpointInfo> {
        self.checkpoints.iter().find(|c| c.id == id)
    }

    /// Age of the bundle at `now`, in seconds (zero if `now` is earlier).
    pub fn age(&self, now: UnixSeconds) -> i64 {
        now.saturating_sub(self.generated_at).max(0)
    }

    pub fn is_stale(&self, now: UnixSeconds) -> bool {
        self.age(now) > i64::from(self.policy.stale_after_hours) * 3600
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_round_trip_and_stay_small() {
        let area = crate::pass::DivisionCode::parse("419001").unwrap();
        let set: RevocationSet = (0..100_000)
            .map(|s| PassNumber::new(area, s * 7 % 1_000_000).unwrap())
            .collect();
        assert_eq!(set.len(), 100_000);
        let bytes = set.to_bytes();
        assert!(bytes.len() < 300_000, "{} bytes", bytes.len());
        let back = RevocationSet::from_bytes(&bytes).unwrap();
        assert_eq!(back, set);
        assert!(back.contains(PassNumber::new(area, 7).unwrap()));
        assert!(!back.contains(PassNumber::new(area, 8).unwrap()));
        let json = serde_json::to_string(&set).unwrap();
        let again: RevocationSet = serde_json::from_str(&json).unwrap();
        assert_eq!(again, set);
        assert!(RevocationSet::from_bytes(b"garbage").is_none());
    }
}
