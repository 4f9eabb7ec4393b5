//! The local SQLite database (`DATA_DIR/checkpoint.db`): configuration, the trust bundle in
//! force, and the durable scan log.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed transaction is on
//! disk when `commit` returns: a scan whose verdict was printed survives `kill -9` and a power
//! cut. Scans are written in `BEGIN IMMEDIATE` transactions, which take the write lock before
//! the sequence number is read, so two processes on one data directory never share a number.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use passgate_shared::sync::{Direction, ScanRecord, UsageRow};
use passgate_shared::{Bundle, CheckpointId, PassClass, PassNumber, UnixSeconds};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::error::{CheckpointError, Result};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "checkpoint.db";

/// How long a writer waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Who this device is and where its server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server_url: String,
    pub token: String,
    pub checkpoint_id: CheckpointId,
    pub initialised_at: UnixSeconds,
    /// When the last complete sync finished, if ever.
    pub last_sync_at: Option<UnixSeconds>,
}

/// A scan to record; the store adds the id and the sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScan {
    pub checkpoint_id: CheckpointId,
    pub scanned_at: UnixSeconds,
    pub direction: Direction,
    pub number: Option<PassNumber>,
    pub class: Option<PassClass>,
    pub plate: Option<String>,
    pub accepted: bool,
    pub reason: Option<String>,
    pub warnings: Vec<String>,
    pub bundle_version: u64,
}

/// How many scans the device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCounts {
    pub total: u64,
    /// Scans the server has not confirmed yet.
    pub unsent: u64,
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

/// A fresh record id: 16 bytes of OS randomness as 32 lower-case hex digits.
pub fn new_record_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CheckpointError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

impl Store {
    /// Open the store in `dir`, creating the directory and the database if missing
    /// (used by `init`).
    pub async fn create(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| CheckpointError::Io {
            context: format!("cannot create the data directory {}", dir.display()),
            source,
        })?;
        Store::connect(dir, true).await
    }

    /// Open the existing store in `dir`. A directory without a database is
    /// [`CheckpointError::NotInitialised`]; nothing is created.
    pub async fn open(dir: &Path) -> Result<Store> {
        if !dir.join(DB_FILE).is_file() {
            return Err(CheckpointError::NotInitialised {
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
        sqlx::migrate!("./migrations").run(&pool).await?;
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

    fn not_initialised(&self) -> CheckpointError {
        CheckpointError::NotInitialised {
            dir: self.dir.clone(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Configuration and bundle

    /// Store the configuration and the first bundle in one transaction, replacing any
    /// earlier ones. Used by `init`, and by tests to set a device up without a server.
    pub async fn save_init(
        &self,
        server_url: &str,
        token: &str,
        checkpoint_id: CheckpointId,
        bundle: &Bundle,
    ) -> Result<()> {
        let now = chrono::Utc::now().timestamp();
        let mut tx = self.begin_write("saving the configuration").await?;
        sqlx::query(
            "INSERT INTO config (id, server_url, token, checkpoint_id, initialised_at, last_sync_at)
             VALUES (1, ?, ?, ?, ?, NULL)
             ON CONFLICT (id) DO UPDATE SET server_url = excluded.server_url,
                 token = excluded.token, checkpoint_id = excluded.checkpoint_id,
                 initialised_at = excluded.initialised_at, last_sync_at = NULL",
        )
        .bind(server_url)
        .bind(token)
        .bind(i64::from(checkpoint_id.0))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(CheckpointError::db("saving the configuration"))?;
        write_bundle(&mut tx, bundle, now).await?;
        tx.commit()
            .await
            .map_err(CheckpointError::db("saving the configuration"))?;
        Ok(())
    }

    /// The configuration, if `init` has run.
    pub async fn config(&self) -> Result<Option<Config>> {
        let row = sqlx::query(
            "SELECT server_url, token, checkpoint_id, initialised_at, last_sync_at
             FROM config WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(CheckpointError::db("reading the configuration"))?;
        let Some(row) = row else { return Ok(None) };
        let cp: i64 = get(&row, "checkpoint_id")?;
        let cp = u32::try_from(cp)
            .map_err(|_| CheckpointError::CorruptData(format!("checkpoint id {cp}")))?;
        Ok(Some(Config {
            server_url: get(&row, "server_url")?,
            token: get(&row, "token")?,
            checkpoint_id: CheckpointId(cp),
            initialised_at: get(&row, "initialised_at")?,
            last_sync_at: get(&row, "last_sync_at")?,
        }))
    }

    /// The configuration, or [`CheckpointError::NotInitialised`].
    pub async fn require_config(&self) -> Result<Config> {
        self.config().await?.ok_or_else(|| self.not_initialised())
    }

    /// The bundle in force, if any.
    pub async fn bundle(&self) -> Result<Option<Bundle>> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM bundle WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the trust bundle"))?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| CheckpointError::CorruptData(format!("the stored trust bundle: {e}")))
        })
        .transpose()
    }

    /// The bundle in force, or [`CheckpointError::NotInitialised`].
    pub async fn require_bundle(&self) -> Result<Bundle> {
        self.bundle().await?.ok_or_else(|| self.not_initialised())
    }

    /// The version of the bundle in force (cheap: does not parse the bundle).
    pub async fn bundle_version(&self) -> Result<Option<u64>> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM bundle WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(CheckpointError::db("reading the trust bundle version"))?;
        v.map(|v| to_u64(v, "bundle version")).transpose()
    }

    /// Replace the bundle in force, unless `bundle` is older than it: a lower version is
    /// refused with [`CheckpointError::BundleRollback`] and the held bundle stays. The check
    /// and the write happen in one transaction. Returns the version held before.
    pub async fn replace_bundle(&self, bundle: &Bundle) -> Result<Option<u64>> {
        let now = chrono::Utc::now().timestamp();
        let mut tx = self.begin_write("replacing the trust bundle").await?;
        let held: Option<i64> = sqlx::query_scalar("SELECT version FROM bundle WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(CheckpointError::db("replacing the trust bundle"))?;
        let held = held.map(|v| to_u64(v, "bundle version")).transpose()?;
        if let Some(held) = held
            && bundle.version < held
        {
            return Err(CheckpointError::BundleRollback {
                held,
                offered: bundle.version,
            });
        }
        write_bundle(&mut tx, bundle, now).await?;
        tx.commit()
            .await
            .map_err(CheckpointError::db("replacing the trust bundle"))?;
        Ok(held)
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
    // Scans

    async fn begin_write(&self, context: &'static str) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(CheckpointError::db(context))
    }

    /// Record one scan durably: allocate the next sequence number and a random id, insert,
    /// and commit (fsync) before returning. Only after this returns may the verdict be shown.
    pub async fn record_scan(&self, scan: NewScan) -> Result<ScanRecord> {
        const CTX: &str = "recording the scan";
        let id = new_record_id()?;
        let warnings = serde_json::to_string(&scan.warnings)
            .map_err(|e| CheckpointError::CorruptData(e.to_string()))?;
        let mut tx = self.begin_write(CTX).await?;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM scans")
            .fetch_one(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
        let seq = last + 1;
        sqlx::query(
            "INSERT INTO scans (seq, id, checkpoint_id, scanned_at, direction, number, class,
                 plate, accepted, reason, warnings, bundle_version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(&id)
        .bind(i64::from(scan.checkpoint_id.0))
        .bind(scan.scanned_at)
        .bind(scan.direction.as_str())
        .bind(scan.number.map(|n| n.to_string()))
        .bind(scan.class.map(PassClass::as_str))
        .bind(scan.plate.as_deref())
        .bind(scan.accepted)
        .bind(scan.reason.as_deref())
        .bind(&warnings)
        .bind(to_i64(scan.bundle_version, "bundle version")?)
        .execute(&mut *tx)
        .await
        .map_err(CheckpointError::db(CTX))?;
        tx.commit().await.map_err(CheckpointError::db(CTX))?;
        Ok(ScanRecord {
            id,
            seq: to_u64(seq, "sequence number")?,
            checkpoint_id: scan.checkpoint_id,
            scanned_at: scan.scanned_at,
            direction: scan.direction,
            number: scan.number,
            class: scan.class,
            plate: scan.plate,
            accepted: scan.accepted,
            reason: scan.reason,
            warnings: scan.warnings,
            bundle_version: scan.bundle_version,
        })
    }

    /// Up to `limit` scans the server has not confirmed, oldest first.
    pub async fn unsent(&self, limit: u32) -> Result<Vec<ScanRecord>> {
        let rows = sqlx::query(format_select(
            "WHERE uploaded_at IS NULL ORDER BY seq LIMIT ?",
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("reading scans to upload"))?;
        rows.iter().map(scan_from_row).collect()
    }

    /// Mark scans as confirmed by the server. Returns how many rows changed.
    pub async fn mark_uploaded(&self, ids: &[String], at: UnixSeconds) -> Result<u64> {
        const CTX: &str = "marking scans as uploaded";
        let mut tx = self.begin_write(CTX).await?;
        let mut changed = 0;
        for id in ids {
            let r = sqlx::query(
                "UPDATE scans SET uploaded_at = ? WHERE id = ? AND uploaded_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(CheckpointError::db(CTX))?;
            changed += r.rows_affected();
        }
        tx.commit().await.map_err(CheckpointError::db(CTX))?;
        Ok(changed)
    }

    /// All scans with `from <= scanned_at < until`, in sequence order.
    pub async fn scans_between(
        &self,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<Vec<ScanRecord>> {
        let rows = sqlx::query(format_select(
            "WHERE scanned_at >= ? AND scanned_at < ? ORDER BY seq",
        ))
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(CheckpointError::db("reading scans"))?;
        rows.iter().map(scan_from_row).collect()
    }

    /// The scan with sequence number `seq`, if any.
    pub async fn scan_by_seq(&self, seq: u64) -> Result<Option<ScanRecord>> {
        let row = sqlx::query(format_select("WHERE seq = ?"))
            .bind(to_i64(seq, "sequence number")?)
            .fetch_optional(&self.pool)
            .await
            .map_err(CheckpointError::db("reading a scan"))?;
        row.as_ref().map(scan_from_row).transpose()
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

    /// Unsent scans recorded at a checkpoint other than `id` (after a re-init).
    pub async fn unsent_elsewhere(&self, id: CheckpointId) -> Result<Option<(CheckpointId, u64)>> {
        let row = sqlx::query(
            "SELECT checkpoint_id, COUNT(*) AS n FROM scans
             WHERE uploaded_at IS NULL AND checkpoint_id <> ?
             GROUP BY checkpoint_id ORDER BY n DESC LIMIT 1",
        )
        .bind(i64::from(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(CheckpointError::db("counting scans"))?;
        let Some(row) = row else { return Ok(None) };
        let cp: i64 = get(&row, "checkpoint_id")?;
        let cp = u32::try_from(cp)
            .map_err(|_| CheckpointError::CorruptData(format!("checkpoint id {cp}")))?;
        Ok(Some((CheckpointId(cp), to_u64(get(&row, "n")?, "count")?)))
    }

    /// Scan counts for `from <= scanned_at < until`, grouped by pass number, class,
    /// direction and verdict (`accepted` or the reason code), like the server's daily usage.
    pub async fn usage_rows(&self, from: UnixSeconds, until: UnixSeconds) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT number, class, checkpoint_id, direction,
                    CASE WHEN accepted = 1 THEN 'accepted' ELSE COALESCE(reason, 'unknown') END
                        AS verdict,
                    COUNT(*) AS n
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
                let cp: i64 = get(row, "checkpoint_id")?;
                Ok(UsageRow {
                    number: parse_number(get(row, "number")?)?,
                    class: parse_class(get(row, "class")?)?,
                    checkpoint_id: CheckpointId(u32::try_from(cp).map_err(|_| {
                        CheckpointError::CorruptData(format!("checkpoint id {cp}"))
                    })?),
                    direction: parse_direction(&get::<String>(row, "direction")?)?,
                    verdict: get(row, "verdict")?,
                    count: to_u64(get(row, "n")?, "count")?,
                })
            })
            .collect()
    }
}

async fn write_bundle(
    tx: &mut Transaction<'static, Sqlite>,
    bundle: &Bundle,
    now: UnixSeconds,
) -> Result<()> {
    let json = serde_json::to_string(bundle)
        .map_err(|e| CheckpointError::CorruptData(format!("the trust bundle: {e}")))?;
    sqlx::query(
        "INSERT INTO bundle (id, version, generated_at, stored_at, json) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version,
             generated_at = excluded.generated_at, stored_at = excluded.stored_at,
             json = excluded.json",
    )
    .bind(to_i64(bundle.version, "bundle version")?)
    .bind(bundle.generated_at)
    .bind(now)
    .bind(json)
    .execute(&mut **tx)
    .await
    .map_err(CheckpointError::db("saving the trust bundle"))?;
    Ok(())
}

const SCAN_COLUMNS: &str = "seq, id, checkpoint_id, scanned_at, direction, number, class, plate, \
                            accepted, reason, warnings, bundle_version";

fn format_select(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("SELECT {SCAN_COLUMNS} FROM scans {tail}"))
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

fn scan_from_row(row: &SqliteRow) -> Result<ScanRecord> {
    let cp: i64 = get(row, "checkpoint_id")?;
    let warnings: String = get(row, "warnings")?;
    let accepted: bool = get(row, "accepted")?;
    Ok(ScanRecord {
        id: get(row, "id")?,
        seq: to_u64(get(row, "seq")?, "sequence number")?,
        checkpoint_id: CheckpointId(
            u32::try_from(cp)
                .map_err(|_| CheckpointError::CorruptData(format!("checkpoint id {cp}")))?,
        ),
        scanned_at: get(row, "scanned_at")?,
        direction: parse_direction(&get::<String>(row, "direction")?)?,
        number: parse_number(get(row, "number")?)?,
        class: parse_class(get(row, "class")?)?,
        plate: get(row, "plate")?,
        accepted,
        reason: get(row, "reason")?,
        warnings: serde_json::from_str(&warnings)
            .map_err(|e| CheckpointError::CorruptData(format!("stored warnings: {e}")))?,
        bundle_version: to_u64(get(row, "bundle_version")?, "bundle version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use passgate_shared::bundle::RevocationSet;
    use passgate_shared::{CheckpointInfo, Policy};

    fn bundle(version: u64) -> Bundle {
        Bundle {
            version,
            generated_at: 1_800_000_000,
            keys: vec![],
            revoked: RevocationSet::new(),
            policy: Policy::default(),
            checkpoints: vec![CheckpointInfo {
                id: CheckpointId(3),
                name: "东门".into(),
                inside_zone: true,
                enterprise_id: None,
            }],
        }
    }

    fn scan(accepted: bool, at: UnixSeconds) -> NewScan {
        NewScan {
            checkpoint_id: CheckpointId(3),
            scanned_at: at,
            direction: if accepted {
                Direction::In
            } else {
                Direction::Out
            },
            number: accepted.then(|| PassNumber::parse("419001000001").unwrap()),
            class: accepted.then_some(PassClass::LongHaul),
            plate: accepted.then(|| "豫U12345".to_owned()),
            accepted,
            reason: (!accepted).then(|| "malformed".to_owned()),
            warnings: if accepted {
                vec!["retired_key".into()]
            } else {
                vec![]
            },
            bundle_version: 4,
        }
    }

    #[tokio::test]
    async fn open_refuses_a_missing_database() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Store::open(tmp.path()).await.unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotInitialised { .. }),
            "{err}"
        );
        assert!(!tmp.path().join(DB_FILE).exists());
        // An existing database without configuration is not initialised either.
        let store = Store::create(tmp.path()).await.unwrap();
        assert!(matches!(
            store.require_config().await,
            Err(CheckpointError::NotInitialised { .. })
        ));
        assert!(matches!(
            store.require_bundle().await,
            Err(CheckpointError::NotInitialised { .. })
        ));
    }

    #[tokio::test]
    async fn config_and_bundle_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::create(&tmp.path().join("a/b")).await.unwrap();
        store
            .save_init("http://h:1", "tok", CheckpointId(3), &bundle(4))
            .await
            .unwrap();
        let c = store.require_config().await.unwrap();
        assert_eq!(
            (c.server_url.as_str(), c.token.as_str()),
            ("http://h:1", "tok")
        );
        assert_eq!(c.checkpoint_id, CheckpointId(3));
        assert_eq!(c.last_sync_at, None);
        assert_eq!(store.require_bundle().await.unwrap(), bundle(4));
        assert_eq!(store.bundle_version().await.unwrap(), Some(4));

        assert_eq!(store.replace_bundle(&bundle(4)).await.unwrap(), Some(4));
        assert_eq!(store.replace_bundle(&bundle(6)).await.unwrap(), Some(4));
        let err = store.replace_bundle(&bundle(5)).await.unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::BundleRollback {
                    held: 6,
                    offered: 5
                }
            ),
            "{err}"
        );
        assert_eq!(store.bundle_version().await.unwrap(), Some(6));

        store.set_last_sync(1_800_000_100).await.unwrap();
        assert_eq!(
            store.require_config().await.unwrap().last_sync_at,
            Some(1_800_000_100)
        );
        store.close().await;

        // Reopening finds everything again (and migrations are idempotent).
        let store = Store::open(&tmp.path().join("a/b")).await.unwrap();
        assert_eq!(store.bundle_version().await.unwrap(), Some(6));
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[tokio::test]
    async fn scans_get_sequence_numbers_and_upload_marks() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::create(tmp.path()).await.unwrap();
        let t = 1_800_000_000;
        let a = store.record_scan(scan(true, t)).await.unwrap();
        let b = store.record_scan(scan(false, t + 1)).await.unwrap();
        let c = store.record_scan(scan(true, t + 2)).await.unwrap();
        assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
        assert_eq!(a.id.len(), 32);
        assert!(a.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a.id, b.id);
        assert_eq!(store.scan_by_seq(1).await.unwrap().unwrap(), a);
        assert_eq!(store.scan_by_seq(2).await.unwrap().unwrap(), b);
        assert_eq!(store.scan_by_seq(9).await.unwrap(), None);

        assert_eq!(
            store.counts().await.unwrap(),
            ScanCounts {
                total: 3,
                unsent: 3
            }
        );
        let first_two = store.unsent(2).await.unwrap();
        assert_eq!(first_two, vec![a.clone(), b.clone()]);
        let ids: Vec<String> = first_two.iter().map(|r| r.id.clone()).collect();
        assert_eq!(store.mark_uploaded(&ids, t + 10).await.unwrap(), 2);
        assert_eq!(store.mark_uploaded(&ids, t + 11).await.unwrap(), 0);
        assert_eq!(
            store.counts().await.unwrap(),
            ScanCounts {
                total: 3,
                unsent: 1
            }
        );
        assert_eq!(store.unsent(500).await.unwrap(), vec![c.clone()]);

        // The sequence continues after uploads.
        let d = store.record_scan(scan(true, t + 3)).await.unwrap();
        assert_eq!(d.seq, 4);
        assert_eq!(store.scans_between(t + 1, t + 3).await.unwrap(), vec![b, c]);

        let rows = store.usage_rows(t, t + 100).await.unwrap();
        let got: Vec<(Option<String>, &str, &str, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.number.map(|n| n.to_string()),
                    r.direction.as_str(),
                    r.verdict.as_str(),
                    r.count,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("419001000001".into()), "in", "accepted", 3),
                (None, "out", "malformed", 1)
            ]
        );
        assert!(
            store
                .unsent_elsewhere(CheckpointId(3))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store.unsent_elsewhere(CheckpointId(8)).await.unwrap(),
            Some((CheckpointId(3), 2))
        );
    }

    #[tokio::test]
    async fn concurrent_writers_never_share_a_sequence_number() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = Store::create(tmp.path()).await.unwrap();
        let s2 = Store::open(tmp.path()).await.unwrap();
        let mut tasks = Vec::new();
        for s in [s1.clone(), s2.clone()] {
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..20 {
                    seqs.push(
                        s.record_scan(scan(i % 2 == 0, 1_800_000_000 + i))
                            .await
                            .unwrap()
                            .seq,
                    );
                }
                seqs
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (1..=40).collect::<Vec<u64>>());
    }
}
