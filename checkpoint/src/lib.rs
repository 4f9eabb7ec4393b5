//! # passgate-checkpoint
//!
//! The program at the gate. It verifies vehicle passes **offline** with the signed trust
//! bundle it holds, logs every scan as a chained, durable record in a local SQLite
//! database, and syncs with the server when the network is there: signed batches of scan
//! records up, bundle deltas down (`docs/sync-protocol.md`).
//!
//! * [`device`] — the device's Ed25519 key (`DATA_DIR/device.key`, mode 0600).
//! * [`store`] — the local database (`DATA_DIR/checkpoint.db`, WAL, `synchronous=FULL`):
//!   enrolment, bundle files as received, the chained scan log.
//! * [`trust`] — the held bundle: stored files re-verified at load (falling back to the
//!   previous good bundle when a stored file is damaged), new files checked and applied.
//! * [`scan`] — one scan: QR text → [`passgate_shared::rules::decide`] with the time floor
//!   and this pass's local history → chained record (committed) → verdict; and the
//!   supervisor override.
//! * [`output`] — the verdict for the guard (Chinese first, English on request) and as JSON.
//! * [`qr`] — QR codes from PNG / JPEG images and camera snapshots (the preprocessing ladder).
//! * [`sync`] — enrolment, bundle download, signed uploads (retries with backoff).
//! * [`tui`] — the full-screen gate screen for guards (`passgate-checkpoint gate`, or no
//!   subcommand on a terminal; ratatui + crossterm): verdict in large type, scanner input,
//!   direction, two-codes checks, supervisor override, trucks inside, sync state. A pure
//!   state machine and renderer, tested on ratatui's `TestBackend`, plus the terminal loop.
//!   Keys and the defaults file: `docs/gate-ui.md`.
//! * [`app`] — the commands of the `passgate-checkpoint` binary as library functions (with
//!   `scan --camera-dir`, the camera-folder watcher).
//! * [`error`] — [`CheckpointError`], one error type with messages an operator can act on.
//!
//! A verdict is shown only after its scan record is committed to disk: a process killed in
//! the middle of a burst of scans never loses a verdict a guard has seen.
//!
//! ## The `--json` verdict
//! One object per line: `accepted` (bool: what the guard was told, also true after an
//! override), `reason` (stable reject code, kept on an override, else null), `verdict`
//! (`accepted`, `override` or the reason: what daily counts group by), `message`,
//! `warnings` (codes), `warning_messages`, `number`, `plate`, `class` (`long_haul`,
//! `short_haul`, `load_unload_leave`), `class_name`, `valid_from`, `valid_until` (RFC 3339,
//! Beijing time), `driver`, `co_driver`, `cargo`, `origin`, `destination`,
//! `route_checkpoints`, `max_dwell_minutes`, `enterprise_id`, `direction`, `dwell_minutes`
//! (on a load-unload-leave exit whose entry is on record), `override` (null or
//! `{supervisor_id, reason, overrides_seq}`), `guard_id`, `observations`
//! (`{health_code, itinerary_ok, negative_test_48h, temperature_ok}`, each null when not
//! recorded), `scan_id`, `seq`, `prev_hash`, `hash`, `scanned_at` (gate clock),
//! `time_floor`, `device_id`, `checkpoint_id`, `bundle_version`, `bundle_fallback` (null, or
//! `{damaged_version, why}` when a damaged stored bundle made the gate use an older one).
//! Pass details are null when the pass could not be trusted (damaged, forged, unknown key)
//! and on override records (the QR text is not stored).
//!
//! ## Exit status
//! `0` accepted (or command done), `1` rejected, `2` usage or local data error (a `scan`
//! session with lines that could not be recorded, `check` finding a problem, not
//! enrolled, unreadable image, no QR code found, database, a record that cannot be
//! overridden), `3` the server or network (unreachable, refused enrolment code, revoked
//! device, refused batch, refused or rolled-back bundle).

pub mod app;
pub mod device;
pub mod error;
pub mod output;
pub mod qr;
pub mod scan;
pub mod store;
pub mod sync;
pub mod trust;
pub mod tui;

pub use error::{CheckpointError, Result};
pub use scan::{Gate, ScanMeta, ScanOutcome};
pub use store::Store;
