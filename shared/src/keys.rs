//! Issuer keys: ids, status, and the public half as gates hold it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::UnixSeconds;

/// The id of an issuer key, carried in every pass (one byte).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u8);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an issuer key stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new passes.
    Active,
    /// Signs nothing new; passes it signed stay valid until they expire.
    Retired,
    /// Leaked: every pass it signed is refused.
    Compromised,
}

/// A public issuer key as the bundle carries it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerKey {
    pub id: KeyId,
    #[serde(with = "b64_key")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub public: VerifyingKey,
    pub status: KeyStatus,
    /// Passes whose validity starts before this are not this key's (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<UnixSeconds>,
    /// Passes whose validity starts after this are not this key's (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<UnixSeconds>,
}

/// Base64 text of a public key, the form used in JSON and in documents.
pub fn public_key_b64(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Parse a base64 public key; `None` if it is not 32 bytes or not a curve point.
pub fn parse_public_key_b64(s: &str) -> Option<VerifyingKey> {
    let bytes = B64.decode(s.trim()).ok()?;
    let arr: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&arr).ok()
}

/// serde adapter: a [`VerifyingKey`] as standard base64.
pub mod b64_key {
    use super::*;

    pub fn serialize<S: Serializer>(k: &VerifyingKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&public_key_b64(k))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VerifyingKey, D::Error> {
        let s = String::deserialize(d)?;
        parse_public_key_b64(&s)
            .ok_or_else(|| serde::de::Error::custom("not a base64 Ed25519 public key"))
    }
}
