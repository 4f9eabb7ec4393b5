//! Aggregates for the transport bureau's dashboard, exports and the daily report.
//!
//! Counting happens in SQL (`GROUP BY`), never by loading a day's scans: a day can hold a
//! million of them. The scan counts read the covering index `scans_day_counts`
//! (migration 0006), so they never touch the table rows. Lists of records are read a page at
//! a time.

use async_trait::async_trait;
use passgate_shared::sync::Direction;
use passgate_shared::{CheckpointId, PassClass, UnixSeconds};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{Arg, bind_all, corrupt, get_bool, get_u32, get_u64, to_i64};
use super::{SqlStore, StoreResult};

/// Seconds east of UTC of the Beijing day (the `day` columns and the dashboard's days).
const OFFSET: i64 = passgate_shared::time::LOCAL_OFFSET_SECONDS as i64;

/// Scans counted per checkpoint, class, direction and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCount {
    pub checkpoint_id: CheckpointId,
    /// `None` for a code that was not a readable pass.
    pub class: Option<PassClass>,
    pub direction: Direction,
    pub accepted: bool,
    /// `accepted`, `override`, or the reject reason code.
    pub verdict: String,
    pub count: u64,
}

/// Scans of one day and direction, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayScans {
    pub day: String,
    pub direction: Direction,
    pub accepted: bool,
    pub count: u64,
}

/// Where a pass stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PassState {
    Active,
    /// Issued, not valid yet.
    Pending,
    Expired,
    Revoked,
}

impl PassState {
    pub const ALL: [PassState; 4] = [
        PassState::Active,
        PassState::Pending,
        PassState::Expired,
        PassState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PassState::Active => "active",
            PassState::Pending => "pending",
            PassState::Expired => "expired",
            PassState::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Option<PassState> {
        PassState::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Which scan records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanFilter {
    /// First and last Beijing day (`YYYY-MM-DD`), inclusive.
    pub from_day: String,
    pub to_day: String,
    pub checkpoint: Option<CheckpointId>,
    /// A verdict (`accepted`, `override`, a reason code).
    pub verdict: Option<String>,
    pub accepted: Option<bool>,
    pub number: Option<String>,
    pub direction: Option<Direction>,
    pub class: Option<PassClass>,
}

/// One scan record as the lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    pub device_id: u32,
    pub seq: u64,
    pub scanned_at: UnixSeconds,
    pub checkpoint_id: CheckpointId,
    /// The checkpoint's name (empty if the checkpoint is unknown).
    pub checkpoint_name: String,
    pub direction: Direction,
    pub plate: Option<String>,
    pub number: Option<String>,
    pub class: Option<PassClass>,
    pub accepted: bool,
    pub verdict: String,
}

/// Where a keyset page of scans continues: after this record.
pub type ScanKey = (UnixSeconds, u32, u64);

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Passes issued in `[from, until)`, per Beijing day (`YYYY-MM-DD`) and class.
    async fn passes_issued_by_day(
        &self,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> StoreResult<Vec<(String, PassClass, u64)>>;
    /// Every pass issued up to `at`, counted by class and where it stood at `at`.
    async fn pass_states_at(
        &self,
        at: UnixSeconds,
    ) -> StoreResult<Vec<(PassClass, PassState, u64)>>;
    /// Scans of the Beijing days `from_day..=to_day` per checkpoint, class, direction and
    /// verdict.
    async fn scan_counts(&self, from_day: &str, to_day: &str) -> StoreResult<Vec<ScanCount>>;
    /// Scans of the Beijing days `from_day..=to_day` per day, direction and acceptance.
    async fn scans_by_day(&self, from_day: &str, to_day: &str) -> StoreResult<Vec<DayScans>>;
    /// A page of scan records (oldest first) and how many match in all.
    async fn scan_page(
        &self,
        filter: &ScanFilter,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<ScanRow>, u64)>;
    /// Up to `limit` scan records after `after` (oldest first), for reading a whole day a
    /// chunk at a time.
    async fn scan_chunk(
        &self,
        filter: &ScanFilter,
        after: Option<ScanKey>,
        limit: u64,
    ) -> StoreResult<Vec<ScanRow>>;
}

fn class_of(r: &AnyRow, col: &str) -> StoreResult<Option<PassClass>> {
    let class: Option<String> = r.try_get(col)?;
    class
        .map(|c| PassClass::parse(&c).ok_or_else(|| corrupt("class", &c)))
        .transpose()
}

fn direction_of(r: &AnyRow) -> StoreResult<Direction> {
    let d: String = r.try_get("direction")?;
    Direction::parse(&d).ok_or_else(|| corrupt("direction", &d))
}

fn scan_row(r: &AnyRow) -> StoreResult<ScanRow> {
    Ok(ScanRow {
        device_id: get_u32(r, "device_id")?,
        seq: get_u64(r, "seq")?,
        scanned_at: r.try_get("scanned_at")?,
        checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
        checkpoint_name: r
            .try_get::<Option<String>, _>("checkpoint_name")?
            .unwrap_or_default(),
        direction: direction_of(r)?,
        plate: r.try_get("plate")?,
        number: r.try_get("number")?,
        class: class_of(r, "class")?,
        accepted: get_bool(r, "accepted")?,
        verdict: r.try_get("verdict")?,
    })
}

/// The `WHERE` clause of a [`ScanFilter`] and its arguments (placeholders numbered from 1).
fn scan_where(f: &ScanFilter) -> (String, Vec<Arg>) {
    let mut sql = String::from("s.day >= $1 AND s.day <= $2");
    let mut args = vec![Arg::Text(f.from_day.clone()), Arg::Text(f.to_day.clone())];
    let mut add = |cond: &str, arg: Arg, args: &mut Vec<Arg>| {
        args.push(arg);
        sql.push_str(&format!(" AND {cond} ${}", args.len()));
    };
    if let Some(c) = f.checkpoint {
        add("s.checkpoint_id =", Arg::Int(i64::from(c.0)), &mut args);
    }
    if let Some(v) = &f.verdict {
        add("s.verdict =", Arg::Text(v.clone()), &mut args);
    }
    if let Some(a) = f.accepted {
        add("s.accepted =", Arg::Bool(a), &mut args);
    }
    if let Some(n) = &f.number {
        add("s.number =", Arg::Text(n.clone()), &mut args);
    }
    if let Some(d) = f.direction {
        add("s.direction =", Arg::Text(d.as_str().into()), &mut args);
    }
    if let Some(c) = f.class {
        add("s.class =", Arg::Text(c.as_str().into()), &mut args);
    }
    (sql, args)
}

const SCAN_SELECT: &str = "SELECT s.device_id, s.seq, s.scanned_at, s.checkpoint_id, \
     c.name AS checkpoint_name, s.direction, s.plate, s.number, s.class, s.accepted, s.verdict \
     FROM scans s LEFT JOIN checkpoints c ON c.id = s.checkpoint_id WHERE ";

#[async_trait]
impl ReportStore for SqlStore {
    async fn passes_issued_by_day(
        &self,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> StoreResult<Vec<(String, PassClass, u64)>> {
        // Integer division of non-negative seconds: the Beijing day number.
        let rows = sqlx::query(
            "SELECT d, class, COUNT(*) AS n FROM (SELECT (created_at + $3) / 86400 AS d, class \
             FROM passes WHERE created_at >= $1 AND created_at < $2) p \
             GROUP BY d, class ORDER BY d, class",
        )
        .bind(from)
        .bind(until)
        .bind(OFFSET)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let d: i64 = r.try_get("d")?;
                let class = class_of(r, "class")?.ok_or_else(|| corrupt("class", "null"))?;
                Ok((
                    passgate_shared::time::local_day(d * 86_400),
                    class,
                    get_u64(r, "n")?,
                ))
            })
            .collect()
    }

    async fn pass_states_at(
        &self,
        at: UnixSeconds,
    ) -> StoreResult<Vec<(PassClass, PassState, u64)>> {
        let rows = sqlx::query(
            "SELECT class, st, COUNT(*) AS n FROM (SELECT class, CASE \
               WHEN revoked_at IS NOT NULL AND revoked_at <= $1 THEN 'revoked' \
               WHEN valid_until <= $1 THEN 'expired' \
               WHEN valid_from > $1 THEN 'pending' \
               ELSE 'active' END AS st FROM passes WHERE created_at <= $1) p \
             GROUP BY class, st ORDER BY class, st",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let class = class_of(r, "class")?.ok_or_else(|| corrupt("class", "null"))?;
                let st: String = r.try_get("st")?;
                let state = PassState::parse(&st).ok_or_else(|| corrupt("pass state", &st))?;
                Ok((class, state, get_u64(r, "n")?))
            })
            .collect()
    }

    async fn scan_counts(&self, from_day: &str, to_day: &str) -> StoreResult<Vec<ScanCount>> {
        let rows = sqlx::query(
            "SELECT c.checkpoint_id, NULLIF(c.class, '') AS class, c.direction, c.accepted, c.verdict, \
             CAST(SUM(c.n) AS BIGINT) AS n FROM scan_day_counts c \
             WHERE c.day >= $1 AND c.day <= $2 \
             GROUP BY c.checkpoint_id, c.class, c.direction, c.accepted, c.verdict \
             ORDER BY c.checkpoint_id, c.class, c.direction, c.verdict",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScanCount {
                    checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
                    class: class_of(r, "class")?,
                    direction: direction_of(r)?,
                    accepted: get_bool(r, "accepted")?,
                    verdict: r.try_get("verdict")?,
                    count: get_u64(r, "n")?,
                })
            })
            .collect()
    }

    async fn scans_by_day(&self, from_day: &str, to_day: &str) -> StoreResult<Vec<DayScans>> {
        let rows = sqlx::query(
            "SELECT c.day, c.direction, c.accepted, CAST(SUM(c.n) AS BIGINT) AS n \
             FROM scan_day_counts c WHERE c.day >= $1 AND c.day <= $2 \
             GROUP BY c.day, c.direction, c.accepted ORDER BY c.day, c.direction",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DayScans {
                    day: r.try_get("day")?,
                    direction: direction_of(r)?,
                    accepted: get_bool(r, "accepted")?,
                    count: get_u64(r, "n")?,
                })
            })
            .collect()
    }

    async fn scan_page(
        &self,
        filter: &ScanFilter,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<ScanRow>, u64)> {
        let (cond, args) = scan_where(filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM scans s WHERE {cond}");
        let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(count_sql)), args)
            .fetch_one(&self.pool)
            .await?;
        let total = get_u64(&row, "n")?;
        let (cond, mut args) = scan_where(filter);
        let n = args.len();
        let sql = format!(
            "{SCAN_SELECT}{cond} ORDER BY s.scanned_at, s.device_id, s.seq LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        args.push(Arg::Int(to_i64("limit", limit)?));
        args.push(Arg::Int(to_i64("offset", offset)?));
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .fetch_all(&self.pool)
            .await?;
        let list = rows.iter().map(scan_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((list, total))
    }

    async fn scan_chunk(
        &self,
        filter: &ScanFilter,
        after: Option<ScanKey>,
        limit: u64,
    ) -> StoreResult<Vec<ScanRow>> {
        let (mut cond, mut args) = scan_where(filter);
        if let Some((t, dev, seq)) = after {
            let n = args.len();
            cond.push_str(&format!(
                " AND (s.scanned_at > ${a} OR (s.scanned_at = ${a} AND (s.device_id > ${b} \
                 OR (s.device_id = ${b} AND s.seq > ${c}))))",
                a = n + 1,
                b = n + 2,
                c = n + 3
            ));
            args.push(Arg::Int(t));
            args.push(Arg::Int(i64::from(dev)));
            args.push(Arg::Int(to_i64("seq", seq)?));
        }
        let n = args.len();
        let sql = format!(
            "{SCAN_SELECT}{cond} ORDER BY s.scanned_at, s.device_id, s.seq LIMIT ${}",
            n + 1
        );
        args.push(Arg::Int(to_i64("limit", limit)?));
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(scan_row).collect()
    }
}
