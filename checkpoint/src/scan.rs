//! One scan: QR text → `passgate_shared::verify` → durable record → verdict to show.
//!
//! The decision needs no network: it uses only the trust bundle in the local store. The
//! record is committed (fsync'd) before [`scan`] returns, so whatever the caller prints
//! afterwards is already in the log.

use passgate_shared::sync::{Direction, ScanRecord};
use passgate_shared::{Bundle, CheckpointInfo, GateContext, UnixSeconds, Verdict, verify};

use crate::error::{CheckpointError, Result};
use crate::store::{Config, NewScan, Store};

/// What a gate decides with: its configuration, the bundle in force and its own context.
#[derive(Debug, Clone)]
pub struct Gate {
    pub config: Config,
    pub bundle: Bundle,
    /// This checkpoint's entry in the bundle.
    pub checkpoint: CheckpointInfo,
    pub context: GateContext,
}

impl Gate {
    /// Build the gate from a configuration and a bundle. The bundle must list the
    /// configured checkpoint.
    pub fn new(config: Config, bundle: Bundle) -> Result<Gate> {
        let checkpoint = bundle
            .checkpoint(config.checkpoint_id)
            .cloned()
            .ok_or(CheckpointError::UnknownCheckpoint(config.checkpoint_id))?;
        let context = GateContext {
            checkpoint: checkpoint.id,
            inside_zone: checkpoint.inside_zone,
            enterprise: checkpoint.enterprise_id,
        };
        Ok(Gate {
            config,
            bundle,
            checkpoint,
            context,
        })
    }

    /// Load the gate from the store ([`CheckpointError::NotInitialised`] before `init`).
    pub async fn load(store: &Store) -> Result<Gate> {
        let config = store.require_config().await?;
        let bundle = store.require_bundle().await?;
        Gate::new(config, bundle)
    }

    /// Reload when another process (a `sync`) replaced the bundle since this gate was
    /// loaded. Cheap when nothing changed. Returns whether it reloaded.
    pub async fn refresh(&mut self, store: &Store) -> Result<bool> {
        if store.bundle_version().await? == Some(self.bundle.version) {
            return Ok(false);
        }
        *self = Gate::load(store).await?;
        Ok(true)
    }
}

/// A recorded scan and the decision it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    pub record: ScanRecord,
    pub verdict: Verdict,
}

impl ScanOutcome {
    pub fn accepted(&self) -> bool {
        self.verdict.accepted()
    }
}

/// The record of a verdict, before the store gives it an id and a sequence number. Fields
/// of the pass are kept only when its signature checked out (`verdict.pass` is `Some`).
pub fn new_scan(gate: &Gate, verdict: &Verdict, direction: Direction, now: UnixSeconds) -> NewScan {
    let pass = verdict.pass.as_ref();
    NewScan {
        checkpoint_id: gate.context.checkpoint,
        scanned_at: now,
        direction,
        number: pass.map(|p| p.number),
        class: pass.map(|p| p.class),
        plate: pass.map(|p| p.plate.to_string()),
        accepted: verdict.accepted(),
        reason: verdict.reason.as_ref().map(|r| r.code().to_owned()),
        warnings: verdict
            .warnings
            .iter()
            .map(|w| w.code().to_owned())
            .collect(),
        bundle_version: gate.bundle.version,
    }
}

/// Decide on `text` at `now` and record the scan durably. Surrounding whitespace (the
/// carriage return a scanner may send) is ignored. Only a storage failure is an error; a
/// refused or unreadable pass is a recorded rejection.
pub async fn scan(
    store: &Store,
    gate: &Gate,
    text: &str,
    direction: Direction,
    now: UnixSeconds,
) -> Result<ScanOutcome> {
    let verdict = verify(text.trim(), &gate.bundle, &gate.context, now);
    let record = store
        .record_scan(new_scan(gate, &verdict, direction, now))
        .await?;
    Ok(ScanOutcome { record, verdict })
}
