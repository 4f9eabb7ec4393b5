//! The storage boundary. Handlers talk to `dyn Store` and never know which database is
//! behind it.
//!
//! The trait is narrow on purpose: each method is one business operation with its own
//! transaction.
//!
//! ## Two backends, one implementation
//!
//! `--database-url` picks SQLite (`sqlite://PATH`, the embedded default at
//! `DATA_DIR/passgate.db`) or PostgreSQL (`postgres://…`, for many stateless instances) at
//! run time. Both are served by **one** implementation, [`sql::SqlStore`], over sqlx's `Any`
//! driver: every statement is written once, with `$1, $2, …` placeholders, and runs as it is
//! on both engines. We checked before choosing, for this schema (times and ids as 64-bit
//! integers, text, booleans):
//! - SQLite binds `$N` as the N-th argument (sqlx-sqlite reads `$NNN` parameter names);
//! - `RETURNING`, `ON CONFLICT (…) DO NOTHING` and the serial upsert
//!   `… ON CONFLICT (area) DO UPDATE SET next = pass_serials.next + 1 RETURNING next - 1`
//!   are the same SQL on both, and the upsert is atomic on PostgreSQL under concurrency
//!   (the conformance suite issues serials from many tasks and checks they are unique);
//! - booleans: PostgreSQL returns `BOOLEAN`, SQLite 0/1 in an `INTEGER` column (a column
//!   *declared* `BOOLEAN` in SQLite cannot be read through `Any` at all), so the SQLite
//!   schema says `INTEGER` and one helper reads either;
//! - the SQLite pragmas (WAL, `synchronous=FULL`, `foreign_keys`, `busy_timeout`) are set on
//!   every new connection in the pool's `after_connect`;
//! - `NULL` ordering differs, so queries say `NULLS FIRST` where it matters;
//! - sqlx's `QueryBuilder` writes `?` placeholders for `Any`, so the few dynamic queries
//!   number their placeholders by hand.
//!
//! The alternatives were a second hand-written implementation (every query twice, and the
//! two drift) or a query builder such as `sea-query` (a new dependency and a second
//! language for SQL that is already portable). Each backend keeps its own migrations
//! (`migrations/sqlite`, `migrations/postgres`), because DDL is where the dialects really
//! differ. Migrations run at start under a lock: PostgreSQL's migrator holds
//! `pg_advisory_lock` (keyed on the database name) for the whole run; for SQLite, which
//! sqlx does not lock, we hold an exclusive file lock on `DB-migrate.lock`.
//! If a later query cannot be portable, add a `match self.backend` inside that one method.

use async_trait::async_trait;
use passgate_shared::record::{DeviceId, GateRecord, Sealed};
use passgate_shared::sync::UsageRow;
use passgate_shared::{
    CheckpointId, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus, PassClass, PassNumber,
    UnixSeconds,
};
use serde::Serialize;
use thiserror::Error;

pub mod audit;
pub mod issuance;
pub mod orgs;
pub mod reporting;
pub mod reports;
pub mod retention;
pub mod sql;
pub mod users;
pub mod workflow;

pub use audit::{AuditEntry, AuditStore};
pub use issuance::IssuanceStore;
pub use orgs::OrgStore;
pub use reporting::ReportingStore;
pub use reports::ReportStore;
pub use retention::{PurgeReport, RetentionStore};
pub use sql::{Backend, SqlStore};
pub use users::{NewUser, Session, User, UserRole, UserStore};
pub use workflow::WorkflowStore;

/// What can go wrong in a store call.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("the database is not migrated: migration {0} is not applied")]
    NotMigrated(i64),
    #[error("cannot take the migration lock: {0}")]
    Lock(String),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("file error: {0}")]
    Io(String),
    #[error("{0}")]
    Enrollment(EnrollFailure),
    #[error(
        "device {device}: record {seq} is already stored with different content (a forked chain)"
    )]
    ChainFork { device: DeviceId, seq: u64 },
    #[error(
        "device {device}: record {seq} does not link to the stored record before it (a broken chain)"
    )]
    BrokenLink { device: DeviceId, seq: u64 },
    /// A risk-case step the flow does not allow (checked against the stored step).
    #[error("{0}")]
    Flow(passgate_shared::reporting::FlowError),
}

/// Why an enrolment code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollFailure {
    Unknown,
    Used,
    Expired,
}

impl EnrollFailure {
    pub fn code(self) -> &'static str {
        match self {
            EnrollFailure::Unknown => "code_unknown",
            EnrollFailure::Used => "code_used",
            EnrollFailure::Expired => "code_expired",
        }
    }
}

impl std::fmt::Display for EnrollFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            EnrollFailure::Unknown => "this enrolment code is not known / 注册码无效",
            EnrollFailure::Used => "this enrolment code was already used / 注册码已被使用",
            EnrollFailure::Expired => "this enrolment code has expired / 注册码已过期",
        };
        write!(
            f,
            "{what}; ask the operations bureau for a new code / 请向运行局重新申请注册码"
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Enterprise {
    pub id: EnterpriseId,
    pub name: String,
    pub created_at: UnixSeconds,
}

/// Kinds of checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    EnterpriseGate,
    ZoneBorder,
    HighwayExit,
}

impl CheckpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::EnterpriseGate => "enterprise_gate",
            CheckpointKind::ZoneBorder => "zone_border",
            CheckpointKind::HighwayExit => "highway_exit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::EnterpriseGate, Self::ZoneBorder, Self::HighwayExit]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Checkpoint {
    pub id: CheckpointId,
    pub name: String,
    pub kind: CheckpointKind,
    pub inside_zone: bool,
    pub enterprise_id: Option<EnterpriseId>,
    pub created_at: UnixSeconds,
}

#[derive(Debug, Clone)]
pub struct NewCheckpoint {
    pub name: String,
    pub kind: CheckpointKind,
    pub inside_zone: bool,
    pub enterprise_id: Option<EnterpriseId>,
}

/// Pass status on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassStatus {
    Active,
    Revoked,
}

impl PassStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PassStatus::Active => "active",
            PassStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(PassStatus::Active),
            "revoked" => Some(PassStatus::Revoked),
            _ => None,
        }
    }
}

/// A pass as the server keeps it: the signed fields plus what stays on the server (full
/// names, the ID-number hash) and its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRecord {
    pub number: PassNumber,
    pub class: PassClass,
    pub plate: String,
    pub driver_name: String,
    pub driver_masked: String,
    pub driver_id_hash: Option<String>,
    pub co_driver_name: Option<String>,
    pub co_driver_masked: Option<String>,
    pub enterprise_id: EnterpriseId,
    pub origin: DivisionCode,
    pub destination: DivisionCode,
    pub route_checkpoints: Vec<CheckpointId>,
    pub cargo: String,
    pub valid_from: UnixSeconds,
    pub valid_until: UnixSeconds,
    pub max_dwell_minutes: Option<u16>,
    pub key_id: KeyId,
    pub qr_text: String,
    pub status: PassStatus,
    pub revoked_at: Option<UnixSeconds>,
    pub revoke_reason: Option<String>,
    pub created_at: UnixSeconds,
    pub created_by: String,
    /// The crew's contact phone as lists and pages show it (`138****5678`). Never in the QR.
    pub crew_phone_masked: Option<String>,
    /// The full phone, sealed by [`crate::privacy::seal_phone`] (only
    /// [`crate::privacy::open_phone`] reads it, for ops and admin, audited).
    pub crew_phone_sealed: Option<String>,
    /// When the pass was last signed again because its key was compromised
    /// (see `crate::signing::reissue_compromised`).
    pub reissued_at: Option<UnixSeconds>,
    /// The compromised key it was signed with before that re-issue.
    pub reissued_from_key: Option<KeyId>,
}

/// Filters of `GET /passes` (API and console). Every filter that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct PassFilter {
    pub class: Option<PassClass>,
    /// The exact (normalised) plate.
    pub plate: Option<String>,
    pub status: Option<PassStatus>,
    pub limit: u32,
    pub offset: u32,
    /// The plate contains this text, ignoring case (the console's search box).
    pub plate_contains: Option<String>,
    pub enterprise: Option<EnterpriseId>,
    /// The validity ends after this instant (`valid_until > t`).
    pub valid_until_after: Option<UnixSeconds>,
    /// The validity ended at or before this instant (`valid_until <= t`: expired then).
    pub valid_until_upto: Option<UnixSeconds>,
    /// The validity starts before this instant (`valid_from < t`).
    pub valid_from_before: Option<UnixSeconds>,
    /// Re-issued off this (compromised) key: its reprint list.
    pub reissued_from_key: Option<KeyId>,
}

/// API roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Ops,
    Transport,
    Checkpoint,
    /// One enterprise's system: files that enterprise's daily reports and risk cases (the
    /// token carries the enterprise).
    Enterprise,
    /// The epidemic task force: reads every enterprise's reports and cases.
    Taskforce,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Ops,
        Role::Transport,
        Role::Checkpoint,
        Role::Enterprise,
        Role::Taskforce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Transport => "transport",
            Role::Checkpoint => "checkpoint",
            Role::Enterprise => "enterprise",
            Role::Taskforce => "taskforce",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A stored API token (the secret itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub checkpoint_id: Option<CheckpointId>,
    /// Set for the token a device received at enrolment.
    pub device_id: Option<DeviceId>,
    /// Set for (and only for) an [`Role::Enterprise`] token: the enterprise it files for.
    pub enterprise_id: Option<EnterpriseId>,
}

/// Where a gate device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    Revoked,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Active => "active",
            DeviceStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(DeviceStatus::Active),
            "revoked" => Some(DeviceStatus::Revoked),
            _ => None,
        }
    }
}

/// An enrolled gate device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub name: String,
    /// Base64 Ed25519 public key.
    pub public_key: String,
    pub status: DeviceStatus,
    pub enrolled_at: UnixSeconds,
    pub revoked_at: Option<UnixSeconds>,
    pub revoke_reason: Option<String>,
    pub last_seen_at: Option<UnixSeconds>,
    pub last_seq: u64,
}

/// What storing one upload batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    /// Records stored now for the first time.
    pub stored: u64,
    /// Records already stored with the same hash (a retry); counted once.
    pub duplicates: u64,
    /// Whether the batch's first record could not be linked to a stored record, so a
    /// `chain_gap` incident is open until the missing records arrive.
    pub gap: bool,
}

/// A chain incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub device_id: DeviceId,
    pub kind: String,
    pub seq: u64,
    pub detail: String,
    pub opened_at: UnixSeconds,
    pub closed_at: Option<UnixSeconds>,
}

#[async_trait]
pub trait Store:
    UserStore
    + OrgStore
    + ReportStore
    + ReportingStore
    + IssuanceStore
    + WorkflowStore
    + AuditStore
    + RetentionStore
    + Send
    + Sync
    + 'static
{
    // enterprises and checkpoints
    async fn create_enterprise(&self, name: &str, now: UnixSeconds) -> StoreResult<Enterprise>;
    async fn list_enterprises(&self) -> StoreResult<Vec<Enterprise>>;
    async fn get_enterprise(&self, id: EnterpriseId) -> StoreResult<Option<Enterprise>>;
    /// Creates the checkpoint and bumps the bundle version (gates learn the directory).
    async fn create_checkpoint(
        &self,
        new: &NewCheckpoint,
        now: UnixSeconds,
    ) -> StoreResult<Checkpoint>;
    async fn list_checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;

    // issuer keys
    /// Record a public issuer key if absent (bumps the bundle version when new).
    async fn ensure_issuer_key(&self, key: &IssuerKey, now: UnixSeconds) -> StoreResult<()>;
    async fn list_issuer_keys(&self) -> StoreResult<Vec<IssuerKey>>;
    async fn set_issuer_key_status(&self, id: KeyId, status: KeyStatus) -> StoreResult<()>;
    /// Register a new issuer key as the active one, in one transaction: the key must be
    /// numbered above every registered key (else a conflict: a peer rotated at the same
    /// moment), every other active key becomes retired, and the bundle version is bumped so
    /// gates learn the new key at their next sync.
    async fn activate_issuer_key(&self, key: &IssuerKey, now: UnixSeconds) -> StoreResult<()>;

    // passes
    /// The next serial for an issuing area. Like a database sequence: never handed out
    /// twice, and a serial taken by a failed issue is skipped, not reused.
    async fn next_serial(&self, area: DivisionCode) -> StoreResult<u32>;
    async fn insert_pass(&self, pass: &PassRecord) -> StoreResult<()>;
    async fn get_pass(&self, number: PassNumber) -> StoreResult<Option<PassRecord>>;
    async fn list_passes(&self, filter: &PassFilter) -> StoreResult<(Vec<PassRecord>, u64)>;
    /// Revoke an active pass and bump the bundle version. Revoking twice is a conflict.
    async fn revoke_pass(
        &self,
        number: PassNumber,
        reason: &str,
        now: UnixSeconds,
    ) -> StoreResult<PassRecord>;
    async fn revoked_numbers(&self) -> StoreResult<Vec<PassNumber>>;
    async fn bundle_version(&self) -> StoreResult<u64>;

    // tokens
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        checkpoint_id: Option<CheckpointId>,
        now: UnixSeconds,
    ) -> StoreResult<TokenRecord>;
    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>>;

    // devices
    /// Store a one-time enrolment code (its hash) for a checkpoint.
    async fn create_enrollment_code(
        &self,
        checkpoint: CheckpointId,
        code_hash: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<()>;
    /// Redeem a code: mark it used, register the device and its token, in one transaction.
    async fn enroll_device(
        &self,
        code_hash: &str,
        public_key: &str,
        name: &str,
        token_hash: &str,
        now: UnixSeconds,
    ) -> StoreResult<Device>;
    async fn get_device(&self, id: DeviceId) -> StoreResult<Option<Device>>;
    async fn list_devices(&self) -> StoreResult<Vec<Device>>;
    /// Revoke a device: its token keeps identifying it, and every request with it is refused
    /// with the reason.
    async fn revoke_device(
        &self,
        id: DeviceId,
        reason: &str,
        now: UnixSeconds,
    ) -> StoreResult<Device>;

    // scans
    /// Store one checked batch of a device's chained records in one transaction. A record
    /// already stored with the same hash is a duplicate; with another hash it is a fork
    /// (the batch is refused and an incident recorded). A first record that does not link to
    /// the stored record before it opens a `chain_gap` incident if that record is missing,
    /// and refuses the batch if it is present and differs.
    /// `sealed[i]` is `records[i].seal()` (the batch check computed it already).
    async fn ingest_batch(
        &self,
        device: DeviceId,
        records: &[GateRecord],
        sealed: &[Sealed],
        now: UnixSeconds,
    ) -> StoreResult<BatchOutcome>;
    /// Every record scanned on a Beijing day (`YYYY-MM-DD`), as uploaded.
    async fn day_records(&self, day: &str) -> StoreResult<Vec<GateRecord>>;
    /// Incidents opened in `[from, until)`, and every one still open.
    async fn incidents(&self, from: UnixSeconds, until: UnixSeconds) -> StoreResult<Vec<Incident>>;
    /// Pass numbers revoked after bundle version `after`, up to and including `upto`.
    async fn revoked_since(&self, after: u64, upto: u64) -> StoreResult<Vec<PassNumber>>;
    /// The day's scans (Beijing date `YYYY-MM-DD`) counted per pass, class, checkpoint,
    /// direction and verdict.
    async fn daily_usage(&self, day: &str) -> StoreResult<Vec<UsageRow>>;

    /// The database is reachable.
    async fn ping(&self) -> StoreResult<()>;
    /// The database is reachable and every migration this build knows is applied.
    async fn ready(&self) -> StoreResult<()>;
    /// Write a consistent copy of the database to a new file while it keeps serving
    /// (SQLite's `VACUUM INTO`). PostgreSQL answers [`StoreError::Unsupported`]: use
    /// `pg_dump`.
    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()>;
}
