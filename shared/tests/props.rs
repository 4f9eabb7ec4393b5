//! Property tests of the codec and the gate decision: total on any input, exact on valid
//! passes, and unforgiving of any change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::codec::{self, decode_payload, encode_payload};
use passgate_shared::pass::{MAX_DWELL_MINUTES, MAX_ROUTE_CHECKPOINTS, PROVINCES};
use passgate_shared::vectors::{issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, Cargo, CheckpointId, Crew, DivisionCode, EnterpriseId, GateContext, IssuerKey, KeyId,
    KeyStatus, MaskedName, Minute, Pass, PassClass, PassNumber, Plate, Policy, Route, UnixSeconds,
    Validity, base45, decode_text, verify,
};
use proptest::collection::{hash_set, vec};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Strategies

const SERIAL_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const BASE45: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

fn division_code() -> impl Strategy<Value = DivisionCode> {
    (110_000u32..830_000).prop_map(|n| DivisionCode::from_u32(n).unwrap())
}

fn serial_char() -> impl Strategy<Value = char> {
    proptest::sample::select(SERIAL_CHARS).prop_map(char::from)
}

/// A valid plate built from valid pieces: province, authority letter, 5 serial characters,
/// or 6 for new-energy plates with D or F at one end.
fn plate() -> impl Strategy<Value = Plate> {
    let letter =
        proptest::sample::select(b"ABCDEFGHJKLMNPQRSTUVWXYZ".as_slice()).prop_map(char::from);
    let ordinary = vec(serial_char(), 5);
    let new_energy = (
        proptest::sample::select(b"DF".as_slice()).prop_map(char::from),
        vec(serial_char(), 5),
        any::<bool>(),
    )
        .prop_map(|(ne, mut rest, at_end)| {
            if at_end {
                rest.push(ne);
            } else {
                rest.insert(0, ne);
            }
            rest
        });
    (
        proptest::sample::select(PROVINCES.as_slice()),
        letter,
        prop_oneof![ordinary, new_energy],
    )
        .prop_map(|(p, l, serial)| {
            let s: String = std::iter::once(p)
                .chain(std::iter::once(l))
                .chain(serial)
                .collect();
            Plate::parse(&s).unwrap()
        })
}

/// A masked name from a random full name: CJK, Latin letters and the `·` of transliterated
/// names, 2 to 20 characters.
fn masked_name() -> impl Strategy<Value = MaskedName> {
    let ch = prop_oneof![
        8 => proptest::char::range('\u{4e00}', '\u{9fa5}'),
        1 => proptest::char::range('A', 'Z'),
        1 => Just('·'),
        1 => proptest::char::range('\u{20000}', '\u{2a6df}'), // 4-byte UTF-8 (CJK ext. B)
    ];
    vec(ch, 2..=20).prop_map(|chars| {
        let full: String = chars.into_iter().collect();
        MaskedName::mask(&full).unwrap()
    })
}

fn class() -> impl Strategy<Value = PassClass> {
    proptest::sample::select(PassClass::ALL.as_slice())
}

fn cargo() -> impl Strategy<Value = Cargo> {
    proptest::sample::select(Cargo::ALL.as_slice())
}

fn validity() -> impl Strategy<Value = Validity> {
    // Edge lengths around the varint steps, plus anything up to about two years.
    let minutes = prop_oneof![
        proptest::sample::select(vec![1u32, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]),
        1u32..1_100_000,
    ];
    (0u32..u32::MAX - 3_000_000, minutes)
        .prop_map(|(from, m)| Validity::new(Minute(from), Minute(from + m)).unwrap())
}

fn pass() -> impl Strategy<Value = Pass> {
    let checkpoint_ids = hash_set(any::<u32>(), 1..=MAX_ROUTE_CHECKPOINTS);
    (
        (
            division_code(),
            0u32..=PassNumber::MAX_SERIAL,
            class(),
            any::<u8>(),
            validity(),
        ),
        (plate(), masked_name(), proptest::option::of(masked_name())),
        (division_code(), division_code(), checkpoint_ids),
        (any::<u32>(), cargo(), 1..=MAX_DWELL_MINUTES),
    )
        .prop_map(
            |(
                (area, serial, class, key, validity),
                (plate, driver, co_driver),
                (origin, destination, cps),
                (enterprise, cargo, dwell),
            )| {
                let long = class == PassClass::LongHaul;
                let lul = class == PassClass::LoadUnloadLeave;
                let pass = Pass {
                    number: PassNumber::new(area, serial).unwrap(),
                    class,
                    key_id: KeyId(key),
                    validity,
                    plate,
                    crew: Crew { driver, co_driver },
                    route: Route {
                        origin,
                        destination,
                        checkpoints: if long {
                            cps.into_iter().map(CheckpointId).collect()
                        } else {
                            Vec::new()
                        },
                    },
                    enterprise: EnterpriseId(enterprise),
                    cargo,
                    max_dwell_minutes: lul.then_some(dwell),
                };
                pass.check().unwrap();
                pass
            },
        )
}

/// A random pass signed by a random key, with a bundle trusting that key and a gate and a
/// time at which the pass must be accepted.
fn signed_case() -> impl Strategy<Value = Case> {
    (pass(), any::<[u8; 32]>(), any::<u32>()).prop_map(|(pass, seed, offset)| {
        let key = SigningKey::from_bytes(&seed);
        let signed = codec::sign(&pass, &key).unwrap();
        let from = pass.validity.from().to_unix();
        let now = from + i64::from(offset) % (i64::from(pass.validity.minutes()) * 60);
        let gate = gate_for(&pass);
        let bundle = bundle_for(&key, pass.key_id, now);
        Case {
            pass,
            signed,
            bundle,
            gate,
            now,
        }
    })
}

#[derive(Debug, Clone)]
struct Case {
    pass: Pass,
    signed: Vec<u8>,
    bundle: Bundle,
    gate: GateContext,
    now: UnixSeconds,
}

fn gate_for(pass: &Pass) -> GateContext {
    GateContext {
        checkpoint: pass
            .route
            .checkpoints
            .first()
            .copied()
            .unwrap_or(CheckpointId(1)),
        inside_zone: true,
        enterprise: Some(pass.enterprise),
    }
}

fn bundle_for(key: &SigningKey, id: KeyId, now: UnixSeconds) -> Bundle {
    Bundle {
        version: 1,
        generated_at: now,
        keys: vec![IssuerKey {
            id,
            public: key.verifying_key(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: RevocationSet::new(),
        policy: Policy::default(),
        checkpoints: vec![],
    }
}

/// The reference passes, signed with the test key, and a bundle and gate that accept them.
fn reference() -> Vec<(Vec<u8>, GateContext)> {
    sample_passes()
        .iter()
        .map(|p| (codec::sign(p, &test_key()).unwrap(), gate_for(p)))
        .collect()
}

fn reference_bundle() -> Bundle {
    bundle_for(&test_key(), KeyId(1), issue_time() + 3600)
}

fn reference_now() -> UnixSeconds {
    issue_time() + 3600
}

/// Signed bytes of a reference pass with random damage: overwrites, a cut, an extension.
fn damaged_reference() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (
        0usize..3,
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        vec(any::<u8>(), 0..3),
    )
        .prop_map(|(which, writes, cut, extra)| {
            let mut bytes = reference().swap_remove(which).0;
            for (at, b) in writes {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes.extend(extra);
            (which, bytes)
        })
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #[test]
    fn verify_is_total_on_any_string(text in any::<String>()) {
        let v = verify(&text, &reference_bundle(), &reference()[0].1, reference_now());
        prop_assert!(!v.accepted());
    }

    #[test]
    fn verify_is_total_on_prefixed_strings(
        body in prop_oneof![
            "\\PC{0,200}",
            ".{0,200}",
            proptest::string::string_regex("[0-9A-Z $%*+./:-]{0,240}").unwrap(),
        ],
    ) {
        let text = format!("PG:{body}");
        let v = verify(&text, &reference_bundle(), &reference()[0].1, reference_now());
        prop_assert!(!v.accepted());
    }

    #[test]
    fn verify_is_total_on_any_base45_bytes(bytes in vec(any::<u8>(), 0..300)) {
        let text = format!("PG:{}", base45::encode(&bytes));
        let v = verify(&text, &reference_bundle(), &reference()[0].1, reference_now());
        prop_assert!(!v.accepted());
    }

    /// Bytes that start like a pass get further into the decoder.
    #[test]
    fn verify_is_total_on_pass_like_bytes(class in 0u8..5, rest in vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![1, class];
        bytes.extend(rest);
        let text = format!("PG:{}", base45::encode(&bytes));
        let v = verify(&text, &reference_bundle(), &reference()[0].1, reference_now());
        prop_assert!(!v.accepted());
        let _ = decode_payload(&bytes);
    }

    /// Damaged reference passes never panic, and are accepted only if undamaged.
    #[test]
    fn damaged_passes_are_refused((which, bytes) in damaged_reference()) {
        let (original, gate) = reference().swap_remove(which);
        let v = verify(&codec::encode_text(&bytes), &reference_bundle(), &gate, reference_now());
        prop_assert_eq!(v.accepted(), bytes == original);
        let _ = decode_payload(&bytes);
        if bytes.len() > 64 {
            let _ = decode_payload(&bytes[..bytes.len() - 64]);
        }
    }

    #[test]
    fn decode_payload_is_total(bytes in vec(any::<u8>(), 0..200)) {
        let _ = decode_payload(&bytes);
    }

    #[test]
    fn decode_payload_is_total_after_a_valid_head(
        head in 1usize..40,
        pass in pass(),
        tail in vec(any::<u8>(), 0..80),
    ) {
        let payload = encode_payload(&pass);
        let mut bytes = payload[..head.min(payload.len())].to_vec();
        bytes.extend(tail);
        if let Ok(back) = decode_payload(&bytes) {
            // Whatever decodes is canonical: it re-encodes to exactly the input.
            prop_assert_eq!(encode_payload(&back), bytes);
        }
    }

    #[test]
    fn valid_passes_round_trip(pass in pass()) {
        let payload = encode_payload(&pass);
        prop_assert_eq!(payload[0], 1);
        prop_assert_eq!(decode_payload(&payload).unwrap(), pass.clone());
        // Canonical: the only encoding of the pass.
        prop_assert_eq!(encode_payload(&decode_payload(&payload).unwrap()), payload);
    }

    #[test]
    fn signed_passes_verify(case in signed_case()) {
        let text = codec::encode_text(&case.signed);
        prop_assert!(text.len() < 400);
        let decoded = decode_text(&text).unwrap();
        prop_assert_eq!(&decoded.pass, &case.pass);
        let v = verify(&text, &case.bundle, &case.gate, case.now);
        prop_assert!(v.accepted(), "{:?}", v);
        prop_assert_eq!(v.pass.as_ref(), Some(&case.pass));
    }

    #[test]
    fn every_single_byte_change_is_refused(
        case in signed_case(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut bytes = case.signed.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let v = verify(&codec::encode_text(&bytes), &case.bundle, &case.gate, case.now);
        prop_assert!(!v.accepted(), "byte {} ^ {:#04x} accepted: {:?}", i, xor, v);
    }

    #[test]
    fn every_single_character_change_is_refused(
        case in signed_case(),
        at in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            4 => proptest::sample::select(BASE45.chars().collect::<Vec<_>>()),
            1 => any::<char>(),
        ],
    ) {
        let text = codec::encode_text(&case.signed);
        let chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != replacement);
        let mut changed = chars.clone();
        changed[i] = replacement;
        let changed: String = changed.into_iter().collect();
        let v = verify(&changed, &case.bundle, &case.gate, case.now);
        prop_assert!(!v.accepted(), "{:?} accepted: {:?}", changed, v);
        // Dropping a character is refused too.
        let mut dropped = chars;
        dropped.remove(i);
        let dropped: String = dropped.into_iter().collect();
        prop_assert!(!verify(&dropped, &case.bundle, &case.gate, case.now).accepted());
    }
}
