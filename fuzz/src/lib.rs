//! Fixed trust data shared by the fuzz targets (docs/fuzzing.md).
//!
//! Everything is built from the deterministic test vectors in
//! `passgate_shared::vectors` and fixed seeds, so an input saved in a corpus means the same
//! thing on every run and every machine, and the seed corpus can hold passes, bundles and
//! upload batches that are signed and valid: the fuzzer starts past the signature checks.

use ed25519_dalek::SigningKey;
use passgate_shared::bundle::{ClassPolicy, RevocationSet};
use passgate_shared::pass::DivisionCode;
use passgate_shared::record::DeviceId;
use passgate_shared::vectors::{issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, CheckpointInfo, EnterpriseId, GateContext, IssuerKey, KeyId, KeyStatus,
    PassClass, PassNumber, Policy, UnixSeconds,
};

/// The issuer key the bundle trusts under `id`, with its signing half: 1 is the test
/// vectors' key (active), 2 is retired and only valid for passes starting within 30 days of
/// the reference issue time, 3 is compromised.
pub fn issuer_signing_key(id: u8) -> Option<SigningKey> {
    match id {
        1 => Some(test_key()),
        2 => Some(SigningKey::from_bytes(&[2; 32])),
        3 => Some(SigningKey::from_bytes(&[3; 32])),
        _ => None,
    }
}

pub fn issuer_keys() -> Vec<IssuerKey> {
    let month = 30 * 86_400;
    let key = |id: u8, status, not_before, not_after| IssuerKey {
        id: KeyId(id),
        public: issuer_signing_key(id)
            .map(|k| k.verifying_key())
            .unwrap_or_else(|| test_key().verifying_key()),
        status,
        not_before,
        not_after,
    };
    vec![
        key(1, KeyStatus::Active, None, None),
        key(
            2,
            KeyStatus::Retired,
            Some(issue_time() - month),
            Some(issue_time() + month),
        ),
        key(3, KeyStatus::Compromised, None, None),
    ]
}

/// The bundle-signing key (id 1) gates trust.
pub fn bundle_signing_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

pub fn bundle_keys() -> Vec<IssuerKey> {
    vec![IssuerKey {
        id: KeyId(1),
        public: bundle_signing_key().verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    }]
}

/// The enrolled gate device that signs upload batches.
pub const DEVICE: DeviceId = DeviceId(4);
pub const DEVICE_CHECKPOINT: CheckpointId = CheckpointId(3);

pub fn device_signing_key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

/// Revoked: the third sample pass and serials 100..200 of area 419001.
pub fn revoked() -> RevocationSet {
    let area = DivisionCode::parse("419001").ok();
    let mut set: RevocationSet = area
        .into_iter()
        .flat_map(|a| (100..200).filter_map(move |s| PassNumber::new(a, s).ok()))
        .collect();
    if let Some(p) = sample_passes().get(2) {
        set.insert(p.number);
    }
    set
}

/// The bundle gates hold: version 7, made an hour before the reference passes start.
pub fn bundle() -> Bundle {
    let policy = Policy {
        classes: vec![ClassPolicy {
            class: PassClass::ShortHaul,
            daily_entry_limit: Some(2),
        }],
        ..Policy::default()
    };
    Bundle {
        version: 7,
        generated_at: issue_time() - 3600,
        keys: issuer_keys(),
        revoked: revoked(),
        policy,
        checkpoints: vec![
            CheckpointInfo {
                id: CheckpointId(3),
                name: "东出口".into(),
                inside_zone: false,
                enterprise_id: None,
            },
            CheckpointInfo {
                id: CheckpointId(7),
                name: "一号厂门".into(),
                inside_zone: true,
                enterprise_id: Some(EnterpriseId(1)),
            },
        ],
    }
}

/// A gate from two bytes of input: the checkpoint (3, 7, 12 are on the long-haul sample's
/// route), inside the zone or not, and whether it is enterprise 1's or 2's gate.
pub fn gate(checkpoint: u8, flags: u8) -> GateContext {
    GateContext {
        checkpoint: CheckpointId(u32::from(checkpoint)),
        inside_zone: flags & 1 != 0,
        enterprise: match flags >> 1 & 3 {
            1 => Some(EnterpriseId(1)),
            2 => Some(EnterpriseId(2)),
            _ => None,
        },
    }
}

/// A gate clock `minutes` from the start of the reference passes (i32 minutes reach about
/// 4,000 years either way).
pub fn now_at(minutes: i32) -> UnixSeconds {
    issue_time() + i64::from(minutes) * 60
}
