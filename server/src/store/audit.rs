//! The audit log's storage: append under the chain head's row lock, read back in order.
//! The hashing rule lives in [`crate::audit`]; the store only keeps the chain.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, StoreError, StoreResult};
use crate::audit::NewEntry;

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    /// The stored action text (see [`crate::audit::Action`]).
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Computes an entry's hash from the previous hash and its number.
pub type AuditHasher<'a> = &'a (dyn Fn(&str, i64, &NewEntry) -> String + Send + Sync);

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Append one entry after the current head; its number.
    async fn append_audit(&self, entry: &NewEntry, hasher: AuditHasher<'_>) -> StoreResult<i64>;
    /// The head: last number and hash (0 and "" for an empty log).
    async fn audit_head(&self) -> StoreResult<(i64, String)>;
    /// Up to `limit` entries with numbers above `after`, in order.
    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// The newest entries first, optionally of one action, for the admin page.
    async fn recent_audit(
        &self,
        action: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
}

fn entry_row(r: &AnyRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, entry: &NewEntry, hasher: AuditHasher<'_>) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        // The write first: it takes the head's row lock (PostgreSQL) or the write lock
        // (SQLite), so appenders on any instance queue here and the numbers stay gap-free.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::Corrupt("the audit chain head is missing".into()))?;
        let seq: i64 = head.try_get("seq")?;
        let prev: String = head.try_get("hash")?;
        let hash = hasher(&prev, seq, entry);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(entry.action.as_str())
        .bind(&entry.subject)
        .bind(&entry.detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn audit_head(&self) -> StoreResult<(i64, String)> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok((r.try_get("seq")?, r.try_get("hash")?)),
            // A deleted head row is itself tampering; report it as an empty head so that
            // verification names the entries past it.
            None => Ok((0, String::new())),
        }
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_row).collect()
    }

    async fn recent_audit(
        &self,
        action: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log \
             WHERE ($1 = '' OR action = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(action.unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_row).collect()
    }
}
