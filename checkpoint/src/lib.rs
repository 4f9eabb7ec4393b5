//! # passgate-checkpoint
//!
//! The program at the gate. It verifies vehicle passes **offline** with the trust bundle it
//! holds, logs every scan durably in a local SQLite database, and syncs with the server when
//! the network is there: scan records up, fresh trust data (keys, revocations, policy) down.
//!
//! * [`store`] — the local database (`DATA_DIR/checkpoint.db`, WAL, `synchronous=FULL`):
//!   configuration, the bundle in force, the scan log.
//! * [`scan`] — one scan: QR text → [`passgate_shared::verify`] → record (committed) → verdict.
//! * [`output`] — the verdict for the guard (Chinese first, English on request) and as JSON.
//! * [`qr`] — QR codes from PNG / JPEG images.
//! * [`sync`] — the HTTP client of the sync protocol (retries with backoff, rollback check).
//! * [`app`] — the commands of the `passgate-checkpoint` binary as library functions.
//! * [`error`] — [`CheckpointError`], one error type with messages an operator can act on.
//!
//! A verdict is shown only after its scan record is committed to disk: a process killed in
//! the middle of a burst of scans never loses a verdict a guard has seen.
//!
//! ## The `--json` verdict
//! One object per line: `accepted` (bool), `reason` (stable code or null), `message`,
//! `warnings` (codes), `warning_messages`, `number`, `plate`, `class` (`long_haul`,
//! `short_haul`, `load_unload_leave`), `class_name`, `valid_from`, `valid_until` (RFC 3339,
//! Beijing time), `driver`, `co_driver`, `cargo`, `origin`, `destination`,
//! `route_checkpoints`, `max_dwell_minutes`, `enterprise_id`, `direction`, `scan_id`, `seq`,
//! `scanned_at`, `checkpoint_id`, `bundle_version`. Pass fields are null when the pass could
//! not be trusted (damaged, forged, unknown key).
//!
//! ## Exit status
//! `0` accepted (or command done), `1` rejected, `2` usage or local data error (not
//! initialised, unreadable image, no QR code found, database), `3` server or network error.

pub mod app;
pub mod error;
pub mod output;
pub mod qr;
pub mod scan;
pub mod store;
pub mod sync;

pub use error::{CheckpointError, Result};
pub use scan::{Gate, ScanOutcome};
pub use store::Store;
