//! The embedded SQLite backend (the default).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use passgate_shared::sync::{Direction, ScanRecord, UsageRow};
use passgate_shared::time::local_day;
use passgate_shared::{
    CheckpointId, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus, PassClass, PassNumber,
    UnixSeconds,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::*;

/// A store on one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
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

impl SqliteStore {
    /// Open (creating if needed) `path` and run the migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(opts).await
    }

    /// Open from a `sqlite://…` URL.
    pub async fn open_url(url: &str) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(opts).await
    }

    async fn connect(opts: SqliteConnectOptions) -> StoreResult<SqliteStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

async fn bump_bundle_version(tx: &mut sqlx::SqliteConnection) -> StoreResult<()> {
    sqlx::query("UPDATE bundle_state SET version = version + 1 WHERE id = 1")
        .execute(tx)
        .await?;
    Ok(())
}

fn enterprise_row(r: &SqliteRow) -> StoreResult<Enterprise> {
    Ok(Enterprise {
        id: EnterpriseId(r.try_get::<i64, _>("id")? as u32),
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

fn checkpoint_row(r: &SqliteRow) -> StoreResult<Checkpoint> {
    let kind: String = r.try_get("kind")?;
    Ok(Checkpoint {
        id: CheckpointId(r.try_get::<i64, _>("id")? as u32),
        name: r.try_get("name")?,
        kind: CheckpointKind::parse(&kind).ok_or_else(|| corrupt("checkpoint kind", &kind))?,
        inside_zone: r.try_get("inside_zone")?,
        enterprise_id: r
            .try_get::<Option<i64>, _>("enterprise_id")?
            .map(|e| EnterpriseId(e as u32)),
        created_at: r.try_get("created_at")?,
    })
}

fn pass_row(r: &SqliteRow) -> StoreResult<PassRecord> {
    let number: String = r.try_get("number")?;
    let class: String = r.try_get("class")?;
    let status: String = r.try_get("status")?;
    let origin: String = r.try_get("origin")?;
    let destination: String = r.try_get("destination")?;
    let route: String = r.try_get("route_checkpoints")?;
    let route: Vec<u32> = serde_json::from_str(&route).map_err(|e| corrupt("route", e))?;
    Ok(PassRecord {
        number: PassNumber::parse(&number).map_err(|e| corrupt("pass number", e))?,
        class: PassClass::parse(&class).ok_or_else(|| corrupt("class", &class))?,
        plate: r.try_get("plate")?,
        driver_name: r.try_get("driver_name")?,
        driver_masked: r.try_get("driver_masked")?,
        driver_id_hash: r.try_get("driver_id_hash")?,
        co_driver_name: r.try_get("co_driver_name")?,
        co_driver_masked: r.try_get("co_driver_masked")?,
        enterprise_id: EnterpriseId(r.try_get::<i64, _>("enterprise_id")? as u32),
        origin: DivisionCode::parse(&origin).map_err(|e| corrupt("origin", e))?,
        destination: DivisionCode::parse(&destination).map_err(|e| corrupt("destination", e))?,
        route_checkpoints: route.into_iter().map(CheckpointId).collect(),
        cargo: r.try_get("cargo")?,
        valid_from: r.try_get("valid_from")?,
        valid_until: r.try_get("valid_until")?,
        max_dwell_minutes: r
            .try_get::<Option<i64>, _>("max_dwell_minutes")?
            .map(|m| m as u16),
        key_id: KeyId(r.try_get::<i64, _>("key_id")? as u8),
        qr_text: r.try_get("qr_text")?,
        status: PassStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

fn token_row(r: &SqliteRow) -> StoreResult<TokenRecord> {
    let role: String = r.try_get("role")?;
    Ok(TokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        checkpoint_id: r
            .try_get::<Option<i64>, _>("checkpoint_id")?
            .map(|c| CheckpointId(c as u32)),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_enterprise(&self, name: &str, now: UnixSeconds) -> StoreResult<Enterprise> {
        let row =
            sqlx::query("INSERT INTO enterprises (name, created_at) VALUES (?, ?) RETURNING *")
                .bind(name)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => {
                        StoreError::Conflict(format!("an enterprise named {name:?} already exists"))
                    }
                    e => e.into(),
                })?;
        enterprise_row(&row)
    }

    async fn list_enterprises(&self) -> StoreResult<Vec<Enterprise>> {
        let rows = sqlx::query("SELECT * FROM enterprises ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(enterprise_row).collect()
    }

    async fn get_enterprise(&self, id: EnterpriseId) -> StoreResult<Option<Enterprise>> {
        let row = sqlx::query("SELECT * FROM enterprises WHERE id = ?")
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
             VALUES (?, ?, ?, ?, ?) RETURNING *",
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
        let mut tx = self.pool.begin().await?;
        let public = passgate_shared::keys::public_key_b64(&key.public);
        let existing: Option<String> =
            sqlx::query_scalar("SELECT public_key FROM issuer_keys WHERE id = ?")
                .bind(i64::from(key.id.0))
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            Some(p) if p == public => return Ok(()),
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "issuer key {} in the database differs from the key file",
                    key.id
                )));
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO issuer_keys (id, public_key, status, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(i64::from(key.id.0))
        .bind(public)
        .bind(key_status_str(key.status))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        bump_bundle_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_issuer_keys(&self) -> StoreResult<Vec<IssuerKey>> {
        let rows = sqlx::query("SELECT id, public_key, status FROM issuer_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let public: String = r.try_get("public_key")?;
                let status: String = r.try_get("status")?;
                Ok(IssuerKey {
                    id: KeyId(r.try_get::<i64, _>("id")? as u8),
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
        let done = sqlx::query("UPDATE issuer_keys SET status = ? WHERE id = ?")
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

    async fn next_serial(&self, area: DivisionCode) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO pass_serials (area, next) VALUES (?, 2) \
             ON CONFLICT(area) DO UPDATE SET next = next + 1 RETURNING next - 1",
        )
        .bind(i64::from(area.get()))
        .fetch_one(&self.pool)
        .await?;
        u32::try_from(n).map_err(|_| corrupt("serial", n))
    }

    async fn insert_pass(&self, p: &PassRecord) -> StoreResult<()> {
        let route: Vec<u32> = p.route_checkpoints.iter().map(|c| c.0).collect();
        sqlx::query(
            "INSERT INTO passes (number, class, plate, driver_name, driver_masked, driver_id_hash, \
             co_driver_name, co_driver_masked, enterprise_id, origin, destination, route_checkpoints, \
             cargo, valid_from, valid_until, max_dwell_minutes, key_id, qr_text, status, revoked_at, \
             revoke_reason, created_at, created_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(serde_json::to_string(&route).unwrap_or_else(|_| "[]".into()))
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
        .execute(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("pass {} already exists", p.number))
            }
            e => e.into(),
        })?;
        Ok(())
    }

    async fn get_pass(&self, number: PassNumber) -> StoreResult<Option<PassRecord>> {
        let row = sqlx::query("SELECT * FROM passes WHERE number = ?")
            .bind(number.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(pass_row).transpose()
    }

    async fn list_passes(&self, f: &PassFilter) -> StoreResult<(Vec<PassRecord>, u64)> {
        let mut count_q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT COUNT(*)");
        let mut list_q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT *");
        for q in [&mut count_q, &mut list_q] {
            q.push(" FROM passes WHERE 1 = 1");
            if let Some(c) = f.class {
                q.push(" AND class = ").push_bind(c.as_str());
            }
            if let Some(p) = &f.plate {
                q.push(" AND plate = ").push_bind(p.clone());
            }
            if let Some(s) = f.status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
        }
        list_q
            .push(" ORDER BY created_at DESC, number DESC LIMIT ")
            .push_bind(i64::from(f.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(f.offset));
        let total: i64 = count_q.build_query_scalar().fetch_one(&self.pool).await?;
        let rows = list_q.build().fetch_all(&self.pool).await?;
        let passes = rows.iter().map(pass_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((passes, total as u64))
    }

    async fn revoke_pass(
        &self,
        number: PassNumber,
        reason: &str,
        now: UnixSeconds,
    ) -> StoreResult<PassRecord> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT * FROM passes WHERE number = ?")
            .bind(number.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("pass"))?;
        let pass = pass_row(&row)?;
        if pass.status == PassStatus::Revoked {
            return Err(StoreError::Conflict(format!(
                "pass {number} is already revoked"
            )));
        }
        let row = sqlx::query(
            "UPDATE passes SET status = 'revoked', revoked_at = ?, revoke_reason = ? \
             WHERE number = ? RETURNING *",
        )
        .bind(now)
        .bind(reason)
        .bind(number.to_string())
        .fetch_one(&mut *tx)
        .await?;
        bump_bundle_version(&mut tx).await?;
        tx.commit().await?;
        pass_row(&row)
    }

    async fn revoked_numbers(&self) -> StoreResult<Vec<PassNumber>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT number FROM passes WHERE status = 'revoked'")
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
        Ok(v as u64)
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
             VALUES (?, ?, ?, ?, ?) RETURNING *",
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
            sqlx::query("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn ingest_scans(
        &self,
        records: &[ScanRecord],
        now: UnixSeconds,
    ) -> StoreResult<IngestOutcome> {
        let mut out = IngestOutcome::default();
        let mut tx = self.pool.begin().await?;
        for r in records {
            let verdict = if r.accepted {
                "accepted".to_owned()
            } else {
                r.reason.clone().unwrap_or_else(|| "unknown".into())
            };
            let done = sqlx::query(
                "INSERT INTO scans (id, checkpoint_id, seq, scanned_at, day, direction, number, class, \
                 plate, accepted, verdict, warnings, bundle_version, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
            )
            .bind(&r.id)
            .bind(i64::from(r.checkpoint_id.0))
            .bind(r.seq as i64)
            .bind(r.scanned_at)
            .bind(local_day(r.scanned_at))
            .bind(r.direction.as_str())
            .bind(r.number.map(|n| n.to_string()))
            .bind(r.class.map(|c| c.as_str()))
            .bind(&r.plate)
            .bind(r.accepted)
            .bind(verdict)
            .bind(r.warnings.join(","))
            .bind(r.bundle_version as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                out.stored += 1;
            } else {
                out.duplicates += 1;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn daily_usage(&self, day: &str) -> StoreResult<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT number, class, checkpoint_id, direction, verdict, COUNT(*) AS n FROM scans \
             WHERE day = ? GROUP BY number, class, checkpoint_id, direction, verdict \
             ORDER BY checkpoint_id, number, direction, verdict",
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
                    checkpoint_id: CheckpointId(r.try_get::<i64, _>("checkpoint_id")? as u32),
                    direction: Direction::parse(&direction)
                        .ok_or_else(|| corrupt("direction", &direction))?,
                    verdict: r.try_get("verdict")?,
                    count: r.try_get::<i64, _>("n")? as u64,
                })
            })
            .collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
