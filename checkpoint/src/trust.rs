//! The gate's trust data: the signed bundle files it holds, loaded and re-verified from the
//! store, and new files from the server checked and applied
//! (`passgate_shared::bundle_file`).
//!
//! Files are stored exactly as received: a snapshot, then the deltas applied on top of it.
//! Loading decodes and verifies each file again with the bundle keys that verified it on
//! arrival and applies them in order. A file that no longer verifies (a damaged disk, a
//! truncated write) ends the chain there: the gate uses the bundle as it was before that
//! file, or, if the snapshot itself is damaged, the previous generation (the last good
//! snapshot and its deltas), and says so loudly ([`HeldBundle::fallback`]).

use passgate_shared::bundle_file::{self, BundleError};
use passgate_shared::{Bundle, IssuerKey, UnixSeconds};

use crate::error::{CheckpointError, Result};
use crate::store::{Config, FilePos, NewBundleFile, Store, StoredBundleFile};

/// After this many deltas on one snapshot, the next sync asks for a fresh snapshot, so the
/// stored chain stays short.
pub const MAX_DELTAS: usize = 16;

/// Why the gate is not using its newest stored bundle file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The version of the damaged file.
    pub damaged_version: u64,
    /// What was wrong with it.
    pub why: String,
}

/// The bundle the gate decides with, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldBundle {
    pub bundle: Bundle,
    /// The last stored file it was built from.
    pub pos: FilePos,
    /// Files it was built from (the snapshot and its deltas).
    pub files: usize,
    /// Set when a newer stored file is damaged and this older good bundle is used.
    pub fallback: Option<Fallback>,
}

fn check_file(
    file: &StoredBundleFile,
    held: Option<&Bundle>,
) -> std::result::Result<Bundle, String> {
    let keys = file
        .verify_keys
        .as_deref()
        .ok_or_else(|| "its stored bundle keys are unreadable".to_owned())?;
    let decoded = bundle_file::decode(&file.bytes, keys).map_err(|e| e.to_string())?;
    if decoded.is_delta() != file.is_delta || decoded.header.version != file.version {
        return Err("the file does not match its stored description".into());
    }
    if held.is_none() && decoded.is_delta() {
        return Err("the generation does not start with a snapshot".into());
    }
    bundle_file::apply(held, decoded).map_err(|e| e.to_string())
}

/// Load and re-verify the held bundle. `Ok(None)` when no bundle file is stored at all;
/// [`CheckpointError::NoUsableBundle`] when files are stored but none verifies.
pub async fn load(store: &Store) -> Result<Option<HeldBundle>> {
    let generations = store.bundle_generations().await?;
    if generations.is_empty() {
        return Ok(None);
    }
    let mut fallback: Option<Fallback> = None;
    for generation in generations {
        let files = store.bundle_files(generation).await?;
        let mut held: Option<(Bundle, FilePos, usize)> = None;
        for file in &files {
            match check_file(file, held.as_ref().map(|h| &h.0)) {
                Ok(bundle) => {
                    let count = held.as_ref().map_or(0, |h| h.2) + 1;
                    let pos = FilePos {
                        generation: file.generation,
                        id: file.id,
                    };
                    held = Some((bundle, pos, count));
                }
                Err(why) => {
                    tracing::error!(
                        "stored bundle file {} (version {}) is damaged: {why}",
                        file.id,
                        file.version
                    );
                    fallback.get_or_insert(Fallback {
                        damaged_version: file.version,
                        why,
                    });
                    break;
                }
            }
        }
        if let Some((bundle, pos, files)) = held {
            return Ok(Some(HeldBundle {
                bundle,
                pos,
                files,
                fallback,
            }));
        }
    }
    Err(CheckpointError::NoUsableBundle(
        fallback.map_or_else(|| "no file verifies".to_owned(), |f| f.why),
    ))
}

/// The held bundle, or [`CheckpointError::NotEnrolled`] when nothing is stored.
pub async fn require(store: &Store) -> Result<HeldBundle> {
    load(store)
        .await?
        .ok_or_else(|| CheckpointError::NotEnrolled {
            dir: store.dir().to_path_buf(),
        })
}

/// What became of a bundle file from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Checked, applied and stored: the gate decides with `bundle` from now on.
    Stored { bundle: Bundle },
    /// Checked; it changes nothing the gate holds, so nothing was stored.
    Unchanged,
    /// A delta that does not fit the held bundle (base or count mismatch): fetch a snapshot.
    NeedSnapshot(BundleError),
}

fn refused(e: BundleError) -> CheckpointError {
    match e {
        BundleError::Rollback { held, offered } => {
            CheckpointError::BundleRollback { held, offered }
        }
        e => CheckpointError::BundleRefused(e),
    }
}

/// Check a bundle file from the server with the pinned bundle keys, refuse rollbacks
/// (below the highest version ever applied, too) and bundles that do not list this
/// checkpoint, apply it to `held` and store it with the new trusted keys, in one
/// transaction. On any refusal nothing changes: the held bundle stays.
pub async fn accept(
    store: &Store,
    config: &Config,
    held: Option<&HeldBundle>,
    bytes: &[u8],
    now: UnixSeconds,
) -> Result<Applied> {
    let file = bundle_file::decode(bytes, &config.bundle_keys).map_err(refused)?;
    let header = file.header.clone();
    let held_version = held.map_or(config.highest_bundle_version, |h| {
        h.bundle.version.max(config.highest_bundle_version)
    });
    if header.version < held_version {
        return Err(CheckpointError::BundleRollback {
            held: held_version,
            offered: header.version,
        });
    }
    let is_delta = file.is_delta();
    let bundle = match bundle_file::apply(held.map(|h| &h.bundle), file) {
        Ok(b) => b,
        Err(e @ (BundleError::BaseMismatch { .. } | BundleError::CountMismatch { .. })) => {
            return Ok(Applied::NeedSnapshot(e));
        }
        Err(e) => return Err(refused(e)),
    };
    if bundle.checkpoint(config.checkpoint_id).is_none() {
        return Err(CheckpointError::UnknownCheckpoint(config.checkpoint_id));
    }
    let trust_next: Vec<IssuerKey> = if header.bundle_keys.is_empty() {
        config.bundle_keys.clone()
    } else {
        header.bundle_keys.clone()
    };
    if held.is_some_and(|h| h.bundle == bundle && h.fallback.is_none())
        && trust_next == config.bundle_keys
    {
        return Ok(Applied::Unchanged);
    }
    store
        .save_bundle_file(
            held.map(|h| h.pos),
            &NewBundleFile {
                bytes,
                is_delta,
                version: header.version,
                generated_at: header.generated_at,
                verified_with: &config.bundle_keys,
                trust_next: &trust_next,
            },
            now,
        )
        .await?;
    Ok(Applied::Stored { bundle })
}
