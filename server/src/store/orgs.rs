//! Enterprises, checkpoints and devices as the console edits them: the overview counts of
//! each enterprise, editing names and checkpoint details, the trust bundle each gate device
//! last downloaded, and the issuer keys with the time they were registered.
//!
//! Creating enterprises and checkpoints, enrolment and device revocation stay in
//! [`super::Store`], shared with the API.

use async_trait::async_trait;
use passgate_shared::record::DeviceId;
use passgate_shared::{CheckpointId, EnterpriseId, KeyId, KeyStatus, UnixSeconds};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{
    checkpoint_row, corrupt, enterprise_row, get_u32, get_u64, to_i64, unique_to_conflict,
};
use super::{
    Checkpoint, Device, DeviceStatus, Enterprise, NewCheckpoint, SqlStore, StoreError, StoreResult,
};

/// One enterprise with what hangs off it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseSummary {
    pub enterprise: Enterprise,
    /// Checkpoints registered for this enterprise.
    pub checkpoints: u64,
    /// Passes of this enterprise that are not revoked and not yet expired.
    pub active_passes: u64,
}

/// A gate device with the trust bundle it last downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSync {
    pub device: Device,
    /// The bundle version served to the device at its last download (at least this new).
    pub bundle_version: Option<u64>,
    /// When the device last downloaded a bundle.
    pub bundle_fetched_at: Option<UnixSeconds>,
}

/// An issuer key as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKeyRow {
    pub id: KeyId,
    /// Base64 Ed25519 public key.
    pub public_key: String,
    pub status: KeyStatus,
    pub created_at: UnixSeconds,
}

#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Every enterprise (by id) with its checkpoint count and the passes active at `now`.
    async fn enterprise_summaries(&self, now: UnixSeconds) -> StoreResult<Vec<EnterpriseSummary>>;
    /// Rename an enterprise. `Conflict` when another enterprise has the name.
    async fn rename_enterprise(&self, id: EnterpriseId, name: &str) -> StoreResult<Enterprise>;
    async fn get_checkpoint(&self, id: CheckpointId) -> StoreResult<Option<Checkpoint>>;
    /// Change a checkpoint and bump the bundle version (gates carry the directory).
    async fn update_checkpoint(
        &self,
        id: CheckpointId,
        new: &NewCheckpoint,
    ) -> StoreResult<Checkpoint>;
    /// Devices (of one checkpoint, or all) with their last bundle download, by id.
    async fn device_syncs(&self, checkpoint: Option<CheckpointId>) -> StoreResult<Vec<DeviceSync>>;
    /// Note that `device` downloaded bundle `version` at `now`.
    async fn record_bundle_fetch(
        &self,
        device: DeviceId,
        version: u64,
        now: UnixSeconds,
    ) -> StoreResult<()>;
    /// The issuer keys with their status and registration time, by id.
    async fn issuer_key_rows(&self) -> StoreResult<Vec<IssuerKeyRow>>;
}

fn device_sync_of(r: &AnyRow) -> StoreResult<DeviceSync> {
    let status: String = r.try_get("status")?;
    let version: Option<i64> = r.try_get("bundle_version")?;
    Ok(DeviceSync {
        device: Device {
            id: DeviceId(get_u32(r, "id")?),
            checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
            name: r.try_get("name")?,
            public_key: r.try_get("public_key")?,
            status: DeviceStatus::parse(&status)
                .ok_or_else(|| corrupt("device status", &status))?,
            enrolled_at: r.try_get("enrolled_at")?,
            revoked_at: r.try_get("revoked_at")?,
            revoke_reason: r.try_get("revoke_reason")?,
            last_seen_at: r.try_get("last_seen_at")?,
            last_seq: get_u64(r, "last_seq")?,
        },
        bundle_version: version
            .map(|v| u64::try_from(v).map_err(|_| corrupt("bundle version", v)))
            .transpose()?,
        bundle_fetched_at: r.try_get("bundle_fetched_at")?,
    })
}

fn key_status(s: &str) -> StoreResult<KeyStatus> {
    match s {
        "active" => Ok(KeyStatus::Active),
        "retired" => Ok(KeyStatus::Retired),
        "compromised" => Ok(KeyStatus::Compromised),
        other => Err(corrupt("key status", other)),
    }
}

const DEVICE_COLUMNS: &str = "id, checkpoint_id, name, public_key, status, enrolled_at, \
     revoked_at, revoke_reason, last_seen_at, last_seq, bundle_version, bundle_fetched_at";

#[async_trait]
impl OrgStore for SqlStore {
    async fn enterprise_summaries(&self, now: UnixSeconds) -> StoreResult<Vec<EnterpriseSummary>> {
        let rows = sqlx::query(
            "SELECT e.id, e.name, e.created_at, \
             (SELECT COUNT(*) FROM checkpoints c WHERE c.enterprise_id = e.id) AS checkpoints, \
             (SELECT COUNT(*) FROM passes p WHERE p.enterprise_id = e.id \
              AND p.status = 'active' AND p.valid_until > $1) AS active_passes \
             FROM enterprises e ORDER BY e.id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EnterpriseSummary {
                    enterprise: enterprise_row(r)?,
                    checkpoints: get_u64(r, "checkpoints")?,
                    active_passes: get_u64(r, "active_passes")?,
                })
            })
            .collect()
    }

    async fn rename_enterprise(&self, id: EnterpriseId, name: &str) -> StoreResult<Enterprise> {
        let row = sqlx::query(
            "UPDATE enterprises SET name = $1 WHERE id = $2 RETURNING id, name, created_at",
        )
        .bind(name)
        .bind(i64::from(id.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(unique_to_conflict(|| {
            format!("an enterprise named {name:?} already exists")
        }))?;
        match row {
            Some(r) => enterprise_row(&r),
            None => Err(StoreError::NotFound("enterprise")),
        }
    }

    async fn get_checkpoint(&self, id: CheckpointId) -> StoreResult<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT id, name, kind, inside_zone, enterprise_id, created_at \
             FROM checkpoints WHERE id = $1",
        )
        .bind(i64::from(id.0))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_row).transpose()
    }

    async fn update_checkpoint(
        &self,
        id: CheckpointId,
        new: &NewCheckpoint,
    ) -> StoreResult<Checkpoint> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE checkpoints SET name = $1, kind = $2, inside_zone = $3, enterprise_id = $4 \
             WHERE id = $5 RETURNING id, name, kind, inside_zone, enterprise_id, created_at",
        )
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(new.inside_zone)
        .bind(new.enterprise_id.map(|e| i64::from(e.0)))
        .bind(i64::from(id.0))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("checkpoint"));
        };
        sqlx::query("UPDATE bundle_state SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        checkpoint_row(&row)
    }

    async fn device_syncs(&self, checkpoint: Option<CheckpointId>) -> StoreResult<Vec<DeviceSync>> {
        let rows = match checkpoint {
            Some(c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE checkpoint_id = $1 ORDER BY id"
                )))
                .bind(i64::from(c.0))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(device_sync_of).collect()
    }

    async fn record_bundle_fetch(
        &self,
        device: DeviceId,
        version: u64,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        // Never move a device's version backwards (two downloads racing on two instances).
        sqlx::query(
            "UPDATE devices SET bundle_fetched_at = $1, \
             bundle_version = CASE WHEN bundle_version IS NULL OR bundle_version < $2 \
             THEN $2 ELSE bundle_version END WHERE id = $3",
        )
        .bind(now)
        .bind(to_i64("bundle version", version)?)
        .bind(i64::from(device.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn issuer_key_rows(&self) -> StoreResult<Vec<IssuerKeyRow>> {
        let rows =
            sqlx::query("SELECT id, public_key, status, created_at FROM issuer_keys ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let id = get_u32(r, "id")?;
                let status: String = r.try_get("status")?;
                Ok(IssuerKeyRow {
                    id: KeyId(u8::try_from(id).map_err(|_| corrupt("issuer key id", id))?),
                    public_key: r.try_get("public_key")?,
                    status: key_status(&status)?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
