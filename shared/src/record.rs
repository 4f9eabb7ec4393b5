//! The gate's scan record as it is chained, signed and uploaded (`docs/sync-protocol.md`).
//!
//! Each record carries the device's sequence number and the hash of the record before it,
//! so a device's log is one hash chain. An upload batch is signed with the device key over
//! the device, the sequence range and the hash of the batch's last record: editing any
//! record breaks either a link or the signature, and a batch replayed under another
//! device's name fails that device's key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::pass::{CheckpointId, PassClass, PassNumber};
use crate::sync::Direction;
use crate::time::UnixSeconds;

/// A gate device, as the server numbers them at enrolment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u32);

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Health code colour the guard saw.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCode {
    Green,
    Yellow,
    Red,
}

impl HealthCode {
    pub fn parse(s: &str) -> Option<HealthCode> {
        match s {
            "green" | "绿" | "绿码" => Some(HealthCode::Green),
            "yellow" | "黄" | "黄码" => Some(HealthCode::Yellow),
            "red" | "红" | "红码" => Some(HealthCode::Red),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Green => "green",
            HealthCode::Yellow => "yellow",
            HealthCode::Red => "red",
        }
    }
}

/// The "two codes one pass" (两码一证) observations: what the guard checked besides the
/// pass. `None` means not recorded. They are observations, not things the pass can prove.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observations {
    pub health_code: Option<HealthCode>,
    pub itinerary_ok: Option<bool>,
    pub negative_test_48h: Option<bool>,
    pub temperature_ok: Option<bool>,
}

/// A supervisor turned a rejection into an accepted-with-override.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub supervisor_id: String,
    pub reason: String,
}

/// One scan, as the gate chains and uploads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    /// Made by the gate (32 lower-case hex digits); unique across all gates.
    pub id: String,
    pub device_id: DeviceId,
    /// From 1, without gaps, per device.
    pub seq: u64,
    /// Hex SHA-256 of the previous record of this device ([`GENESIS_HASH`] for seq 1).
    pub prev_hash: String,
    pub checkpoint_id: CheckpointId,
    /// Gate clock at the scan.
    pub scanned_at: UnixSeconds,
    pub direction: Direction,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub number: Option<PassNumber>,
    pub class: Option<PassClass>,
    pub plate: Option<String>,
    /// What the guard was told: let it through (also after an override) or not.
    pub accepted: bool,
    /// The reject reason code; kept when a supervisor overrode it.
    pub reason: Option<String>,
    pub warnings: Vec<String>,
    pub bundle_version: u64,
    pub guard_id: Option<String>,
    pub observations: Observations,
    /// Set on an override record: a new record, later in the chain, that turns the
    /// rejected scan with this sequence number into accepted-with-override.
    #[serde(rename = "override")]
    pub override_by: Option<Override>,
    pub overrides_seq: Option<u64>,
    /// Minutes inside, on a load-unload-leave exit.
    pub dwell_minutes: Option<u32>,
}

/// A record's JSON and SHA-256, as [`GateRecord::seal`] computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub json: String,
    pub hash: [u8; 32],
}

impl Sealed {
    pub fn hash_hex(&self) -> String {
        hex_encode(&self.hash)
    }
}

/// `prev_hash` of a device's first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const RECORD_DOMAIN: &[u8] = b"passgate/scan-record/v1\0";
const BATCH_DOMAIN: &[u8] = b"passgate/upload-batch/v1\0";

impl GateRecord {
    /// SHA-256 over a domain prefix and the record's JSON (fields in declaration order).
    pub fn hash(&self) -> [u8; 32] {
        self.seal().hash
    }

    /// The record's JSON and its hash, computed once (the server stores the one and chains
    /// by the other).
    pub fn seal(&self) -> Sealed {
        // Serialising plain data to JSON cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(RECORD_DOMAIN);
        h.update(json.as_bytes());
        Sealed {
            json,
            hash: h.finalize().into(),
        }
    }

    pub fn hash_hex(&self) -> String {
        hex_encode(&self.hash())
    }

    /// What the daily counts group by: `accepted`, `override`, or the reject reason.
    pub fn verdict_label(&self) -> String {
        match (&self.override_by, self.accepted, &self.reason) {
            (Some(_), _, _) => "override".to_owned(),
            (None, true, _) => "accepted".to_owned(),
            (None, false, Some(r)) => r.clone(),
            (None, false, None) => "rejected".to_owned(),
        }
    }
}

fn hex_encode(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 15)]));
    }
    s
}

/// `POST /api/v1/sync/upload`: consecutive records of one device, signed by it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBatch {
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub records: Vec<GateRecord>,
    /// Base64 Ed25519 signature by the device key over [`batch_message`].
    pub signature: String,
}

/// What the device signs: domain, device, checkpoint, first and last sequence number and
/// the hash of the last record (which commits to the whole chain before it).
pub fn batch_message(
    device: DeviceId,
    checkpoint: CheckpointId,
    records: &[GateRecord],
) -> Vec<u8> {
    let last_hash = records.last().map_or([0; 32], GateRecord::hash);
    batch_message_with(device, checkpoint, records, &last_hash)
}

fn batch_message_with(
    device: DeviceId,
    checkpoint: CheckpointId,
    records: &[GateRecord],
    last_hash: &[u8; 32],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(BATCH_DOMAIN.len() + 8 + 16 + 32);
    m.extend_from_slice(BATCH_DOMAIN);
    m.extend_from_slice(&device.0.to_be_bytes());
    m.extend_from_slice(&checkpoint.0.to_be_bytes());
    let first = records.first().map_or(0, |r| r.seq);
    let last = records.last().map_or(0, |r| r.seq);
    m.extend_from_slice(&first.to_be_bytes());
    m.extend_from_slice(&last.to_be_bytes());
    m.extend_from_slice(last_hash);
    m
}

/// Sign a batch with the device key.
pub fn sign_batch(
    device: DeviceId,
    checkpoint: CheckpointId,
    records: Vec<GateRecord>,
    key: &SigningKey,
) -> UploadBatch {
    let sig = key.sign(&batch_message(device, checkpoint, &records));
    UploadBatch {
        device_id: device,
        checkpoint_id: checkpoint,
        records,
        signature: B64.encode(sig.to_bytes()),
    }
}

/// Why an upload batch was refused whole.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchError {
    #[error("the batch has no records")]
    Empty,
    #[error("the batch has {0} records; at most {MAX_BATCH} are allowed")]
    TooLarge(usize),
    #[error(
        "the batch signature does not verify with this device's key: edited, or sent under another device's name"
    )]
    BadSignature,
    #[error("record {index} belongs to device {found}, not {expected}")]
    WrongDevice {
        index: usize,
        found: DeviceId,
        expected: DeviceId,
    },
    #[error("record {index} is for checkpoint {found}, not {expected}")]
    WrongCheckpoint {
        index: usize,
        found: CheckpointId,
        expected: CheckpointId,
    },
    #[error(
        "record {index} has sequence number {found}, expected {expected}: the batch is not consecutive"
    )]
    Sequence {
        index: usize,
        found: u64,
        expected: u64,
    },
    #[error(
        "record {index} (seq {seq}) does not link to the record before it: the chain is broken"
    )]
    BrokenChain { index: usize, seq: u64 },
    #[error("record {index} has an invalid id; ids are 32 lower-case hex digits")]
    BadId { index: usize },
    #[error(
        "record {index} says it was scanned at {scanned_at} (Unix seconds), outside 1970–9999: the gate's clock or software is broken"
    )]
    ImplausibleTime { index: usize, scanned_at: i64 },
    #[error("record {index} has a sequence number beyond what a device can reach")]
    SeqTooLarge { index: usize },
    #[error(
        "record {index}: an accepted record has no reason unless overridden, a rejected one has one"
    )]
    Inconsistent { index: usize },
}

/// Most records per batch.
pub const MAX_BATCH: usize = 5_000;

fn is_record_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Check a batch against the device's public key: signature, device and checkpoint of every
/// record, consecutive sequence numbers and hash links inside the batch. The link of the
/// first record to what the server already holds is the server's to check.
pub fn check_batch(batch: &UploadBatch, device_key: &VerifyingKey) -> Result<(), BatchError> {
    check_batch_sealed(batch, device_key).map(|_| ())
}

/// [`check_batch`], returning every record sealed (JSON and hash), each computed once.
pub fn check_batch_sealed(
    batch: &UploadBatch,
    device_key: &VerifyingKey,
) -> Result<Vec<Sealed>, BatchError> {
    let records = &batch.records;
    if records.is_empty() {
        return Err(BatchError::Empty);
    }
    if records.len() > MAX_BATCH {
        return Err(BatchError::TooLarge(records.len()));
    }
    let sig = B64
        .decode(&batch.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok());
    let sig = sig
        .map(|b| Signature::from_bytes(&b))
        .ok_or(BatchError::BadSignature)?;
    let sealed: Vec<Sealed> = records.iter().map(GateRecord::seal).collect();
    let last_hash = sealed.last().map_or([0; 32], |s| s.hash);
    let message = batch_message_with(batch.device_id, batch.checkpoint_id, records, &last_hash);
    device_key
        .verify_strict(&message, &sig)
        .map_err(|_| BatchError::BadSignature)?;
    let mut prev: Option<&GateRecord> = None;
    for (index, r) in records.iter().enumerate() {
        if r.device_id != batch.device_id {
            return Err(BatchError::WrongDevice {
                index,
                found: r.device_id,
                expected: batch.device_id,
            });
        }
        if r.checkpoint_id != batch.checkpoint_id {
            return Err(BatchError::WrongCheckpoint {
                index,
                found: r.checkpoint_id,
                expected: batch.checkpoint_id,
            });
        }
        if !is_record_id(&r.id) {
            return Err(BatchError::BadId { index });
        }
        let consistent = match &r.override_by {
            None => r.accepted != r.reason.is_some() && r.overrides_seq.is_none(),
            Some(_) => {
                r.accepted && r.reason.is_some() && r.overrides_seq.is_some_and(|s| s < r.seq)
            }
        };
        if !consistent {
            return Err(BatchError::Inconsistent { index });
        }
        if !crate::time::is_plausible(r.scanned_at) {
            return Err(BatchError::ImplausibleTime {
                index,
                scanned_at: r.scanned_at,
            });
        }
        if r.seq > i64::MAX as u64 {
            return Err(BatchError::SeqTooLarge { index });
        }
        if r.seq == 0 {
            return Err(BatchError::Sequence {
                index,
                found: 0,
                expected: 1,
            });
        }
        if let Some(p) = prev {
            if r.seq != p.seq + 1 {
                return Err(BatchError::Sequence {
                    index,
                    found: r.seq,
                    expected: p.seq + 1,
                });
            }
            if r.prev_hash != sealed[index - 1].hash_hex() {
                return Err(BatchError::BrokenChain { index, seq: r.seq });
            }
        } else if r.seq == 1 && r.prev_hash != GENESIS_HASH {
            return Err(BatchError::BrokenChain { index, seq: 1 });
        }
        prev = Some(r);
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(device: u32, n: u64) -> Vec<GateRecord> {
        let mut out: Vec<GateRecord> = Vec::new();
        for seq in 1..=n {
            let prev_hash = out
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex);
            out.push(GateRecord {
                id: format!("{:016x}{:016x}", device, seq),
                device_id: DeviceId(device),
                seq,
                prev_hash,
                checkpoint_id: CheckpointId(1),
                scanned_at: 1_800_000_000 + seq as i64,
                direction: Direction::In,
                number: PassNumber::parse("419001000001").ok(),
                class: Some(PassClass::ShortHaul),
                plate: Some("豫U12345".into()),
                accepted: seq % 3 != 0,
                reason: (seq % 3 == 0).then(|| "expired".to_owned()),
                warnings: vec![],
                bundle_version: 1,
                guard_id: Some("guard-7".into()),
                observations: Observations {
                    health_code: Some(HealthCode::Green),
                    ..Default::default()
                },
                override_by: None,
                overrides_seq: None,
                dwell_minutes: None,
            });
        }
        out
    }

    #[test]
    fn a_signed_chain_checks_out() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let batch = sign_batch(DeviceId(4), CheckpointId(1), chain(4, 10), &key);
        assert_eq!(check_batch(&batch, &key.verifying_key()), Ok(()));
        // A later batch starts where the first ended; its own links are checked.
        let all = chain(4, 20);
        let second = sign_batch(DeviceId(4), CheckpointId(1), all[10..].to_vec(), &key);
        assert_eq!(check_batch(&second, &key.verifying_key()), Ok(()));
        assert_eq!(second.records[0].prev_hash, all[9].hash_hex());
    }

    /// Found by fuzzing: a signed record with an extreme scan time overflowed the day
    /// arithmetic of the ingest. Such a batch is refused with a reason; the epoch itself (a
    /// gate whose clock battery died) and the last second of 9999 are accepted.
    #[test]
    fn impossible_scan_times_are_refused() {
        let key = SigningKey::from_bytes(&[5; 32]);
        for (t, ok) in [
            (i64::MIN, false),
            (-1, false),
            (0, true),
            (crate::time::MAX_TIME, true),
            (crate::time::MAX_TIME + 1, false),
            (i64::MAX, false),
        ] {
            let mut records = chain(4, 3);
            records[1].scanned_at = t;
            let records = {
                let mut r = records;
                for i in 1..r.len() {
                    r[i].prev_hash = r[i - 1].hash_hex();
                }
                r
            };
            let batch = sign_batch(DeviceId(4), CheckpointId(1), records, &key);
            let got = check_batch(&batch, &key.verifying_key());
            if ok {
                assert_eq!(got, Ok(()), "{t}");
            } else {
                assert_eq!(
                    got,
                    Err(BatchError::ImplausibleTime {
                        index: 1,
                        scanned_at: t
                    })
                );
            }
            assert!(!crate::time::local_day(t).is_empty());
        }
    }

    #[test]
    fn edits_replays_and_gaps_are_refused() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let pk = key.verifying_key();
        let good = sign_batch(DeviceId(4), CheckpointId(1), chain(4, 10), &key);

        let mut edited = good.clone();
        // Record 5 was an accepted scan; the edit turns it into a rejection.
        edited.records[4].accepted = false;
        edited.records[4].reason = Some("revoked".into());
        assert_eq!(
            check_batch(&edited, &pk),
            Err(BatchError::BrokenChain { index: 5, seq: 6 })
        );

        let mut last = good.clone();
        last.records[9].plate = Some("豫U99999".into());
        assert_eq!(check_batch(&last, &pk), Err(BatchError::BadSignature));

        // Another device's batch presented under this device's name.
        let other = SigningKey::from_bytes(&[6; 32]);
        let mut replay = sign_batch(DeviceId(5), CheckpointId(1), chain(5, 3), &other);
        replay.device_id = DeviceId(4);
        assert_eq!(check_batch(&replay, &pk), Err(BatchError::BadSignature));

        let mut gap = chain(4, 10);
        gap.remove(5);
        let gap = sign_batch(DeviceId(4), CheckpointId(1), gap, &key);
        assert_eq!(
            check_batch(&gap, &pk),
            Err(BatchError::Sequence {
                index: 5,
                found: 7,
                expected: 6
            })
        );

        let empty = sign_batch(DeviceId(4), CheckpointId(1), vec![], &key);
        assert_eq!(check_batch(&empty, &pk), Err(BatchError::Empty));
    }

    #[test]
    fn verdict_labels() {
        let mut r = chain(1, 3).remove(2);
        assert_eq!(r.verdict_label(), "expired");
        r.override_by = Some(Override {
            supervisor_id: "sup-1".into(),
            reason: "escorted".into(),
        });
        r.accepted = true;
        assert_eq!(r.verdict_label(), "override");
        r.override_by = None;
        r.reason = None;
        assert_eq!(r.verdict_label(), "accepted");
    }
}
