//! Sync upload: parsing a batch and checking it as the server does (docs/fuzzing.md).
//!
//! Each input is used twice:
//! 1. raw: as the JSON body of `POST /api/v1/sync/upload` (and as one record), checked with
//!    the fixture device key exactly as sent; a batch that parses is also re-chained
//!    and re-signed with the device key, so its records get past the links and the
//!    signature to the per-record rules;
//! 2. structured: the bytes drive `arbitrary` to build a batch field by field (valid or
//!    broken ids, sequence numbers, links, overrides, extreme times), optionally chained
//!    and signed.
//!
//! A batch that checks out is handled the way the server's ingest handles it: every record
//! sealed (JSON + hash), its Beijing day and verdict label computed, and its stored JSON read
//! back to the same record.
#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use ed25519_dalek::VerifyingKey;
use libfuzzer_sys::fuzz_target;
use passgate_fuzz::{DEVICE, DEVICE_CHECKPOINT, device_signing_key};
use passgate_shared::pass::{CheckpointId, PassClass, PassNumber};
use passgate_shared::record::{
    DeviceId, GENESIS_HASH, GateRecord, HealthCode, Observations, Override, UploadBatch,
    check_batch_sealed, sign_batch,
};
use passgate_shared::sync::Direction;
use passgate_shared::time::local_day;

static DEVICE_KEY: LazyLock<VerifyingKey> = LazyLock::new(|| device_signing_key().verifying_key());

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<GateRecord>(data);
    if let Ok(batch) = serde_json::from_slice::<UploadBatch>(data) {
        check(&batch);
        let records = relink(batch.records);
        check(&sign_batch(
            batch.device_id,
            batch.checkpoint_id,
            records,
            &device_signing_key(),
        ));
    }
    if let Ok(b) = ArbBatch::arbitrary_take_rest(Unstructured::new(data)) {
        check(&b.build());
    }
});

/// Point every record's `prev_hash` at the record before it (the genesis hash for seq 1).
fn relink(mut records: Vec<GateRecord>) -> Vec<GateRecord> {
    for i in 0..records.len() {
        if i > 0 {
            records[i].prev_hash = records[i - 1].hash_hex();
        } else if records[i].seq == 1 {
            records[i].prev_hash = GENESIS_HASH.to_owned();
        }
    }
    records
}

fn check(batch: &UploadBatch) {
    let Ok(sealed) = check_batch_sealed(batch, &DEVICE_KEY) else {
        return;
    };
    assert_eq!(sealed.len(), batch.records.len());
    for (r, s) in batch.records.iter().zip(&sealed) {
        assert_eq!(s.hash, r.hash());
        assert!(i64::try_from(r.seq).is_ok());
        // What the ingest stores beside the JSON.
        let day = local_day(r.scanned_at);
        assert!(!day.is_empty());
        let _ = r.verdict_label();
        let _ = r.number.map(|n| n.to_string());
        // The stored JSON is what reports read back later.
        let back: GateRecord = serde_json::from_str(&s.json).expect("sealed JSON reads back");
        assert_eq!(&back, r);
    }
}

#[derive(Debug, Arbitrary)]
struct ArbBatch {
    device: Option<u32>,
    checkpoint: Option<u32>,
    first_seq: u64,
    relink: bool,
    sign: bool,
    records: Vec<ArbRecord>,
}

#[derive(Debug, Arbitrary)]
struct ArbRecord {
    /// A well-formed id from the number, or any text.
    id: Result<u128, String>,
    device: Option<u32>,
    checkpoint: Option<u32>,
    /// `None`: the next number after the record before.
    seq: Option<u64>,
    prev_hash: Option<String>,
    scanned_at: i64,
    out: bool,
    number: Option<u64>,
    class: Option<u8>,
    plate: Option<String>,
    accepted: bool,
    reason: Option<String>,
    warnings: Vec<String>,
    bundle_version: u64,
    guard_id: Option<String>,
    health_code: Option<u8>,
    itinerary_ok: Option<bool>,
    negative_test_48h: Option<bool>,
    temperature_ok: Option<bool>,
    override_by: Option<(String, String)>,
    overrides_seq: Option<u64>,
    dwell_minutes: Option<u32>,
}

impl ArbBatch {
    fn build(self) -> UploadBatch {
        let device = self.device.map_or(DEVICE, DeviceId);
        let checkpoint = self.checkpoint.map_or(DEVICE_CHECKPOINT, CheckpointId);
        let mut records: Vec<GateRecord> = Vec::with_capacity(self.records.len());
        let mut next = self.first_seq;
        for r in self.records {
            let seq = r.seq.unwrap_or(next);
            next = seq.wrapping_add(1);
            let health_code = r.health_code.and_then(|h| match h % 4 {
                0 => Some(HealthCode::Green),
                1 => Some(HealthCode::Yellow),
                2 => Some(HealthCode::Red),
                _ => None,
            });
            records.push(GateRecord {
                id: match r.id {
                    Ok(n) => format!("{n:032x}"),
                    Err(s) => s,
                },
                device_id: r.device.map_or(device, DeviceId),
                seq,
                prev_hash: r.prev_hash.unwrap_or_else(|| GENESIS_HASH.to_owned()),
                checkpoint_id: r.checkpoint.map_or(checkpoint, CheckpointId),
                scanned_at: r.scanned_at,
                direction: if r.out { Direction::Out } else { Direction::In },
                number: r.number.and_then(PassNumber::from_u64),
                class: r.class.and_then(PassClass::from_code),
                plate: r.plate,
                accepted: r.accepted,
                reason: r.reason,
                warnings: r.warnings,
                bundle_version: r.bundle_version,
                guard_id: r.guard_id,
                observations: Observations {
                    health_code,
                    itinerary_ok: r.itinerary_ok,
                    negative_test_48h: r.negative_test_48h,
                    temperature_ok: r.temperature_ok,
                },
                override_by: r.override_by.map(|(supervisor_id, reason)| Override {
                    supervisor_id,
                    reason,
                }),
                overrides_seq: r.overrides_seq,
                dwell_minutes: r.dwell_minutes,
            });
        }
        if self.relink {
            records = relink(records);
        }
        if self.sign {
            sign_batch(device, checkpoint, records, &device_signing_key())
        } else {
            UploadBatch {
                device_id: device,
                checkpoint_id: checkpoint,
                records,
                signature: String::new(),
            }
        }
    }
}
