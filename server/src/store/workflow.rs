//! Enterprise pass applications and the held-vehicle queue.
//!
//! - An **application** is a pass request filed by an enterprise for its own vehicle. It is
//!   validated like an issue when it is filed, and again when the operations bureau approves
//!   it; approving issues the pass and links its number. A decided application is never
//!   decided again. The driver's ID number is kept only while the application is pending.
//! - The **held-vehicle queue** (通行受阻) is derived at read time from the refused records in
//!   `scans`, joined with `held_actions` (what the transport bureau did, keyed by the
//!   record's `(device_id, seq)`) and with the gate's own supervisor overrides, so the upload
//!   path needs no change.

use async_trait::async_trait;
use passgate_shared::record::{DeviceId, GateRecord};
use passgate_shared::{CheckpointId, EnterpriseId, UnixSeconds};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::sql::{corrupt, get_opt_u32, get_u32, get_u64, to_i64};
use super::{SqlStore, StoreError, StoreResult};

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationStatus {
    Pending,
    Approved,
    Rejected,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 3] = [
        ApplicationStatus::Pending,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Pending => "pending",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What filing an application stores (already validated by the caller).
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub enterprise_id: EnterpriseId,
    pub applicant_id: i64,
    pub applicant_name: String,
    pub class: String,
    pub plate: String,
    pub driver: String,
    pub co_driver: Option<String>,
    pub driver_id_number: Option<String>,
    pub origin: String,
    pub destination: String,
    pub checkpoints: Vec<u32>,
    pub cargo: String,
    /// RFC 3339, as validated.
    pub valid_from: String,
    pub valid_until: String,
    pub max_dwell_minutes: Option<u32>,
    /// What the truck is for, in the applicant's words (may be empty).
    pub note: String,
}

impl Default for NewApplication {
    fn default() -> Self {
        NewApplication {
            enterprise_id: EnterpriseId(0),
            applicant_id: 0,
            applicant_name: String::new(),
            class: String::new(),
            plate: String::new(),
            driver: String::new(),
            co_driver: None,
            driver_id_number: None,
            origin: String::new(),
            destination: String::new(),
            checkpoints: Vec::new(),
            cargo: String::new(),
            valid_from: String::new(),
            valid_until: String::new(),
            max_dwell_minutes: None,
            note: String::new(),
        }
    }
}

/// A stored application.
#[derive(Debug, Clone)]
pub struct Application {
    pub id: i64,
    pub new: NewApplication,
    pub status: ApplicationStatus,
    pub created_at: UnixSeconds,
    pub decided_by: Option<String>,
    pub decided_at: Option<UnixSeconds>,
    pub reject_reason: Option<String>,
    pub pass_number: Option<String>,
}

/// Filters of the application list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    /// Only this enterprise's applications (enterprise users).
    pub enterprise: Option<EnterpriseId>,
    pub status: Option<ApplicationStatus>,
    pub limit: u32,
    pub offset: u32,
}

/// What the transport bureau did about a held truck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeldActionKind {
    /// 护送通行: escorted through.
    Escort,
    /// 重新签发: a new pass was issued.
    Reissue,
    /// 核实放行: checked and cleared.
    Cleared,
    /// 劝返: turned back.
    Refused,
}

impl HeldActionKind {
    pub const ALL: [HeldActionKind; 4] = [
        HeldActionKind::Escort,
        HeldActionKind::Reissue,
        HeldActionKind::Cleared,
        HeldActionKind::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HeldActionKind::Escort => "escort",
            HeldActionKind::Reissue => "reissue",
            HeldActionKind::Cleared => "cleared",
            HeldActionKind::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<HeldActionKind> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A recorded action on a held truck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAction {
    pub kind: HeldActionKind,
    pub note: String,
    pub by: String,
    pub at: UnixSeconds,
}

/// A supervisor's override at the gate of a refused record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOverride {
    pub seq: u64,
    pub at: UnixSeconds,
    pub supervisor: String,
    pub reason: String,
}

/// One refused scan record, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldItem {
    pub device_id: DeviceId,
    pub seq: u64,
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: Option<String>,
    pub scanned_at: UnixSeconds,
    pub direction: String,
    pub number: Option<String>,
    pub plate: Option<String>,
    pub class: Option<String>,
    /// The reject reason code (`rejected` when the gate gave none).
    pub reason: String,
    /// The cargo of the pass, when the record names a pass the server knows.
    pub cargo: Option<String>,
    pub enterprise_id: Option<EnterpriseId>,
    pub action: Option<HeldAction>,
    pub gate_override: Option<GateOverride>,
}

impl HeldItem {
    /// Handled by the bureau or overridden at the gate.
    pub fn handled(&self) -> bool {
        self.action.is_some() || self.gate_override.is_some()
    }

    /// When it stopped waiting, if it did.
    pub fn handled_at(&self) -> Option<UnixSeconds> {
        match (&self.action, &self.gate_override) {
            (Some(a), Some(o)) => Some(a.at.min(o.at)),
            (Some(a), None) => Some(a.at),
            (None, Some(o)) => Some(o.at),
            (None, None) => None,
        }
    }

    /// Seconds waited: until it was handled, or until `now`.
    pub fn waited(&self, now: UnixSeconds) -> i64 {
        (self.handled_at().unwrap_or(now) - self.scanned_at).max(0)
    }
}

#[async_trait]
pub trait WorkflowStore: Send + Sync {
    async fn create_application(
        &self,
        new: &NewApplication,
        now: UnixSeconds,
    ) -> StoreResult<Application>;
    async fn get_application(&self, id: i64) -> StoreResult<Option<Application>>;
    /// Pending first, then newest first; with the total matching the filter.
    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
    ) -> StoreResult<(Vec<Application>, u64)>;
    /// Take a pending application for approval (status `approved`, no pass yet), so that two
    /// people approving at once cannot issue two passes. `Conflict` when it is not pending.
    async fn claim_application(
        &self,
        id: i64,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<Application>;
    /// Link the issued pass to a claimed application and forget the ID number.
    async fn link_application_pass(&self, id: i64, number: &str) -> StoreResult<()>;
    /// Undo a claim whose pass could not be issued: the application is pending again.
    async fn release_application(&self, id: i64) -> StoreResult<()>;
    /// `Conflict` when it is not pending.
    async fn reject_application(
        &self,
        id: i64,
        reason: &str,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<Application>;

    /// Every refused scan record (of one Beijing day `YYYY-MM-DD`, if given), with its
    /// action and gate override, in scan order.
    async fn held_items(&self, day: Option<&str>) -> StoreResult<Vec<HeldItem>>;
    /// One refused record; `None` if there is none (or it was accepted).
    async fn get_held_item(&self, device: DeviceId, seq: u64) -> StoreResult<Option<HeldItem>>;
    /// Record what the bureau did. `NotFound` when there is no such refused record,
    /// `Conflict` when an action is recorded already.
    async fn record_held_action(
        &self,
        device: DeviceId,
        seq: u64,
        action: &HeldAction,
    ) -> StoreResult<()>;
}

const APP_COLUMNS: &str = "id, enterprise_id, applicant_id, applicant_name, class, plate, driver, \
     co_driver, driver_id_number, origin, destination, checkpoints, cargo, valid_from, \
     valid_until, max_dwell_minutes, note, status, created_at, decided_by, decided_at, \
     reject_reason, pass_number";

fn checkpoints_text(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn parse_checkpoints(s: &str) -> StoreResult<Vec<u32>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(|_| corrupt("application checkpoints", s)))
        .collect()
}

fn application_row(r: &AnyRow) -> StoreResult<Application> {
    let status: String = r.try_get("status")?;
    Ok(Application {
        id: r.try_get("id")?,
        new: NewApplication {
            enterprise_id: EnterpriseId(get_u32(r, "enterprise_id")?),
            applicant_id: r.try_get("applicant_id")?,
            applicant_name: r.try_get("applicant_name")?,
            class: r.try_get("class")?,
            plate: r.try_get("plate")?,
            driver: r.try_get("driver")?,
            co_driver: r.try_get("co_driver")?,
            driver_id_number: r.try_get("driver_id_number")?,
            origin: r.try_get("origin")?,
            destination: r.try_get("destination")?,
            checkpoints: parse_checkpoints(&r.try_get::<String, _>("checkpoints")?)?,
            cargo: r.try_get("cargo")?,
            valid_from: r.try_get("valid_from")?,
            valid_until: r.try_get("valid_until")?,
            max_dwell_minutes: get_opt_u32(r, "max_dwell_minutes")?,
            note: r.try_get("note")?,
        },
        status: ApplicationStatus::parse(&status)
            .ok_or_else(|| corrupt("application status", &status))?,
        created_at: r.try_get("created_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        reject_reason: r.try_get("reject_reason")?,
        pass_number: r.try_get("pass_number")?,
    })
}

const HELD_SELECT: &str = "SELECT s.device_id, s.seq, s.checkpoint_id, c.name AS checkpoint_name, \
     s.scanned_at, s.direction, s.number, s.plate, s.class, s.verdict, p.cargo, \
     p.enterprise_id, h.action, h.note, h.acted_by, h.acted_at \
     FROM scans s \
     LEFT JOIN checkpoints c ON c.id = s.checkpoint_id \
     LEFT JOIN passes p ON p.number = s.number \
     LEFT JOIN held_actions h ON h.device_id = s.device_id AND h.seq = s.seq";

fn held_row(r: &AnyRow) -> StoreResult<HeldItem> {
    let action = match r.try_get::<Option<String>, _>("action")? {
        None => None,
        Some(a) => Some(HeldAction {
            kind: HeldActionKind::parse(&a).ok_or_else(|| corrupt("held action", &a))?,
            note: r.try_get("note")?,
            by: r.try_get("acted_by")?,
            at: r.try_get("acted_at")?,
        }),
    };
    Ok(HeldItem {
        device_id: DeviceId(get_u32(r, "device_id")?),
        seq: get_u64(r, "seq")?,
        checkpoint_id: CheckpointId(get_u32(r, "checkpoint_id")?),
        checkpoint_name: r.try_get("checkpoint_name")?,
        scanned_at: r.try_get("scanned_at")?,
        direction: r.try_get("direction")?,
        number: r.try_get("number")?,
        plate: r.try_get("plate")?,
        class: r.try_get("class")?,
        reason: r.try_get("verdict")?,
        cargo: r.try_get("cargo")?,
        enterprise_id: get_opt_u32(r, "enterprise_id")?.map(EnterpriseId),
        action,
        gate_override: None,
    })
}

impl SqlStore {
    /// Supervisor overrides at the gates, by the `(device, seq)` of the record they turned
    /// into accepted. Overrides only point back along their own device's chain.
    async fn gate_overrides(
        &self,
        device: Option<DeviceId>,
        since: UnixSeconds,
    ) -> StoreResult<std::collections::HashMap<(DeviceId, u64), GateOverride>> {
        let rows: Vec<(String, i64)> =
            match device {
                Some(d) => {
                    sqlx::query_as(
                        "SELECT record, seq FROM scans \
                     WHERE verdict = 'override' AND device_id = $1 AND scanned_at >= $2",
                    )
                    .bind(i64::from(d.0))
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query_as(
                    "SELECT record, seq FROM scans WHERE verdict = 'override' AND scanned_at >= $1",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?,
            };
        let mut out = std::collections::HashMap::new();
        for (json, _) in rows {
            let r: GateRecord =
                serde_json::from_str(&json).map_err(|e| corrupt("stored record", e))?;
            if let (Some(target), Some(by)) = (r.overrides_seq, r.override_by) {
                out.entry((r.device_id, target)).or_insert(GateOverride {
                    seq: r.seq,
                    at: r.scanned_at,
                    supervisor: by.supervisor_id,
                    reason: by.reason,
                });
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl WorkflowStore for SqlStore {
    async fn create_application(
        &self,
        new: &NewApplication,
        now: UnixSeconds,
    ) -> StoreResult<Application> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO applications (enterprise_id, applicant_id, applicant_name, class, plate, \
             driver, co_driver, driver_id_number, origin, destination, checkpoints, cargo, \
             valid_from, valid_until, max_dwell_minutes, note, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             RETURNING {APP_COLUMNS}"
        )))
        .bind(i64::from(new.enterprise_id.0))
        .bind(new.applicant_id)
        .bind(&new.applicant_name)
        .bind(&new.class)
        .bind(&new.plate)
        .bind(&new.driver)
        .bind(new.co_driver.as_deref())
        .bind(new.driver_id_number.as_deref())
        .bind(&new.origin)
        .bind(&new.destination)
        .bind(checkpoints_text(&new.checkpoints))
        .bind(&new.cargo)
        .bind(&new.valid_from)
        .bind(&new.valid_until)
        .bind(new.max_dwell_minutes.map(i64::from))
        .bind(&new.note)
        .bind(ApplicationStatus::Pending.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        application_row(&row)
    }

    async fn get_application(&self, id: i64) -> StoreResult<Option<Application>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(application_row).transpose()
    }

    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
    ) -> StoreResult<(Vec<Application>, u64)> {
        let mut conditions = Vec::new();
        let mut n = 0;
        if filter.enterprise.is_some() {
            n += 1;
            conditions.push(format!("enterprise_id = ${n}"));
        }
        if filter.status.is_some() {
            n += 1;
            conditions.push(format!("status = ${n}"));
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM applications{filter_sql}");
        let list_sql = format!(
            "SELECT {APP_COLUMNS} FROM applications{filter_sql} \
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, created_at DESC, id DESC \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        let mut list = sqlx::query(AssertSqlSafe(list_sql));
        if let Some(e) = filter.enterprise {
            count = count.bind(i64::from(e.0));
            list = list.bind(i64::from(e.0));
        }
        if let Some(s) = filter.status {
            count = count.bind(s.as_str());
            list = list.bind(s.as_str());
        }
        let total = count.fetch_one(&self.pool).await?;
        let rows = list
            .bind(i64::from(filter.limit))
            .bind(i64::from(filter.offset))
            .fetch_all(&self.pool)
            .await?;
        let apps = rows
            .iter()
            .map(application_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((apps, u64::try_from(total).unwrap_or(0)))
    }

    async fn claim_application(
        &self,
        id: i64,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<Application> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE applications SET status = 'approved', decided_by = $1, decided_at = $2 \
             WHERE id = $3 AND status = 'pending' RETURNING {APP_COLUMNS}"
        )))
        .bind(by)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => application_row(&r),
            None => match self.get_application(id).await? {
                None => Err(StoreError::NotFound("application")),
                Some(a) => Err(StoreError::Conflict(format!(
                    "application {id} is {} already",
                    a.status.as_str()
                ))),
            },
        }
    }

    async fn link_application_pass(&self, id: i64, number: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE applications SET pass_number = $1, driver_id_number = NULL \
             WHERE id = $2 AND status = 'approved' AND pass_number IS NULL",
        )
        .bind(number)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "application {id} is not waiting for its pass"
            )));
        }
        Ok(())
    }

    async fn release_application(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE applications SET status = 'pending', decided_by = NULL, decided_at = NULL \
             WHERE id = $1 AND status = 'approved' AND pass_number IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reject_application(
        &self,
        id: i64,
        reason: &str,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<Application> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE applications SET status = 'rejected', reject_reason = $1, decided_by = $2, \
             decided_at = $3, driver_id_number = NULL \
             WHERE id = $4 AND status = 'pending' RETURNING {APP_COLUMNS}"
        )))
        .bind(reason)
        .bind(by)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => application_row(&r),
            None => match self.get_application(id).await? {
                None => Err(StoreError::NotFound("application")),
                Some(a) => Err(StoreError::Conflict(format!(
                    "application {id} is {} already",
                    a.status.as_str()
                ))),
            },
        }
    }

    async fn held_items(&self, day: Option<&str>) -> StoreResult<Vec<HeldItem>> {
        let rows =
            match day {
                Some(day) => {
                    sqlx::query(AssertSqlSafe(format!(
                        "{HELD_SELECT} WHERE s.accepted = $1 AND s.day = $2 \
                     ORDER BY s.scanned_at, s.device_id, s.seq"
                    )))
                    .bind(false)
                    .bind(day)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(AssertSqlSafe(format!(
                    "{HELD_SELECT} WHERE s.accepted = $1 ORDER BY s.scanned_at, s.device_id, s.seq"
                )))
                .bind(false)
                .fetch_all(&self.pool)
                .await?,
            };
        let mut items = rows.iter().map(held_row).collect::<StoreResult<Vec<_>>>()?;
        let Some(first) = items.first().map(|i| i.scanned_at) else {
            return Ok(items);
        };
        let overrides = self.gate_overrides(None, first).await?;
        for item in &mut items {
            item.gate_override = overrides.get(&(item.device_id, item.seq)).cloned();
        }
        Ok(items)
    }

    async fn get_held_item(&self, device: DeviceId, seq: u64) -> StoreResult<Option<HeldItem>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{HELD_SELECT} WHERE s.device_id = $1 AND s.seq = $2 AND s.accepted = $3"
        )))
        .bind(i64::from(device.0))
        .bind(to_i64("seq", seq)?)
        .bind(false)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut item = held_row(&row)?;
        item.gate_override = self
            .gate_overrides(Some(device), item.scanned_at)
            .await?
            .remove(&(device, seq));
        Ok(Some(item))
    }

    async fn record_held_action(
        &self,
        device: DeviceId,
        seq: u64,
        action: &HeldAction,
    ) -> StoreResult<()> {
        let seq = to_i64("seq", seq)?;
        let mut tx = self.pool.begin().await?;
        let refused: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM scans WHERE device_id = $1 AND seq = $2 AND accepted = $3",
        )
        .bind(i64::from(device.0))
        .bind(seq)
        .bind(false)
        .fetch_optional(&mut *tx)
        .await?;
        if refused.is_none() {
            return Err(StoreError::NotFound("held vehicle"));
        }
        let done = sqlx::query(
            "INSERT INTO held_actions (device_id, seq, action, note, acted_by, acted_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id, seq) DO NOTHING",
        )
        .bind(i64::from(device.0))
        .bind(seq)
        .bind(action.kind.as_str())
        .bind(&action.note)
        .bind(&action.by)
        .bind(action.at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "an action is recorded already for record {seq} of device {device}"
            )));
        }
        tx.commit().await?;
        Ok(())
    }
}
