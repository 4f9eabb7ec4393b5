//! The local SQLite database (`DATA_DIR/checkpoint.db`): the enrolment, the signed bundle
//! files as received, and the chained scan log.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed transaction is on
//! disk when `commit` returns: a scan whose verdict was printed survives `kill -9` and a power
//! cut. Scans are written in `BEGIN IMMEDIATE` transactions ([`ScanTx`]), which take the
//! write lock before the sequence number, the previous hash and the pass's history are read,
//! so two processes on one data directory never share a number, fork the chain, or both
//! admit the same truck.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord};
use passgate_shared::rules::PassHistory;
use passgate_shared::sync::{Direction, UsageRow};
use passgate_shared::{CheckpointId, IssuerKey, PassClass, PassNumber, UnixSeconds};
use sqlx::migrate::MigrateError;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection};

use crate::error::{CheckpointError, Result};

/// The log's part of the time floor: the latest scan time after the last clock reset, or
/// the server's time at that reset (`migrations/0002_clock_reset.sql`).
const LOG_FLOOR_SQL: &str = "SELECT MAX(t) FROM (
     SELECT MAX(scanned_at) AS t FROM scans
      WHERE seq > COALESCE((SELECT clock_reset_seq FROM config WHERE id = 1), 0)
     UNION ALL SELECT clock_reset_at FROM config WHERE id = 1)";

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "checkpoint.db";

/// How long a writer waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Who this device is and where its server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server_url: String,
    pub token: String,
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    /// The checkpoint's name as the server gave it at enrolment.
    pub checkpoint_name: String,
    pub device_name: Option<String>,
    /// The bundle-signing keys a new bundle file must verify with.
    pub bundle_keys: Vec<IssuerKey>,
    /// The highest bundle version ever applied (rollback floor).
    pub highest_bundle_version: u64,
    pub enrolled_at: UnixSeconds,
    /// When the last complete sync finished, if ever.
    pub last_sync_at: Option<UnixSeconds>,
    /// Gate clock minus the server's clock at the last sync that could tell (seconds).
    pub clock_offset_seconds: Option<i64>,
    /// The server's time when a sync last reset a time floor that ran ahead of it.
    pub clock_reset_at: Option<UnixSeconds>,
}

/// What `enroll` stores, with the first bundle file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub server_url: String,
    pub token: String,
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: String,
    pub device_name: Option<String>,
}

/// A bundle file to store, with what the gate learnt checking it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBundleFile<'a> {
    pub bytes: &'a [u8],
    pub is_delta: bool,
    pub version: u64,
    pub generated_at: UnixSeconds,
    /// The keys that verified it (stored with it, to re-verify it at load time).
    pub verified_with: &'a [IssuerKey],
    /// The trusted bundle keys from now on (the file's `bundle_keys`).
    pub trust_next: &'a [IssuerKey],
}

/// A stored bundle file, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBundleFile {
    pub id: i64,
    pub generation: i64,
    pub is_delta: bool,
    pub version: u64,
    /// The keys that verified it on arrival, as stored (`None`: the column is damaged).
    pub verify_keys: Option<Vec<IssuerKey>>,
    pub bytes: Vec<u8>,
}

/// Where in the stored files a loaded bundle ends: its generation and last file's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePos {
    pub generation: i64,
    pub id: i64,
}

/// A scan record as stored, with what is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: GateRecord,
    /// Hex SHA-256 of the record (checked against the record when read).
    pub hash: String,
    /// The pass's dwell limit, for the inside list (load-unload-leave).
    pub max_dwell_minutes: Option<u16>,
    pub uploaded_at: Option<UnixSeconds>,
}

/// The end of the chain: the next record's sequence number and `prev_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub next_seq: u64,
    pub prev_hash: String,
}

/// How many scans the device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCounts {
    pub total: u64,
    /// Scans the server has not confirmed yet.
    pub unsent: u64,
}

/// A load-unload-leave truck inside, per this gate's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsideEntry {
    /// The entry record.
    pub seq: u64,
    pub number: PassNumber,
    pub plate: Option<String>,
    pub entered_at: UnixSeconds,
    pub max_dwell_minutes: Option<u16>,
}

/// The local database of one checkpoint device.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    dir: PathBuf,
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| CheckpointError::CorruptData(format!("{what} {v} is too large")))
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| CheckpointError::CorruptData(format!("{what} {v} is negative")))
}

fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| CheckpointError::CorruptData(format!("{what} {v}")))
}

/// A fresh record id: 16 bytes of OS randomness as 32 lower-case hex digits.
pub fn new_record_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CheckpointError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn keys_json(keys: &[IssuerKey]) -> Result<String> {
    serde_json::to_string(keys)
        .map_err(|e| CheckpointError::CorruptData(format!("bundle keys: {e}")))
}

impl Store {
    /// Open the store in `dir`, creating the directory and the database if missing
    /// (used by `enroll`).
    pub async fn create(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| CheckpointError::Io {
            context: format!("cannot create the data directory {}", dir.display()),
            source,
        })?;
        Store::connect(dir, true).await
    }

    /// Open the existing store in `dir`. A directory without a database is
    /// [`CheckpointError::NotEnrolled`]; nothing is created.
    pub async fn open(dir: &Path) -> Result<Store> {
        if !dir.join(DB_FILE).is_file() {
            return Err(CheckpointError::NotEnrolled {
                dir: dir.to_path_buf(),
            });
        }
        Store::connect(dir, false).await
    }

    async fn connect(dir: &Path, create: bool) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(dir.join(DB_FILE))
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT * 3)
            .connect_with(options)
            .await
            .map_err(CheckpointError::db("opening the local database"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(migration_error)?;
        Ok(Store {
            pool,
            dir: dir.to_path_buf(),
        })
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Close the database cleanly (checkpoints the WAL when this was the last connection).
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The pool, for tests that inspect or damage the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn not_enrolled(&self) -> CheckpointError {
        CheckpointError::NotEnrolled {
            dir: self.dir.clone(),
        }
    }

    async fn begin_write(&self, context: &'static str) -> Result<WriteTx> {
        WriteTx::begin(&self.pool, context).await
    }

    // -----------------------------------------------------------------------------------
    // Enrolment and configuration

    /// Store the enrolment and the first (snapshot) bundle file in one transaction. Refuses
    /// a database that already holds an enrolment.
    pub async fn save_enrolment(
        &self,
        e: &Enrolment,
        file: &NewBundleFile<'_>,
        now: UnixSeconds,
    ) -> Result<()> {
        const CTX: &str = "saving the enrolment";
        let mut tx = self.begin_write(CTX).await?;
        let held: Option<(i64, i64)> =
            sqlx::query_as("SELECT device_id, checkpoint_id FROM config WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(CheckpointError::db(CTX))?;
        if let Some((device, cp)) = held {
            return Err(CheckpointError::AlreadyEnrolled {
                dir: self.dir.clone(),
                device_id: DeviceId(to_u32(device, "device id")?),
                checkpoint_id: CheckpointId(to_u32(cp, "checkpoint id")?),
            });
        }
        sqlx::query(
            "INSERT INTO config (id, server_url, token, device_id, checkpoint_id,
                 checkpoint_name, device_name, bundle_keys, highest_bundle_version,
                 enrolled_at, last_sync_at)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        )
        .bind(&e.server_url)
        .bind(&e.token)
        .bind(i64::from(e.device_id.0))
        .bind(i64::from(e.checkpoint_id.0))
        .bind(&e.checkpoint_name)
        .bind(e.device_name.as_deref())
        .bind(keys_json(file.trust_next)?)
        .bind(to_i64(file.version, "bundle version")?)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(CheckpointError::db(CTX))?;
        sqlx::query("DELETE FROM bundle_files")
            .execute(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
        insert_file(&mut tx, 1, file, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The configuration, if `enroll` has run.
    pub async fn config(&self) -> Result<Option<Config>> {
        let row = sqlx::query(
            "SELECT server_url, token, device_id, checkpoint_id, checkpoint_name, device_name,
                    bundle_keys, highest_bundle_version, enrolled_at, last_sync_at,
                    clock_offset_seconds, clock_reset_at
             FROM config WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(CheckpointError::db("reading the configuration"))?;
        let Some(row) = row else { return Ok(None) };
        let keys: String = get(&row, "bundle_keys")?;
        Ok(Some(Config {
            server_url: get(&row, "server_url")?,
            token: get(&row, "token")?,
            device_id: DeviceId(to_u32(get(&row, "device_id")?, "device id")?),
            checkpoint_id: CheckpointId(to_u32(get(&row, "checkpoint_id")?, "checkpoint id")?),
            checkpoint_name: get(&row, "checkpoint_name")?,
            device_name: get(&row, "device_name")?,
            bundle_keys: serde_json::from_str(&keys).map_err(|e| {
                CheckpointError::CorruptData(format!("the pinned bundle keys: {e}"))
            })?,
            highest_bundle_version: to_u64(get(&row, "highest_bundle_version")?, "bundle version")?,
            enrolled_at: get(&row, "enrolled_at")?,
            last_sync_at: get(&row, "last_sync_at")?,
            clock_offset_seconds: get(&row, "clock_offset_seconds")?,
            clock_reset_at: get(&row, "clock_reset_at")?,
        }))
    }

    /// The configuration, or [`CheckpointError::NotEnrolled`].
    pub async fn require_config(&self) -> Result<Config> {
        self.config().await?.ok_or_else(|| self.not_enrolled())
    }

    /// Note a complete sync.
    pub async fn set_last_sync(&self, at: UnixSeconds) -> Result<()> {
        sqlx::query("UPDATE config SET last_sync_at = ? WHERE id = 1")
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(CheckpointError::db("noting the sync time"))?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Bundle files

    /// The generations of stored bundle files, newest first.
    pub async fn bundle_generations(&self) -> Result<Vec<i64>> {
        sqlx::query_scalar("SELECT DISTINCT generation FROM bundle_files ORDER BY generation DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the trust bundle"))
    }

    /// The files of one generation, in the order they were applied.
    pub async fn bundle_files(&self, generation: i64) -> Result<Vec<StoredBundleFile>> {
        let rows = sqlx::query(
            "SELECT id, generation, is_delta, version, verify_keys, bytes FROM bundle_files
             WHERE generation = ? ORDER BY id",
        )
        .bind(generation)
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("reading the trust bundle"))?;
        rows.iter()
            .map(|row| {
                let keys: String = get(row, "verify_keys")?;
                Ok(StoredBundleFile {
                    id: get(row, "id")?,
                    generation: get(row, "generation")?,
                    is_delta: get(row, "is_delta")?,
                    version: to_u64(get(row, "version")?, "bundle version")?,
                    verify_keys: serde_json::from_str(&keys).ok(),
                    bytes: get(row, "bytes")?,
                })
            })
            .collect()
    }

    /// A marker that changes whenever a bundle file is stored (cheap: one index lookup).
    pub async fn bundle_marker(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM bundle_files")
            .fetch_one(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the trust bundle"))
    }

    /// Store a checked bundle file on top of the bundle loaded up to `upto`, and trust
    /// `file.trust_next` from now on, in one transaction. Stored files after `upto` (ones
    /// that no longer verified when loaded) are dropped. A delta joins `upto`'s generation;
    /// a snapshot starts a new one, and only the generation before it is kept as the
    /// previous good bundle.
    pub async fn save_bundle_file(
        &self,
        upto: Option<FilePos>,
        file: &NewBundleFile<'_>,
        now: UnixSeconds,
    ) -> Result<()> {
        const CTX: &str = "saving the trust bundle";
        let mut tx = self.begin_write(CTX).await?;
        match upto {
            Some(pos) => {
                sqlx::query(
                    "DELETE FROM bundle_files
                     WHERE generation > ?1 OR (generation = ?1 AND id > ?2)",
                )
                .bind(pos.generation)
                .bind(pos.id)
                .execute(&mut *tx)
                .await
                .map_err(CheckpointError::db(CTX))?;
            }
            None if !file.is_delta => {
                // Nothing stored verifies any more: start over.
                sqlx::query("DELETE FROM bundle_files")
                    .execute(&mut *tx)
                    .await
                    .map_err(CheckpointError::db(CTX))?;
            }
            None => {
                return Err(CheckpointError::CorruptData(
                    "a bundle delta needs a held bundle to apply to".into(),
                ));
            }
        }
        let generation = match (upto, file.is_delta) {
            (Some(pos), true) => pos.generation,
            (Some(pos), false) => {
                sqlx::query("DELETE FROM bundle_files WHERE generation < ?")
                    .bind(pos.generation)
                    .execute(&mut *tx)
                    .await
                    .map_err(CheckpointError::db(CTX))?;
                pos.generation + 1
            }
            (None, _) => 1,
        };
        insert_file(&mut tx, generation, file, now).await?;
        sqlx::query(
            "UPDATE config SET bundle_keys = ?,
                 highest_bundle_version = MAX(highest_bundle_version, ?) WHERE id = 1",
        )
        .bind(keys_json(file.trust_next)?)
        .bind(to_i64(file.version, "bundle version")?)
        .execute(&mut *tx)
        .await
        .map_err(CheckpointError::db(CTX))?;
        tx.commit().await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Scans

    /// Start the write transaction of one scan (or override): it holds the database's write
    /// lock until [`ScanTx::commit`] or drop (rollback).
    pub async fn begin_scan(&self) -> Result<ScanTx> {
        Ok(ScanTx {
            tx: self.begin_write("recording the scan").await?,
        })
    }

    /// Up to `limit` records the server has not confirmed, oldest first.
    pub async fn unsent(&self, limit: u32) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(
            "SELECT seq, record, hash, max_dwell_minutes, uploaded_at FROM scans
             WHERE uploaded_at IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("reading scans to upload"))?;
        rows.iter().map(record_from_row).collect()
    }

    /// Mark records `first..=last` as confirmed by the server. Returns how many changed.
    pub async fn mark_uploaded(&self, first: u64, last: u64, at: UnixSeconds) -> Result<u64> {
        const CTX: &str = "marking scans as uploaded";
        let r = sqlx::query(
            "UPDATE scans SET uploaded_at = ? WHERE seq BETWEEN ? AND ? AND uploaded_at IS NULL",
        )
        .bind(at)
        .bind(to_i64(first, "sequence number")?)
        .bind(to_i64(last, "sequence number")?)
        .execute(&self.pool)
        .await
        .map_err(CheckpointError::db(CTX))?;
        Ok(r.rows_affected())
    }

    /// Up to `limit` records from `from_seq` on, in sequence order.
    pub async fn records(&self, from_seq: u64, limit: u32) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(
            "SELECT seq, record, hash, max_dwell_minutes, uploaded_at FROM scans
             WHERE seq >= ? ORDER BY seq LIMIT ?",
        )
        .bind(to_i64(from_seq, "sequence number")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("reading scans"))?;
        rows.iter().map(record_from_row).collect()
    }

    /// The record with sequence number `seq`, if any.
    pub async fn record(&self, seq: u64) -> Result<Option<StoredRecord>> {
        let row = sqlx::query(
            "SELECT seq, record, hash, max_dwell_minutes, uploaded_at FROM scans WHERE seq = ?",
        )
        .bind(to_i64(seq, "sequence number")?)
        .fetch_optional(&self.pool)
        .await
        .map_err(CheckpointError::db("reading a scan"))?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// SQLite's own check of the database file (`PRAGMA integrity_check`): `["ok"]` when
    /// the file is sound, else what is wrong.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(CheckpointError::db("checking the database file"))
    }

    /// Walk the whole scan log: sequence numbers 1, 2, 3 … without gaps, each record
    /// matching its stored hash and linking to the previous one. Returns how many records
    /// were read and the first problem found, if any.
    pub async fn check_chain(&self) -> Result<(u64, Option<String>)> {
        let mut expected_seq = 1u64;
        let mut prev = GENESIS_HASH.to_owned();
        // Pages of 500; after a page that cannot be read, one record at a time, so the
        // problem is pinned to its record.
        let mut limit = 500;
        loop {
            let page = match self.records(expected_seq, limit).await {
                Ok(p) => p,
                Err(CheckpointError::CorruptData(_)) if limit > 1 => {
                    limit = 1;
                    continue;
                }
                Err(CheckpointError::CorruptData(why)) => {
                    return Ok((expected_seq - 1, Some(why)));
                }
                Err(e) => return Err(e),
            };
            if page.is_empty() {
                return Ok((expected_seq - 1, None));
            }
            for r in page {
                if r.record.seq != expected_seq {
                    return Ok((
                        expected_seq - 1,
                        Some(format!(
                            "scan record #{expected_seq} is missing (the next one is #{})",
                            r.record.seq
                        )),
                    ));
                }
                if r.record.prev_hash != prev {
                    return Ok((
                        expected_seq - 1,
                        Some(format!(
                            "scan record #{expected_seq} does not link to record #{}",
                            expected_seq - 1
                        )),
                    ));
                }
                prev = r.hash;
                expected_seq += 1;
            }
        }
    }

    /// The log's part of the time floor: the latest gate-clock time of the scans since the
    /// last clock reset, or the server's time at that reset if later
    /// ([`Store::note_server_time`]).
    pub async fn latest_scanned_at(&self) -> Result<Option<UnixSeconds>> {
        sqlx::query_scalar(LOG_FLOOR_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the latest scan time"))
    }

    /// The latest gate-clock time of any scan in the log, reset or not.
    pub async fn latest_scan_time(&self) -> Result<Option<UnixSeconds>> {
        sqlx::query_scalar("SELECT MAX(scanned_at) FROM scans")
            .fetch_one(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the latest scan time"))
    }

    /// Compare the gate clock (`gate_now`) with the server's (`server_now`, from a sync
    /// answer) and keep the offset. When the log's time floor is ahead of the server's time
    /// by more than `tolerance` seconds (the gate clock ran ahead while it scanned), reset
    /// the floor: the scans so far no longer raise it, the server's time does. Returns
    /// whether the floor was reset.
    pub async fn note_server_time(
        &self,
        gate_now: UnixSeconds,
        server_now: UnixSeconds,
        tolerance: i64,
    ) -> Result<bool> {
        const CTX: &str = "noting the server's time";
        let mut tx = self.begin_write(CTX).await?;
        let floor: Option<i64> = sqlx::query_scalar(LOG_FLOOR_SQL)
            .fetch_one(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
        sqlx::query("UPDATE config SET clock_offset_seconds = ? WHERE id = 1")
            .bind(gate_now - server_now)
            .execute(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
        let reset = floor.is_some_and(|f| f - server_now > tolerance);
        if reset {
            sqlx::query(
                "UPDATE config SET clock_reset_at = ?,
                     clock_reset_seq = (SELECT COALESCE(MAX(seq), 0) FROM scans) WHERE id = 1",
            )
            .bind(server_now)
            .execute(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
        }
        tx.commit().await?;
        Ok(reset)
    }

    /// How many scans are stored and how many are not uploaded yet.
    pub async fn counts(&self) -> Result<ScanCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total,
                    COALESCE(SUM(CASE WHEN uploaded_at IS NULL THEN 1 ELSE 0 END), 0) AS unsent
             FROM scans",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(CheckpointError::db("counting scans"))?;
        Ok(ScanCounts {
            total: to_u64(get(&row, "total")?, "count")?,
            unsent: to_u64(get(&row, "unsent")?, "count")?,
        })
    }

    /// Load-unload-leave trucks inside at `checkpoint` per the log: passes whose latest
    /// accepted (or overridden) record here is an entry. Earliest entry first.
    pub async fn inside_now(&self, checkpoint: CheckpointId) -> Result<Vec<InsideEntry>> {
        let rows = sqlx::query(
            "SELECT s.seq, s.number, s.plate, s.scanned_at, s.max_dwell_minutes FROM scans s
             WHERE s.class = 'load_unload_leave' AND s.accepted = 1 AND s.direction = 'in'
               AND s.checkpoint_id = ?1 AND s.number IS NOT NULL
               AND s.seq = (SELECT MAX(t.seq) FROM scans t
                            WHERE t.number = s.number AND t.accepted = 1
                              AND t.checkpoint_id = ?1)
             ORDER BY s.scanned_at, s.seq",
        )
        .bind(i64::from(checkpoint.0))
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("listing trucks inside"))?;
        rows.iter()
            .map(|row| {
                let number: Option<String> = get(row, "number")?;
                let number = parse_number(number)?.ok_or_else(|| {
                    CheckpointError::CorruptData("an entry without a pass number".into())
                })?;
                Ok(InsideEntry {
                    seq: to_u64(get(row, "seq")?, "sequence number")?,
                    number,
                    plate: get(row, "plate")?,
                    entered_at: get(row, "scanned_at")?,
                    max_dwell_minutes: dwell_from(get(row, "max_dwell_minutes")?)?,
                })
            })
            .collect()
    }

    /// Record counts for `from <= scanned_at < until`, grouped like the server's daily
    /// usage: pass number, class, checkpoint, direction and verdict (`accepted`, `override`
    /// or the reject reason, [`GateRecord::verdict_label`]).
    pub async fn usage_rows(&self, from: UnixSeconds, until: UnixSeconds) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT number, class, checkpoint_id, direction, verdict, COUNT(*) AS n
             FROM scans WHERE scanned_at >= ? AND scanned_at < ?
             GROUP BY number, class, checkpoint_id, direction, verdict
             ORDER BY number IS NULL, number, class, checkpoint_id, direction, verdict",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("counting scans for the report"))?;
        rows.iter()
            .map(|row| {
                Ok(UsageRow {
                    number: parse_number(get(row, "number")?)?,
                    class: parse_class(get(row, "class")?)?,
                    checkpoint_id: CheckpointId(to_u32(
                        get(row, "checkpoint_id")?,
                        "checkpoint id",
                    )?),
                    direction: parse_direction(&get::<String>(row, "direction")?)?,
                    verdict: get(row, "verdict")?,
                    count: to_u64(get(row, "n")?, "count")?,
                })
            })
            .collect()
    }
}

/// A `BEGIN IMMEDIATE` write transaction on one pooled connection.
///
/// A connection whose transaction did not end in a clean `COMMIT` (a failed commit on a
/// full disk, an error half-way, a drop) is closed instead of going back to the pool: after
/// a failed `COMMIT` SQLite may or may not have rolled back by itself, and a connection left
/// in either state must not decide the next scan. (With sqlx's own transactions, a commit
/// that SQLite had already rolled back left the connection's transaction depth at 1, and
/// every later scan failed with "begin_with at non-zero transaction depth" until the
/// program was restarted.) The next caller gets a fresh connection.
pub struct WriteTx {
    conn: PoolConnection<Sqlite>,
    open: bool,
    context: &'static str,
}

impl WriteTx {
    async fn begin(pool: &SqlitePool, context: &'static str) -> Result<WriteTx> {
        let mut conn = pool.acquire().await.map_err(CheckpointError::db(context))?;
        if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
            conn.close_on_drop();
            return Err(CheckpointError::db(context)(e));
        }
        Ok(WriteTx {
            conn,
            open: true,
            context,
        })
    }

    /// `COMMIT`. On failure the transaction is rolled back (if SQLite has not done so
    /// already) and the connection is closed.
    pub async fn commit(mut self) -> Result<()> {
        match sqlx::raw_sql("COMMIT").execute(&mut *self.conn).await {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *self.conn).await;
                Err(CheckpointError::db(self.context)(e))
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            // Closing the connection rolls back whatever it still holds.
            self.conn.close_on_drop();
        }
    }
}

/// The write transaction of one scan or override. Everything the decision reads (chain
/// head, time floor, the pass's history) is read under the same lock the insert holds.
pub struct ScanTx {
    tx: WriteTx,
}

const CTX_SCAN: &str = "recording the scan";

impl ScanTx {
    /// The next sequence number and the hash the next record links to.
    pub async fn head(&mut self) -> Result<ChainHead> {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM scans ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(CheckpointError::db(CTX_SCAN))?;
        Ok(match last {
            None => ChainHead {
                next_seq: 1,
                prev_hash: GENESIS_HASH.to_owned(),
            },
            Some((seq, hash)) => ChainHead {
                next_seq: to_u64(seq, "sequence number")? + 1,
                prev_hash: hash,
            },
        })
    }

    /// The latest gate-clock time in the log.
    pub async fn latest_scanned_at(&mut self) -> Result<Option<UnixSeconds>> {
        sqlx::query_scalar(LOG_FLOOR_SQL)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(CheckpointError::db(CTX_SCAN))
    }

    /// What this gate's log says about pass `number` at `checkpoint`: inside since when (a
    /// load-unload-leave pass whose latest accepted record here is an entry), and accepted
    /// entries with `day.0 <= scanned_at < day.1`.
    pub async fn history(
        &mut self,
        number: PassNumber,
        checkpoint: CheckpointId,
        day: (UnixSeconds, UnixSeconds),
    ) -> Result<PassHistory> {
        let n = number.to_string();
        let cp = i64::from(checkpoint.0);
        let latest: Option<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT direction, class, scanned_at FROM scans
             WHERE number = ? AND checkpoint_id = ? AND accepted = 1
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(&n)
        .bind(cp)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(CheckpointError::db(CTX_SCAN))?;
        let inside_since = latest.and_then(|(dir, class, at)| {
            (dir == "in" && class.as_deref() == Some(PassClass::LoadUnloadLeave.as_str()))
                .then_some(at)
        });
        let entries: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM scans
             WHERE number = ? AND checkpoint_id = ? AND accepted = 1 AND direction = 'in'
               AND scanned_at >= ? AND scanned_at < ?",
        )
        .bind(&n)
        .bind(cp)
        .bind(day.0)
        .bind(day.1)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(CheckpointError::db(CTX_SCAN))?;
        Ok(PassHistory {
            inside_since,
            entries_today: to_u32(entries, "count")?,
        })
    }

    /// The latest record's sequence number, if any.
    pub async fn last_seq(&mut self) -> Result<Option<u64>> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM scans")
            .fetch_one(&mut *self.tx)
            .await
            .map_err(CheckpointError::db(CTX_SCAN))?;
        seq.map(|s| to_u64(s, "sequence number")).transpose()
    }

    /// The record `seq`, if any.
    pub async fn record(&mut self, seq: u64) -> Result<Option<StoredRecord>> {
        let row = sqlx::query(
            "SELECT seq, record, hash, max_dwell_minutes, uploaded_at FROM scans WHERE seq = ?",
        )
        .bind(to_i64(seq, "sequence number")?)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(CheckpointError::db(CTX_SCAN))?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The sequence number of the override of record `seq`, if it was overridden.
    pub async fn overridden_by(&mut self, seq: u64) -> Result<Option<u64>> {
        let by: Option<i64> = sqlx::query_scalar("SELECT seq FROM scans WHERE overrides_seq = ?")
            .bind(to_i64(seq, "sequence number")?)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(CheckpointError::db(CTX_SCAN))?;
        by.map(|s| to_u64(s, "sequence number")).transpose()
    }

    /// Insert `record` (which must continue the chain: see [`ScanTx::head`]). Returns its
    /// hash.
    pub async fn insert(
        &mut self,
        record: &GateRecord,
        max_dwell_minutes: Option<u16>,
    ) -> Result<String> {
        let json = serde_json::to_string(record)
            .map_err(|e| CheckpointError::CorruptData(format!("encoding the record: {e}")))?;
        let hash = record.hash_hex();
        sqlx::query(
            "INSERT INTO scans (seq, id, checkpoint_id, scanned_at, direction, number, class,
                 plate, accepted, reason, verdict, overrides_seq, max_dwell_minutes, record, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(record.seq, "sequence number")?)
        .bind(&record.id)
        .bind(i64::from(record.checkpoint_id.0))
        .bind(record.scanned_at)
        .bind(record.direction.as_str())
        .bind(record.number.map(|n| n.to_string()))
        .bind(record.class.map(PassClass::as_str))
        .bind(record.plate.as_deref())
        .bind(record.accepted)
        .bind(record.reason.as_deref())
        .bind(record.verdict_label())
        .bind(
            record
                .overrides_seq
                .map(|s| to_i64(s, "sequence number"))
                .transpose()?,
        )
        .bind(max_dwell_minutes.map(i64::from))
        .bind(json)
        .bind(&hash)
        .execute(&mut *self.tx)
        .await
        .map_err(CheckpointError::db(CTX_SCAN))?;
        Ok(hash)
    }

    /// Commit: on disk (fsync'd, `synchronous=FULL`) when this returns.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await
    }
}

async fn insert_file(
    tx: &mut WriteTx,
    generation: i64,
    file: &NewBundleFile<'_>,
    now: UnixSeconds,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO bundle_files (generation, is_delta, version, generated_at, stored_at,
             verify_keys, bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(generation)
    .bind(file.is_delta)
    .bind(to_i64(file.version, "bundle version")?)
    .bind(file.generated_at)
    .bind(now)
    .bind(keys_json(file.verified_with)?)
    .bind(file.bytes)
    .execute(&mut **tx)
    .await
    .map_err(CheckpointError::db("saving the trust bundle"))?;
    Ok(())
}

/// A migration that failed because the file is damaged, the disk full or the database
/// locked says so ([`CheckpointError::db`]); anything else is a schema problem.
fn migration_error(e: MigrateError) -> CheckpointError {
    const CTX: &str = "preparing the local database";
    let classify = |source| match CheckpointError::db(CTX)(source) {
        CheckpointError::Database { source, .. } => Err(source),
        other => Ok(other),
    };
    match e {
        MigrateError::Execute(source) => classify(source)
            .unwrap_or_else(|s| CheckpointError::Migration(MigrateError::Execute(s))),
        MigrateError::ExecuteMigration(source, v) => classify(source)
            .unwrap_or_else(|s| CheckpointError::Migration(MigrateError::ExecuteMigration(s, v))),
        e => CheckpointError::Migration(e),
    }
}

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(col)
        .map_err(CheckpointError::db("reading a stored row"))
}

fn parse_number(s: Option<String>) -> Result<Option<PassNumber>> {
    s.map(|s| {
        PassNumber::from_str(&s)
            .map_err(|e| CheckpointError::CorruptData(format!("stored pass number: {e}")))
    })
    .transpose()
}

fn parse_class(s: Option<String>) -> Result<Option<PassClass>> {
    s.map(|s| {
        PassClass::parse(&s)
            .ok_or_else(|| CheckpointError::CorruptData(format!("stored pass class {s:?}")))
    })
    .transpose()
}

fn parse_direction(s: &str) -> Result<Direction> {
    Direction::parse(s)
        .ok_or_else(|| CheckpointError::CorruptData(format!("stored direction {s:?}")))
}

fn dwell_from(v: Option<i64>) -> Result<Option<u16>> {
    v.map(|m| {
        u16::try_from(m).map_err(|_| CheckpointError::CorruptData(format!("stored dwell {m}")))
    })
    .transpose()
}

fn record_from_row(row: &SqliteRow) -> Result<StoredRecord> {
    let seq = to_u64(get(row, "seq")?, "sequence number")?;
    let json: String = get(row, "record")?;
    let hash: String = get(row, "hash")?;
    let record: GateRecord = serde_json::from_str(&json).map_err(|e| {
        CheckpointError::CorruptData(format!("scan record #{seq} cannot be read: {e}"))
    })?;
    if record.seq != seq || record.hash_hex() != hash {
        return Err(CheckpointError::CorruptData(format!(
            "scan record #{seq} does not match its stored hash: the log was altered or damaged"
        )));
    }
    Ok(StoredRecord {
        record,
        hash,
        max_dwell_minutes: dwell_from(get(row, "max_dwell_minutes")?)?,
        uploaded_at: get(row, "uploaded_at")?,
    })
}
