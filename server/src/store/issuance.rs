//! Bulk issuance: many passes in one transaction.
//!
//! The console's import numbers a whole file at once ([`IssuanceStore::reserve_serials`], from
//! the same `pass_serials` counter as [`super::Store::next_serial`]) and then stores every
//! pass of the file in one transaction ([`IssuanceStore::insert_passes`]): either all are
//! issued or none. Serials reserved by an import that then fails are skipped, not reused,
//! like a database sequence.
//!
//! After an issuer key is compromised, [`IssuanceStore::live_passes_signed_by`] finds the
//! passes to sign again and [`IssuanceStore::reissue_passes`] stores their new signatures,
//! all in one transaction (`crate::signing::reissue_compromised` does the signing).

use async_trait::async_trait;
use passgate_shared::{DivisionCode, KeyId, PassNumber, UnixSeconds};

use super::sql::{corrupt, pass_row, unique_to_conflict, values_rows};
use super::{Backend, PassRecord, SqlStore, StoreError, StoreResult};

/// Columns of one row of `passes` as issued.
const PASS_COLUMNS: usize = 25;

/// Passes per multi-row `INSERT`: sqlx binds SQLite parameters at a cost that grows with the
/// statement's parameter count, so SQLite takes small statements (the same finding as the scan
/// ingest); PostgreSQL takes large ones well (400 × 25 = 10,000 parameters, under 65,535).
const fn pass_chunk(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 24,
        Backend::Postgres => 400,
    }
}

#[async_trait]
pub trait IssuanceStore: Send + Sync {
    /// Reserve `n` consecutive serials of an issuing area at once and return the first; the
    /// caller owns `first .. first + n`. Atomic on both backends (one statement, like
    /// `next_serial`, on the same counter), so concurrent single issues and imports never
    /// share a serial. `n` must be at least 1.
    async fn reserve_serials(&self, area: DivisionCode, n: u32) -> StoreResult<u32>;

    /// Store every pass in one transaction: if any insert fails (a number already taken, the
    /// database gone), none is stored.
    async fn insert_passes(&self, passes: &[PassRecord]) -> StoreResult<()>;

    /// Every active pass signed by `key` whose validity has not ended at `now`, oldest
    /// first: what a compromise of `key` leaves without a valid pass.
    async fn live_passes_signed_by(
        &self,
        key: KeyId,
        now: UnixSeconds,
    ) -> StoreResult<Vec<PassRecord>>;

    /// Store new signatures in one transaction: each pass of `signed` (number, new QR text)
    /// now carries `to`'s signature, and records that it was re-issued at `now` off `from`.
    /// Only a pass still active and still signed by `from` changes (one revoked or re-issued
    /// meanwhile is left alone); the numbers changed are returned.
    async fn reissue_passes(
        &self,
        from: KeyId,
        to: KeyId,
        signed: &[(PassNumber, String)],
        now: UnixSeconds,
    ) -> StoreResult<Vec<PassNumber>>;
}

#[async_trait]
impl IssuanceStore for SqlStore {
    async fn reserve_serials(&self, area: DivisionCode, n: u32) -> StoreResult<u32> {
        if n == 0 {
            return Err(StoreError::Conflict("reserve at least one serial".into()));
        }
        // `next` is the next serial to hand out; a new area starts at 1.
        let first: i64 = sqlx::query_scalar(
            "INSERT INTO pass_serials (area, next) VALUES ($1, $2 + 1) \
             ON CONFLICT (area) DO UPDATE SET next = pass_serials.next + $2 \
             RETURNING next - $2",
        )
        .bind(i64::from(area.get()))
        .bind(i64::from(n))
        .fetch_one(&self.pool)
        .await?;
        u32::try_from(first).map_err(|_| corrupt("serial", first))
    }

    async fn insert_passes(&self, passes: &[PassRecord]) -> StoreResult<()> {
        if passes.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in passes.chunks(pass_chunk(self.backend)) {
            let mut sql = String::from(
                "INSERT INTO passes (number, class, plate, driver_name, driver_masked, \
                 driver_id_hash, co_driver_name, co_driver_masked, enterprise_id, origin, \
                 destination, route_checkpoints, cargo, valid_from, valid_until, \
                 max_dwell_minutes, key_id, qr_text, status, revoked_at, revoke_reason, \
                 created_at, created_by, crew_phone_masked, crew_phone_sealed) VALUES ",
            );
            sql.push_str(&values_rows(chunk.len(), PASS_COLUMNS));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                let route: Vec<u32> = p.route_checkpoints.iter().map(|c| c.0).collect();
                let route = serde_json::to_string(&route).map_err(|e| corrupt("route", e))?;
                q = q
                    .bind(p.number.to_string())
                    .bind(p.class.as_str())
                    .bind(p.plate.clone())
                    .bind(p.driver_name.clone())
                    .bind(p.driver_masked.clone())
                    .bind(p.driver_id_hash.clone())
                    .bind(p.co_driver_name.clone())
                    .bind(p.co_driver_masked.clone())
                    .bind(i64::from(p.enterprise_id.0))
                    .bind(p.origin.to_string())
                    .bind(p.destination.to_string())
                    .bind(route)
                    .bind(p.cargo.clone())
                    .bind(p.valid_from)
                    .bind(p.valid_until)
                    .bind(p.max_dwell_minutes.map(i64::from))
                    .bind(i64::from(p.key_id.0))
                    .bind(p.qr_text.clone())
                    .bind(p.status.as_str())
                    .bind(p.revoked_at)
                    .bind(p.revoke_reason.clone())
                    .bind(p.created_at)
                    .bind(p.created_by.clone())
                    .bind(p.crew_phone_masked.clone())
                    .bind(p.crew_phone_sealed.clone());
            }
            q.execute(&mut *tx).await.map_err(unique_to_conflict(|| {
                "a pass number of this import is already taken".to_owned()
            }))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn live_passes_signed_by(
        &self,
        key: KeyId,
        now: UnixSeconds,
    ) -> StoreResult<Vec<PassRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM passes WHERE key_id = $1 AND status = 'active' AND valid_until > $2 \
             ORDER BY created_at, number",
        )
        .bind(i64::from(key.0))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pass_row).collect()
    }

    async fn reissue_passes(
        &self,
        from: KeyId,
        to: KeyId,
        signed: &[(PassNumber, String)],
        now: UnixSeconds,
    ) -> StoreResult<Vec<PassNumber>> {
        let mut tx = self.pool.begin().await?;
        let mut changed = Vec::with_capacity(signed.len());
        for (number, qr_text) in signed {
            let done = sqlx::query(
                "UPDATE passes SET key_id = $1, qr_text = $2, reissued_at = $3, \
                 reissued_from_key = $4 \
                 WHERE number = $5 AND key_id = $4 AND status = 'active'",
            )
            .bind(i64::from(to.0))
            .bind(qr_text)
            .bind(now)
            .bind(i64::from(from.0))
            .bind(number.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                changed.push(*number);
            }
        }
        tx.commit().await?;
        Ok(changed)
    }
}
