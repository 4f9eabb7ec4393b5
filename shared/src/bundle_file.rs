//! The signed bundle file: how a [`Bundle`] travels from the server to a gate and rests on
//! the gate's disk. A full snapshot, or a delta of revocations since a version the gate
//! holds; either way signed with a **bundle key**, separate from the issuer keys.
//!
//! ```text
//! file   = magic "PGB1" | kind(1: 0 snapshot, 1 delta) | key_id(1)
//!        | header_len(4, u32 BE) | header (UTF-8 JSON, BundleHeader)
//!        | revocations_len(4, u32 BE) | revocations (portable roaring treemap)
//!        | signature(64) = ed25519(BUNDLE_DOMAIN | every byte before the signature)
//! ```
//!
//! For a snapshot, `revocations` is the whole revoked set; for a delta it is the numbers
//! revoked after `base_version`. The header always carries everything else in full (keys,
//! policy, directory: they are small) and the size of the resulting revoked set, which the
//! gate checks after applying a delta, so a lost or doubled delta can never pass unnoticed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bundle::{Bundle, CheckpointInfo, Policy, RevocationSet};
use crate::keys::{IssuerKey, KeyId};
use crate::time::UnixSeconds;

pub const MAGIC: &[u8; 4] = b"PGB1";
/// Signed before the file's bytes; no other passgate signature starts with it.
pub const BUNDLE_DOMAIN: &[u8] = b"passgate/bundle/v1\0";
/// Largest file a gate will read (a snapshot with millions of revocations is a few MB).
pub const MAX_FILE_LEN: usize = 64 * 1024 * 1024;

/// Everything in a bundle but the revocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    pub version: u64,
    pub generated_at: UnixSeconds,
    /// For a delta: the version it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<u64>,
    pub keys: Vec<IssuerKey>,
    pub policy: Policy,
    pub checkpoints: Vec<CheckpointInfo>,
    /// Number of revoked passes once this file is applied.
    pub revoked_count: u64,
    /// Bundle-signing keys the gate must accept from now on (the current one and, during a
    /// rotation, the next). Gates learn a new bundle key only through a bundle signed by a
    /// key they already trust.
    pub bundle_keys: Vec<IssuerKey>,
}

/// A decoded, signature-checked bundle file.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFile {
    pub key_id: KeyId,
    pub header: BundleHeader,
    /// The full set (snapshot) or the added numbers (delta).
    pub revocations: RevocationSet,
}

impl BundleFile {
    pub fn is_delta(&self) -> bool {
        self.header.base_version.is_some()
    }
}

/// Why a bundle file was refused. The gate keeps the bundle it has.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BundleError {
    #[error("not a passgate bundle file (bad magic)")]
    Magic,
    #[error("the bundle file is truncated ({0})")]
    Truncated(&'static str),
    #[error("the bundle file is {0} bytes, more than a gate accepts")]
    TooLarge(usize),
    #[error("unknown bundle kind {0}")]
    Kind(u8),
    #[error("the bundle is signed by bundle key {0}, which this gate does not trust")]
    UnknownKey(KeyId),
    #[error("the bundle signature is invalid: the file was altered or forged")]
    BadSignature,
    #[error("the bundle header is invalid: {0}")]
    Header(String),
    #[error("the bundle's revocation list is invalid")]
    Revocations,
    #[error("{0} bytes follow the signature")]
    Trailing(usize),
    #[error("rolled-back bundle: this gate holds version {held}, the offered one is {offered}")]
    Rollback { held: u64, offered: u64 },
    #[error(
        "the delta applies to version {base}, but this gate holds {held:?}; fetch a full bundle"
    )]
    BaseMismatch { base: u64, held: Option<u64> },
    #[error(
        "after applying the delta the gate has {got} revocations, the server says {want}; fetch a full bundle"
    )]
    CountMismatch { got: u64, want: u64 },
}

fn header_of(
    bundle: &Bundle,
    base_version: Option<u64>,
    bundle_keys: &[IssuerKey],
) -> BundleHeader {
    BundleHeader {
        version: bundle.version,
        generated_at: bundle.generated_at,
        base_version,
        keys: bundle.keys.clone(),
        policy: bundle.policy.clone(),
        checkpoints: bundle.checkpoints.clone(),
        revoked_count: bundle.revoked.len(),
        bundle_keys: bundle_keys.to_vec(),
    }
}

fn encode(
    kind: u8,
    header: &BundleHeader,
    revocations: &RevocationSet,
    key_id: KeyId,
    key: &SigningKey,
) -> Vec<u8> {
    // A header of plain data always serialises.
    let header = serde_json::to_vec(header).unwrap_or_default();
    let revs = revocations.to_bytes();
    let mut out = Vec::with_capacity(4 + 2 + 8 + header.len() + revs.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(kind);
    out.push(key_id.0);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(revs.len() as u32).to_be_bytes());
    out.extend_from_slice(&revs);
    let sig = key.sign(&signed_message(&out));
    out.extend_from_slice(&sig.to_bytes());
    out
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_DOMAIN.len() + body.len());
    m.extend_from_slice(BUNDLE_DOMAIN);
    m.extend_from_slice(body);
    m
}

/// A full snapshot of `bundle`, signed by bundle key `key_id`.
pub fn encode_snapshot(
    bundle: &Bundle,
    bundle_keys: &[IssuerKey],
    key_id: KeyId,
    key: &SigningKey,
) -> Vec<u8> {
    encode(
        0,
        &header_of(bundle, None, bundle_keys),
        &bundle.revoked,
        key_id,
        key,
    )
}

/// A delta from `base_version` to `bundle`: the full header and the numbers revoked since.
pub fn encode_delta(
    bundle: &Bundle,
    base_version: u64,
    added: &RevocationSet,
    bundle_keys: &[IssuerKey],
    key_id: KeyId,
    key: &SigningKey,
) -> Vec<u8> {
    encode(
        1,
        &header_of(bundle, Some(base_version), bundle_keys),
        added,
        key_id,
        key,
    )
}

/// Check the signature with one of `trusted` and decode. Nothing is trusted before the
/// signature checks out.
pub fn decode(bytes: &[u8], trusted: &[IssuerKey]) -> Result<BundleFile, BundleError> {
    if bytes.len() > MAX_FILE_LEN {
        return Err(BundleError::TooLarge(bytes.len()));
    }
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        return Err(BundleError::Magic);
    }
    let mut pos: usize = 4;
    let mut take = |n: usize, what: &'static str| -> Result<&[u8], BundleError> {
        let end = pos
            .checked_add(n)
            .filter(|&e| e <= bytes.len())
            .ok_or(BundleError::Truncated(what))?;
        let s = &bytes[pos..end];
        pos = end;
        Ok(s)
    };
    let kind = take(1, "kind")?[0];
    let key_id = KeyId(take(1, "key id")?[0]);
    let len = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let header_len = len(take(4, "header length")?);
    let header = take(header_len, "header")?;
    let revs_len = len(take(4, "revocations length")?);
    let revs = take(revs_len, "revocations")?;
    let sig = take(64, "signature")?;
    let signed_len = pos - 64;
    if pos != bytes.len() {
        return Err(BundleError::Trailing(bytes.len() - pos));
    }
    if kind > 1 {
        return Err(BundleError::Kind(kind));
    }
    let key = trusted
        .iter()
        .find(|k| k.id == key_id)
        .ok_or(BundleError::UnknownKey(key_id))?;
    if key.status == crate::keys::KeyStatus::Compromised {
        return Err(BundleError::UnknownKey(key_id));
    }
    let sig = Signature::from_bytes(
        sig.try_into()
            .map_err(|_| BundleError::Truncated("signature"))?,
    );
    let public: &VerifyingKey = &key.public;
    public
        .verify_strict(&signed_message(&bytes[..signed_len]), &sig)
        .map_err(|_| BundleError::BadSignature)?;
    let header: BundleHeader =
        serde_json::from_slice(header).map_err(|e| BundleError::Header(e.to_string()))?;
    if (kind == 1) != header.base_version.is_some() {
        return Err(BundleError::Header("kind and base_version disagree".into()));
    }
    if !crate::time::is_plausible(header.generated_at) {
        return Err(BundleError::Header(format!(
            "generated_at {} is not a time between 1970 and 9999",
            header.generated_at
        )));
    }
    let revocations = RevocationSet::from_bytes(revs).ok_or(BundleError::Revocations)?;
    Ok(BundleFile {
        key_id,
        header,
        revocations,
    })
}

/// Apply a checked file to the bundle a gate holds. Refuses rollbacks, deltas that do not
/// start where the gate is, and results whose revocation count disagrees with the server.
pub fn apply(held: Option<&Bundle>, file: BundleFile) -> Result<Bundle, BundleError> {
    let held_version = held.map(|b| b.version);
    if let Some(h) = held_version
        && file.header.version < h
    {
        return Err(BundleError::Rollback {
            held: h,
            offered: file.header.version,
        });
    }
    // The same version signed earlier (a replayed file, or another server instance's older
    // copy): keep what is held, so the gate's bundle never gets older.
    if let Some(h) = held
        && file.header.version == h.version
        && file.header.generated_at < h.generated_at
    {
        return Ok(h.clone());
    }
    let revoked = match file.header.base_version {
        None => file.revocations,
        Some(base) => {
            let Some(held) = held.filter(|b| b.version == base) else {
                return Err(BundleError::BaseMismatch {
                    base,
                    held: held_version,
                });
            };
            let mut set = held.revoked.clone();
            set.extend(&file.revocations);
            set
        }
    };
    if revoked.len() != file.header.revoked_count {
        return Err(BundleError::CountMismatch {
            got: revoked.len(),
            want: file.header.revoked_count,
        });
    }
    let h = file.header;
    Ok(Bundle {
        version: h.version,
        generated_at: h.generated_at,
        keys: h.keys,
        revoked,
        policy: h.policy,
        checkpoints: h.checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyStatus;
    use crate::pass::{DivisionCode, PassNumber};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(id: u8, k: &SigningKey) -> IssuerKey {
        IssuerKey {
            id: KeyId(id),
            public: k.verifying_key(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }
    }

    fn numbers(range: std::ops::Range<u32>) -> RevocationSet {
        let area = DivisionCode::parse("419001").unwrap();
        range.map(|s| PassNumber::new(area, s).unwrap()).collect()
    }

    fn bundle(version: u64, revoked: RevocationSet) -> Bundle {
        Bundle {
            version,
            generated_at: 1_800_000_000 + version as i64,
            keys: vec![public(1, &key(1))],
            revoked,
            policy: Policy::default(),
            checkpoints: vec![],
        }
    }

    /// Found by fuzzing: a signed header with an extreme `generated_at` made the gate's age
    /// arithmetic overflow. Such a bundle is refused at decode, and the age saturates anyway.
    #[test]
    fn an_impossible_generation_time_is_refused() {
        let bk = key(9);
        let trusted = vec![public(1, &bk)];
        for t in [i64::MIN, -1, crate::time::MAX_TIME + 1, i64::MAX] {
            let mut b = bundle(1, numbers(0..3));
            b.generated_at = t;
            let err = decode(&encode_snapshot(&b, &trusted, KeyId(1), &bk), &trusted).unwrap_err();
            assert!(
                matches!(&err, BundleError::Header(m) if m.contains("generated_at")),
                "{t}: {err}"
            );
            assert_eq!(b.age(i64::MAX), i64::MAX.saturating_sub(t).max(0));
            assert!(b.age(i64::MIN) >= 0);
        }
        let mut b = bundle(1, numbers(0..3));
        b.generated_at = crate::time::MAX_TIME;
        assert!(decode(&encode_snapshot(&b, &trusted, KeyId(1), &bk), &trusted).is_ok());
    }

    #[test]
    fn snapshot_and_delta_round_trip() {
        let bk = key(9);
        let trusted = vec![public(1, &bk)];
        let v1 = bundle(1, numbers(0..10));
        let file = decode(&encode_snapshot(&v1, &trusted, KeyId(1), &bk), &trusted).unwrap();
        assert!(!file.is_delta());
        let held = apply(None, file).unwrap();
        assert_eq!(held, v1);

        let v2 = bundle(2, numbers(0..15));
        let delta = encode_delta(&v2, 1, &numbers(10..15), &trusted, KeyId(1), &bk);
        let got = apply(Some(&held), decode(&delta, &trusted).unwrap()).unwrap();
        assert_eq!(got, v2);
        // The same delta again: the gate is past its base now.
        let err = apply(Some(&got), decode(&delta, &trusted).unwrap()).unwrap_err();
        assert_eq!(
            err,
            BundleError::BaseMismatch {
                base: 1,
                held: Some(2)
            }
        );
        // An older snapshot is a rollback.
        let old = encode_snapshot(&v1, &trusted, KeyId(1), &bk);
        assert_eq!(
            apply(Some(&got), decode(&old, &trusted).unwrap()),
            Err(BundleError::Rollback {
                held: 2,
                offered: 1
            })
        );
        // The same version signed earlier is no news: the held bundle stays.
        let mut newer = v2.clone();
        newer.generated_at += 60;
        let snap = |b: &Bundle| encode_snapshot(b, &trusted, KeyId(1), &bk);
        let held2 = apply(Some(&got), decode(&snap(&newer), &trusted).unwrap()).unwrap();
        assert_eq!(held2.generated_at, newer.generated_at);
        let again = apply(Some(&held2), decode(&snap(&v2), &trusted).unwrap()).unwrap();
        assert_eq!(again, held2);
        // An empty delta at the held version refreshes the time.
        let touch = encode_delta(&newer, 2, &RevocationSet::new(), &trusted, KeyId(1), &bk);
        assert_eq!(
            apply(Some(&got), decode(&touch, &trusted).unwrap()).unwrap(),
            newer
        );
        // A delta that lost numbers on the way is caught by the count.
        let short = encode_delta(&v2, 1, &numbers(10..14), &trusted, KeyId(1), &bk);
        assert_eq!(
            apply(Some(&held), decode(&short, &trusted).unwrap()),
            Err(BundleError::CountMismatch { got: 14, want: 15 })
        );
    }

    #[test]
    fn refuses_forged_altered_and_truncated_files() {
        let bk = key(9);
        let trusted = vec![public(1, &bk)];
        let bytes = encode_snapshot(&bundle(3, numbers(0..100)), &trusted, KeyId(1), &bk);
        // Signed by a key the gate does not trust under the same id.
        let forged = encode_snapshot(&bundle(3, numbers(0..100)), &trusted, KeyId(1), &key(8));
        assert_eq!(decode(&forged, &trusted), Err(BundleError::BadSignature));
        assert_eq!(
            decode(&bytes, &[public(2, &bk)]),
            Err(BundleError::UnknownKey(KeyId(1)))
        );
        let mut compromised = trusted.clone();
        compromised[0].status = KeyStatus::Compromised;
        assert_eq!(
            decode(&bytes, &compromised),
            Err(BundleError::UnknownKey(KeyId(1)))
        );
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(decode(&b, &trusted).is_err(), "flip at {i} accepted");
        }
        for n in 0..bytes.len() {
            assert!(
                decode(&bytes[..n], &trusted).is_err(),
                "prefix {n} accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, &trusted), Err(BundleError::Trailing(1)));
    }

    #[test]
    fn sizes_stay_small() {
        let bk = key(9);
        let trusted = vec![public(1, &bk)];
        let big = bundle(5, numbers(0..1_000_000));
        let full = encode_snapshot(&big, &trusted, KeyId(1), &bk);
        let delta = encode_delta(&big, 4, &numbers(500_000..501_000), &trusted, KeyId(1), &bk);
        assert!(
            full.len() < 200_000,
            "snapshot of 1M consecutive numbers: {} bytes",
            full.len()
        );
        assert!(delta.len() < 4_000, "delta of 1,000: {} bytes", delta.len());
    }
}
