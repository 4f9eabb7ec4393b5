//! Bundle and delta files: decoding, applying, and deciding with the result
//! (docs/fuzzing.md).
//!
//! Each input is used twice:
//! 1. raw: as a whole bundle file (`PGB1` …) checked against the fixture bundle key, and as
//!    a portable roaring bitmap of revoked numbers;
//! 2. structured: `flags(1) | header_len(2, u16 BE) | header JSON | revocations`: the harness
//!    lays out a snapshot (flags bit 0 clear) or delta file around those bytes and signs it
//!    with the fixture bundle key, so the header JSON and the bitmap are parsed and applied
//!    as a gate would after a good signature.
//!
//! A file that decodes is applied on top of nothing and on top of the fixture bundle
//! (version 7); a bundle that results is used the way a gate uses it: its age and staleness
//! at the gate clock, and the three reference passes decided with it.
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::Signer;
use libfuzzer_sys::fuzz_target;
use passgate_fuzz::{bundle, bundle_keys, bundle_signing_key, gate, now_at};
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::{BUNDLE_DOMAIN, MAGIC, apply, decode};
use passgate_shared::codec::sign_to_text;
use passgate_shared::rules::{PassHistory, decide};
use passgate_shared::sync::Direction;
use passgate_shared::vectors::{sample_passes, test_key};
use passgate_shared::{Bundle, IssuerKey, Lang};

static HELD: LazyLock<Bundle> = LazyLock::new(bundle);
static TRUSTED: LazyLock<Vec<IssuerKey>> = LazyLock::new(bundle_keys);
static TEXTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    sample_passes()
        .iter()
        .filter_map(|p| sign_to_text(p, &test_key()).ok())
        .collect()
});

fuzz_target!(|data: &[u8]| {
    file(data);
    if let Some(set) = RevocationSet::from_bytes(data) {
        let again = RevocationSet::from_bytes(&set.to_bytes());
        assert_eq!(again.as_ref(), Some(&set));
        assert!(set.iter().count() as u64 <= set.len());
    }
    if data.len() >= 3 {
        let header_len = usize::from(u16::from_be_bytes([data[1], data[2]]));
        let rest = &data[3..];
        let (header, revs) = rest.split_at(header_len.min(rest.len()));
        file(&signed_file(data[0] & 1, header, revs));
    }
});

/// The file layout of `docs/sync-protocol.md`, signed with the fixture bundle key.
fn signed_file(kind: u8, header: &[u8], revs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 2 + 8 + header.len() + revs.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(kind);
    out.push(1);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(&(revs.len() as u32).to_be_bytes());
    out.extend_from_slice(revs);
    let mut message = BUNDLE_DOMAIN.to_vec();
    message.extend_from_slice(&out);
    out.extend_from_slice(&bundle_signing_key().sign(&message).to_bytes());
    out
}

fn file(bytes: &[u8]) {
    let Ok(file) = decode(bytes, &TRUSTED) else {
        return;
    };
    for held in [None, Some(&*HELD)] {
        if let Ok(b) = apply(held, file.clone()) {
            assert_eq!(b.revoked.len(), file.header.revoked_count);
            if let Some(h) = held {
                assert!(b.version >= h.version);
            }
            use_bundle(&b);
        }
    }
}

/// What a gate does with a bundle it has applied: status (age, staleness, clock floor) and
/// decisions at its clock.
fn use_bundle(b: &Bundle) {
    let now = now_at(60);
    let time_floor = b.generated_at.max(now);
    let effective = now.max(time_floor);
    let _ = b.age(effective);
    let _ = b.is_stale(effective);
    let _ = time_floor - now > i64::from(b.policy.clock_tolerance_minutes) * 60;
    for (i, text) in TEXTS.iter().enumerate() {
        let g = gate(3, if i == 1 { 1 } else { 2 });
        for direction in [Direction::In, Direction::Out] {
            let d = decide(text, b, &g, direction, time_floor, now, |_| PassHistory {
                inside_since: Some(now - 3 * 3600),
                entries_today: 1,
            });
            for w in &d.verdict.warnings {
                assert!(!w.message(Lang::Zh).is_empty());
            }
        }
    }
}
