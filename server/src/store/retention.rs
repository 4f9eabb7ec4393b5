//! Retention: scrub the personal data of passes that expired before a date, and the
//! per-scan details of scans before it, keeping everything the daily counts and the chains
//! are made of.
//!
//! - A pass keeps its number, class, plate, enterprise, route, validity and masked crew (the
//!   signed QR text shows no more); full names, the ID-number hash and the crew's phone
//!   (sealed and masked) go.
//! - A scan keeps its device, sequence, chain hashes, checkpoint, time, day, direction, pass
//!   number, class and verdict, so daily usage, per-checkpoint counts and chain checks are
//!   unchanged; the plate, the guard's id, the "two codes one pass" observations and the
//!   supervisor's id and words of an override go (the fact of the override stays).

use async_trait::async_trait;
use passgate_shared::UnixSeconds;
use passgate_shared::record::{GateRecord, Observations};
use sqlx::Row;

use super::sql::corrupt;
use super::{SqlStore, StoreResult};

/// What a purge changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub passes_scrubbed: u64,
    pub scans_scrubbed: u64,
    pub sessions_removed: u64,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Scrub passes that expired before `before` and scans made before it.
    async fn purge_before(&self, before: UnixSeconds, now: UnixSeconds)
    -> StoreResult<PurgeReport>;
}

/// A scan record with the personal details taken out.
pub fn scrub(mut r: GateRecord) -> GateRecord {
    r.plate = None;
    r.guard_id = None;
    r.observations = Observations::default();
    if let Some(o) = r.override_by.as_mut() {
        o.supervisor_id.clear();
        o.reason.clear();
    }
    r
}

/// Scans scrubbed per transaction.
const PAGE: i64 = 1_000;

#[async_trait]
impl RetentionStore for SqlStore {
    async fn purge_before(
        &self,
        before: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<PurgeReport> {
        let mut report = PurgeReport::default();
        let done = sqlx::query(
            "UPDATE passes SET driver_name = driver_masked, co_driver_name = co_driver_masked, \
             driver_id_hash = NULL, crew_phone_masked = NULL, crew_phone_sealed = NULL, \
             personal_purged_at = $1 \
             WHERE valid_until < $2 AND personal_purged_at IS NULL",
        )
        .bind(now)
        .bind(before)
        .execute(&self.pool)
        .await?;
        report.passes_scrubbed = done.rows_affected();
        loop {
            let mut tx = self.pool.begin().await?;
            // Writes first (see sql.rs): a write that changes nothing takes SQLite's write
            // lock before the read, so a server writing at the same time cannot make this
            // transaction fail to upgrade.
            sqlx::query("UPDATE scans SET details_purged = details_purged WHERE device_id = -1")
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query(
                "SELECT device_id, seq, record FROM scans \
                 WHERE details_purged = $1 AND scanned_at < $2 ORDER BY device_id, seq LIMIT $3",
            )
            .bind(false)
            .bind(before)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                tx.rollback().await?;
                break;
            }
            for row in &rows {
                let device: i64 = row.try_get("device_id")?;
                let seq: i64 = row.try_get("seq")?;
                let text: String = row.try_get("record")?;
                let record: GateRecord =
                    serde_json::from_str(&text).map_err(|e| corrupt("stored record", e))?;
                let json = serde_json::to_string(&scrub(record))
                    .map_err(|e| corrupt("stored record", e))?;
                sqlx::query(
                    "UPDATE scans SET record = $1, plate = NULL, details_purged = $2 \
                     WHERE device_id = $3 AND seq = $4",
                )
                .bind(json)
                .bind(true)
                .bind(device)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            report.scans_scrubbed += rows.len() as u64;
        }
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        report.sessions_removed = done.rows_affected();
        Ok(report)
    }
}
