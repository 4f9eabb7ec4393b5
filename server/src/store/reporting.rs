//! Enterprise reporting (企业专班): supervision teams, the enterprise profile and its grids,
//! supply items, the reporting settings, the daily / zero report with every version kept,
//! and the risk-person notice flow.
//!
//! The rules (what a valid report is, when it is late, what is abnormal, days of cover, which
//! risk step may follow which) are `passgate_shared::reporting`; this module stores what
//! those rules accept and reads back what they need. `advance_risk_case` runs
//! `check_step` again inside its transaction, against the stored step, so two people
//! recording a step at once cannot both move a case.
//!
//! Ids of teams, grids, reports and risk cases are database ids (`i64`).

use std::collections::HashMap;

use async_trait::async_trait;
use passgate_shared::reporting::{
    CreditCode, DayStatus, DueTime, FlowError, HelpKind, Report, ReportKind, RiskStep, SupplyLine,
    SupplyUnit, Zone, check_step, is_late, report_status,
};
use passgate_shared::sync::Direction;
use passgate_shared::{EnterpriseId, UnixSeconds};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::sql::{
    Arg, bind_all, corrupt, enterprise_row, get_bool, get_u32, get_u64, to_i64, token_row,
    unique_to_conflict,
};
use super::{Enterprise, Role, SqlStore, StoreError, StoreResult, TokenRecord};

/// A supervision team (督导组) of the task force; each key enterprise belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: i64,
    /// Unique, e.g. 督导一组.
    pub name: String,
    /// The offices the team covers, as free text (e.g. "市工信局、高新区管委会").
    pub offices: String,
    pub created_at: UnixSeconds,
}

/// What creating or editing a team takes (already trimmed and checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTeam {
    pub name: String,
    pub offices: String,
}

/// A key enterprise with its reporting profile. Every profile field is optional, so
/// enterprises registered before reporting existed stay valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EnterpriseProfile {
    pub enterprise: Enterprise,
    /// The unified social credit code (统一社会信用代码), unique across enterprises.
    pub credit_code: Option<CreditCode>,
    pub address: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// The first responsible person (第一责任人).
    pub responsible_person: Option<String>,
    pub responsible_phone: Option<String>,
    pub team_id: Option<i64>,
}

/// The editable part of a profile: replaces every field at once (`None` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub credit_code: Option<CreditCode>,
    pub address: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub responsible_person: Option<String>,
    pub responsible_phone: Option<String>,
    pub team_id: Option<i64>,
}

/// A grid (网格) of one zone of an enterprise, with its grid leader (网格长).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Grid {
    pub id: i64,
    pub enterprise_id: EnterpriseId,
    pub zone: Zone,
    pub name: String,
    pub leader: String,
    pub leader_phone: String,
}

/// What adding a grid takes (checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrid {
    pub zone: Zone,
    pub name: String,
    pub leader: String,
    pub leader_phone: String,
}

/// A supply item a report can list. Inactive items stay so old reports keep their names,
/// but new reports may not list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SupplyItem {
    /// Stable key used in reports and the API (`masks`, `food`, …).
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: SupplyUnit,
    /// Cover below this many days raises a warning (`supply_warning`).
    pub warn_days: u32,
    /// Display order, ascending.
    pub sort: i64,
    pub active: bool,
}

impl SupplyItem {
    /// The item's name in `lang`.
    pub fn name(&self, lang: passgate_shared::Lang) -> &str {
        match lang {
            passgate_shared::Lang::Zh => &self.name_zh,
            passgate_shared::Lang::En => &self.name_en,
        }
    }
}

/// The text a supply unit is stored as.
pub fn supply_unit_str(u: SupplyUnit) -> &'static str {
    match u {
        SupplyUnit::Counted => "counted",
        SupplyUnit::Days => "days",
    }
}

/// A stored supply unit.
pub fn parse_supply_unit(s: &str) -> Option<SupplyUnit> {
    match s {
        "counted" => Some(SupplyUnit::Counted),
        "days" => Some(SupplyUnit::Days),
        _ => None,
    }
}

/// The longest an overdue limit may be: thirty days, in minutes.
pub const MAX_STEP_LIMIT_MINUTES: u32 = 30 * 24 * 60;

/// The reporting settings: when the daily report is due, and how long each risk step may
/// stay open before it is overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReportingSettings {
    /// Beijing time of day by which the day's report is due (default 10:00).
    pub due: DueTime,
    /// Minutes the open step may take, for steps 2–7 (index 0 is step 2): the step after
    /// the last completed one is overdue once this many minutes have passed since that one
    /// was recorded.
    pub step_limits: [u32; 6],
}

impl Default for ReportingSettings {
    /// The values migration 0011 seeds.
    fn default() -> Self {
        ReportingSettings {
            due: DueTime(10 * 60),
            step_limits: [30, 60, 120, 1440, 1440, 4320],
        }
    }
}

impl ReportingSettings {
    /// The overdue limit of `step` in minutes; `None` for step 1 (it opens the case).
    pub fn limit(&self, step: RiskStep) -> Option<u32> {
        let n = usize::from(step.number());
        n.checked_sub(2)
            .and_then(|i| self.step_limits.get(i).copied())
    }
}

/// One version of an enterprise's report for a day, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredReport {
    pub id: i64,
    pub enterprise_id: EnterpriseId,
    /// 1 for the first submission; each edit adds one.
    pub version: u32,
    pub report: Report,
    /// Who submitted this version (a user name or a token name).
    pub submitted_by: String,
    pub submitted_at: UnixSeconds,
    /// When version 1 came in (the same on every version).
    pub first_submitted_at: UnixSeconds,
    /// Decided by version 1 with the due time then in force (`is_late`), and carried by
    /// every later version: an edit never makes an on-time report late, nor a late one on
    /// time.
    pub late: bool,
}

impl StoredReport {
    /// Where this report puts its enterprise's day (`report_status` of shared).
    pub fn status(&self) -> DayStatus {
        report_status(self.report.kind, self.late)
    }
}

/// One enterprise on one day: the task force's coverage and abnormal lists are computed from
/// these (`DayEntry::status`, `abnormalities(&report.report)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayEntry {
    pub enterprise: Enterprise,
    pub team_id: Option<i64>,
    /// The current (latest) version of the day's report, if any.
    pub report: Option<StoredReport>,
}

impl DayEntry {
    /// Reported, zero-reported, late or missing.
    pub fn status(&self) -> DayStatus {
        self.report
            .as_ref()
            .map_or(DayStatus::Missing, StoredReport::status)
    }
}

/// Vehicles through an enterprise's own checkpoints on one Beijing day (accepted scans).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VehicleCounts {
    pub vehicles_in: u32,
    pub vehicles_out: u32,
}

/// The last known stock of one supply item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplyLevel {
    pub item: String,
    /// The date of the latest report that listed the item.
    pub date: String,
    pub stock: u32,
}

/// One recorded step of a risk case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RiskStepRecord {
    pub step: RiskStep,
    pub done_at: UnixSeconds,
    pub owner: String,
    pub note: String,
    /// Set when an administrator skipped this step (the reason given).
    pub skipped_reason: Option<String>,
}

/// A risk-person notice case with its recorded steps (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RiskCase {
    pub id: i64,
    pub enterprise_id: EnterpriseId,
    /// A masked name or the notice number; never an ID number.
    pub subject: String,
    pub opened_at: UnixSeconds,
    pub opened_by: String,
    /// The last completed step.
    pub step: RiskStep,
    /// When `step` was recorded.
    pub step_at: UnixSeconds,
    pub closed_at: Option<UnixSeconds>,
    pub steps: Vec<RiskStepRecord>,
}

impl RiskCase {
    /// The step waiting to be done (`None` once closed).
    pub fn open_step(&self) -> Option<RiskStep> {
        self.step.next()
    }

    /// Whether the open step is past its configured limit at `now` (`step_overdue`).
    pub fn overdue(&self, settings: &ReportingSettings, now: UnixSeconds) -> bool {
        self.open_step()
            .and_then(|s| settings.limit(s))
            .is_some_and(|limit| {
                passgate_shared::reporting::step_overdue(self.step, self.step_at, limit, now)
            })
    }

    /// When the open step becomes overdue (`None` once closed).
    pub fn due_at(&self, settings: &ReportingSettings) -> Option<UnixSeconds> {
        let limit = settings.limit(self.open_step()?)?;
        Some(self.step_at + i64::from(limit) * 60)
    }
}

/// What opening a case records: step 1, "notice received from headquarters", done now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRiskCase {
    pub subject: String,
    /// Who owns step 1.
    pub owner: String,
    pub note: String,
}

/// Recording a step of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEntry {
    pub target: RiskStep,
    pub owner: String,
    pub note: String,
    /// Required (and only allowed) when an administrator skips ahead; empty otherwise.
    pub skip_reason: String,
}

/// Which risk cases to list. Every filter that is set must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskCaseFilter {
    pub enterprise: Option<EnterpriseId>,
    /// Cases of the enterprises of this supervision team.
    pub team: Option<i64>,
    /// Only cases not yet closed.
    pub open_only: bool,
}

#[async_trait]
pub trait ReportingStore: Send + Sync {
    // --- supervision teams ---------------------------------------------------------------
    /// Every team, by name.
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
    async fn get_team(&self, id: i64) -> StoreResult<Option<Team>>;
    /// `Conflict` when the name is taken.
    async fn create_team(&self, team: &NewTeam, now: UnixSeconds) -> StoreResult<Team>;
    /// Rename a team or change its offices. `Conflict` when the name is taken, `NotFound`
    /// when there is no such team.
    async fn update_team(&self, id: i64, team: &NewTeam) -> StoreResult<Team>;

    // --- enterprise profile --------------------------------------------------------------
    async fn enterprise_profile(&self, id: EnterpriseId) -> StoreResult<Option<EnterpriseProfile>>;
    /// Replace the profile fields of an enterprise. `Conflict` when another enterprise has
    /// the credit code; `NotFound("enterprise")` / `NotFound("supervision team")` when
    /// either does not exist.
    async fn set_enterprise_profile(
        &self,
        id: EnterpriseId,
        profile: &ProfileUpdate,
    ) -> StoreResult<EnterpriseProfile>;
    /// Every enterprise's profile (of one team, when `team` is set), by id.
    async fn enterprise_profiles(&self, team: Option<i64>) -> StoreResult<Vec<EnterpriseProfile>>;

    // --- grids ---------------------------------------------------------------------------
    /// The grids of an enterprise, by zone (green, blue, yellow, red) and name.
    async fn list_grids(&self, enterprise: EnterpriseId) -> StoreResult<Vec<Grid>>;
    /// `Conflict` when the enterprise already has a grid of that name in that zone;
    /// `NotFound("enterprise")` when there is no such enterprise.
    async fn add_grid(&self, enterprise: EnterpriseId, grid: &NewGrid) -> StoreResult<Grid>;
    /// Delete a grid of this enterprise; `NotFound("grid")` when it has no such grid.
    async fn delete_grid(&self, enterprise: EnterpriseId, id: i64) -> StoreResult<()>;

    // --- supply items --------------------------------------------------------------------
    /// Every supply item, active or not, by `sort` then key.
    async fn supply_items(&self) -> StoreResult<Vec<SupplyItem>>;
    /// Add an item, or replace the names, unit, threshold, order and activity of the item
    /// with this key.
    async fn upsert_supply_item(&self, item: &SupplyItem) -> StoreResult<()>;

    // --- settings ------------------------------------------------------------------------
    async fn reporting_settings(&self) -> StoreResult<ReportingSettings>;
    async fn set_reporting_settings(&self, settings: &ReportingSettings) -> StoreResult<()>;

    // --- reports -------------------------------------------------------------------------
    /// Store a validated report as the next version of `(enterprise, report.date)`. The
    /// first version decides `first_submitted_at = now` and `late` (`is_late` with `due`);
    /// later versions carry both. Nothing is overwritten. `NotFound("enterprise")` when
    /// there is no such enterprise.
    async fn submit_report(
        &self,
        enterprise: EnterpriseId,
        report: &Report,
        by: &str,
        now: UnixSeconds,
        due: DueTime,
    ) -> StoreResult<StoredReport>;
    /// The current (latest) version of an enterprise's report for a day.
    async fn current_report(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Option<StoredReport>>;
    /// Every version of an enterprise's report for a day, version 1 first.
    async fn report_versions(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Vec<StoredReport>>;
    /// The current versions of the reports dated `from..=to` (of one enterprise and / or of
    /// the enterprises of one team, when set), by date then enterprise.
    async fn reports_between(
        &self,
        enterprise: Option<EnterpriseId>,
        team: Option<i64>,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<StoredReport>>;
    /// The current version of the latest report an enterprise filed for a day before
    /// `date` (what a new report is prefilled from).
    async fn last_report_before(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Option<StoredReport>>;
    /// Every enterprise (of one team, when set), by id, with the current version of its
    /// report for `date`.
    async fn day_overview(&self, date: &str, team: Option<i64>) -> StoreResult<Vec<DayEntry>>;
    /// Accepted scans in and out at the enterprise's own checkpoints on a Beijing day.
    async fn vehicle_counts(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<VehicleCounts>;
    /// The `used` figures of `item` in the enterprise's current reports dated up to and
    /// including `up_to_date`, newest first, at most `n` (for `days_of_cover`). Reports that
    /// do not list the item are skipped.
    async fn supply_use(
        &self,
        enterprise: EnterpriseId,
        item: &str,
        up_to_date: &str,
        n: u32,
    ) -> StoreResult<Vec<u32>>;
    /// For each item the enterprise has ever listed, the stock in its latest current report
    /// dated up to `up_to_date` that lists the item (a zero report lists none), by item key.
    async fn latest_supplies(
        &self,
        enterprise: EnterpriseId,
        up_to_date: &str,
    ) -> StoreResult<Vec<SupplyLevel>>;

    // --- risk-person notice flow ---------------------------------------------------------
    /// Open a case with step 1 (notice received) done at `now` by `case.owner`.
    /// `NotFound("enterprise")` when there is no such enterprise.
    async fn open_risk_case(
        &self,
        enterprise: EnterpriseId,
        case: &NewRiskCase,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<RiskCase>;
    /// Record `entry.target` on a case. `check_step` is run against the step stored at that
    /// moment, inside the transaction: [`StoreError::Flow`] when it refuses. An
    /// administrator's skip records each skipped step with the reason.
    async fn advance_risk_case(
        &self,
        id: i64,
        entry: &StepEntry,
        is_admin: bool,
        now: UnixSeconds,
    ) -> StoreResult<RiskCase>;
    async fn get_risk_case(&self, id: i64) -> StoreResult<Option<RiskCase>>;
    /// Cases matching the filter, newest first, each with its steps.
    async fn list_risk_cases(&self, filter: &RiskCaseFilter) -> StoreResult<Vec<RiskCase>>;

    // --- API tokens ----------------------------------------------------------------------
    /// An API token of role `enterprise`, bound to one enterprise (it files that
    /// enterprise's reports only). `NotFound("enterprise")` when there is no such one.
    async fn create_enterprise_token(
        &self,
        name: &str,
        token_hash: &str,
        enterprise: EnterpriseId,
        now: UnixSeconds,
    ) -> StoreResult<TokenRecord>;
}

/// A flow refusal as a store error (for the callers of `advance_risk_case`).
impl From<FlowError> for StoreError {
    fn from(e: FlowError) -> Self {
        StoreError::Flow(e)
    }
}

/// Map a foreign-key violation to `NotFound(what)`, a unique violation to `Conflict`.
fn constraint_err(
    missing: &'static str,
    conflict: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound(missing),
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(conflict()),
        e => e.into(),
    }
}

fn team_row(r: &AnyRow) -> StoreResult<Team> {
    Ok(Team {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        offices: r.try_get("offices")?,
        created_at: r.try_get("created_at")?,
    })
}

const PROFILE_COLUMNS: &str = "id, name, created_at, credit_code, address, contact_name, \
     contact_phone, responsible_person, responsible_phone, team_id";

fn profile_row(r: &AnyRow) -> StoreResult<EnterpriseProfile> {
    let code: Option<String> = r.try_get("credit_code")?;
    Ok(EnterpriseProfile {
        enterprise: enterprise_row(r)?,
        credit_code: code
            .map(|c| CreditCode::parse(&c).map_err(|e| corrupt("credit code", e)))
            .transpose()?,
        address: r.try_get("address")?,
        contact_name: r.try_get("contact_name")?,
        contact_phone: r.try_get("contact_phone")?,
        responsible_person: r.try_get("responsible_person")?,
        responsible_phone: r.try_get("responsible_phone")?,
        team_id: r.try_get("team_id")?,
    })
}

fn grid_row(r: &AnyRow) -> StoreResult<Grid> {
    let zone: String = r.try_get("zone")?;
    Ok(Grid {
        id: r.try_get("id")?,
        enterprise_id: EnterpriseId(get_u32(r, "enterprise_id")?),
        zone: Zone::parse(&zone).ok_or_else(|| corrupt("zone", &zone))?,
        name: r.try_get("name")?,
        leader: r.try_get("leader")?,
        leader_phone: r.try_get("leader_phone")?,
    })
}

fn supply_item_row(r: &AnyRow) -> StoreResult<SupplyItem> {
    let unit: String = r.try_get("unit")?;
    Ok(SupplyItem {
        key: r.try_get("key")?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        unit: parse_supply_unit(&unit).ok_or_else(|| corrupt("supply unit", &unit))?,
        warn_days: get_u32(r, "warn_days")?,
        sort: r.try_get("sort")?,
        active: get_bool(r, "active")?,
    })
}

const REPORT_COLUMNS: &str = "r.id, r.enterprise_id, r.report_date, r.version, r.kind, \
     r.on_site, r.green, r.blue, r.yellow, r.red, r.isolation, r.observation, r.tests_done, \
     r.tests_abnormal, r.disinfected, r.vehicles_in, r.vehicles_out, r.help, r.help_text, \
     r.submitted_by, r.submitted_at, r.first_submitted_at, r.late";

/// Only the current (latest) version of each enterprise's day; `r` is `daily_reports`.
const CURRENT_VERSION: &str = "r.version = (SELECT MAX(v.version) FROM daily_reports v \
     WHERE v.enterprise_id = r.enterprise_id AND v.report_date = r.report_date)";

/// A report row without its supply lines.
fn report_row(r: &AnyRow) -> StoreResult<StoredReport> {
    let kind: String = r.try_get("kind")?;
    let help: String = r.try_get("help")?;
    let help = help
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| HelpKind::parse(h).ok_or_else(|| corrupt("help kind", h)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(StoredReport {
        id: r.try_get("id")?,
        enterprise_id: EnterpriseId(get_u32(r, "enterprise_id")?),
        version: get_u32(r, "version")?,
        report: Report {
            date: r.try_get("report_date")?,
            kind: ReportKind::parse(&kind).ok_or_else(|| corrupt("report kind", &kind))?,
            on_site: get_u32(r, "on_site")?,
            green: get_u32(r, "green")?,
            blue: get_u32(r, "blue")?,
            yellow: get_u32(r, "yellow")?,
            red: get_u32(r, "red")?,
            isolation: get_u32(r, "isolation")?,
            observation: get_u32(r, "observation")?,
            tests_done: get_u32(r, "tests_done")?,
            tests_abnormal: get_u32(r, "tests_abnormal")?,
            disinfected: get_bool(r, "disinfected")?,
            vehicles_in: get_u32(r, "vehicles_in")?,
            vehicles_out: get_u32(r, "vehicles_out")?,
            supplies: Vec::new(),
            help,
            help_text: r.try_get("help_text")?,
        },
        submitted_by: r.try_get("submitted_by")?,
        submitted_at: r.try_get("submitted_at")?,
        first_submitted_at: r.try_get("first_submitted_at")?,
        late: get_bool(r, "late")?,
    })
}

/// Ids per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits.
const ID_CHUNK: usize = 500;

/// `$from, $from+1, …` for `n` placeholders.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Attach their supply lines (in the items' display order) to reports read without them.
async fn with_supplies(
    conn: &mut AnyConnection,
    mut reports: Vec<StoredReport>,
) -> StoreResult<Vec<StoredReport>> {
    let ids: Vec<i64> = reports.iter().map(|r| r.id).collect();
    let mut lines: HashMap<i64, Vec<SupplyLine>> = HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT s.report_id, s.item, s.stock, s.used FROM daily_report_supplies s \
             JOIN supply_items i ON i.key = s.item WHERE s.report_id IN ({}) \
             ORDER BY s.report_id, i.sort, i.key",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            lines
                .entry(r.try_get("report_id")?)
                .or_default()
                .push(SupplyLine {
                    item: r.try_get("item")?,
                    stock: get_u32(&r, "stock")?,
                    used: get_u32(&r, "used")?,
                });
        }
    }
    for r in &mut reports {
        r.report.supplies = lines.remove(&r.id).unwrap_or_default();
    }
    Ok(reports)
}

/// Reports matching `cond` (over `daily_reports r`, placeholders from `$1`), with their
/// supplies, in `order`.
async fn reports_where(
    conn: &mut AnyConnection,
    cond: &str,
    args: Vec<Arg>,
    order: &str,
) -> StoreResult<Vec<StoredReport>> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM daily_reports r WHERE {cond} ORDER BY {order}");
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
        .fetch_all(&mut *conn)
        .await?;
    let reports = rows
        .iter()
        .map(report_row)
        .collect::<StoreResult<Vec<_>>>()?;
    with_supplies(conn, reports).await
}

fn step_of(r: &AnyRow, col: &str) -> StoreResult<RiskStep> {
    let n: i64 = r.try_get(col)?;
    u8::try_from(n)
        .ok()
        .and_then(RiskStep::from_number)
        .ok_or_else(|| corrupt("risk step", n))
}

const CASE_COLUMNS: &str =
    "c.id, c.enterprise_id, c.subject, c.opened_at, c.opened_by, c.step, c.step_at, c.closed_at";

fn case_row(r: &AnyRow) -> StoreResult<RiskCase> {
    Ok(RiskCase {
        id: r.try_get("id")?,
        enterprise_id: EnterpriseId(get_u32(r, "enterprise_id")?),
        subject: r.try_get("subject")?,
        opened_at: r.try_get("opened_at")?,
        opened_by: r.try_get("opened_by")?,
        step: step_of(r, "step")?,
        step_at: r.try_get("step_at")?,
        closed_at: r.try_get("closed_at")?,
        steps: Vec::new(),
    })
}

/// Cases matching `cond` (over `risk_cases c`), newest first, each with its steps.
async fn cases_where(
    conn: &mut AnyConnection,
    cond: &str,
    args: Vec<Arg>,
) -> StoreResult<Vec<RiskCase>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM risk_cases c WHERE {cond} ORDER BY c.opened_at DESC, c.id DESC"
    );
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
        .fetch_all(&mut *conn)
        .await?;
    let mut cases = rows.iter().map(case_row).collect::<StoreResult<Vec<_>>>()?;
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let mut steps: HashMap<i64, Vec<RiskStepRecord>> = HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT case_id, step, done_at, owner, note, skipped_reason FROM risk_case_steps \
             WHERE case_id IN ({}) ORDER BY case_id, step",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            steps
                .entry(r.try_get("case_id")?)
                .or_default()
                .push(RiskStepRecord {
                    step: step_of(&r, "step")?,
                    done_at: r.try_get("done_at")?,
                    owner: r.try_get("owner")?,
                    note: r.try_get("note")?,
                    skipped_reason: r.try_get("skipped_reason")?,
                });
        }
    }
    for c in &mut cases {
        c.steps = steps.remove(&c.id).unwrap_or_default();
    }
    Ok(cases)
}

async fn case_in(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<RiskCase>> {
    Ok(cases_where(conn, "c.id = $1", vec![Arg::Int(id)])
        .await?
        .into_iter()
        .next())
}

/// `enterprise_id` of a row belongs to a team.
const IN_TEAM: &str = "IN (SELECT t.id FROM enterprises t WHERE t.team_id = ";

fn ent(id: EnterpriseId) -> i64 {
    i64::from(id.0)
}

fn credit_conflict(code: &str) -> String {
    format!(
        "the credit code {code} is already registered to another enterprise / 统一社会信用代码 {code} 已被其他企业登记"
    )
}

#[async_trait]
impl ReportingStore for SqlStore {
    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        let rows =
            sqlx::query("SELECT id, name, offices, created_at FROM supervision_teams ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(team_row).collect()
    }

    async fn get_team(&self, id: i64) -> StoreResult<Option<Team>> {
        let row = sqlx::query(
            "SELECT id, name, offices, created_at FROM supervision_teams WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(team_row).transpose()
    }

    async fn create_team(&self, team: &NewTeam, now: UnixSeconds) -> StoreResult<Team> {
        let row = sqlx::query(
            "INSERT INTO supervision_teams (name, offices, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, offices, created_at",
        )
        .bind(&team.name)
        .bind(&team.offices)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(unique_to_conflict(|| team_conflict(&team.name)))?;
        team_row(&row)
    }

    async fn update_team(&self, id: i64, team: &NewTeam) -> StoreResult<Team> {
        let row = sqlx::query(
            "UPDATE supervision_teams SET name = $1, offices = $2 WHERE id = $3 \
             RETURNING id, name, offices, created_at",
        )
        .bind(&team.name)
        .bind(&team.offices)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unique_to_conflict(|| team_conflict(&team.name)))?;
        row.as_ref()
            .map(team_row)
            .transpose()?
            .ok_or(StoreError::NotFound("supervision team"))
    }

    async fn enterprise_profile(&self, id: EnterpriseId) -> StoreResult<Option<EnterpriseProfile>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PROFILE_COLUMNS} FROM enterprises WHERE id = $1"
        )))
        .bind(ent(id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(profile_row).transpose()
    }

    async fn set_enterprise_profile(
        &self,
        id: EnterpriseId,
        p: &ProfileUpdate,
    ) -> StoreResult<EnterpriseProfile> {
        let code = p.credit_code.as_ref().map(|c| c.as_str().to_owned());
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE enterprises SET credit_code = $1, address = $2, contact_name = $3, \
             contact_phone = $4, responsible_person = $5, responsible_phone = $6, team_id = $7 \
             WHERE id = $8 RETURNING {PROFILE_COLUMNS}"
        )))
        .bind(code.clone())
        .bind(p.address.clone())
        .bind(p.contact_name.clone())
        .bind(p.contact_phone.clone())
        .bind(p.responsible_person.clone())
        .bind(p.responsible_phone.clone())
        .bind(p.team_id)
        .bind(ent(id))
        .fetch_optional(&self.pool)
        .await
        .map_err(constraint_err("supervision team", || {
            credit_conflict(code.as_deref().unwrap_or_default())
        }))?;
        row.as_ref()
            .map(profile_row)
            .transpose()?
            .ok_or(StoreError::NotFound("enterprise"))
    }

    async fn enterprise_profiles(&self, team: Option<i64>) -> StoreResult<Vec<EnterpriseProfile>> {
        let rows = match team {
            Some(t) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {PROFILE_COLUMNS} FROM enterprises WHERE team_id = $1 ORDER BY id"
                )))
                .bind(t)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {PROFILE_COLUMNS} FROM enterprises ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(profile_row).collect()
    }

    async fn list_grids(&self, enterprise: EnterpriseId) -> StoreResult<Vec<Grid>> {
        let rows = sqlx::query(
            "SELECT id, enterprise_id, zone, name, leader, leader_phone FROM grids \
             WHERE enterprise_id = $1 ORDER BY name, id",
        )
        .bind(ent(enterprise))
        .fetch_all(&self.pool)
        .await?;
        let mut grids = rows.iter().map(grid_row).collect::<StoreResult<Vec<_>>>()?;
        // Zones in their own order (green, blue, yellow, red), not alphabetically.
        grids.sort_by_key(|g| g.zone);
        Ok(grids)
    }

    async fn add_grid(&self, enterprise: EnterpriseId, grid: &NewGrid) -> StoreResult<Grid> {
        let row = sqlx::query(
            "INSERT INTO grids (enterprise_id, zone, name, leader, leader_phone) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, enterprise_id, zone, name, leader, leader_phone",
        )
        .bind(ent(enterprise))
        .bind(grid.zone.as_str())
        .bind(&grid.name)
        .bind(&grid.leader)
        .bind(&grid.leader_phone)
        .fetch_one(&self.pool)
        .await
        .map_err(constraint_err("enterprise", || {
            format!(
                "the {} already has a grid named {:?} / {}已有名为“{}”的网格",
                grid.zone.as_str(),
                grid.name,
                grid.zone.label(passgate_shared::Lang::Zh),
                grid.name
            )
        }))?;
        grid_row(&row)
    }

    async fn delete_grid(&self, enterprise: EnterpriseId, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM grids WHERE id = $1 AND enterprise_id = $2")
            .bind(id)
            .bind(ent(enterprise))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("grid"));
        }
        Ok(())
    }

    async fn supply_items(&self) -> StoreResult<Vec<SupplyItem>> {
        let rows = sqlx::query(
            "SELECT key, name_zh, name_en, unit, warn_days, sort, active FROM supply_items \
             ORDER BY sort, key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(supply_item_row).collect()
    }

    async fn upsert_supply_item(&self, item: &SupplyItem) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO supply_items (key, name_zh, name_en, unit, warn_days, sort, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO UPDATE SET \
             name_zh = excluded.name_zh, name_en = excluded.name_en, unit = excluded.unit, \
             warn_days = excluded.warn_days, sort = excluded.sort, active = excluded.active",
        )
        .bind(&item.key)
        .bind(&item.name_zh)
        .bind(&item.name_en)
        .bind(supply_unit_str(item.unit))
        .bind(i64::from(item.warn_days))
        .bind(item.sort)
        .bind(item.active)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reporting_settings(&self) -> StoreResult<ReportingSettings> {
        let r = sqlx::query(
            "SELECT due_minutes, step2_limit, step3_limit, step4_limit, step5_limit, \
             step6_limit, step7_limit FROM reporting_settings WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let due = get_u32(&r, "due_minutes")?;
        let due = u16::try_from(due)
            .ok()
            .filter(|m| *m < 24 * 60)
            .ok_or_else(|| corrupt("due time", due))?;
        let mut step_limits = [0u32; 6];
        for (i, limit) in step_limits.iter_mut().enumerate() {
            *limit = get_u32(&r, &format!("step{}_limit", i + 2))?;
        }
        Ok(ReportingSettings {
            due: DueTime(due),
            step_limits,
        })
    }

    async fn set_reporting_settings(&self, s: &ReportingSettings) -> StoreResult<()> {
        let mut q = sqlx::query(
            "UPDATE reporting_settings SET due_minutes = $1, step2_limit = $2, \
             step3_limit = $3, step4_limit = $4, step5_limit = $5, step6_limit = $6, \
             step7_limit = $7 WHERE id = 1",
        )
        .bind(i64::from(s.due.0));
        for limit in s.step_limits {
            q = q.bind(i64::from(limit));
        }
        q.execute(&self.pool).await?;
        Ok(())
    }

    async fn submit_report(
        &self,
        enterprise: EnterpriseId,
        report: &Report,
        by: &str,
        now: UnixSeconds,
        due: DueTime,
    ) -> StoreResult<StoredReport> {
        let mut tx = self.pool.begin().await?;
        // First statement, a write: it locks the enterprise's row, so two submissions for
        // one enterprise (on any instance) take their version numbers one after the other.
        let locked = sqlx::query("UPDATE enterprises SET name = name WHERE id = $1")
            .bind(ent(enterprise))
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::NotFound("enterprise"));
        }
        let first = sqlx::query(
            "SELECT first_submitted_at, late, \
             (SELECT MAX(v.version) FROM daily_reports v \
              WHERE v.enterprise_id = $1 AND v.report_date = $2) AS latest \
             FROM daily_reports WHERE enterprise_id = $1 AND report_date = $2 AND version = 1",
        )
        .bind(ent(enterprise))
        .bind(&report.date)
        .fetch_optional(&mut *tx)
        .await?;
        let (version, first_at, late) = match first {
            Some(r) => (
                get_u64(&r, "latest")? + 1,
                r.try_get::<i64, _>("first_submitted_at")?,
                get_bool(&r, "late")?,
            ),
            None => (1, now, is_late(&report.date, now, due)),
        };
        let help: Vec<&str> = report.help.iter().map(|h| h.as_str()).collect();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO daily_reports (enterprise_id, report_date, version, kind, on_site, \
             green, blue, yellow, red, isolation, observation, tests_done, tests_abnormal, \
             disinfected, vehicles_in, vehicles_out, help, help_text, submitted_by, \
             submitted_at, first_submitted_at, late) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id",
        )
        .bind(ent(enterprise))
        .bind(&report.date)
        .bind(to_i64("version", version)?)
        .bind(report.kind.as_str())
        .bind(i64::from(report.on_site))
        .bind(i64::from(report.green))
        .bind(i64::from(report.blue))
        .bind(i64::from(report.yellow))
        .bind(i64::from(report.red))
        .bind(i64::from(report.isolation))
        .bind(i64::from(report.observation))
        .bind(i64::from(report.tests_done))
        .bind(i64::from(report.tests_abnormal))
        .bind(report.disinfected)
        .bind(i64::from(report.vehicles_in))
        .bind(i64::from(report.vehicles_out))
        .bind(help.join(","))
        .bind(&report.help_text)
        .bind(by)
        .bind(now)
        .bind(first_at)
        .bind(late)
        .fetch_one(&mut *tx)
        .await?;
        for line in &report.supplies {
            sqlx::query(
                "INSERT INTO daily_report_supplies (report_id, item, stock, used) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&line.item)
            .bind(i64::from(line.stock))
            .bind(i64::from(line.used))
            .execute(&mut *tx)
            .await
            .map_err(constraint_err("supply item", || {
                format!("supply item {:?} is listed twice", line.item)
            }))?;
        }
        let stored = reports_where(&mut tx, "r.id = $1", vec![Arg::Int(id)], "r.id")
            .await?
            .pop()
            .ok_or(StoreError::NotFound("report"))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn current_report(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Option<StoredReport>> {
        let mut conn = self.pool.acquire().await?;
        Ok(reports_where(
            &mut conn,
            &format!("r.enterprise_id = $1 AND r.report_date = $2 AND {CURRENT_VERSION}"),
            vec![Arg::Int(ent(enterprise)), Arg::Text(date.to_owned())],
            "r.id",
        )
        .await?
        .pop())
    }

    async fn report_versions(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Vec<StoredReport>> {
        let mut conn = self.pool.acquire().await?;
        reports_where(
            &mut conn,
            "r.enterprise_id = $1 AND r.report_date = $2",
            vec![Arg::Int(ent(enterprise)), Arg::Text(date.to_owned())],
            "r.version",
        )
        .await
    }

    async fn reports_between(
        &self,
        enterprise: Option<EnterpriseId>,
        team: Option<i64>,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<StoredReport>> {
        let mut cond = format!("r.report_date >= $1 AND r.report_date <= $2 AND {CURRENT_VERSION}");
        let mut args = vec![Arg::Text(from.to_owned()), Arg::Text(to.to_owned())];
        if let Some(e) = enterprise {
            args.push(Arg::Int(ent(e)));
            cond.push_str(&format!(" AND r.enterprise_id = ${}", args.len()));
        }
        if let Some(t) = team {
            args.push(Arg::Int(t));
            cond.push_str(&format!(" AND r.enterprise_id {IN_TEAM}${})", args.len()));
        }
        let mut conn = self.pool.acquire().await?;
        reports_where(&mut conn, &cond, args, "r.report_date, r.enterprise_id").await
    }

    async fn last_report_before(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<Option<StoredReport>> {
        let mut conn = self.pool.acquire().await?;
        let latest: Option<String> = sqlx::query_scalar(
            "SELECT MAX(report_date) FROM daily_reports WHERE enterprise_id = $1 AND report_date < $2",
        )
        .bind(ent(enterprise))
        .bind(date)
        .fetch_one(&mut *conn)
        .await?;
        let Some(latest) = latest else {
            return Ok(None);
        };
        Ok(reports_where(
            &mut conn,
            &format!("r.enterprise_id = $1 AND r.report_date = $2 AND {CURRENT_VERSION}"),
            vec![Arg::Int(ent(enterprise)), Arg::Text(latest)],
            "r.id",
        )
        .await?
        .pop())
    }

    async fn day_overview(&self, date: &str, team: Option<i64>) -> StoreResult<Vec<DayEntry>> {
        // One read transaction: the enterprises and their reports from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let (ent_cond, mut report_cond, args) = match team {
            Some(t) => (
                "WHERE team_id = $1",
                format!("r.report_date = $2 AND r.enterprise_id {IN_TEAM}$1)"),
                vec![Arg::Int(t)],
            ),
            None => ("", "r.report_date = $1".to_owned(), vec![]),
        };
        report_cond.push_str(&format!(" AND {CURRENT_VERSION}"));
        let rows = bind_all(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT id, name, created_at, team_id FROM enterprises {ent_cond} ORDER BY id"
            ))),
            args,
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut report_args = Vec::new();
        if let Some(t) = team {
            report_args.push(Arg::Int(t));
        }
        report_args.push(Arg::Text(date.to_owned()));
        let mut reports: HashMap<EnterpriseId, StoredReport> =
            reports_where(&mut tx, &report_cond, report_args, "r.enterprise_id")
                .await?
                .into_iter()
                .map(|r| (r.enterprise_id, r))
                .collect();
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let enterprise = enterprise_row(r)?;
                Ok(DayEntry {
                    team_id: r.try_get("team_id")?,
                    report: reports.remove(&enterprise.id),
                    enterprise,
                })
            })
            .collect()
    }

    async fn vehicle_counts(
        &self,
        enterprise: EnterpriseId,
        date: &str,
    ) -> StoreResult<VehicleCounts> {
        let rows = sqlx::query(
            "SELECT s.direction, COUNT(*) AS n FROM scans s \
             JOIN checkpoints c ON c.id = s.checkpoint_id \
             WHERE c.enterprise_id = $1 AND s.day = $2 AND s.accepted = $3 \
             GROUP BY s.direction",
        )
        .bind(ent(enterprise))
        .bind(date)
        .bind(true)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = VehicleCounts::default();
        for r in &rows {
            let direction: String = r.try_get("direction")?;
            let n = get_u32(r, "n")?;
            match Direction::parse(&direction) {
                Some(Direction::In) => counts.vehicles_in = n,
                Some(Direction::Out) => counts.vehicles_out = n,
                None => return Err(corrupt("direction", &direction)),
            }
        }
        Ok(counts)
    }

    async fn supply_use(
        &self,
        enterprise: EnterpriseId,
        item: &str,
        up_to_date: &str,
        n: u32,
    ) -> StoreResult<Vec<u32>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.used FROM daily_report_supplies s \
             JOIN daily_reports r ON r.id = s.report_id \
             WHERE r.enterprise_id = $1 AND s.item = $2 AND r.report_date <= $3 \
             AND {CURRENT_VERSION} ORDER BY r.report_date DESC LIMIT $4"
        )))
        .bind(ent(enterprise))
        .bind(item)
        .bind(up_to_date)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get_u32(r, "used")).collect()
    }

    async fn latest_supplies(
        &self,
        enterprise: EnterpriseId,
        up_to_date: &str,
    ) -> StoreResult<Vec<SupplyLevel>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.item, r.report_date, s.stock FROM daily_report_supplies s \
             JOIN daily_reports r ON r.id = s.report_id \
             WHERE r.enterprise_id = $1 AND r.report_date <= $2 AND {CURRENT_VERSION} \
             ORDER BY s.item, r.report_date DESC"
        )))
        .bind(ent(enterprise))
        .bind(up_to_date)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<SupplyLevel> = Vec::new();
        for r in &rows {
            let item: String = r.try_get("item")?;
            if out.last().is_some_and(|l| l.item == item) {
                continue;
            }
            out.push(SupplyLevel {
                item,
                date: r.try_get("report_date")?,
                stock: get_u32(r, "stock")?,
            });
        }
        Ok(out)
    }

    async fn open_risk_case(
        &self,
        enterprise: EnterpriseId,
        case: &NewRiskCase,
        by: &str,
        now: UnixSeconds,
    ) -> StoreResult<RiskCase> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO risk_cases (enterprise_id, subject, opened_at, opened_by, step, step_at) \
             VALUES ($1, $2, $3, $4, $5, $3) RETURNING id",
        )
        .bind(ent(enterprise))
        .bind(&case.subject)
        .bind(now)
        .bind(by)
        .bind(i64::from(RiskStep::NoticeReceived.number()))
        .fetch_one(&mut *tx)
        .await
        .map_err(constraint_err("enterprise", String::new))?;
        sqlx::query(
            "INSERT INTO risk_case_steps (case_id, step, done_at, owner, note) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(i64::from(RiskStep::NoticeReceived.number()))
        .bind(now)
        .bind(&case.owner)
        .bind(&case.note)
        .execute(&mut *tx)
        .await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound("risk case"))?;
        tx.commit().await?;
        Ok(case)
    }

    async fn advance_risk_case(
        &self,
        id: i64,
        entry: &StepEntry,
        is_admin: bool,
        now: UnixSeconds,
    ) -> StoreResult<RiskCase> {
        let mut tx = self.pool.begin().await?;
        // Lock the case first, then check the flow against the step stored now.
        let locked = sqlx::query("UPDATE risk_cases SET step = step WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::NotFound("risk case"));
        }
        let row = sqlx::query("SELECT step FROM risk_cases WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let done = step_of(&row, "step")?;
        check_step(
            done,
            entry.target,
            &entry.owner,
            is_admin,
            &entry.skip_reason,
        )?;
        let owner = entry.owner.trim();
        let reason = entry.skip_reason.trim();
        for n in done.number() + 1..=entry.target.number() {
            let skipped = n < entry.target.number();
            sqlx::query(
                "INSERT INTO risk_case_steps (case_id, step, done_at, owner, note, skipped_reason) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(i64::from(n))
            .bind(now)
            .bind(owner)
            .bind(if skipped { "" } else { entry.note.trim() })
            .bind(skipped.then(|| reason.to_owned()))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE risk_cases SET step = $1, step_at = $2, closed_at = $3 WHERE id = $4")
            .bind(i64::from(entry.target.number()))
            .bind(now)
            .bind((entry.target == RiskStep::Closed).then_some(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound("risk case"))?;
        tx.commit().await?;
        Ok(case)
    }

    async fn get_risk_case(&self, id: i64) -> StoreResult<Option<RiskCase>> {
        let mut conn = self.pool.acquire().await?;
        case_in(&mut conn, id).await
    }

    async fn list_risk_cases(&self, f: &RiskCaseFilter) -> StoreResult<Vec<RiskCase>> {
        let mut cond = String::from("1 = 1");
        let mut args = Vec::new();
        if let Some(e) = f.enterprise {
            args.push(Arg::Int(ent(e)));
            cond.push_str(&format!(" AND c.enterprise_id = ${}", args.len()));
        }
        if let Some(t) = f.team {
            args.push(Arg::Int(t));
            cond.push_str(&format!(" AND c.enterprise_id {IN_TEAM}${})", args.len()));
        }
        if f.open_only {
            cond.push_str(" AND c.closed_at IS NULL");
        }
        let mut conn = self.pool.acquire().await?;
        cases_where(&mut conn, &cond, args).await
    }

    async fn create_enterprise_token(
        &self,
        name: &str,
        token_hash: &str,
        enterprise: EnterpriseId,
        now: UnixSeconds,
    ) -> StoreResult<TokenRecord> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, enterprise_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(name)
        .bind(Role::Enterprise.as_str())
        .bind(token_hash)
        .bind(ent(enterprise))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(constraint_err("enterprise", || {
            "this token exists already".to_owned()
        }))?;
        token_row(&row)
    }
}

fn team_conflict(name: &str) -> String {
    format!("a supervision team named {name:?} already exists / 已有名为“{name}”的督导组")
}
