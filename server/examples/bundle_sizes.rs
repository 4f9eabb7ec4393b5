//! Bundle sizes for docs/scaling.md, from the real encoders: the revocation set
//! (`RevocationSet::to_bytes`, a portable roaring treemap) and the signed bundle file
//! (`bundle_file::encode_snapshot` / `encode_delta`), for the national case.
//!
//! `cargo run --release -p passgate-server --example bundle_sizes`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::{encode_delta, encode_snapshot};
use passgate_shared::{
    Bundle, CheckpointId, CheckpointInfo, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus,
    PassNumber, Policy,
};

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// 333 prefecture-level issuing areas (codes 110100 … in steps of 100, like real ones).
fn areas() -> Vec<DivisionCode> {
    (0..333u32)
        .map(|i| DivisionCode::from_u32(110_100 + i * 1_000).unwrap())
        .collect()
}

/// `n` distinct revoked numbers: passes spread evenly over the areas, each area having
/// issued `issued_per_area` serials, revocations uniform among them.
fn revoked(n: u64, issued_per_area: u32, seed: u64) -> RevocationSet {
    let areas = areas();
    let mut rng = Lcg(seed);
    let mut set = RevocationSet::new();
    while set.len() < n {
        let a = areas[rng.below(areas.len() as u64) as usize];
        let s = 1 + rng.below(u64::from(issued_per_area)) as u32;
        set.insert(PassNumber::new(a, s).unwrap());
    }
    set
}

fn directory(n: u32) -> Vec<CheckpointInfo> {
    (1..=n)
        .map(|i| CheckpointInfo {
            id: CheckpointId(i),
            // A typical name: 12 Chinese characters (36 bytes of UTF-8).
            name: format!("某某市某某区重点企业东门{:04}", i % 10_000),
            inside_zone: !i.is_multiple_of(3),
            enterprise_id: i.is_multiple_of(2).then_some(EnterpriseId(i / 2)),
        })
        .collect()
}

fn main() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let keys = vec![IssuerKey {
        id: KeyId(1),
        public: key.verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    }];
    // 5M active passes over 333 areas ≈ 15,000 per area; serials are handed out in order,
    // so the live ones of an area sit in a window of about 6 weeks of issuance: 60,000.
    let window = 60_000;
    println!("revocation set (roaring), uniform over 333 areas x {window} serials:");
    for n in [10_000u64, 50_000, 100_000, 250_000, 500_000, 1_000_000] {
        let set = revoked(n, window, n);
        let b = set.to_bytes().len();
        println!(
            "  {n:>9} revoked: {b:>10} bytes = {:.2} bytes each",
            b as f64 / n as f64
        );
    }
    println!("daily delta revocation sets (new numbers only):");
    for n in [5_000u64, 25_000, 50_000] {
        let set = revoked(n, window, 7 + n);
        println!("  {n:>9} new: {:>10} bytes", set.to_bytes().len());
    }
    println!("signed bundle file (header JSON + roaring + signature):");
    for (gates, rev) in [
        (0u32, 250_000u64),
        (200, 250_000),
        (50_000, 250_000),
        (50_000, 1_000_000),
    ] {
        let bundle = Bundle {
            version: 1_000,
            generated_at: 1_800_000_000,
            keys: keys.clone(),
            revoked: revoked(rev, window, 99),
            policy: Policy::default(),
            checkpoints: directory(gates),
        };
        let snap = encode_snapshot(&bundle, &keys, KeyId(1), &key);
        let added = revoked(25_000, window, 1234);
        let delta = encode_delta(&bundle, 999, &added, &keys, KeyId(1), &key);
        let header_only = encode_delta(&bundle, 999, &RevocationSet::new(), &keys, KeyId(1), &key);
        println!(
            "  {gates:>6} checkpoints, {rev:>9} revoked: snapshot {:>10} bytes; delta with 25,000 new {:>9} bytes; empty delta {:>9} bytes",
            snap.len(),
            delta.len(),
            header_only.len()
        );
    }
}
