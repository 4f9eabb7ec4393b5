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

use async_trait::async_trait;
use passgate_shared::reporting::CreditCode;
use passgate_shared::reporting::{
    DayStatus, DueTime, FlowError, Report, RiskStep, SupplyUnit, Zone, report_status,
};
use passgate_shared::{EnterpriseId, UnixSeconds};
use serde::Serialize;

use super::{Enterprise, SqlStore, StoreError, StoreResult, TokenRecord};

/// A supervision team (督导组) of the task force; each key enterprise belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VehicleCounts {
    pub vehicles_in: u32,
    pub vehicles_out: u32,
}

/// One recorded step of a risk case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskStepRecord {
    pub step: RiskStep,
    pub done_at: UnixSeconds,
    pub owner: String,
    pub note: String,
    /// Set when an administrator skipped this step (the reason given).
    pub skipped_reason: Option<String>,
}

/// A risk-person notice case with its recorded steps (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

const NOT_YET: StoreError = StoreError::Unsupported("not yet");

#[async_trait]
impl ReportingStore for SqlStore {
    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        Err(NOT_YET)
    }
    async fn get_team(&self, _id: i64) -> StoreResult<Option<Team>> {
        Err(NOT_YET)
    }
    async fn create_team(&self, _team: &NewTeam, _now: UnixSeconds) -> StoreResult<Team> {
        Err(NOT_YET)
    }
    async fn update_team(&self, _id: i64, _team: &NewTeam) -> StoreResult<Team> {
        Err(NOT_YET)
    }
    async fn enterprise_profile(
        &self,
        _id: EnterpriseId,
    ) -> StoreResult<Option<EnterpriseProfile>> {
        Err(NOT_YET)
    }
    async fn set_enterprise_profile(
        &self,
        _id: EnterpriseId,
        _profile: &ProfileUpdate,
    ) -> StoreResult<EnterpriseProfile> {
        Err(NOT_YET)
    }
    async fn enterprise_profiles(&self, _team: Option<i64>) -> StoreResult<Vec<EnterpriseProfile>> {
        Err(NOT_YET)
    }
    async fn list_grids(&self, _enterprise: EnterpriseId) -> StoreResult<Vec<Grid>> {
        Err(NOT_YET)
    }
    async fn add_grid(&self, _enterprise: EnterpriseId, _grid: &NewGrid) -> StoreResult<Grid> {
        Err(NOT_YET)
    }
    async fn delete_grid(&self, _enterprise: EnterpriseId, _id: i64) -> StoreResult<()> {
        Err(NOT_YET)
    }
    async fn supply_items(&self) -> StoreResult<Vec<SupplyItem>> {
        Err(NOT_YET)
    }
    async fn upsert_supply_item(&self, _item: &SupplyItem) -> StoreResult<()> {
        Err(NOT_YET)
    }
    async fn reporting_settings(&self) -> StoreResult<ReportingSettings> {
        Err(NOT_YET)
    }
    async fn set_reporting_settings(&self, _settings: &ReportingSettings) -> StoreResult<()> {
        Err(NOT_YET)
    }
    async fn submit_report(
        &self,
        _enterprise: EnterpriseId,
        _report: &Report,
        _by: &str,
        _now: UnixSeconds,
        _due: DueTime,
    ) -> StoreResult<StoredReport> {
        Err(NOT_YET)
    }
    async fn current_report(
        &self,
        _enterprise: EnterpriseId,
        _date: &str,
    ) -> StoreResult<Option<StoredReport>> {
        Err(NOT_YET)
    }
    async fn report_versions(
        &self,
        _enterprise: EnterpriseId,
        _date: &str,
    ) -> StoreResult<Vec<StoredReport>> {
        Err(NOT_YET)
    }
    async fn reports_between(
        &self,
        _enterprise: Option<EnterpriseId>,
        _team: Option<i64>,
        _from: &str,
        _to: &str,
    ) -> StoreResult<Vec<StoredReport>> {
        Err(NOT_YET)
    }
    async fn last_report_before(
        &self,
        _enterprise: EnterpriseId,
        _date: &str,
    ) -> StoreResult<Option<StoredReport>> {
        Err(NOT_YET)
    }
    async fn day_overview(&self, _date: &str, _team: Option<i64>) -> StoreResult<Vec<DayEntry>> {
        Err(NOT_YET)
    }
    async fn vehicle_counts(
        &self,
        _enterprise: EnterpriseId,
        _date: &str,
    ) -> StoreResult<VehicleCounts> {
        Err(NOT_YET)
    }
    async fn supply_use(
        &self,
        _enterprise: EnterpriseId,
        _item: &str,
        _up_to_date: &str,
        _n: u32,
    ) -> StoreResult<Vec<u32>> {
        Err(NOT_YET)
    }
    async fn open_risk_case(
        &self,
        _enterprise: EnterpriseId,
        _case: &NewRiskCase,
        _by: &str,
        _now: UnixSeconds,
    ) -> StoreResult<RiskCase> {
        Err(NOT_YET)
    }
    async fn advance_risk_case(
        &self,
        _id: i64,
        _entry: &StepEntry,
        _is_admin: bool,
        _now: UnixSeconds,
    ) -> StoreResult<RiskCase> {
        Err(NOT_YET)
    }
    async fn get_risk_case(&self, _id: i64) -> StoreResult<Option<RiskCase>> {
        Err(NOT_YET)
    }
    async fn list_risk_cases(&self, _filter: &RiskCaseFilter) -> StoreResult<Vec<RiskCase>> {
        Err(NOT_YET)
    }
    async fn create_enterprise_token(
        &self,
        _name: &str,
        _token_hash: &str,
        _enterprise: EnterpriseId,
        _now: UnixSeconds,
    ) -> StoreResult<TokenRecord> {
        Err(NOT_YET)
    }
}
