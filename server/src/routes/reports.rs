//! `/reports…`: enterprise reporting over the API — the daily and zero report (filing and
//! editing, a day with its versions, lists, the prefill), supplies' days of cover, the
//! risk-person notice flow, and the task force's teams and day overview.
//!
//! The rules are `passgate_shared::reporting`; the functions here that the console also
//! uses (`submit`, `supply_cover`, `day_overview`, `open_case`, `advance_case`,
//! `case_view`) compose the store and those rules once, so the console and the API answer
//! alike. Access: an enterprise token reaches only the enterprise it is bound to (403
//! elsewhere); the task force reads everything; admin does everything.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use passgate_shared::reporting::{
    Abnormality, CONSUMPTION_WINDOW, Coverage, DayStatus, FieldProblem, HelpKind, ReportDraft,
    RiskStep, SupplyUnit, abnormalities, check_risk_subject, days_of_cover, supply_warning,
    validate_report,
};
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{EnterpriseId, Lang, UnixSeconds};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::doc::{BodyRefusals, ErrorBody, Refusals};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::audit::{self, Action};
use crate::auth::{Allowed, Caller, ProfileRead, ReportFile, ReportRead, TaskforceRead};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::{AppState, now};
use crate::store::reporting::{
    EnterpriseProfile, Grid, NewRiskCase, RiskCase, RiskCaseFilter, StepEntry, StoredReport,
    SupplyItem, Team, VehicleCounts,
};
use crate::store::{Role, StoreResult};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(items))
        .routes(routes!(teams))
        .routes(routes!(overview))
        .routes(routes!(file))
        .routes(routes!(day))
        .routes(routes!(prefill))
        .routes(routes!(supplies))
        .routes(routes!(profile))
        .routes(routes!(open_risk_case))
        .routes(routes!(risk_cases))
        .routes(routes!(risk_case))
        .routes(routes!(record_step))
}

// ---------------------------------------------------------------------------------------
// Shared with the console
// ---------------------------------------------------------------------------------------

/// The keys of the supply items a new report may list (the active ones).
pub async fn active_item_keys(st: &AppState) -> StoreResult<Vec<String>> {
    Ok(st
        .store
        .supply_items()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| i.key)
        .collect())
}

/// A report's field problems as the API's field errors (every one, in the validator's order).
pub fn field_errors(problems: &[FieldProblem]) -> Vec<FieldError> {
    problems
        .iter()
        .map(|p| FieldError::new(&p.field, p.error.to_string()))
        .collect()
}

/// File (or edit: file again for the same date) a report for `enterprise`: validate the
/// draft with the shared rules against the active supply items, store it as the next
/// version (lateness from the first version, with the configured due time) and audit it.
/// `Ok(Err(problems))` when the draft is refused; nothing is stored then.
pub async fn submit(
    st: &AppState,
    enterprise: EnterpriseId,
    draft: &ReportDraft,
    actor: &str,
    at: UnixSeconds,
) -> StoreResult<Result<StoredReport, Vec<FieldProblem>>> {
    let keys = active_item_keys(st).await?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let report = match validate_report(draft, &keys, at) {
        Ok(r) => r,
        Err(problems) => return Ok(Err(problems)),
    };
    let settings = st.store.reporting_settings().await?;
    let stored = st
        .store
        .submit_report(enterprise, &report, actor, at, settings.due)
        .await?;
    audit::record(
        st,
        actor,
        Action::ReportSubmitted,
        &format!("enterprise:{}", enterprise.0),
        serde_json::json!({
            "date": stored.report.date,
            "version": stored.version,
            "kind": stored.report.kind.as_str(),
            "late": stored.late,
        }),
    )
    .await?;
    Ok(Ok(stored))
}

/// One item's stock and days of cover for an enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SupplyCover {
    pub item: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: SupplyUnit,
    /// The stock in the latest report (dated up to the asked date) that lists the item; a
    /// zero report lists no supplies, so this may be older than the latest report.
    pub stock: Option<u32>,
    /// The date of that report.
    pub as_of: Option<String>,
    /// Recent daily use, newest first (what the rate is averaged over).
    pub recent_use: Vec<u32>,
    /// `days_of_cover`; `None` when nothing is used (or the stock is unknown).
    pub days_of_cover: Option<f64>,
    pub warn_days: u32,
    /// `supply_warning`: cover below `warn_days`.
    pub warning: bool,
}

/// Days of cover of every active item (and of every inactive one the enterprise has
/// listed) for an enterprise, from its reports dated up to `date`.
pub async fn supply_cover(
    st: &AppState,
    enterprise: EnterpriseId,
    date: &str,
) -> StoreResult<Vec<SupplyCover>> {
    let levels = st.store.latest_supplies(enterprise, date).await?;
    let items: Vec<SupplyItem> = st.store.supply_items().await?;
    let mut out = Vec::new();
    for item in items {
        let level = levels.iter().find(|l| l.item == item.key);
        if !item.active && level.is_none() {
            continue;
        }
        let as_of = level.map(|l| l.date.clone());
        let stock = level.map(|l| l.stock);
        let recent_use = match &as_of {
            Some(d) => {
                st.store
                    .supply_use(enterprise, &item.key, d, CONSUMPTION_WINDOW as u32)
                    .await?
            }
            None => Vec::new(),
        };
        let cover = stock.and_then(|s| days_of_cover(item.unit, s, &recent_use));
        out.push(SupplyCover {
            warning: supply_warning(cover, item.warn_days),
            item: item.key,
            name_zh: item.name_zh,
            name_en: item.name_en,
            unit: item.unit,
            stock,
            as_of,
            recent_use,
            days_of_cover: cover,
            warn_days: item.warn_days,
        });
    }
    Ok(out)
}

/// An abnormality with its messages, as the task force reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AbnormalityView {
    #[serde(flatten)]
    pub abnormality: Abnormality,
    pub message_zh: String,
    pub message_en: String,
}

impl From<Abnormality> for AbnormalityView {
    fn from(a: Abnormality) -> Self {
        AbnormalityView {
            message_zh: a.message(Lang::Zh),
            message_en: a.message(Lang::En),
            abnormality: a,
        }
    }
}

/// One enterprise's day in the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OverviewEntry {
    pub enterprise_id: EnterpriseId,
    pub enterprise: String,
    pub team_id: Option<i64>,
    pub status: DayStatus,
    /// The current version (`None`: nothing filed).
    pub version: Option<u32>,
    pub first_submitted_at: Option<UnixSeconds>,
    pub abnormalities: Vec<AbnormalityView>,
}

/// Coverage of one team (or of the enterprises without a team: `team_id` null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TeamCoverage {
    pub team_id: Option<i64>,
    pub team: String,
    #[serde(flatten)]
    pub coverage: Coverage,
}

/// The task force's view of one day: coverage per team and in all, and the entries (the
/// abnormal ones are those with abnormalities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayOverview {
    pub date: String,
    /// The due time now configured (`HH:MM`). Lateness itself was fixed when each report
    /// was first filed.
    pub due: String,
    pub total: Coverage,
    pub teams: Vec<TeamCoverage>,
    pub entries: Vec<OverviewEntry>,
}

impl DayOverview {
    /// The entries with something abnormal.
    pub fn abnormal(&self) -> impl Iterator<Item = &OverviewEntry> {
        self.entries.iter().filter(|e| !e.abnormalities.is_empty())
    }
}

/// Coverage and abnormalities of `date` over every enterprise (of one team, when set),
/// from the store's day overview and the shared rules.
pub async fn day_overview(
    st: &AppState,
    date: &str,
    team: Option<i64>,
) -> StoreResult<DayOverview> {
    let teams: Vec<Team> = st.store.list_teams().await?;
    let entries = st.store.day_overview(date, team).await?;
    let mut total = Coverage::default();
    let mut by_team: BTreeMap<Option<i64>, Coverage> = BTreeMap::new();
    if let Some(t) = team {
        by_team.insert(Some(t), Coverage::default());
    } else {
        for t in &teams {
            by_team.insert(Some(t.id), Coverage::default());
        }
    }
    let mut views = Vec::new();
    for e in entries {
        let status = e.status();
        total.add(status);
        by_team.entry(e.team_id).or_default().add(status);
        views.push(OverviewEntry {
            enterprise_id: e.enterprise.id,
            enterprise: e.enterprise.name,
            team_id: e.team_id,
            status,
            version: e.report.as_ref().map(|r| r.version),
            first_submitted_at: e.report.as_ref().map(|r| r.first_submitted_at),
            abnormalities: e
                .report
                .as_ref()
                .map(|r| abnormalities(&r.report))
                .unwrap_or_default()
                .into_iter()
                .map(AbnormalityView::from)
                .collect(),
        });
    }
    let team_name = |id: Option<i64>| match id {
        Some(id) => teams
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| format!("#{id}"), |t| t.name.clone()),
        None => "未分组 / no team".to_owned(),
    };
    let mut team_rows: Vec<TeamCoverage> = by_team
        .into_iter()
        .map(|(id, coverage)| TeamCoverage {
            team: team_name(id),
            team_id: id,
            coverage,
        })
        .collect();
    // Teams by id; the enterprises without a team last.
    team_rows.sort_by_key(|t| (t.team_id.is_none(), t.team_id));
    let settings = st.store.reporting_settings().await?;
    Ok(DayOverview {
        date: date.to_owned(),
        due: settings.due.to_string(),
        total,
        teams: team_rows,
        entries: views,
    })
}

/// A risk case as the API and the console show it: with its open step and whether that is
/// overdue now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RiskCaseView {
    #[serde(flatten)]
    pub case: RiskCase,
    pub step_name_zh: &'static str,
    pub open_step: Option<RiskStep>,
    pub open_step_name_zh: Option<&'static str>,
    /// When the open step becomes overdue.
    pub due_at: Option<UnixSeconds>,
    pub overdue: bool,
}

/// The view of `case` at `now` under the configured step limits.
pub fn case_view(
    case: RiskCase,
    settings: &crate::store::reporting::ReportingSettings,
    at: UnixSeconds,
) -> RiskCaseView {
    RiskCaseView {
        step_name_zh: case.step.label(Lang::Zh),
        open_step: case.open_step(),
        open_step_name_zh: case.open_step().map(|s| s.label(Lang::Zh)),
        due_at: case.due_at(settings),
        overdue: case.overdue(settings, at),
        case,
    }
}

/// A text field: trimmed, at most `max` characters, required or not.
fn text_field(
    field: &str,
    value: Option<&str>,
    max: usize,
    required: bool,
    problems: &mut Vec<FieldError>,
) -> String {
    let v = value.map(str::trim).unwrap_or("");
    if required && v.is_empty() {
        problems.push(FieldError::new(field, "required / 必填"));
    } else if v.chars().count() > max {
        problems.push(FieldError::new(
            field,
            format!("at most {max} characters / 最多 {max} 个字"),
        ));
    }
    v.to_owned()
}

/// What opening a risk case takes, as a form or JSON sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct OpenCaseForm {
    pub subject: Option<String>,
    pub owner: Option<String>,
    pub note: Option<String>,
}

/// Open a risk case (step 1 done now) after checking the form, and audit it.
pub async fn open_case(
    st: &AppState,
    enterprise: EnterpriseId,
    form: &OpenCaseForm,
    actor: &str,
    at: UnixSeconds,
) -> Result<RiskCase, ApiError> {
    let mut problems = Vec::new();
    let subject = match check_risk_subject(form.subject.as_deref().unwrap_or("")) {
        Ok(s) => s,
        Err(e) => {
            problems.push(FieldError::new("subject", e.to_string()));
            String::new()
        }
    };
    let owner = text_field("owner", form.owner.as_deref(), 50, true, &mut problems);
    let note = text_field("note", form.note.as_deref(), 500, false, &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let case = st
        .store
        .open_risk_case(
            enterprise,
            &NewRiskCase {
                subject,
                owner,
                note,
            },
            actor,
            at,
        )
        .await?;
    audit::record(
        st,
        actor,
        Action::RiskCaseOpened,
        &format!("risk_case:{}", case.id),
        serde_json::json!({ "enterprise_id": enterprise.0 }),
    )
    .await?;
    Ok(case)
}

/// Recording a step, as a form or JSON sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StepForm {
    /// 2–7.
    pub step: Option<u8>,
    pub owner: Option<String>,
    pub note: Option<String>,
    pub skip_reason: Option<String>,
}

/// Record a step of a case (the store re-checks the flow against the stored step) and
/// audit it, with the skip reason when steps were skipped.
pub async fn advance_case(
    st: &AppState,
    id: i64,
    form: &StepForm,
    is_admin: bool,
    actor: &str,
    at: UnixSeconds,
) -> Result<RiskCase, ApiError> {
    let mut problems = Vec::new();
    let target = form.step.and_then(RiskStep::from_number);
    if target.is_none() {
        problems.push(FieldError::new(
            "step",
            "the step to record, 2 to 7 / 请选择要记录的步骤（2–7）",
        ));
    }
    let owner = text_field("owner", form.owner.as_deref(), 50, false, &mut problems);
    let note = text_field("note", form.note.as_deref(), 500, false, &mut problems);
    let skip_reason = text_field(
        "skip_reason",
        form.skip_reason.as_deref(),
        500,
        false,
        &mut problems,
    );
    let Some(target) = target.filter(|_| problems.is_empty()) else {
        return Err(ApiError::Validation(problems));
    };
    let before = st
        .store
        .get_risk_case(id)
        .await?
        .ok_or(ApiError::NotFound("risk case"))?;
    let entry = StepEntry {
        target,
        owner,
        note,
        skip_reason,
    };
    let case = st.store.advance_risk_case(id, &entry, is_admin, at).await?;
    let skipped: Vec<u8> = case
        .steps
        .iter()
        .filter(|s| s.step > before.step && s.skipped_reason.is_some())
        .map(|s| s.step.number())
        .collect();
    audit::record(
        st,
        actor,
        Action::RiskStepRecorded,
        &format!("risk_case:{id}"),
        if skipped.is_empty() {
            serde_json::json!({ "step": target.number(), "owner": entry.owner })
        } else {
            serde_json::json!({
                "step": target.number(),
                "owner": entry.owner,
                "skipped": skipped,
                "skip_reason": entry.skip_reason,
            })
        },
    )
    .await?;
    Ok(case)
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// A date from a path or query: `YYYY-MM-DD`, or today (Beijing) when absent.
fn date_param(field: &str, value: Option<&str>) -> ApiResult<String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(local_day(now())),
        Some(d) if local_day_range(d).is_some() => Ok(d.to_owned()),
        Some(_) => Err(ApiError::field(
            field,
            "a date as YYYY-MM-DD (Beijing time) / 日期格式应为 YYYY-MM-DD",
        )),
    }
}

/// The enterprise filter of a list: an enterprise token is held to its own enterprise (403
/// when it asks for another, or is bound to none); other roles filter as they ask.
fn enterprise_scope<A: Allowed>(
    caller: &Caller<A>,
    asked: Option<u32>,
) -> ApiResult<Option<EnterpriseId>> {
    let asked = asked.map(EnterpriseId);
    if caller.token.role != Role::Enterprise {
        return Ok(asked);
    }
    match (caller.own_enterprise(), asked) {
        (Some(own), None) => Ok(Some(own)),
        (Some(own), Some(a)) if a == own => Ok(Some(own)),
        _ => Err(ApiError::OtherEnterprise),
    }
}

/// An enterprise the caller may reach (403 otherwise) that exists (404 otherwise).
async fn reachable<A: Allowed>(
    st: &AppState,
    caller: &Caller<A>,
    id: u32,
) -> ApiResult<EnterpriseProfile> {
    let id = EnterpriseId(id);
    if !caller.may_access(id) {
        return Err(ApiError::OtherEnterprise);
    }
    st.store
        .enterprise_profile(id)
        .await?
        .ok_or(ApiError::NotFound("enterprise"))
}

/// A stored report with its status and abnormalities.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    #[serde(flatten)]
    pub stored: StoredReport,
    pub status: DayStatus,
    pub abnormalities: Vec<AbnormalityView>,
}

impl From<StoredReport> for ReportView {
    fn from(stored: StoredReport) -> Self {
        ReportView {
            status: stored.status(),
            abnormalities: abnormalities(&stored.report)
                .into_iter()
                .map(AbnormalityView::from)
                .collect(),
            stored,
        }
    }
}

#[utoipa::path(
    post,
    path = "/reports/enterprises/{id}",
    tag = "reports",
    summary = "File or edit a daily or zero report",
    params(("id" = u32, Path, description = "The enterprise")),
    request_body = ReportDraft,
    responses(
        (status = 201, description = "The report filed (version 1)", body = ReportView),
        (status = 200, description = "The report edited (a new version)", body = ReportView),
        (status = 404, description = "enterprise not found", body = ErrorBody),
        (status = 409, description = "the report conflicts with the stored one", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise"])),
)]
async fn file(
    State(st): State<AppState>,
    caller: Caller<ReportFile>,
    ApiPath(id): ApiPath<u32>,
    ApiJson(draft): ApiJson<ReportDraft>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let ent = reachable(&st, &caller, id).await?;
    match submit(&st, ent.enterprise.id, &draft, caller.name(), now()).await? {
        Ok(stored) => {
            let status = if stored.version == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(ReportView::from(stored))))
        }
        Err(problems) => Err(ApiError::Validation(field_errors(&problems))),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct DayView {
    enterprise_id: EnterpriseId,
    date: String,
    current: ReportView,
    /// Every version, version 1 first.
    versions: Vec<ReportView>,
}

#[utoipa::path(
    get,
    path = "/reports/enterprises/{id}/days/{date}",
    tag = "reports",
    summary = "One day's report",
    params(("id" = u32, Path, description = "The enterprise"), ("date" = String, Path, pattern = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$", description = "YYYY-MM-DD (Beijing)")),
    responses(
        (status = 200, description = "The day's report with every version", body = DayView),
        (status = 404, description = "enterprise or report not found", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn day(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiPath((id, date)): ApiPath<(u32, String)>,
) -> ApiResult<Json<DayView>> {
    let ent = reachable(&st, &caller, id).await?;
    let date = date_param("date", Some(&date))?;
    let versions = st.store.report_versions(ent.enterprise.id, &date).await?;
    let current = versions
        .last()
        .cloned()
        .ok_or(ApiError::NotFound("report"))?;
    Ok(Json(DayView {
        enterprise_id: ent.enterprise.id,
        date,
        current: current.into(),
        versions: versions.into_iter().map(ReportView::from).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The first Beijing day, `YYYY-MM-DD`; `to` when absent.
    #[param(pattern = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$")]
    from: Option<String>,
    /// The last Beijing day, `YYYY-MM-DD`; today when absent. At most 62 days in all.
    #[param(pattern = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$")]
    to: Option<String>,
    enterprise: Option<u32>,
    team: Option<i64>,
}

/// The longest range `GET /reports` lists at once.
const MAX_LIST_DAYS: i64 = 62;

#[utoipa::path(
    get,
    path = "/reports",
    tag = "reports",
    summary = "List daily reports",
    params(ListQuery),
    responses(
        (status = 200, description = "The reports of the range (at most 62 days)", body = Vec<ReportView>),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn list(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<ReportView>>> {
    let to = date_param("to", q.to.as_deref())?;
    let from = match q.from.as_deref() {
        Some(_) => date_param("from", q.from.as_deref())?,
        None => to.clone(),
    };
    let (Some((start, _)), Some((end, _))) = (local_day_range(&from), local_day_range(&to)) else {
        return Err(ApiError::field("from", "not a date / 日期无效"));
    };
    if start > end {
        return Err(ApiError::field(
            "from",
            "from must not be after to / 开始日期不能晚于结束日期",
        ));
    }
    if (end - start) / 86_400 >= MAX_LIST_DAYS {
        return Err(ApiError::field(
            "from",
            format!("at most {MAX_LIST_DAYS} days at once / 一次最多查询 {MAX_LIST_DAYS} 天"),
        ));
    }
    let enterprise = enterprise_scope(&caller, q.enterprise)?;
    let reports = st
        .store
        .reports_between(enterprise, q.team, &from, &to)
        .await?;
    Ok(Json(reports.into_iter().map(ReportView::from).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DateQuery {
    /// The Beijing day, `YYYY-MM-DD`; today when absent.
    #[param(pattern = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$")]
    date: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Prefill {
    enterprise_id: EnterpriseId,
    date: String,
    /// Accepted scans at the enterprise's own checkpoints that day.
    vehicles: VehicleCounts,
    /// The latest report before `date`, whose headcount and supplies a form starts from.
    last_report: Option<ReportView>,
    /// The items a report may list now.
    supply_items: Vec<SupplyItem>,
    help_kinds: Vec<HelpKind>,
}

#[utoipa::path(
    get,
    path = "/reports/enterprises/{id}/prefill",
    tag = "reports",
    summary = "A report form's prefill",
    params(("id" = u32, Path, description = "The enterprise"), DateQuery),
    responses(
        (status = 200, description = "What a new report starts from", body = Prefill),
        (status = 404, description = "enterprise not found", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn prefill(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiPath(id): ApiPath<u32>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> ApiResult<Json<Prefill>> {
    let ent = reachable(&st, &caller, id).await?;
    let date = date_param("date", q.date.as_deref())?;
    let e = ent.enterprise.id;
    Ok(Json(Prefill {
        enterprise_id: e,
        vehicles: st.store.vehicle_counts(e, &date).await?,
        last_report: st
            .store
            .last_report_before(e, &date)
            .await?
            .map(ReportView::from),
        supply_items: st
            .store
            .supply_items()
            .await?
            .into_iter()
            .filter(|i| i.active)
            .collect(),
        help_kinds: HelpKind::ALL.to_vec(),
        date,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SupplyView {
    enterprise_id: EnterpriseId,
    date: String,
    items: Vec<SupplyCover>,
}

#[utoipa::path(
    get,
    path = "/reports/enterprises/{id}/supplies",
    tag = "reports",
    summary = "Supplies' days of cover",
    params(("id" = u32, Path, description = "The enterprise"), DateQuery),
    responses(
        (status = 200, description = "Days of cover per supply item", body = SupplyView),
        (status = 404, description = "enterprise not found", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn supplies(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiPath(id): ApiPath<u32>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> ApiResult<Json<SupplyView>> {
    let ent = reachable(&st, &caller, id).await?;
    let date = date_param("date", q.date.as_deref())?;
    Ok(Json(SupplyView {
        enterprise_id: ent.enterprise.id,
        items: supply_cover(&st, ent.enterprise.id, &date).await?,
        date,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProfileView {
    #[serde(flatten)]
    profile: EnterpriseProfile,
    team: Option<Team>,
    grids: Vec<Grid>,
}

#[utoipa::path(
    get,
    path = "/reports/enterprises/{id}/profile",
    tag = "reports",
    summary = "An enterprise's profile",
    params(("id" = u32, Path, description = "The enterprise")),
    responses(
        (status = 200, description = "The enterprise's reporting profile", body = ProfileView),
        (status = 404, description = "enterprise not found", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "taskforce", "enterprise"])),
)]
async fn profile(
    State(st): State<AppState>,
    caller: Caller<ProfileRead>,
    ApiPath(id): ApiPath<u32>,
) -> ApiResult<Json<ProfileView>> {
    let profile = reachable(&st, &caller, id).await?;
    let team = match profile.team_id {
        Some(t) => st.store.get_team(t).await?,
        None => None,
    };
    Ok(Json(ProfileView {
        grids: st.store.list_grids(profile.enterprise.id).await?,
        team,
        profile,
    }))
}

#[utoipa::path(
    get,
    path = "/reports/supply-items",
    tag = "reports",
    summary = "The supply items",
    responses(
        (status = 200, description = "Every supply item", body = Vec<SupplyItem>),
        Refusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn items(
    State(st): State<AppState>,
    _caller: Caller<ReportRead>,
) -> ApiResult<Json<Vec<SupplyItem>>> {
    Ok(Json(st.store.supply_items().await?))
}

#[utoipa::path(
    get,
    path = "/reports/teams",
    tag = "reports",
    summary = "The task force's supervision teams",
    responses(
        (status = 200, description = "Every supervision team", body = Vec<Team>),
        Refusals
    ),
    security(("bearer" = ["admin", "taskforce"])),
)]
async fn teams(
    State(st): State<AppState>,
    _caller: Caller<TaskforceRead>,
) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(st.store.list_teams().await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OverviewQuery {
    /// The Beijing day, `YYYY-MM-DD`; today when absent.
    #[param(pattern = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$")]
    date: Option<String>,
    team: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/reports/overview",
    tag = "reports",
    summary = "The task force's day overview",
    params(OverviewQuery),
    responses(
        (status = 200, description = "Every enterprise's state that day", body = DayOverview),
        (status = 404, description = "supervision team not found", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "taskforce"])),
)]
async fn overview(
    State(st): State<AppState>,
    _caller: Caller<TaskforceRead>,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Json<DayOverview>> {
    let date = date_param("date", q.date.as_deref())?;
    if let Some(t) = q.team
        && st.store.get_team(t).await?.is_none()
    {
        return Err(ApiError::NotFound("supervision team"));
    }
    Ok(Json(day_overview(&st, &date, q.team).await?))
}

#[utoipa::path(
    post,
    path = "/reports/enterprises/{id}/risk-cases",
    tag = "reports",
    summary = "Open a risk-person notice case",
    params(("id" = u32, Path, description = "The enterprise")),
    request_body = OpenCaseForm,
    responses(
        (status = 201, description = "The case opened", body = RiskCaseView),
        (status = 404, description = "enterprise not found", body = ErrorBody),
        (status = 409, description = "the step is not allowed now", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise"])),
)]
async fn open_risk_case(
    State(st): State<AppState>,
    caller: Caller<ReportFile>,
    ApiPath(id): ApiPath<u32>,
    ApiJson(form): ApiJson<OpenCaseForm>,
) -> ApiResult<(StatusCode, Json<RiskCaseView>)> {
    let ent = reachable(&st, &caller, id).await?;
    let at = now();
    let case = open_case(&st, ent.enterprise.id, &form, caller.name(), at).await?;
    let settings = st.store.reporting_settings().await?;
    Ok((StatusCode::CREATED, Json(case_view(case, &settings, at))))
}

/// A case the caller may reach: an enterprise token only its own enterprise's (404 for
/// others', so case ids of other enterprises are not confirmed).
async fn reachable_case<A: Allowed>(
    st: &AppState,
    caller: &Caller<A>,
    id: i64,
) -> ApiResult<RiskCase> {
    match st.store.get_risk_case(id).await? {
        Some(c) if caller.may_access(c.enterprise_id) => Ok(c),
        _ => Err(ApiError::NotFound("risk case")),
    }
}

#[utoipa::path(
    get,
    path = "/reports/risk-cases/{id}",
    tag = "reports",
    summary = "One risk case",
    params(("id" = i64, Path, description = "The risk case")),
    responses(
        (status = 200, description = "The case", body = RiskCaseView),
        (status = 404, description = "risk case not found", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn risk_case(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RiskCaseView>> {
    let case = reachable_case(&st, &caller, id).await?;
    let settings = st.store.reporting_settings().await?;
    Ok(Json(case_view(case, &settings, now())))
}

#[utoipa::path(
    post,
    path = "/reports/risk-cases/{id}/steps",
    tag = "reports",
    summary = "Record a step of a risk case",
    params(("id" = i64, Path, description = "The risk case")),
    request_body = StepForm,
    responses(
        (status = 200, description = "The case after the step", body = RiskCaseView),
        (status = 404, description = "risk case not found", body = ErrorBody),
        (status = 409, description = "the step is out of order or the case is closed", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise"])),
)]
async fn record_step(
    State(st): State<AppState>,
    caller: Caller<ReportFile>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(form): ApiJson<StepForm>,
) -> ApiResult<Json<RiskCaseView>> {
    reachable_case(&st, &caller, id).await?;
    let is_admin = caller.token.role == Role::Admin;
    let at = now();
    let case = advance_case(&st, id, &form, is_admin, caller.name(), at).await?;
    let settings = st.store.reporting_settings().await?;
    Ok(Json(case_view(case, &settings, at)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CaseQuery {
    enterprise: Option<u32>,
    team: Option<i64>,
    /// `true`: only cases not yet closed.
    open: Option<bool>,
    /// `true`: only cases whose open step is overdue now.
    overdue: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/reports/risk-cases",
    tag = "reports",
    summary = "List risk cases",
    params(CaseQuery),
    responses(
        (status = 200, description = "The cases", body = Vec<RiskCaseView>),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "enterprise", "taskforce"])),
)]
async fn risk_cases(
    State(st): State<AppState>,
    caller: Caller<ReportRead>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<Vec<RiskCaseView>>> {
    let enterprise = enterprise_scope(&caller, q.enterprise)?;
    let filter = RiskCaseFilter {
        enterprise,
        team: q.team,
        open_only: q.open.unwrap_or(false) || q.overdue.unwrap_or(false),
    };
    let settings = st.store.reporting_settings().await?;
    let at = now();
    let cases = st.store.list_risk_cases(&filter).await?;
    Ok(Json(
        cases
            .into_iter()
            .map(|c| case_view(c, &settings, at))
            .filter(|v| !q.overdue.unwrap_or(false) || v.overdue)
            .collect(),
    ))
}
