//! The one SQL implementation of [`Store`], over sqlx's `Any` driver: the same SQL text runs
//! on SQLite (the embedded default) and on PostgreSQL (many instances). Why one
//! implementation and not one per backend is explained at the top of `store/mod.rs`.
//!
//! Rules every statement here follows, so that it means the same on both backends:
//! - placeholders are `$1, $2, …` (SQLite reads `$N` as the N-th argument);
//! - ids, times and counters are bound and read as `i64` (`INTEGER` in SQLite, `BIGINT` in
//!   PostgreSQL); text as `TEXT`;
//! - booleans are bound as `bool` and read with [`get_bool`] (SQLite stores 0/1 in an
//!   `INTEGER` column, PostgreSQL has `BOOLEAN`);
//! - writes come before reads in a transaction, so a SQLite transaction takes the write
//!   lock first (waiting on `busy_timeout`) instead of failing to upgrade a read snapshot;
//! - `ORDER BY` names its `NULLS FIRST` where a column may be null.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use passgate_shared::record::{DeviceId, GateRecord, Sealed};
use passgate_shared::sync::{Direction, UsageRow};
use passgate_shared::time::local_day;
use passgate_shared::{
    CheckpointId, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus, PassClass, PassNumber,
    UnixSeconds,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Executor, Row};

use super::*;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Scan records per multi-row `INSERT`. sqlx binds SQLite parameters at a cost that grows
/// with the statement's parameter count, so on SQLite a few dozen rows per statement is an
/// order of magnitude faster than hundreds (measured by `benches/ingest.rs`); PostgreSQL
/// takes large statements well (16 × 500 = 8,000 parameters, under its 65,535).
const fn scan_chunk(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 32,
        Backend::Postgres => 500,
    }
}
const SCAN_COLUMNS: usize = 16;

/// `($1, …, $cols), ($cols+1, …), …`: the placeholders of a multi-row `VALUES` list of
/// `rows` rows of `cols` columns.
pub fn values_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Add `records` (just stored, each with its Beijing day) to the per-day counts
/// (`scan_day_counts`), in the ingest's transaction. Keys are written in sorted order, so two ingests that touch the same counts
/// on PostgreSQL wait for each other instead of deadlocking.
async fn add_day_counts<'r>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    records: impl Iterator<Item = (&'r GateRecord, &'r String)>,
) -> StoreResult<()> {
    type Key = (
        String,
        i64,
        String,
        &'static str,
        &'static str,
        bool,
        String,
    );
    let mut counts: std::collections::BTreeMap<Key, i64> = Default::default();
    for (r, day) in records {
        let key = (
            day.clone(),
            i64::from(r.checkpoint_id.0),
            r.number.map(|n| n.to_string()).unwrap_or_default(),
            r.class.map_or("", |c| c.as_str()),
            r.direction.as_str(),
            r.accepted,
            r.verdict_label().to_owned(),
        );
        *counts.entry(key).or_default() += 1;
    }
    let counts: Vec<(Key, i64)> = counts.into_iter().collect();
    for chunk in counts.chunks(scan_chunk(backend)) {
        let mut sql = String::from(
            "INSERT INTO scan_day_counts (day, checkpoint_id, number, class, direction, accepted, \
             verdict, n) VALUES ",
        );
        sql.push_str(&values_rows(chunk.len(), 8));
        sql.push_str(
            " ON CONFLICT (day, checkpoint_id, number, class, direction, accepted, verdict) \
             DO UPDATE SET n = scan_day_counts.n + excluded.n",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((day, cp, number, class, direction, accepted, verdict), n) in chunk {
            q = q
                .bind(day.clone())
                .bind(*cp)
                .bind(number.clone())
                .bind(*class)
                .bind(*direction)
                .bind(*accepted)
                .bind(verdict.clone())
                .bind(*n);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend a database URL names, if it is one we support.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// The store, on either backend.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish()
    }
}

pub(super) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

fn key_status_str(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "active",
        KeyStatus::Retired => "retired",
        KeyStatus::Compromised => "compromised",
    }
}

fn parse_key_status(s: &str) -> StoreResult<KeyStatus> {
    match s {
        "active" => Ok(KeyStatus::Active),
        "retired" => Ok(KeyStatus::Retired),
        "compromised" => Ok(KeyStatus::Compromised),
        other => Err(corrupt("key status", other)),
    }
}

/// A boolean column: `BOOLEAN` in PostgreSQL, 0/1 `INTEGER` in SQLite.
pub(super) fn get_bool(r: &AnyRow, col: &str) -> StoreResult<bool> {
    match r.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => Ok(r.try_get::<i64, _>(col)? != 0),
    }
}

/// An id column that must fit in `u32`.
pub(super) fn get_u32(r: &AnyRow, col: &str) -> StoreResult<u32> {
    let v: i64 = r.try_get(col)?;
    u32::try_from(v).map_err(|_| corrupt(col, v))
}

pub(super) fn get_opt_u32(r: &AnyRow, col: &str) -> StoreResult<Option<u32>> {
    r.try_get::<Option<i64>, _>(col)?
        .map(|v| u32::try_from(v).map_err(|_| corrupt(col, v)))
        .transpose()
}

pub(super) fn get_u64(r: &AnyRow, col: &str) -> StoreResult<u64> {
    let v: i64 = r.try_get(col)?;
    u64::try_from(v).map_err(|_| corrupt(col, v))
}

/// A bound value of a dynamic query (whose placeholders are numbered by hand).
pub(super) enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Bind `args` in order.
pub(super) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s),
            Arg::Int(n) => q.bind(n),
            Arg::Bool(b) => q.bind(b),
        };
    }
    q
}

pub(super) fn unique_to_conflict(
    message: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(message()),
        e => e.into(),
    }
}

/// Options for a SQLite file, as a URL the `Any` driver accepts (`mode=rwc`: create it).
fn sqlite_url(opts: SqliteConnectOptions) -> StoreResult<(AnyConnectOptions, Option<PathBuf>)> {
    let opts = opts.create_if_missing(true);
    let file = opts.get_filename();
    let file = if file.as_os_str().is_empty() || file.to_string_lossy().starts_with("file:") {
        None
    } else {
        Some(file.to_owned())
    };
    let any = AnyConnectOptions::from_url(&opts.to_url_lossy())?;
    Ok((any, file))
}

/// SQLite settings for every connection: wait for the write lock rather than fail, WAL so
/// readers never block the writer, fsync at every commit, and enforce foreign keys.
async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

/// Hold an exclusive lock on `DB-migrate.lock` beside a SQLite file while migrating, so two
/// processes starting together do not both apply the same migration. (PostgreSQL's migrator
/// takes `pg_advisory_lock` itself; sqlx's SQLite migrator takes no lock.)
async fn sqlite_migration_lock(db: &Path) -> StoreResult<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push("-migrate.lock");
    let path = PathBuf::from(name);
    let file = tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(|e| StoreError::Lock(e.to_string()))?
    .map_err(|e| StoreError::Lock(e.to_string()))?;
    Ok(file)
}

impl SqlStore {
    /// Open a SQLite file (created if missing) and migrate it.
    pub async fn open_sqlite_file(path: &Path) -> StoreResult<SqlStore> {
        let (any, file) = sqlite_url(SqliteConnectOptions::new().filename(path))?;
        Self::connect_with(Backend::Sqlite, any, file).await
    }

    /// Open `sqlite://PATH` or `postgres://…` and migrate it.
    pub async fn open_url(url: &str) -> StoreResult<SqlStore> {
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let (any, file) = sqlite_url(SqliteConnectOptions::from_str(url)?)?;
                Self::connect_with(Backend::Sqlite, any, file).await
            }
            Some(Backend::Postgres) => {
                let any = AnyConnectOptions::from_str(url)?;
                Self::connect_with(Backend::Postgres, any, None).await
            }
            None => Err(StoreError::UnsupportedUrl(redact_url(url))),
        }
    }

    async fn connect_with(
        backend: Backend,
        opts: AnyConnectOptions,
        sqlite_file: Option<PathBuf>,
    ) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
                    .connect_with(opts)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?
            }
        };
        let _lock = match &sqlite_file {
            Some(f) => Some(sqlite_migration_lock(f).await?),
            None => None,
        };
        backend.migrator().run(&pool).await?;
        Ok(SqlStore { pool, backend })
    }

    /// Refuse an upload batch: undo everything it wrote, then record the incident in a
    /// transaction of its own. Returns `refused`, or the database error that stopped this.
    #[allow(clippy::too_many_arguments)]
    async fn refuse_batch(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        device: DeviceId,
        kind: &str,
        seq: u64,
        detail: &str,
        now: UnixSeconds,
        refused: StoreError,
    ) -> StoreError {
        let recorded = async {
            tx.rollback().await?;
            let mut tx = self.pool.begin().await?;
            open_incident(&mut tx, device, kind, seq, detail, now).await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        };
        match recorded.await {
            Ok(()) => refused,
            Err(e) => e,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A database URL fit for an error message: no password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

async fn bump_bundle_version(tx: &mut AnyConnection) -> StoreResult<()> {
    sqlx::query("UPDATE bundle_state SET version = version + 1 WHERE id = 1")
        .execute(tx)
        .await?;
    Ok(())
}

pub(super) fn enterprise_row(r: &AnyRow) -> StoreResult<Enterprise> {
    Ok(Enterprise {
        id: EnterpriseId(get_u32(r, "id")?),
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn checkpoint_row(r: &AnyRow) -> StoreResult<Checkpoint> {
    let kind: String = r.try_get("kind")?;
    Ok(Checkpoint {
        id: CheckpointId(get_u32(r, "id")?),
        name: r.try_get("name")?,
        kind: CheckpointKind::parse(&kind).ok_or_else(|| corrupt("checkpoint kind", &kind))?,
        inside_zone: get_bool(r, "inside_zone")?,
        enterprise_id: get_opt_u32(r, "enterprise_id")?.map(EnterpriseId),
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn pass_row(r: &AnyRow) -> StoreResult<PassRecord> {
    let number: String = r.try_get("number")?;
    let class: String = r.try_get("class")?;
    let status: String = r.try_get("status")?;
    let origin: String = r.try_get("origin")?;
    let destination: String = r.try_get("destination")?;
    let route: String = r.try_get("route_checkpoints")?;
    let route: Vec<u32> = serde_json::from_str(&route).map_err(|e| corrupt("route", e))?;
    let key_id = get_u32(r, "key_id")?;
    Ok(PassRecord {
        number: PassNumber::parse(&number).map_err(|e| corrupt("pass number", e))?,
        class: PassClass::parse(&class).ok_or_else(|| corrupt("class", &class))?,
        plate: r.try_get("plate")?,
        driver_name: r.try_get("driver_name")?,
        driver_masked: r.try_get("driver_masked")?,
        driver_id_hash: r.try_get("driver_id_hash")?,
        co_driver_name: r.try_get("co_driver_name")?,
        co_driver_masked: r.try_get("co_driver_masked")?,
        enterprise_id: EnterpriseId(get_u32(r, "enterprise_id")?),
        origin: DivisionCode::parse(&origin).map_err(|e| corrupt("origin", e))?,
        destination: DivisionCode::parse(&destination).map_err(|e| corrupt("destination", e))?,
        route_checkpoints: route.into_iter().map(CheckpointId).collect(),
        cargo: r.try_get("cargo")?,
        valid_from: r.try_get("valid_from")?,
        valid_until: r.try_get("valid_until")?,
        max_dwell_minutes: get_opt_u32(r, "max_dwell_minutes")?
            .map(|m| u16::try_from(m).map_err(|_| corrupt("max_dwell_minutes", m)))
            .transpose()?,
        key_id: KeyId(u8::try_from(key_id).map_err(|_| corrupt("key_id", key_id))?),
        qr_text: r.try_get("qr_text")?,
        status: PassStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        crew_phone_masked: r.try_get("crew_phone_masked")?,
        crew_phone_sealed: r.try_get("crew_phone_sealed")?,
        reissued_at: r.try_get("reissued_at")?,
        reissued_from_key: get_opt_u32(r, "reissued_from_key")?
            .map(|k| {
                u8::try_from(k)
                    .map(KeyId)
                    .map_err(|_| corrupt("reissued_from_key", k))
            })
            .transpose()?,
    })
}

pub(super) fn token_row(r: &AnyRow) -> StoreResult<TokenRecord> {
    let role: String = r.try_get("role")?;
    Ok(TokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        checkpoint_id: get_opt_u32(r, "checkpoint_id")?.map(CheckpointId),
        device_id: get_opt_u32(r, "device_id")?.map(DeviceId),
        enterprise_id: get_opt_u32(r, "enterprise_id")?.map(EnterpriseId),
    })
}

fn device_row(r: &AnyRow) -> StoreResult<Device> {
    let status: String = r.try_get("status")?;
    Ok(Device {
        id: DeviceId(get_u32(r, "id")?),
        checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
        name: r.try_get("name")?,
        public_key: r.try_get("public_key")?,
        status: DeviceStatus::parse(&status).ok_or_else(|| corrupt("device status", &status))?,
        enrolled_at: r.try_get("enrolled_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
        last_seen_at: r.try_get("last_seen_at")?,
        last_seq: get_u64(r, "last_seq")?,
    })
}

fn incident_row(r: &AnyRow) -> StoreResult<Incident> {
    Ok(Incident {
        id: r.try_get("id")?,
        device_id: DeviceId(get_u32(r, "device_id")?),
        kind: r.try_get("kind")?,
        seq: get_u64(r, "seq")?,
        detail: r.try_get("detail")?,
        opened_at: r.try_get("opened_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

pub(super) fn to_i64(what: &str, v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| corrupt(what, v))
}

/// Open a `chain_gap` incident at `seq` unless one is already open there.
async fn open_incident(
    tx: &mut AnyConnection,
    device: DeviceId,
    kind: &str,
    seq: u64,
    detail: &str,
    now: UnixSeconds,
) -> StoreResult<()> {
    let open: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM incidents WHERE device_id = $1 AND kind = $2 AND seq = $3 AND closed_at IS NULL",
    )
    .bind(i64::from(device.0))
    .bind(kind)
    .bind(to_i64("seq", seq)?)
    .fetch_optional(&mut *tx)
    .await?;
    if open.is_none() {
        sqlx::query(
            "INSERT INTO incidents (device_id, kind, seq, detail, opened_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i64::from(device.0))
        .bind(kind)
        .bind(to_i64("seq", seq)?)
        .bind(detail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn create_enterprise(&self, name: &str, now: UnixSeconds) -> StoreResult<Enterprise> {
        let row =
            sqlx::query("INSERT INTO enterprises (name, created_at) VALUES ($1, $2) RETURNING *")
                .bind(name)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(unique_to_conflict(|| {
                    format!("an enterprise named {name:?} already exists")
                }))?;
        enterprise_row(&row)
    }

    async fn list_enterprises(&self) -> StoreResult<Vec<Enterprise>> {
        let rows = sqlx::query("SELECT * FROM enterprises ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(enterprise_row).collect()
    }

    async fn get_enterprise(&self, id: EnterpriseId) -> StoreResult<Option<Enterprise>> {
        let row = sqlx::query("SELECT * FROM enterprises WHERE id = $1")
            .bind(i64::from(id.0))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(enterprise_row).transpose()
    }

    async fn create_checkpoint(
        &self,
        new: &NewCheckpoint,
        now: UnixSeconds,
    ) -> StoreResult<Checkpoint> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO checkpoints (name, kind, inside_zone, enterprise_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(new.inside_zone)
        .bind(new.enterprise_id.map(|e| i64::from(e.0)))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        bump_bundle_version(&mut tx).await?;
        tx.commit().await?;
        checkpoint_row(&row)
    }

    async fn list_checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query("SELECT * FROM checkpoints ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(checkpoint_row).collect()
    }

    async fn ensure_issuer_key(&self, key: &IssuerKey, now: UnixSeconds) -> StoreResult<()> {
        let public = passgate_shared::keys::public_key_b64(&key.public);
        let mut tx = self.pool.begin().await?;
        // Insert first: two instances starting together both try, one inserts.
        let done = sqlx::query(
            "INSERT INTO issuer_keys (id, public_key, status, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(i64::from(key.id.0))
        .bind(&public)
        .bind(key_status_str(key.status))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            bump_bundle_version(&mut tx).await?;
            tx.commit().await?;
            return Ok(());
        }
        let existing: String =
            sqlx::query_scalar("SELECT public_key FROM issuer_keys WHERE id = $1")
                .bind(i64::from(key.id.0))
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        if existing == public {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "issuer key {} in the database differs from the key file",
                key.id
            )))
        }
    }

    async fn list_issuer_keys(&self) -> StoreResult<Vec<IssuerKey>> {
        let rows = sqlx::query("SELECT id, public_key, status FROM issuer_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let public: String = r.try_get("public_key")?;
                let status: String = r.try_get("status")?;
                let id = get_u32(r, "id")?;
                Ok(IssuerKey {
                    id: KeyId(u8::try_from(id).map_err(|_| corrupt("issuer key id", id))?),
                    public: passgate_shared::keys::parse_public_key_b64(&public)
                        .ok_or_else(|| corrupt("issuer public key", &public))?,
                    status: parse_key_status(&status)?,
                    not_before: None,
                    not_after: None,
                })
            })
            .collect()
    }

    async fn set_issuer_key_status(&self, id: KeyId, status: KeyStatus) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE issuer_keys SET status = $1 WHERE id = $2")
            .bind(key_status_str(status))
            .bind(i64::from(id.0))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("issuer key"));
        }
        bump_bundle_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activate_issuer_key(&self, key: &IssuerKey, now: UnixSeconds) -> StoreResult<()> {
        let public = passgate_shared::keys::public_key_b64(&key.public);
        let id = i64::from(key.id.0);
        let mut tx = self.pool.begin().await?;
        // Writes first (see the top of this file). The bundle version's row lock comes first of
        // all: it queues concurrent rotations (on any instance), so each one sees the keys the
        // one before it committed, and only the newest key stays active.
        bump_bundle_version(&mut tx).await?;
        let done = sqlx::query(
            "INSERT INTO issuer_keys (id, public_key, status, created_at) \
             VALUES ($1, $2, 'active', $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&public)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "issuer key {} is already registered / 签发密钥 {} 已登记",
                key.id, key.id
            )));
        }
        sqlx::query(
            "UPDATE issuer_keys SET status = 'retired' WHERE status = 'active' AND id <> $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let newest: i64 = sqlx::query_scalar("SELECT MAX(id) FROM issuer_keys")
            .fetch_one(&mut *tx)
            .await?;
        if newest != id {
            return Err(StoreError::Conflict(format!(
                "issuer key {newest} was registered meanwhile (another rotation) / 其他操作已登记签发密钥 {newest}"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn next_serial(&self, area: DivisionCode) -> StoreResult<u32> {
        // One statement, atomic on both backends: PostgreSQL's upsert locks the row, so
        // concurrent callers (on any instance) queue on it and each sees the previous bump;
        // SQLite has one writer at a time.
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO pass_serials (area, next) VALUES ($1, 2) \
             ON CONFLICT (area) DO UPDATE SET next = pass_serials.next + 1 \
             RETURNING next - 1",
        )
        .bind(i64::from(area.get()))
        .fetch_one(&self.pool)
        .await?;
        u32::try_from(n).map_err(|_| corrupt("serial", n))
    }

    async fn insert_pass(&self, p: &PassRecord) -> StoreResult<()> {
        let route: Vec<u32> = p.route_checkpoints.iter().map(|c| c.0).collect();
        let route = serde_json::to_string(&route).map_err(|e| corrupt("route", e))?;
        sqlx::query(
            "INSERT INTO passes (number, class, plate, driver_name, driver_masked, driver_id_hash, \
             co_driver_name, co_driver_masked, enterprise_id, origin, destination, route_checkpoints, \
             cargo, valid_from, valid_until, max_dwell_minutes, key_id, qr_text, status, revoked_at, \
             revoke_reason, created_at, created_by, crew_phone_masked, crew_phone_sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $23, $24, $25)",
        )
        .bind(p.number.to_string())
        .bind(p.class.as_str())
        .bind(&p.plate)
        .bind(&p.driver_name)
        .bind(&p.driver_masked)
        .bind(&p.driver_id_hash)
        .bind(&p.co_driver_name)
        .bind(&p.co_driver_masked)
        .bind(i64::from(p.enterprise_id.0))
        .bind(p.origin.to_string())
        .bind(p.destination.to_string())
        .bind(route)
        .bind(&p.cargo)
        .bind(p.valid_from)
        .bind(p.valid_until)
        .bind(p.max_dwell_minutes.map(i64::from))
        .bind(i64::from(p.key_id.0))
        .bind(&p.qr_text)
        .bind(p.status.as_str())
        .bind(p.revoked_at)
        .bind(&p.revoke_reason)
        .bind(p.created_at)
        .bind(&p.created_by)
        .bind(&p.crew_phone_masked)
        .bind(&p.crew_phone_sealed)
        .execute(&self.pool)
        .await
        .map_err(unique_to_conflict(|| {
            format!("pass {} already exists", p.number)
        }))?;
        Ok(())
    }

    async fn get_pass(&self, number: PassNumber) -> StoreResult<Option<PassRecord>> {
        let row = sqlx::query("SELECT * FROM passes WHERE number = $1")
            .bind(number.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(pass_row).transpose()
    }

    async fn list_passes(&self, f: &PassFilter) -> StoreResult<(Vec<PassRecord>, u64)> {
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut filters = String::from(" FROM passes WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        // `condition` holds `{}` where the placeholder goes.
        let mut push = |condition: &str, value: Arg| {
            args.push(value);
            filters.push_str(" AND ");
            filters.push_str(&condition.replace("{}", &format!("${}", args.len())));
        };
        if let Some(c) = f.class {
            push("class = {}", Arg::Text(c.as_str().to_owned()));
        }
        if let Some(p) = &f.plate {
            push("plate = {}", Arg::Text(p.clone()));
        }
        if let Some(s) = f.status {
            push("status = {}", Arg::Text(s.as_str().to_owned()));
        }
        if let Some(text) = &f.plate_contains {
            let mut pattern = String::from("%");
            for ch in text.to_uppercase().chars() {
                if matches!(ch, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(ch);
            }
            pattern.push('%');
            push("UPPER(plate) LIKE {} ESCAPE '\\'", Arg::Text(pattern));
        }
        if let Some(e) = f.enterprise {
            push("enterprise_id = {}", Arg::Int(i64::from(e.0)));
        }
        if let Some(t) = f.valid_until_after {
            push("valid_until > {}", Arg::Int(t));
        }
        if let Some(t) = f.valid_until_upto {
            push("valid_until <= {}", Arg::Int(t));
        }
        if let Some(t) = f.valid_from_before {
            push("valid_from < {}", Arg::Int(t));
        }
        if let Some(k) = f.reissued_from_key {
            push("reissued_from_key = {}", Arg::Int(i64::from(k.0)));
        }
        let count_sql = format!("SELECT COUNT(*){filters}");
        let list_sql = format!(
            "SELECT *{filters} ORDER BY created_at DESC, number DESC LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut count_q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        let mut list_q = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for a in &args {
            match a {
                Arg::Text(t) => {
                    count_q = count_q.bind(t.clone());
                    list_q = list_q.bind(t.clone());
                }
                Arg::Int(n) => {
                    count_q = count_q.bind(*n);
                    list_q = list_q.bind(*n);
                }
            }
        }
        let list_q = list_q.bind(i64::from(f.limit)).bind(i64::from(f.offset));
        let total = count_q.fetch_one(&self.pool).await?;
        let rows = list_q.fetch_all(&self.pool).await?;
        let passes = rows.iter().map(pass_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((passes, u64::try_from(total).unwrap_or(0)))
    }

    async fn revoke_pass(
        &self,
        number: PassNumber,
        reason: &str,
        now: UnixSeconds,
    ) -> StoreResult<PassRecord> {
        let mut tx = self.pool.begin().await?;
        // The conditional update decides: of two concurrent revokes (on any instance) only
        // one finds the pass still active.
        let row = sqlx::query(
            "UPDATE passes SET status = 'revoked', revoked_at = $1, revoke_reason = $2 \
             WHERE number = $3 AND status = 'active' RETURNING *",
        )
        .bind(now)
        .bind(reason)
        .bind(number.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(_updated) = row else {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM passes WHERE number = $1")
                .bind(number.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict(format!("pass {number} is already revoked")),
                None => StoreError::NotFound("pass"),
            });
        };
        bump_bundle_version(&mut tx).await?;
        // The version this revocation first appears in: what a bundle delta asks for.
        let row = sqlx::query(
            "UPDATE passes SET revoked_version = (SELECT version FROM bundle_state WHERE id = 1) \
             WHERE number = $1 RETURNING *",
        )
        .bind(number.to_string())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        pass_row(&row)
    }

    async fn revoked_numbers(&self) -> StoreResult<Vec<PassNumber>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM passes WHERE status = 'revoked' ORDER BY number",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|n| PassNumber::parse(n).map_err(|e| corrupt("pass number", e)))
            .collect()
    }

    async fn bundle_version(&self) -> StoreResult<u64> {
        let v: i64 = sqlx::query_scalar("SELECT version FROM bundle_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(v).map_err(|_| corrupt("bundle version", v))
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        checkpoint_id: Option<CheckpointId>,
        now: UnixSeconds,
    ) -> StoreResult<TokenRecord> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, checkpoint_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(checkpoint_id.map(|c| i64::from(c.0)))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        token_row(&row)
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        let row =
            sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn create_enrollment_code(
        &self,
        checkpoint: CheckpointId,
        code_hash: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enrollment_codes (code_hash, checkpoint_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(i64::from(checkpoint.0))
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn enroll_device(
        &self,
        code_hash: &str,
        public_key: &str,
        name: &str,
        token_hash: &str,
        now: UnixSeconds,
    ) -> StoreResult<Device> {
        let mut tx = self.pool.begin().await?;
        // The conditional update decides: of two devices racing for one code, one wins.
        let checkpoint: Option<i64> = sqlx::query_scalar(
            "UPDATE enrollment_codes SET used_at = $1 \
             WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING checkpoint_id",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(checkpoint) = checkpoint else {
            let row = sqlx::query(
                "SELECT used_at, expires_at FROM enrollment_codes WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let failure = match row {
                None => EnrollFailure::Unknown,
                Some(r) if r.try_get::<Option<i64>, _>("used_at")?.is_some() => EnrollFailure::Used,
                Some(_) => EnrollFailure::Expired,
            };
            return Err(StoreError::Enrollment(failure));
        };
        let row = sqlx::query(
            "INSERT INTO devices (checkpoint_id, name, public_key, status, enrolled_at, last_seq) \
             VALUES ($1, $2, $3, 'active', $4, 0) RETURNING *",
        )
        .bind(checkpoint)
        .bind(name)
        .bind(public_key)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(unique_to_conflict(|| {
            "this device key is already enrolled".to_owned()
        }))?;
        let device = device_row(&row)?;
        sqlx::query("UPDATE enrollment_codes SET device_id = $1 WHERE code_hash = $2")
            .bind(i64::from(device.id.0))
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, checkpoint_id, device_id, created_at) \
             VALUES ($1, 'checkpoint', $2, $3, $4, $5)",
        )
        .bind(format!("device {} ({name})", device.id))
        .bind(token_hash)
        .bind(checkpoint)
        .bind(i64::from(device.id.0))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(device)
    }

    async fn get_device(&self, id: DeviceId) -> StoreResult<Option<Device>> {
        let row = sqlx::query("SELECT * FROM devices WHERE id = $1")
            .bind(i64::from(id.0))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_row).transpose()
    }

    async fn list_devices(&self) -> StoreResult<Vec<Device>> {
        let rows = sqlx::query("SELECT * FROM devices ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(device_row).collect()
    }

    async fn revoke_device(
        &self,
        id: DeviceId,
        reason: &str,
        now: UnixSeconds,
    ) -> StoreResult<Device> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE devices SET status = 'revoked', revoked_at = $1, revoke_reason = $2 \
             WHERE id = $3 AND status = 'active' RETURNING *",
        )
        .bind(now)
        .bind(reason)
        .bind(i64::from(id.0))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM devices WHERE id = $1")
                .bind(i64::from(id.0))
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict(format!("device {id} is already revoked")),
                None => StoreError::NotFound("device"),
            });
        };
        tx.commit().await?;
        device_row(&row)
    }

    async fn ingest_batch(
        &self,
        device: DeviceId,
        records: &[GateRecord],
        sealed: &[Sealed],
        now: UnixSeconds,
    ) -> StoreResult<BatchOutcome> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(BatchOutcome::default());
        };
        if sealed.len() != records.len() {
            return Err(StoreError::Corrupt(
                "a batch's records and their seals differ in number".into(),
            ));
        }
        let dev = i64::from(device.0);
        let hashes: Vec<String> = sealed.iter().map(Sealed::hash_hex).collect();
        let days: Vec<String> = records.iter().map(|r| local_day(r.scanned_at)).collect();
        let mut tx = self.pool.begin().await?;
        // First statement: it locks the device's row, so two uploads of one device (on any
        // instance) run one after the other and each sees the other's records and incidents.
        sqlx::query(
            "UPDATE devices SET last_seen_at = $1, \
             last_seq = CASE WHEN last_seq < $2 THEN $2 ELSE last_seq END WHERE id = $3",
        )
        .bind(now)
        .bind(to_i64("seq", last.seq)?)
        .bind(dev)
        .execute(&mut *tx)
        .await?;
        let mut inserted: Vec<u64> = Vec::with_capacity(records.len());
        let chunk_len = scan_chunk(self.backend);
        for (((chunk, chunk_hashes), chunk_sealed), chunk_days) in records
            .chunks(chunk_len)
            .zip(hashes.chunks(chunk_len))
            .zip(sealed.chunks(chunk_len))
            .zip(days.chunks(chunk_len))
        {
            let mut sql = String::from(
                "INSERT INTO scans (device_id, seq, id, hash, prev_hash, checkpoint_id, scanned_at, day, \
                 direction, number, class, plate, accepted, verdict, record, received_at) VALUES ",
            );
            sql.push_str(&values_rows(chunk.len(), SCAN_COLUMNS));
            // Any conflict (the same record from a concurrent retry, on the key or on the
            // id) inserts nothing; the check below tells a retry from a clash.
            // `RETURNING seq`: the records this statement stored, counted below.
            sql.push_str(" ON CONFLICT DO NOTHING RETURNING seq");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (((r, hash), seal), day) in chunk
                .iter()
                .zip(chunk_hashes)
                .zip(chunk_sealed)
                .zip(chunk_days)
            {
                let json = seal.json.clone();
                q = q
                    .bind(dev)
                    .bind(to_i64("seq", r.seq)?)
                    .bind(r.id.clone())
                    .bind(hash.clone())
                    .bind(r.prev_hash.clone())
                    .bind(i64::from(r.checkpoint_id.0))
                    .bind(r.scanned_at)
                    .bind(day.clone())
                    .bind(r.direction.as_str())
                    .bind(r.number.map(|n| n.to_string()))
                    .bind(r.class.map(|c| c.as_str()))
                    .bind(r.plate.clone())
                    .bind(r.accepted)
                    .bind(r.verdict_label())
                    .bind(json)
                    .bind(now);
            }
            for row in q.fetch_all(&mut *tx).await? {
                inserted.push(get_u64(&row, "seq")?);
            }
        }
        let stored = inserted.len() as u64;
        // Records that were already there must be the same records (a retry), not a fork,
        // and every record of the batch must now be there (an id used by another record
        // would have inserted nothing).
        if stored < records.len() as u64 {
            let rows = sqlx::query(
                "SELECT seq, hash FROM scans WHERE device_id = $1 AND seq >= $2 AND seq <= $3",
            )
            .bind(dev)
            .bind(to_i64("seq", first.seq)?)
            .bind(to_i64("seq", last.seq)?)
            .fetch_all(&mut *tx)
            .await?;
            if rows.len() != records.len() {
                tx.rollback().await?;
                return Err(StoreError::Conflict(
                    "a record id in this batch is already used by another record".into(),
                ));
            }
            for row in &rows {
                let seq = get_u64(row, "seq")?;
                let hash: String = row.try_get("hash")?;
                let i = (seq - first.seq) as usize;
                if hashes.get(i).is_some_and(|h| *h != hash) {
                    let detail =
                        "an upload carried a different record under a stored sequence number";
                    let refused = StoreError::ChainFork { device, seq };
                    return Err(self
                        .refuse_batch(tx, device, "chain_fork", seq, detail, now, refused)
                        .await);
                }
            }
        }
        // The first record must link to the one before it, when that one is here.
        let mut gap = false;
        if first.seq > 1 {
            let before: Option<String> =
                sqlx::query_scalar("SELECT hash FROM scans WHERE device_id = $1 AND seq = $2")
                    .bind(dev)
                    .bind(to_i64("seq", first.seq - 1)?)
                    .fetch_optional(&mut *tx)
                    .await?;
            match before {
                Some(h) if h != first.prev_hash => {
                    let detail = "an upload does not link to the stored record before it";
                    let refused = StoreError::BrokenLink {
                        device,
                        seq: first.seq,
                    };
                    return Err(self
                        .refuse_batch(tx, device, "broken_chain", first.seq, detail, now, refused)
                        .await);
                }
                Some(_) => {}
                None => {
                    gap = true;
                    let detail = format!("records before {} have not arrived", first.seq);
                    open_incident(&mut tx, device, "chain_gap", first.seq, &detail, now).await?;
                }
            }
        }
        // And the record after the batch, when it is already here, must link to the batch.
        let after: Option<String> =
            sqlx::query_scalar("SELECT prev_hash FROM scans WHERE device_id = $1 AND seq = $2")
                .bind(dev)
                .bind(to_i64("seq", last.seq + 1)?)
                .fetch_optional(&mut *tx)
                .await?;
        if after.is_some_and(|p| hashes.last().is_some_and(|h| *h != p)) {
            let detail = "an upload does not link to the stored record after it";
            let refused = StoreError::BrokenLink {
                device,
                seq: last.seq + 1,
            };
            return Err(self
                .refuse_batch(
                    tx,
                    device,
                    "broken_chain",
                    last.seq + 1,
                    detail,
                    now,
                    refused,
                )
                .await);
        }
        // Close gaps this batch fills: a gap at seq s closes once s - 1 is here and links.
        let open = sqlx::query("SELECT id, seq FROM incidents WHERE device_id = $1 AND kind = 'chain_gap' AND closed_at IS NULL")
            .bind(dev)
            .fetch_all(&mut *tx)
            .await?;
        for row in &open {
            let id: i64 = row.try_get("id")?;
            let seq = get_u64(row, "seq")?;
            let links: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM scans a JOIN scans b ON b.device_id = a.device_id AND b.seq = a.seq + 1 \
                 WHERE a.device_id = $1 AND b.seq = $2 AND b.prev_hash = a.hash",
            )
            .bind(dev)
            .bind(to_i64("seq", seq)?)
            .fetch_optional(&mut *tx)
            .await?;
            if links.is_some() {
                sqlx::query("UPDATE incidents SET closed_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let new_records = inserted.iter().filter_map(|seq| {
            let i = usize::try_from(seq.checked_sub(first.seq)?).ok()?;
            Some((records.get(i)?, days.get(i)?))
        });
        add_day_counts(&mut tx, self.backend, new_records).await?;
        tx.commit().await?;
        Ok(BatchOutcome {
            stored,
            duplicates: records.len() as u64 - stored,
            gap,
        })
    }

    async fn day_records(&self, day: &str) -> StoreResult<Vec<GateRecord>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT record FROM scans WHERE day = $1 ORDER BY scanned_at, device_id, seq",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| serde_json::from_str(r).map_err(|e| corrupt("stored record", e)))
            .collect()
    }

    async fn incidents(&self, from: UnixSeconds, until: UnixSeconds) -> StoreResult<Vec<Incident>> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE (opened_at >= $1 AND opened_at < $2) OR closed_at IS NULL \
             ORDER BY opened_at, id",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_row).collect()
    }

    async fn revoked_since(&self, after: u64, upto: u64) -> StoreResult<Vec<PassNumber>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM passes WHERE status = 'revoked' \
             AND revoked_version > $1 AND revoked_version <= $2 ORDER BY number",
        )
        .bind(to_i64("version", after)?)
        .bind(to_i64("version", upto)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|n| PassNumber::parse(n).map_err(|e| corrupt("pass number", e)))
            .collect()
    }

    async fn daily_usage(&self, day: &str) -> StoreResult<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT NULLIF(c.number, '') AS number, NULLIF(c.class, '') AS class, c.checkpoint_id, \
             c.direction, c.verdict, CAST(SUM(c.n) AS BIGINT) AS n FROM scan_day_counts c \
             WHERE c.day = $1 GROUP BY c.number, c.class, c.checkpoint_id, c.direction, c.verdict \
             ORDER BY c.checkpoint_id, c.number, c.class, c.direction, c.verdict",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let number: Option<String> = r.try_get("number")?;
                let class: Option<String> = r.try_get("class")?;
                let direction: String = r.try_get("direction")?;
                Ok(UsageRow {
                    number: number
                        .map(|n| PassNumber::parse(&n).map_err(|e| corrupt("pass number", e)))
                        .transpose()?,
                    class: class
                        .map(|c| PassClass::parse(&c).ok_or_else(|| corrupt("class", &c)))
                        .transpose()?,
                    checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
                    direction: Direction::parse(&direction)
                        .ok_or_else(|| corrupt("direction", &direction))?,
                    verdict: r.try_get("verdict")?,
                    count: get_u64(r, "n")?,
                })
            })
            .collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn ready(&self) -> StoreResult<()> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.pool)
                .await?;
        let applied: HashSet<i64> = applied.into_iter().collect();
        match self
            .backend
            .migrator()
            .iter()
            .find(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        {
            Some(m) => Err(StoreError::NotMigrated(m.version)),
            None => Ok(()),
        }
    }

    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Unsupported(
                "online backup is for SQLite; back up PostgreSQL with pg_dump",
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Conflict(format!("{} is not UTF-8", path.display())))?;
        // The copy holds personal data: create it empty, readable by the owner only (SQLite's
        // VACUUM INTO accepts an empty file), and never overwrite an existing one.
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                StoreError::Conflict(format!("{} exists; back up to a new file", path.display()))
            }
            _ => StoreError::Io(format!("{}: {e}", path.display())),
        })?;
        if let Err(e) = sqlx::query("VACUUM INTO $1")
            .bind(target.to_owned())
            .execute(&self.pool)
            .await
        {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::values_rows;

    #[test]
    fn values_rows_numbers_placeholders_row_by_row() {
        assert_eq!(values_rows(1, 2), "($1, $2)");
        assert_eq!(values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
