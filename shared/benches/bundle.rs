//! Trust-bundle figures: revocation lookup at 1,000,000 entries (against a `HashSet<u64>`
//! measured in the same run), snapshot and delta sizes, and decode + apply time.
//!
//! ```text
//! cargo bench -p passgate-shared --bench bundle
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::{apply, decode, encode_delta, encode_snapshot};
use passgate_shared::{Bundle, DivisionCode, IssuerKey, KeyId, KeyStatus, PassNumber, Policy};

/// `n` distinct numbers spread over four areas by a fixed permutation (about one number in
/// four of those areas' serial space), like revocations accumulated over months.
fn spread(n: u64, salt: u64) -> Vec<PassNumber> {
    let areas = ["419001", "410102", "410105", "140502"].map(|a| DivisionCode::parse(a).unwrap());
    let space: u64 = 4_000_000;
    (0..n)
        .map(|i| {
            let k = (i * 2_654_435_761 + salt) % space;
            PassNumber::new(areas[(k / 1_000_000) as usize], (k % 1_000_000) as u32).unwrap()
        })
        .collect()
}

fn ns_per(n: usize, mut op: impl FnMut(usize) -> bool) -> f64 {
    let start = Instant::now();
    let mut hits = 0usize;
    for i in 0..n {
        hits += usize::from(op(i));
    }
    black_box(hits);
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let revoked = spread(1_000_000, 0);
    let set: RevocationSet = revoked.iter().copied().collect();
    assert_eq!(set.len(), 1_000_000);
    let hash: HashSet<u64> = revoked.iter().map(|n| n.get()).collect();
    let probes: Vec<PassNumber> = spread(100_000, 12_345);

    let mut roaring = Vec::new();
    let mut hashed = Vec::new();
    for _ in 0..7 {
        roaring.push(ns_per(probes.len(), |i| set.contains(probes[i])));
        hashed.push(ns_per(probes.len(), |i| hash.contains(&probes[i].get())));
    }
    roaring.sort_by(f64::total_cmp);
    hashed.sort_by(f64::total_cmp);
    let (r, h) = (roaring[3], hashed[3]);
    println!(
        "revocation lookup, 1,000,000 revoked: {r:.1} ns (roaring) vs {h:.1} ns (HashSet<u64>) = {:.2}x",
        r / h
    );

    let key = SigningKey::from_bytes(&[9; 32]);
    let trusted = vec![IssuerKey {
        id: KeyId(1),
        public: key.verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    }];
    let bundle = Bundle {
        version: 2,
        generated_at: 1_800_000_000,
        keys: trusted.clone(),
        revoked: set.clone(),
        policy: Policy::default(),
        checkpoints: vec![],
    };
    let snapshot = encode_snapshot(&bundle, &trusted, KeyId(1), &key);
    let raw = 1_000_000 * 8;
    println!(
        "bundle snapshot, 1,000,000 revocations: {} bytes ({:.2} bytes per revocation; a sorted u64 list would be {raw} bytes)",
        snapshot.len(),
        snapshot.len() as f64 / 1e6
    );
    // A day's new revocations: 1,000 numbers of a fifth area, none revoked before.
    let fifth = DivisionCode::parse("411000").unwrap();
    let added: RevocationSet = (0..1_000u32)
        .map(|i| PassNumber::new(fifth, i * 997 % 1_000_000).unwrap())
        .collect();
    assert_eq!(added.len(), 1_000);
    let mut next = bundle.clone();
    next.version = 3;
    next.revoked.extend(&added);
    let delta = encode_delta(&next, 2, &added, &trusted, KeyId(1), &key);
    println!(
        "bundle delta, {} new revocations: {} bytes",
        added.len(),
        delta.len()
    );

    let start = Instant::now();
    let held = apply(None, decode(&snapshot, &trusted).unwrap()).unwrap();
    let t_snap = start.elapsed();
    let start = Instant::now();
    let after = apply(Some(&held), decode(&delta, &trusted).unwrap()).unwrap();
    let t_delta = start.elapsed();
    assert_eq!(after.revoked.len(), next.revoked.len());
    println!(
        "decode + verify + apply: snapshot {:.1} ms, delta {:.1} ms",
        t_snap.as_secs_f64() * 1e3,
        t_delta.as_secs_f64() * 1e3
    );
}
