//! The test vectors of `docs/pass-format.md`, hard-coded. If one of these fails, either the
//! codec changed (and every pass already printed would break) or the document is wrong.
//! Regenerate the document's data with `cargo run -p passgate-shared --example pass_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use passgate_shared::bundle::RevocationSet;
use passgate_shared::codec::{self, SIGNATURE_LEN};
use passgate_shared::keys::{parse_public_key_b64, public_key_b64};
use passgate_shared::vectors::{TEST_SEED, issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, EnterpriseId, GateContext, IssuerKey, KeyId, KeyStatus, Policy,
    SIGNATURE_DOMAIN, decode_text, verify,
};
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};

struct Vector {
    payload: &'static str,
    signature: &'static str,
    text: &'static str,
    signed_len: usize,
    gate: GateContext,
}

const PUBLIC_HEX: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const PUBLIC_B64: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

fn vectors() -> [Vector; 3] {
    [
        Vector {
            payload: "0101618e67e04101003780c0e04e0f55313233343507e5bca02ae6988e04e69d8e2a0664b90641f601020303070c",
            signature: "92a2b0822a95582cb66a710779793a3de3559d7f186db619c17ad72e2ed6e4e8663d8711e468f9eeeb5a3afd5ba2a1301303a93f8149a6d43ad442f877563f04",
            text: "PG:W50:EC.5D 98A10KCG2GSA.1*96DL6UV6.1T7BK$6T-.H.6TY/HG 0QHNBF8X506H04+08OI6EMBH5R6BX2N0DE2GFEG7CXS:+J/33.0NUKO69RK-5A.SS-CH3HH*S$QV+XTQK7DQB:GK7I2$HLMFG34LUJ7:K8+3FM/7",
            signed_len: 110,
            gate: GateContext {
                checkpoint: CheckpointId(3),
                inside_zone: true,
                enterprise: None,
            },
        },
        Vector {
            payload: "0102618e67e04201003780c0a00b8f5544313233343504e78e8b2a000664b90664b90203",
            signature: "a8a7f6c1c1ed5cef0c1f2afabe327e982243497938fe869f6d6dcd1078774ce4402124d598ac1d047270466bdf0b5ee05372aa0390154de5967d4b8c9fed3c00",
            text: "PG:X50:EC.5DMF8A10KCGLAKI5I.R8QF60R6+R0-0I.D5G 0QHN0XCKB0KELY8VANOVXB/N1MJ502O80G-E4:C9A97%0HN$DQ-PEAFJW9$48OT4ODJ3U31LER+8*8SX:BWOA8MLU9I6%951JZO9 9KFQ7",
            signed_len: 100,
            gate: GateContext {
                checkpoint: CheckpointId(5),
                inside_zone: true,
                enterprise: Some(EnterpriseId(2)),
            },
        },
        Vector {
            payload: "0103618e67e04301003780c0c0160345323334353608e8b5b52a2ae58d8e04e992b12a0224d60664b9010178",
            signature: "c75d653aa5dcad7fbc339a3faa845b471efb6d72b7a608e1305b7dc32343eebe3198f53986447b727c874094db82c8f0914ad8cee13c0b8bc53b718261e2990a",
            text: "PG:Y50:EC.5D8L8A10KCGYCORI0QF60R6H$6%ITS+M1J5D+H.R0NOI:D5PT4G 0LHNG8079P*ZCP/K0.LTZNMMJ2PLCOBB-3S$DY9NN51456K+FRK488U6C620V$/GCRFJXFH78YXR5IPOGIHIRFLSUK11.OXFE%GCSFJ",
            signed_len: 108,
            gate: GateContext {
                checkpoint: CheckpointId(8),
                inside_zone: true,
                enterprise: Some(EnterpriseId(1)),
            },
        },
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bundle() -> Bundle {
    Bundle {
        version: 1,
        generated_at: issue_time(),
        keys: vec![IssuerKey {
            id: KeyId(1),
            public: parse_public_key_b64(PUBLIC_B64).unwrap(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: RevocationSet::new(),
        policy: Policy::default(),
        checkpoints: vec![],
    }
}

fn qr_version(text: &str) -> i16 {
    match QrCode::with_error_correction_level(text, EcLevel::Q)
        .unwrap()
        .version()
    {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

/// Smallest version holding `text` as a single alphanumeric segment at level Q.
fn alphanumeric_version(text: &str) -> i16 {
    (1..=40)
        .find(|&v| {
            let mut bits = Bits::new(Version::Normal(v));
            bits.push_alphanumeric_data(text.as_bytes()).is_ok()
                && bits.push_terminator(EcLevel::Q).is_ok()
        })
        .unwrap()
}

#[test]
fn test_key_is_the_documented_one() {
    assert_eq!(
        hex(&TEST_SEED),
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    );
    let public = test_key().verifying_key();
    assert_eq!(hex(public.as_bytes()), PUBLIC_HEX);
    assert_eq!(public_key_b64(&public), PUBLIC_B64);
    assert_eq!(hex(SIGNATURE_DOMAIN), "70617373676174652f706173732f763100");
    assert_eq!(SIGNATURE_DOMAIN, b"passgate/pass/v1\0");
}

#[test]
fn encoder_produces_the_documented_bytes() {
    let key = test_key();
    for (i, (pass, v)) in sample_passes().iter().zip(vectors()).enumerate() {
        let payload = codec::encode_payload(pass);
        assert_eq!(hex(&payload), v.payload, "vector {}: payload", i + 1);
        let signed = codec::sign(pass, &key).unwrap();
        assert_eq!(signed.len(), v.signed_len, "vector {}", i + 1);
        assert_eq!(signed.len(), payload.len() + SIGNATURE_LEN);
        assert_eq!(
            hex(&signed[payload.len()..]),
            v.signature,
            "vector {}: signature",
            i + 1
        );
        assert_eq!(
            codec::sign_to_text(pass, &key).unwrap(),
            v.text,
            "vector {}: text",
            i + 1
        );
        assert_eq!(codec::encode_text(&signed), v.text);
    }
}

#[test]
fn documented_text_decodes_to_the_pass() {
    let public = parse_public_key_b64(PUBLIC_B64).unwrap();
    for (i, (pass, v)) in sample_passes().iter().zip(vectors()).enumerate() {
        let signed = decode_text(v.text).unwrap();
        assert_eq!(&signed.pass, pass, "vector {}", i + 1);
        assert_eq!(hex(&signed.payload), v.payload);
        assert_eq!(hex(&signed.signature.to_bytes()), v.signature);
        assert!(signed.signature_valid(&public), "vector {}", i + 1);
        // What a scanner in keyboard mode sends: the text and a line end.
        assert_eq!(decode_text(&format!("{}\r\n", v.text)).unwrap().pass, *pass);
    }
}

#[test]
fn documented_text_is_accepted_at_its_gate() {
    let b = bundle();
    let now = issue_time() + 3600;
    for (i, (pass, v)) in sample_passes().iter().zip(vectors()).enumerate() {
        let verdict = verify(v.text, &b, &v.gate, now);
        assert!(verdict.accepted(), "vector {}: {verdict:?}", i + 1);
        assert!(verdict.warnings.is_empty(), "vector {}: {verdict:?}", i + 1);
        assert_eq!(verdict.pass.as_ref(), Some(pass));
        // And refused once it has expired.
        let until = pass.validity.until().to_unix();
        let late = verify(v.text, &b, &v.gate, until + 24 * 3600);
        assert_eq!(
            late.reason.map(|r| r.code()),
            Some("expired"),
            "vector {}",
            i + 1
        );
    }
    // The long-haul pass is bound to its route.
    let off = GateContext {
        checkpoint: CheckpointId(4),
        inside_zone: true,
        enterprise: None,
    };
    let v = verify(vectors()[0].text, &b, &off, now);
    assert_eq!(v.reason.map(|r| r.code()), Some("off_route"));
}

#[test]
fn qr_fits_version_9_at_level_q() {
    for (i, v) in vectors().iter().enumerate() {
        assert!(
            v.text
                .bytes()
                .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b))
        );
        let auto = qr_version(v.text);
        let alnum = alphanumeric_version(v.text);
        assert!(auto <= alnum, "vector {}", i + 1);
        assert!(
            alnum <= 9,
            "vector {}: QR version {alnum} at level Q",
            i + 1
        );
    }
    // The size goal's reference: the long-haul pass.
    assert_eq!(alphanumeric_version(vectors()[0].text), 9);
}

#[test]
fn document_holds_these_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/pass-format.md");
    let doc = std::fs::read_to_string(path).unwrap();
    assert!(doc.contains(PUBLIC_HEX) && doc.contains(PUBLIC_B64));
    for (i, v) in vectors().iter().enumerate() {
        for s in [v.payload, v.signature, v.text] {
            let line = format!("\n{s}\n");
            assert!(
                doc.contains(&line),
                "docs/pass-format.md lacks vector {}: {s}",
                i + 1
            );
        }
    }
}
