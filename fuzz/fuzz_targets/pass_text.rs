//! Pass text decoding and the gate decision (docs/fuzzing.md).
//!
//! Each input is used twice:
//! 1. raw: as scanner text (`PG:` + base45) through `rules::decide` and `decode_text`, and as
//!    signed bytes through `decode_signed`;
//! 2. structured: `minutes(4, i32 BE) | floor(2, i16 BE) | checkpoint(1) | flags(1) |
//!    history(1) | payload`: the payload is signed with the fixture key its key-id byte
//!    names, so every payload the decoder accepts reaches the rules with a valid signature,
//!    at a gate, clock and local history taken from the header.
#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::Signer;
use libfuzzer_sys::fuzz_target;
use passgate_fuzz::{bundle, gate, issuer_signing_key, now_at};
use passgate_shared::codec::{
    decode_payload, decode_signed, decode_text, encode_payload, encode_text, signature_input,
};
use passgate_shared::rules::{Decision, PassHistory, decide};
use passgate_shared::sync::Direction;
use passgate_shared::verify::{RejectReason, class_rule};
use passgate_shared::{Bundle, GateContext, KeyStatus, Lang};

static BUNDLE: LazyLock<Bundle> = LazyLock::new(bundle);

fuzz_target!(|data: &[u8]| {
    raw(data);
    structured(data);
});

fn raw(data: &[u8]) {
    if let Ok(signed) = decode_signed(data) {
        assert_eq!(encode_payload(&signed.pass), signed.payload);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signed) = decode_text(text) {
        // One text per pass: what decodes re-encodes to the same text.
        let mut bytes = signed.payload.clone();
        bytes.extend_from_slice(&signed.signature.to_bytes());
        assert_eq!(encode_text(&bytes), text.trim_end_matches(['\r', '\n']));
    }
    let g = gate(3, 0);
    let now = now_at(60);
    let d = decide(text, &BUNDLE, &g, Direction::In, now, now, |_| {
        PassHistory::default()
    });
    check(&d, &g);
}

fn structured(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let minutes = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let floor = i16::from_be_bytes([data[4], data[5]]);
    let g = gate(data[6], data[7]);
    let direction = if data[7] & 8 != 0 {
        Direction::Out
    } else {
        Direction::In
    };
    let now = now_at(minutes);
    let time_floor = now + i64::from(floor) * 60;
    let history = PassHistory {
        inside_since: (data[7] & 16 != 0).then(|| now - i64::from(data[8] >> 3) * 15 * 60),
        entries_today: u32::from(data[8] & 7),
    };
    let payload = &data[9..];
    let key = payload.get(7).and_then(|&id| issuer_signing_key(id));
    let mut signed = payload.to_vec();
    if let Some(key) = &key {
        signed.extend_from_slice(&key.sign(&signature_input(payload)).to_bytes());
    } else {
        signed.extend_from_slice(&[0; 64]);
    }
    let mut text = encode_text(&signed);
    if data[7] & 32 != 0 {
        text.push_str("\r\n");
    }
    let d = decide(&text, &BUNDLE, &g, direction, time_floor, now, |_| history);
    check(&d, &g);
    let reason = d.verdict.reason.as_ref();
    match decode_payload(payload) {
        Ok(pass) => {
            assert!(!matches!(reason, Some(RejectReason::Malformed(_))), "{d:?}");
            if key.is_some() {
                assert!(!matches!(reason, Some(RejectReason::BadSignature)), "{d:?}");
                let compromised = BUNDLE
                    .key(pass.key_id)
                    .is_some_and(|k| k.status == KeyStatus::Compromised);
                assert_eq!(d.verdict.pass.is_some(), !compromised, "{d:?}");
            }
        }
        Err(_) => assert!(
            matches!(
                reason,
                Some(RejectReason::Malformed(_) | RejectReason::UnsupportedVersion(_))
            ),
            "{d:?}"
        ),
    }
}

/// What must hold of every decision: an accepted pass is trusted, not revoked, inside its
/// window (with the tolerance) at the time the rules used, and allowed at this gate.
fn check(d: &Decision, g: &GateContext) {
    let v = &d.verdict;
    for lang in [Lang::Zh, Lang::En] {
        if let Some(r) = &v.reason {
            assert!(!r.message(lang).is_empty());
            assert!(RejectReason::CODES.contains(&r.code()));
        }
        for w in &v.warnings {
            assert!(!w.message(lang).is_empty());
        }
    }
    if !v.accepted() {
        return;
    }
    let pass = v
        .pass
        .as_ref()
        .expect("an accepted verdict carries its pass");
    let key = BUNDLE.key(pass.key_id).expect("accepted under a known key");
    assert_ne!(key.status, KeyStatus::Compromised);
    assert!(!BUNDLE.revoked.contains(pass.number));
    assert!(class_rule(pass, g).is_none());
    let tol = i64::from(BUNDLE.policy.clock_tolerance_minutes) * 60;
    let (from, until) = (
        pass.validity.from().to_unix(),
        pass.validity.until().to_unix(),
    );
    assert!(d.effective_now >= from - tol && d.effective_now < until + tol);
}
