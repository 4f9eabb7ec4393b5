//! # passgate-shared
//!
//! The pure core of passgate: everything the issuing server and the offline
//! checkpoint must agree on, byte for byte and rule for rule.
//!
//! * [`pass`] — the pass and its parts ([`PassNumber`], [`Plate`], [`PassClass`] …), each
//!   built through a parse constructor that returns a typed error a person can act on.
//! * [`codec`] — the canonical compact binary layout (version byte, then fields), the
//!   Ed25519 signature over a domain-separated message, and the QR text (`PG:` + base45).
//! * [`keys`] — issuer key ids, key status and signing helpers.
//! * [`bundle`] — the trust data a gate holds offline: issuer keys, revoked pass numbers,
//!   policy and the checkpoint directory.
//! * [`verify`] — `verify(text, bundle, gate, now) -> Verdict`: the gate decision, with a
//!   typed reason and a Chinese and English message for every rejection.
//! * [`sync`] — wire types of the checkpoint ↔ server sync protocol.
//! * [`reporting`] — the enterprise reporting rules: credit codes, daily and zero reports,
//!   supplies' days of cover, the risk-person notice flow.
//!
//! This crate does no IO, reads no clock and spawns nothing: time is always a parameter,
//! so every rule is a plain, table-driven test.

pub mod anomaly;
pub mod base45;
pub mod bundle;
pub mod bundle_file;
pub mod codec;
pub mod i18n;
pub mod keys;
pub mod pass;
pub mod record;
pub mod reporting;
pub mod rules;
pub mod sync;
pub mod time;
pub mod vectors;
pub mod verify;

pub use bundle::{Bundle, CheckpointInfo, Policy, StaleAction};
pub use codec::{DecodeError, QR_PREFIX, SIGNATURE_DOMAIN, decode_text, encode_text};
pub use i18n::Lang;
pub use keys::{IssuerKey, KeyId, KeyStatus};
pub use pass::{
    Cargo, CheckpointId, Crew, DivisionCode, EnterpriseId, MaskedName, Pass, PassClass, PassError,
    PassNumber, Plate, PlateError, Route,
};
pub use time::{Minute, UnixSeconds, Validity};
pub use verify::{GateContext, RejectReason, Verdict, Warning, verify};
