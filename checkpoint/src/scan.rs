//! One scan: QR text → [`passgate_shared::rules::decide`] (with the gate's time floor and
//! this pass's history from the local log) → chained [`GateRecord`] committed to disk →
//! verdict to show. And the supervisor override, which turns a rejected scan into an
//! accepted-with-override by a new record later in the chain.
//!
//! The decision needs no network: it uses only the held bundle and the local log. Everything
//! it reads from the log is read inside the write transaction that inserts the record, and
//! the record is committed (fsync'd) before [`scan`] returns, so whatever the caller prints
//! afterwards is already on disk.

use passgate_shared::codec::decode_text;
use passgate_shared::record::{GateRecord, Observations, Override};
use passgate_shared::rules::{PassHistory, decide};
use passgate_shared::sync::Direction;
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{
    Bundle, CheckpointInfo, GateContext, PassClass, UnixSeconds, Verdict, Warning,
};

use crate::error::{CheckpointError, Result};
use crate::store::{Config, Store, new_record_id};
use crate::trust::{self, HeldBundle};

/// What a gate decides with: its configuration, the bundle it holds and its own context.
#[derive(Debug, Clone)]
pub struct Gate {
    pub config: Config,
    pub held: HeldBundle,
    /// This checkpoint's entry in the bundle's directory.
    pub checkpoint: CheckpointInfo,
    pub context: GateContext,
    marker: i64,
}

impl Gate {
    /// Build the gate from a configuration and a held bundle, which must list the
    /// configured checkpoint.
    pub fn new(config: Config, held: HeldBundle) -> Result<Gate> {
        let checkpoint = held
            .bundle
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
            held,
            checkpoint,
            context,
            marker: 0,
        })
    }

    /// Load the gate from the store ([`CheckpointError::NotEnrolled`] before `enroll`).
    pub async fn load(store: &Store) -> Result<Gate> {
        let config = store.require_config().await?;
        let marker = store.bundle_marker().await?;
        let held = trust::require(store).await?;
        let mut gate = Gate::new(config, held)?;
        gate.marker = marker;
        Ok(gate)
    }

    /// Reload when another process (a `sync`) stored a bundle file since this gate was
    /// loaded. Cheap when nothing changed. Returns whether it reloaded.
    pub async fn refresh(&mut self, store: &Store) -> Result<bool> {
        if store.bundle_marker().await? == self.marker {
            return Ok(false);
        }
        *self = Gate::load(store).await?;
        Ok(true)
    }

    /// The bundle in force.
    pub fn bundle(&self) -> &Bundle {
        &self.held.bundle
    }
}

/// Who scanned and what they saw besides the pass ("两码一证").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanMeta {
    pub guard_id: Option<String>,
    pub observations: Observations,
}

/// A recorded scan (or override) and the decision it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    pub record: GateRecord,
    /// Hex SHA-256 of the record, as chained.
    pub hash: String,
    /// The decision. For an override record: accepted, without the pass (it is not
    /// stored), warnings as recorded.
    pub verdict: Verdict,
    /// The pass's dwell limit, if it has one.
    pub max_dwell_minutes: Option<u16>,
    /// The time floor the decision used: latest of bundle time and last scan time.
    pub time_floor: UnixSeconds,
    /// The record this override overrides.
    pub overridden: Option<GateRecord>,
    /// Set when the gate decided with an older good bundle because a newer stored file is
    /// damaged.
    pub bundle_fallback: Option<trust::Fallback>,
}

impl ScanOutcome {
    /// What the guard was told: let it through (also after an override) or not.
    pub fn accepted(&self) -> bool {
        self.record.accepted
    }
}

/// Most characters of a guard or supervisor id.
pub const MAX_ID_CHARS: usize = 64;
/// Most characters of an override reason.
pub const MAX_REASON_CHARS: usize = 500;

fn check_text(value: &str, what: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CheckpointError::Usage(format!("{what} may not be empty")));
    }
    if v.chars().count() > max {
        return Err(CheckpointError::Usage(format!(
            "{what} is longer than {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(CheckpointError::Usage(format!(
            "{what} may not contain control characters"
        )));
    }
    Ok(v.to_owned())
}

/// A guard's or supervisor's id: 1 to 64 characters, no control characters.
pub fn check_person_id(value: &str, what: &str) -> Result<String> {
    check_text(value, what, MAX_ID_CHARS)
}

/// An override reason: 1 to 500 characters, no control characters.
pub fn check_reason(value: &str) -> Result<String> {
    check_text(value, "the override reason", MAX_REASON_CHARS)
}

fn day_of(t: UnixSeconds) -> (UnixSeconds, UnixSeconds) {
    local_day_range(&local_day(t)).unwrap_or((t, t + 1))
}

/// Decide on `text` at gate clock `now` and record the scan durably. Surrounding
/// whitespace (the carriage return a scanner may send) is ignored. Only a storage failure
/// is an error; a refused or unreadable pass is a recorded rejection.
pub async fn scan(
    store: &Store,
    gate: &Gate,
    text: &str,
    direction: Direction,
    meta: &ScanMeta,
    now: UnixSeconds,
) -> Result<ScanOutcome> {
    let text = text.trim();
    let bundle = gate.bundle();
    let id = new_record_id()?;
    let mut tx = store.begin_scan().await?;
    let head = tx.head().await?;
    let time_floor = tx
        .latest_scanned_at()
        .await?
        .map_or(bundle.generated_at, |t| t.max(bundle.generated_at));
    let day = day_of(now.max(time_floor));
    let number = decode_text(text).ok().map(|s| s.pass.number);
    let history = match number {
        Some(n) => tx.history(n, gate.context.checkpoint, day).await?,
        None => PassHistory::default(),
    };
    let decision = decide(
        text,
        bundle,
        &gate.context,
        direction,
        time_floor,
        now,
        |n| {
            if Some(n) == number {
                history
            } else {
                PassHistory::default()
            }
        },
    );
    let verdict = decision.verdict;
    let pass = verdict.pass.as_ref();
    let max_dwell_minutes = pass.and_then(|p| {
        p.max_dwell_minutes.or_else(|| {
            (p.class == PassClass::LoadUnloadLeave)
                .then_some(bundle.policy.default_max_dwell_minutes)
        })
    });
    let record = GateRecord {
        id,
        device_id: gate.config.device_id,
        seq: head.next_seq,
        prev_hash: head.prev_hash,
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
        bundle_version: bundle.version,
        guard_id: meta.guard_id.clone(),
        observations: meta.observations,
        override_by: None,
        overrides_seq: None,
        dwell_minutes: decision.dwell_minutes,
    };
    let hash = tx.insert(&record, max_dwell_minutes).await?;
    tx.commit().await?;
    Ok(ScanOutcome {
        record,
        hash,
        verdict,
        max_dwell_minutes,
        time_floor,
        overridden: None,
        bundle_fallback: gate.held.fallback.clone(),
    })
}

/// What a supervisor override needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    /// The rejected record; the latest record when `None`.
    pub seq: Option<u64>,
    pub supervisor_id: String,
    pub reason: String,
    /// The guard at the gate (else the guard of the overridden record).
    pub guard_id: Option<String>,
}

/// Turn a rejected, not yet overridden record into an accepted-with-override: a new record
/// later in the chain with the same pass fields and direction, `accepted = true`, the
/// original reason code, the supervisor and the reason, and `overrides_seq`. Committed
/// before it returns. Overriding an accepted record, an override, or a record overridden
/// already is [`CheckpointError::NotOverridable`].
pub async fn override_scan(
    store: &Store,
    gate: &Gate,
    req: &OverrideRequest,
    now: UnixSeconds,
) -> Result<ScanOutcome> {
    let supervisor_id = check_person_id(&req.supervisor_id, "the supervisor id")?;
    let reason = check_reason(&req.reason)?;
    let bundle = gate.bundle();
    let id = new_record_id()?;
    let mut tx = store.begin_scan().await?;
    let target = match req.seq {
        Some(s) => s,
        None => tx.last_seq().await?.ok_or_else(|| {
            CheckpointError::Usage(
                "there is no scan record on this device yet, so nothing to override".into(),
            )
        })?,
    };
    let original = tx
        .record(target)
        .await?
        .ok_or(CheckpointError::NoSuchRecord(target))?;
    let orig = &original.record;
    if orig.override_by.is_some() {
        return Err(CheckpointError::NotOverridable {
            seq: target,
            why: "it is itself an override record".into(),
            why_zh: "该记录本身就是特批记录".into(),
        });
    }
    if orig.accepted {
        return Err(CheckpointError::NotOverridable {
            seq: target,
            why: "it was accepted; only a rejected scan can be overridden (give --seq N for an earlier record)".into(),
            why_zh: "该记录已放行，只有被拒绝的记录才能特批".into(),
        });
    }
    if let Some(by) = tx.overridden_by(target).await? {
        return Err(CheckpointError::NotOverridable {
            seq: target,
            why: format!("it was overridden already by record #{by}"),
            why_zh: format!("该记录已由第 {by} 条记录特批"),
        });
    }
    let head = tx.head().await?;
    let time_floor = tx
        .latest_scanned_at()
        .await?
        .map_or(bundle.generated_at, |t| t.max(bundle.generated_at));
    let effective = now.max(time_floor);
    let mut warnings = Vec::new();
    let behind = time_floor - now;
    if behind > i64::from(bundle.policy.clock_tolerance_minutes) * 60 {
        warnings.push(Warning::ClockBehind { seconds: behind });
    }
    let mut dwell_minutes = None;
    if let (Direction::Out, Some(PassClass::LoadUnloadLeave), Some(n)) =
        (orig.direction, orig.class, orig.number)
    {
        let h = tx
            .history(n, gate.context.checkpoint, day_of(effective))
            .await?;
        if let Some(t) = h.inside_since {
            let minutes = u32::try_from((effective - t).max(0) / 60).unwrap_or(u32::MAX);
            dwell_minutes = Some(minutes);
            if original
                .max_dwell_minutes
                .is_some_and(|m| minutes > u32::from(m))
            {
                warnings.push(Warning::Overstayed { minutes });
            }
        }
    }
    let record = GateRecord {
        id,
        device_id: gate.config.device_id,
        seq: head.next_seq,
        prev_hash: head.prev_hash,
        checkpoint_id: gate.context.checkpoint,
        scanned_at: now,
        direction: orig.direction,
        number: orig.number,
        class: orig.class,
        plate: orig.plate.clone(),
        accepted: true,
        reason: Some(orig.reason.clone().unwrap_or_else(|| "rejected".to_owned())),
        warnings: warnings.iter().map(|w| w.code().to_owned()).collect(),
        bundle_version: bundle.version,
        guard_id: req.guard_id.clone().or_else(|| orig.guard_id.clone()),
        observations: orig.observations,
        override_by: Some(Override {
            supervisor_id,
            reason,
        }),
        overrides_seq: Some(target),
        dwell_minutes,
    };
    let hash = tx.insert(&record, original.max_dwell_minutes).await?;
    tx.commit().await?;
    Ok(ScanOutcome {
        record,
        hash,
        verdict: Verdict {
            pass: None,
            reason: None,
            warnings,
        },
        max_dwell_minutes: original.max_dwell_minutes,
        time_floor,
        overridden: Some(original.record),
        bundle_fallback: gate.held.fallback.clone(),
    })
}
