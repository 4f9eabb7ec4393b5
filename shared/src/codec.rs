//! The canonical binary layout of a pass, its signature and its QR text.
//!
//! `docs/pass-format.md` describes every byte; the summary:
//!
//! ```text
//! payload = version(1)=0x01 | class(1) | number(5, u40 BE) | key_id(1)
//!         | valid_from(4, u32 BE minutes since 2020-01-01Z) | valid_minutes(varint)
//!         | plate | driver(str8) | co_driver(str8, empty = none)
//!         | origin(3, u24 BE) | destination(3, u24 BE) | enterprise(varint) | cargo(1)
//!         | long-haul: count(1) + checkpoint ids(varint each)
//!         | load-unload-leave: max_dwell_minutes(varint)
//! signed  = payload | ed25519(SIGNATURE_DOMAIN | payload) (64)
//! text    = "PG:" | base45(signed)
//! ```
//!
//! The layout is canonical: each pass has exactly one encoding. The decoder enforces that by
//! re-encoding what it read and comparing, so minimal varints, absent optional fields and
//! normalised strings are all checked by one rule.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use crate::base45;
use crate::keys::KeyId;
use crate::pass::Cargo;
use crate::pass::{
    CheckpointId, Crew, DivisionCode, EnterpriseId, MaskedName, PROVINCES, Pass, PassClass,
    PassError, PassNumber, Plate, Route,
};
use crate::time::{Minute, Validity};

/// The version byte this code writes and reads.
pub const VERSION: u8 = 1;
/// What the QR text starts with.
pub const QR_PREFIX: &str = "PG:";
/// Signed before the payload, so a pass signature can never be mistaken for another
/// passgate signature (bundles, uploads) made with a key of the same kind.
pub const SIGNATURE_DOMAIN: &[u8] = b"passgate/pass/v1\0";
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a text or byte string is not a pass.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("the text does not start with {QR_PREFIX:?}: not a passgate pass")]
    Prefix,
    #[error("the text is not valid base45: {0}")]
    Base45(#[from] base45::Base45Error),
    #[error("the pass is {0} bytes long, too short to hold a signature")]
    TooShort(usize),
    #[error("pass format version {0} is not supported by this program")]
    Version(u8),
    #[error("the pass ends early while reading {0}")]
    Truncated(&'static str),
    #[error("field {0} holds an invalid value")]
    Field(&'static str),
    #[error("the pass breaks a class rule: {0}")]
    Rule(#[from] PassError),
    #[error("{0} bytes follow the last field")]
    Trailing(usize),
    #[error("the pass is not in canonical form")]
    NonCanonical,
}

// ---------------------------------------------------------------------------------------
// Encoding

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str8(out: &mut Vec<u8>, s: &str) {
    // Names are at most 20 characters of at most 4 bytes, so the length fits a byte.
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// The payload bytes of a pass: what is signed. The pass must satisfy [`Pass::check`].
pub fn encode_payload(pass: &Pass) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    out.push(pass.class.code());
    out.extend_from_slice(&pass.number.get().to_be_bytes()[3..]);
    out.push(pass.key_id.0);
    out.extend_from_slice(&pass.validity.from().0.to_be_bytes());
    put_varint(&mut out, pass.validity.minutes());
    let plate_head =
        pass.plate.province_index() | if pass.plate.is_new_energy() { 0x80 } else { 0 };
    out.push(plate_head);
    out.extend_from_slice(pass.plate.tail().as_bytes());
    put_str8(&mut out, pass.crew.driver.as_str());
    put_str8(
        &mut out,
        pass.crew.co_driver.as_ref().map_or("", |n| n.as_str()),
    );
    put_u24(&mut out, pass.route.origin.get());
    put_u24(&mut out, pass.route.destination.get());
    put_varint(&mut out, pass.enterprise.0);
    out.push(pass.cargo.code());
    match pass.class {
        PassClass::LongHaul => {
            out.push(pass.route.checkpoints.len() as u8);
            for c in &pass.route.checkpoints {
                put_varint(&mut out, c.0);
            }
        }
        PassClass::LoadUnloadLeave => {
            put_varint(&mut out, u32::from(pass.max_dwell_minutes.unwrap_or(0)));
        }
        PassClass::ShortHaul => {}
    }
    out
}

/// The exact message an issuer key signs: the domain prefix, then the payload.
pub fn signature_input(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_DOMAIN.len() + payload.len());
    m.extend_from_slice(SIGNATURE_DOMAIN);
    m.extend_from_slice(payload);
    m
}

/// Payload followed by its signature.
pub fn sign(pass: &Pass, key: &SigningKey) -> Result<Vec<u8>, PassError> {
    pass.check()?;
    let mut bytes = encode_payload(pass);
    let sig = key.sign(&signature_input(&bytes));
    bytes.extend_from_slice(&sig.to_bytes());
    Ok(bytes)
}

/// The QR text of signed bytes.
pub fn encode_text(signed: &[u8]) -> String {
    let mut s = String::with_capacity(QR_PREFIX.len() + base45::encoded_len(signed.len()));
    s.push_str(QR_PREFIX);
    s.push_str(&base45::encode(signed));
    s
}

/// Sign a pass and return its QR text.
pub fn sign_to_text(pass: &Pass, key: &SigningKey) -> Result<String, PassError> {
    sign(pass, key).map(|b| encode_text(&b))
}

// ---------------------------------------------------------------------------------------
// Decoding

/// A decoded pass with the bytes its signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPass {
    pub pass: Pass,
    pub payload: Vec<u8>,
    pub signature: Signature,
}

impl SignedPass {
    /// Check the signature with `verify_strict` over the domain-separated payload.
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(&signature_input(&self.payload), &self.signature)
            .is_ok()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated(what))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn uint(&mut self, n: usize, what: &'static str) -> Result<u64, DecodeError> {
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    fn varint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = self.u8(what)?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| DecodeError::Field(what));
            }
        }
        Err(DecodeError::Field(what))
    }

    fn str8(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let n = usize::from(self.u8(what)?);
        std::str::from_utf8(self.take(n, what)?).map_err(|_| DecodeError::Field(what))
    }
}

/// Decode the payload bytes of a pass (no signature). Rejects unknown versions, bad
/// fields, trailing bytes and every non-canonical form.
pub fn decode_payload(payload: &[u8]) -> Result<Pass, DecodeError> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let class = PassClass::from_code(r.u8("class")?).ok_or(DecodeError::Field("class"))?;
    let number = PassNumber::from_u64(r.uint(5, "number")?).ok_or(DecodeError::Field("number"))?;
    let key_id = KeyId(r.u8("key_id")?);
    let from = Minute(r.uint(4, "valid_from")? as u32);
    let minutes = r.varint("valid_minutes")?;
    let until = from
        .0
        .checked_add(minutes)
        .map(Minute)
        .ok_or(DecodeError::Field("valid_minutes"))?;
    let validity = Validity::new(from, until).ok_or(DecodeError::Field("valid_minutes"))?;

    let head = r.u8("plate")?;
    let province = PROVINCES
        .get(usize::from(head & 0x7f))
        .ok_or(DecodeError::Field("plate"))?;
    let tail_len = if head & 0x80 != 0 { 7 } else { 6 };
    let tail =
        std::str::from_utf8(r.take(tail_len, "plate")?).map_err(|_| DecodeError::Field("plate"))?;
    let plate =
        Plate::parse(&format!("{province}{tail}")).map_err(|_| DecodeError::Field("plate"))?;

    let driver = MaskedName::parse(r.str8("driver")?).map_err(|_| DecodeError::Field("driver"))?;
    let co = r.str8("co_driver")?;
    let co_driver = match co {
        "" => None,
        s => Some(MaskedName::parse(s).map_err(|_| DecodeError::Field("co_driver"))?),
    };
    let origin =
        DivisionCode::from_u32(r.uint(3, "origin")? as u32).ok_or(DecodeError::Field("origin"))?;
    let destination = DivisionCode::from_u32(r.uint(3, "destination")? as u32)
        .ok_or(DecodeError::Field("destination"))?;
    let enterprise = EnterpriseId(r.varint("enterprise")?);
    let cargo = Cargo::from_code(r.u8("cargo")?).ok_or(DecodeError::Field("cargo"))?;

    let mut checkpoints = Vec::new();
    let mut max_dwell_minutes = None;
    match class {
        PassClass::LongHaul => {
            let n = r.u8("checkpoints")?;
            for _ in 0..n.min(crate::pass::MAX_ROUTE_CHECKPOINTS as u8 + 1) {
                checkpoints.push(CheckpointId(r.varint("checkpoints")?));
            }
        }
        PassClass::LoadUnloadLeave => {
            let m = r.varint("max_dwell_minutes")?;
            max_dwell_minutes =
                Some(u16::try_from(m).map_err(|_| DecodeError::Field("max_dwell_minutes"))?);
        }
        PassClass::ShortHaul => {}
    }
    if r.pos != payload.len() {
        return Err(DecodeError::Trailing(payload.len() - r.pos));
    }
    let pass = Pass {
        number,
        class,
        key_id,
        validity,
        plate,
        crew: Crew { driver, co_driver },
        route: Route {
            origin,
            destination,
            checkpoints,
        },
        enterprise,
        cargo,
        max_dwell_minutes,
    };
    pass.check()?;
    if encode_payload(&pass) != payload {
        return Err(DecodeError::NonCanonical);
    }
    Ok(pass)
}

/// Split signed bytes into the pass and its signature (the signature is not checked here).
pub fn decode_signed(bytes: &[u8]) -> Result<SignedPass, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::TooShort(0));
    }
    if bytes[0] != VERSION {
        return Err(DecodeError::Version(bytes[0]));
    }
    let cut = bytes.len().checked_sub(SIGNATURE_LEN).filter(|&c| c > 0);
    let cut = cut.ok_or(DecodeError::TooShort(bytes.len()))?;
    let (payload, sig) = bytes.split_at(cut);
    let sig: [u8; SIGNATURE_LEN] = sig
        .try_into()
        .map_err(|_| DecodeError::TooShort(bytes.len()))?;
    let pass = decode_payload(payload)?;
    Ok(SignedPass {
        pass,
        payload: payload.to_vec(),
        signature: Signature::from_bytes(&sig),
    })
}

/// Decode a QR text: the prefix, base45, then [`decode_signed`]. A trailing CR/LF, as a
/// scanner may send, is tolerated; nothing else is altered.
pub fn decode_text(text: &str) -> Result<SignedPass, DecodeError> {
    let text = text.trim_end_matches(['\r', '\n']);
    let body = text.strip_prefix(QR_PREFIX).ok_or(DecodeError::Prefix)?;
    decode_signed(&base45::decode(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::*;

    #[test]
    fn round_trip_every_class() {
        let key = test_key();
        for pass in sample_passes() {
            let signed = sign(&pass, &key).unwrap();
            let text = encode_text(&signed);
            let back = decode_text(&text).unwrap();
            assert_eq!(back.pass, pass);
            assert!(back.signature_valid(&key.verifying_key()));
        }
    }

    #[test]
    fn rejects_trailing_and_truncated() {
        let key = test_key();
        let pass = &sample_passes()[0];
        let payload = encode_payload(pass);
        let mut longer = payload.clone();
        longer.push(0);
        assert_eq!(decode_payload(&longer), Err(DecodeError::Trailing(1)));
        for n in 0..payload.len() {
            assert!(
                decode_payload(&payload[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
        let mut v2 = payload.clone();
        v2[0] = 2;
        assert_eq!(decode_payload(&v2), Err(DecodeError::Version(2)));
        let signed = sign(pass, &key).unwrap();
        assert_eq!(decode_signed(&signed[..64]), Err(DecodeError::TooShort(64)));
    }

    #[test]
    fn rejects_overlong_varint() {
        // valid_minutes of the short-haul sample re-encoded with a redundant continuation byte.
        let pass = &sample_passes()[1];
        let payload = encode_payload(pass);
        let at = 12; // version, class, number(5), key, from(4)
        let mut v = Vec::new();
        put_varint(&mut v, pass.validity.minutes());
        assert_eq!(&payload[at..at + v.len()], &v[..]);
        let mut over = payload[..at].to_vec();
        let last = v.len() - 1;
        over.extend_from_slice(&v[..last]);
        over.push(v[last] | 0x80);
        over.push(0);
        over.extend_from_slice(&payload[at + v.len()..]);
        assert_eq!(decode_payload(&over), Err(DecodeError::NonCanonical));
    }

    #[test]
    fn rejects_prefix_and_garbage() {
        assert_eq!(decode_text("HC1:ABC"), Err(DecodeError::Prefix));
        assert!(matches!(decode_text("PG:ab"), Err(DecodeError::Base45(_))));
        assert!(decode_text("PG:").is_err());
    }
}
