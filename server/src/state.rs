//! Configuration and the state every handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use passgate_shared::{DivisionCode, Policy};

use crate::keyring::Keys;
use crate::metrics::Metrics;
use crate::store::Store;

/// Settings of one server instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuing area: the first 6 digits of every pass number.
    pub area: DivisionCode,
    /// The issuing authority's name, printed on passes.
    pub authority: String,
    /// Gate policy sent in every bundle.
    pub policy: Policy,
    pub data_dir: PathBuf,
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The signing keys; the issuer ring grows at run time when an administrator rotates.
    pub keys: Arc<Keys>,
    /// Secret mixed into the hash of ID numbers, so the hashes cannot be reversed by
    /// enumerating the (small) space of ID numbers without it.
    pub id_hash_secret: Arc<[u8; 32]>,
    /// Key that seals personal data kept in full in the database (the crew's phone).
    pub personal_secret: Arc<[u8; 32]>,
    /// Key of the audit chain's HMAC (see [`crate::audit`]).
    pub audit_secret: Arc<[u8; 32]>,
    pub settings: Arc<Settings>,
    /// This instance's counters for `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Signed bundle files already built for the current bundle version.
    pub bundle_cache: Arc<crate::routes::sync::BundleCache>,
    /// Request rate limits (this instance).
    pub limits: Arc<crate::ratelimit::Limits>,
    /// The console's in-memory state: login throttling and running imports.
    pub web: Arc<crate::web::WebState>,
}

/// Now, in Unix seconds. The only clock the handlers read.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
