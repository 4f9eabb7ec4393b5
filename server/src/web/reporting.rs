//! Enterprise reporting for the enterprise's own staff (今日填报): where today's report stands
//! and when it is due, the one-action zero report (零报告), the full daily report (日报告)
//! with vehicles prefilled from the enterprise's own checkpoints and supplies from its last
//! report, and the history of any day with every version (who, when, late — never hidden).
//! Correcting a report is filing it again: the store keeps each version.
//!
//! The rules are the shared ones (`passgate_shared::reporting`); the form is read by
//! [`super::reporting_form`]. This module also holds what the other reporting pages share:
//! who sees which enterprises ([`Scope`]) and the words for statuses and kinds.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::reporting::{
    DayStatus, HelpKind, Report, ReportKind, Zone, abnormalities, validate_report,
};
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{EnterpriseId, Lang};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{Input, csrf_field, datetime, error_summary, field_error, notice, page};
use super::reporting_form::{ReportForm, merge_problems};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::FieldError;
use crate::state::{AppState, now};
use crate::store::reporting::{EnterpriseProfile, StoredReport, SupplyItem};
use crate::store::{User, UserRole};

pub fn pages() -> Vec<Page> {
    let own = Access::Roles(roles::REPORT_FILE);
    vec![
        Page::get("/reporting", own, get(today_page)),
        Page::post("/reporting/zero", own, post(file_zero)),
        Page::get("/reporting/report", own, get(report_form)),
        Page::post("/reporting/report", own, post(file_full)),
        Page::post("/reporting/check", own, post(check)),
    ]
}

/// Days of recent history on the enterprise's page.
const RECENT_DAYS: i64 = 14;

// ---------------------------------------------------------------------------------------
// Who sees which enterprises (every reporting page uses this)

/// The enterprises a console user may see in the reporting pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Task force and administrators: every enterprise.
    All,
    /// A supervisor: the enterprises of one supervision team.
    Team(i64),
    /// An enterprise account: its own enterprise.
    Enterprise(EnterpriseId),
    /// An account bound to nothing (a supervisor without a team, an enterprise account
    /// without an enterprise) or a role outside reporting: sees no enterprise.
    Nothing,
}

impl Scope {
    pub fn of(user: &User) -> Scope {
        match user.role {
            UserRole::Admin | UserRole::Taskforce => Scope::All,
            UserRole::Supervisor => user.team_id.map_or(Scope::Nothing, Scope::Team),
            UserRole::Enterprise => user.enterprise_id.map_or(Scope::Nothing, Scope::Enterprise),
            UserRole::Ops | UserRole::Transport => Scope::Nothing,
        }
    }

    /// Whether an enterprise of `team` is in this scope.
    pub fn allows(self, enterprise: EnterpriseId, team: Option<i64>) -> bool {
        match self {
            Scope::All => true,
            Scope::Team(t) => team == Some(t),
            Scope::Enterprise(e) => e == enterprise,
            Scope::Nothing => false,
        }
    }

    /// The team filter for store queries: `Some(None)` for every team, `Some(Some(t))` for
    /// one, `None` when this scope sees nothing at all.
    pub fn team_filter(self) -> Option<Option<i64>> {
        match self {
            Scope::All | Scope::Enterprise(_) => Some(None),
            Scope::Team(t) => Some(Some(t)),
            Scope::Nothing => None,
        }
    }
}

/// The scope of the logged-in user.
pub fn scope(ctx: &Ctx) -> WebResult<Scope> {
    Ok(Scope::of(ctx.user()?))
}

/// The profile of enterprise `id` if this user may see it; "not found" otherwise, so that
/// another team's enterprise is not disclosed.
pub async fn visible_enterprise(
    st: &AppState,
    ctx: &Ctx,
    id: EnterpriseId,
) -> WebResult<EnterpriseProfile> {
    let scope = scope(ctx)?;
    match st.store.enterprise_profile(id).await? {
        Some(p) if scope.allows(p.enterprise.id, p.team_id) => Ok(p),
        _ => Err(WebError::NotFound("enterprise")),
    }
}

// ---------------------------------------------------------------------------------------
// Words shared by the reporting pages

pub fn status_key(s: DayStatus) -> &'static str {
    match s {
        DayStatus::Reported => crate::k!("reporting.status.reported"),
        DayStatus::ZeroReported => crate::k!("reporting.status.zero_reported"),
        DayStatus::Late => crate::k!("reporting.status.late"),
        DayStatus::Missing => crate::k!("reporting.status.missing"),
    }
}

/// The CSS class of a status badge.
pub fn status_class(s: DayStatus) -> &'static str {
    match s {
        DayStatus::Reported => "rep-reported",
        DayStatus::ZeroReported => "rep-zero",
        DayStatus::Late => "rep-late",
        DayStatus::Missing => "rep-missing",
    }
}

pub fn status_badge(ctx: &Ctx, s: DayStatus) -> Markup {
    html! { span class={ "badge " (status_class(s)) } { (ctx.t(status_key(s))) } }
}

pub fn kind_key(k: ReportKind) -> &'static str {
    match k {
        ReportKind::Zero => crate::k!("reporting.kind.zero"),
        ReportKind::Full => crate::k!("reporting.kind.full"),
    }
}

pub fn late_badge(ctx: &Ctx) -> Markup {
    html! { span class="badge rep-late" { (ctx.t("reporting.late")) } }
}

/// What is abnormal in a report, in words (empty for a normal day).
pub fn abnormal_text(lang: Lang, r: &Report) -> String {
    let list: Vec<String> = abnormalities(r).iter().map(|a| a.message(lang)).collect();
    list.join(lang.pick("；", "; "))
}

/// The label of a count field (its input name).
pub fn field_key(field: &str) -> &'static str {
    match field {
        "on_site" => crate::k!("reporting.field.on_site"),
        "green" => crate::k!("reporting.field.green"),
        "blue" => crate::k!("reporting.field.blue"),
        "yellow" => crate::k!("reporting.field.yellow"),
        "red" => crate::k!("reporting.field.red"),
        "isolation" => crate::k!("reporting.field.isolation"),
        "observation" => crate::k!("reporting.field.observation"),
        "tests_done" => crate::k!("reporting.field.tests_done"),
        "tests_abnormal" => crate::k!("reporting.field.tests_abnormal"),
        "vehicles_in" => crate::k!("reporting.field.vehicles_in"),
        "vehicles_out" => crate::k!("reporting.field.vehicles_out"),
        _ => crate::k!("reporting.field.other"),
    }
}

/// Today in Beijing.
pub fn today() -> String {
    local_day(now())
}

/// A date from a query: today when none is given; an error for a non-date or a future day.
pub fn query_date(ctx: &Ctx, raw: Option<&str>) -> Result<String, FieldError> {
    let t = today();
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(t),
        Some(d) if local_day_range(d).is_none() => Err(FieldError::new(
            "date",
            ctx.tf("reporting.error.date", &[("value", &d)]),
        )),
        Some(d) if d > t.as_str() => Err(FieldError::new(
            "date",
            ctx.tf("reporting.error.future", &[("today", &t)]),
        )),
        Some(d) => Ok(d.to_owned()),
    }
}

/// The day `n` days before `date` (a valid date).
pub fn days_before(date: &str, n: i64) -> String {
    local_day_range(date).map_or_else(|| date.to_owned(), |(s, _)| local_day(s - n * 86_400))
}

/// The supply items new reports may list, in order.
pub async fn active_items(st: &AppState) -> WebResult<Vec<SupplyItem>> {
    Ok(st
        .store
        .supply_items()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .collect())
}

/// The name of a supply item's key in `lang` (the key itself when it is not configured).
pub fn item_name(items: &[SupplyItem], key: &str, lang: Lang) -> String {
    items
        .iter()
        .find(|i| i.key == key)
        .map_or_else(|| key.to_owned(), |i| i.name(lang).to_owned())
}

/// Every figure of a report, as a definition list (for the history and the task force's
/// enterprise page).
pub fn report_facts(ctx: &Ctx, r: &Report, items: &[SupplyItem]) -> Markup {
    let lang = ctx.lang;
    let counts = [
        ("on_site", r.on_site),
        ("green", r.green),
        ("blue", r.blue),
        ("yellow", r.yellow),
        ("red", r.red),
        ("isolation", r.isolation),
        ("observation", r.observation),
        ("tests_done", r.tests_done),
        ("tests_abnormal", r.tests_abnormal),
        ("vehicles_in", r.vehicles_in),
        ("vehicles_out", r.vehicles_out),
    ];
    let help: Vec<&str> = r.help.iter().map(|h| h.label(lang)).collect();
    html! {
        dl class="facts rep-facts" {
            @for (field, v) in counts {
                dt { (ctx.t(field_key(field))) } dd { (v) }
            }
            dt { (ctx.t("reporting.field.disinfected")) }
            dd { (ctx.t(if r.disinfected { "reporting.yes" } else { "reporting.no" })) }
            @for s in &r.supplies {
                dt { (item_name(items, &s.item, lang)) }
                dd { (ctx.tf("reporting.supply.line", &[("stock", &s.stock), ("used", &s.used)])) }
            }
            dt { (ctx.t("reporting.field.help")) }
            dd {
                @if help.is_empty() { (ctx.t("reporting.help.none")) }
                @else { (help.join(lang.pick("、", ", "))) "：" (r.help_text) }
            }
        }
    }
}

/// Every version of a day's report, first one first: who, when, kind, late badge, and the
/// figures behind a disclosure.
pub fn versions_table(ctx: &Ctx, versions: &[StoredReport], items: &[SupplyItem]) -> Markup {
    html! {
        @if versions.is_empty() {
            p class="rep-none" { (ctx.t("reporting.history.none")) }
        } @else {
            div class="table-wrap" {
                table class="rep-versions" {
                    thead { tr {
                        th scope="col" { (ctx.t("reporting.col.version")) }
                        th scope="col" { (ctx.t("reporting.col.kind")) }
                        th scope="col" { (ctx.t("reporting.col.submitted_by")) }
                        th scope="col" { (ctx.t("reporting.col.submitted_at")) }
                        th scope="col" { (ctx.t("reporting.col.abnormal")) }
                        th scope="col" { (ctx.t("reporting.col.details")) }
                    } }
                    tbody {
                        @for v in versions {
                            tr {
                                td {
                                    (ctx.tf("reporting.version", &[("n", &v.version)]))
                                    @if v.version as usize == versions.len() {
                                        " " span class="badge rep-current" { (ctx.t("reporting.current")) }
                                    }
                                }
                                td {
                                    (ctx.t(kind_key(v.report.kind)))
                                    @if v.late { " " (late_badge(ctx)) }
                                }
                                td { (v.submitted_by) }
                                td { (datetime(v.submitted_at)) }
                                td { (abnormal_text(ctx.lang, &v.report)) }
                                td {
                                    details {
                                        summary { (ctx.t("reporting.show_figures")) }
                                        (report_facts(ctx, &v.report, items))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The enterprise's own pages

/// The enterprise of an enterprise account (administrators and others have none: the
/// filing pages are not theirs).
fn own_enterprise(ctx: &Ctx) -> WebResult<EnterpriseId> {
    match scope(ctx)? {
        Scope::Enterprise(e) => Ok(e),
        _ => Err(WebError::NotFound("enterprise")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    date: Option<String>,
    done: Option<String>,
}

fn with_status(markup: Markup, status: StatusCode) -> Response {
    (status, markup).into_response()
}

async fn today_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<DayQuery>,
) -> WebResult<Response> {
    let Ok(enterprise) = own_enterprise(&ctx) else {
        // An administrator (who may open every page) has no enterprise to file for.
        let title = ctx.t("reporting.today.title");
        let body = html! {
            h1 { (title) }
            p { (ctx.t("reporting.not_enterprise")) }
            p { a class="button" href="/taskforce" { (ctx.t("reporting.to_board")) } }
        };
        return Ok(page(&ctx, title, body).into_response());
    };
    let (date, errors) = match query_date(&ctx, q.date.as_deref()) {
        Ok(d) => (d, vec![]),
        Err(e) => (today(), vec![e]),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let markup = render_today(
        &st,
        &ctx,
        enterprise,
        &date,
        None,
        &errors,
        q.done.as_deref(),
    )
    .await?;
    Ok(with_status(markup, status))
}

/// The status page of `date`: status and due time, the zero report, the link to the full
/// report, every version of the day and the last two weeks. `zero_on_site` keeps a refused
/// zero report's headcount.
async fn render_today(
    st: &AppState,
    ctx: &Ctx,
    enterprise: EnterpriseId,
    date: &str,
    zero_on_site: Option<&str>,
    errors: &[FieldError],
    done: Option<&str>,
) -> WebResult<Markup> {
    let profile = st
        .store
        .enterprise_profile(enterprise)
        .await?
        .ok_or(WebError::NotFound("enterprise"))?;
    let settings = st.store.reporting_settings().await?;
    let items = st.store.supply_items().await?;
    let versions = st.store.report_versions(enterprise, date).await?;
    let current = versions.last();
    let status = current.map_or(DayStatus::Missing, StoredReport::status);
    let t = today();
    let now = now();
    let deadline = settings.due.deadline(date).unwrap_or(now);
    let headcount = match (zero_on_site, current) {
        (Some(v), _) => v.to_owned(),
        (None, Some(c)) => c.report.on_site.to_string(),
        (None, None) => st
            .store
            .last_report_before(enterprise, date)
            .await?
            .map(|r| r.report.on_site.to_string())
            .unwrap_or_default(),
    };
    let from = days_before(&t, RECENT_DAYS - 1);
    let recent = st
        .store
        .reports_between(Some(enterprise), None, &from, &t)
        .await?;
    let days: Vec<String> = (0..RECENT_DAYS).map(|i| days_before(&t, i)).collect();
    let title = ctx.t("reporting.today.title");
    let is_today = date == t;
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) " · " (profile.enterprise.name) }
            @match done {
                Some("submitted") => (notice(ctx.t("reporting.submitted"))),
                _ => {}
            }
            (error_summary(ctx, errors))
            section class="card rep-status" aria-labelledby="rep-status-h" {
                h2 id="rep-status-h" {
                    @if is_today { (ctx.tf("reporting.today.status", &[("date", &date)])) }
                    @else { (ctx.tf("reporting.day.status", &[("date", &date)])) }
                }
                p class="rep-state" {
                    (status_badge(ctx, status))
                    " "
                    (ctx.tf("reporting.due", &[("due", &settings.due), ("date", &date)]))
                }
                @if status == DayStatus::Missing {
                    @if now > deadline {
                        p class="alert error" { (ctx.t("reporting.overdue_hint")) }
                    } @else {
                        p class="hint" { (ctx.tf("reporting.due_hint", &[("due", &settings.due)])) }
                    }
                }
                @if let Some(c) = current {
                    p { (ctx.tf("reporting.current_version", &[
                        ("n", &c.version), ("by", &c.submitted_by), ("at", &datetime(c.submitted_at)),
                    ])) }
                }
            }
            div class="rep-actions" {
                section class="card" aria-labelledby="rep-zero-h" {
                    h2 id="rep-zero-h" { (ctx.t("reporting.zero.title")) }
                    p class="hint" { (ctx.t("reporting.zero.help")) }
                    form method="post" action="/reporting/zero" class="rep-zero"
                        data-confirm=(ctx.t("reporting.zero.confirm")) {
                        (csrf_field(ctx))
                        input type="hidden" name="date" value=(date);
                        input type="hidden" name="kind" value="zero";
                        (Input::text("on_site", ctx.t("reporting.field.on_site"), &headcount)
                            .kind("number").required().render(ctx, errors))
                        button type="submit" class="primary" { (ctx.t("reporting.zero.submit")) }
                    }
                }
                section class="card" aria-labelledby="rep-full-h" {
                    h2 id="rep-full-h" { (ctx.t("reporting.full.title")) }
                    p class="hint" { (ctx.t("reporting.full.help")) }
                    a class="button primary" href={ "/reporting/report?date=" (date) } {
                        @if current.is_some() { (ctx.t("reporting.full.edit")) }
                        @else { (ctx.t("reporting.full.new")) }
                    }
                }
            }
            section aria-labelledby="rep-history-h" {
                h2 id="rep-history-h" { (ctx.tf("reporting.history.title", &[("date", &date)])) }
                (versions_table(ctx, &versions, &items))
            }
            section aria-labelledby="rep-recent-h" {
                h2 id="rep-recent-h" { (ctx.t("reporting.recent.title")) }
                form method="get" action="/reporting" class="dash-range no-print" {
                    (Input::text("date", ctx.t("reporting.field.date"), date).kind("date").render(ctx, errors))
                    button type="submit" { (ctx.t("reporting.show")) }
                }
                div class="table-wrap" {
                    table class="rep-recent" {
                        thead { tr {
                            th scope="col" { (ctx.t("reporting.col.date")) }
                            th scope="col" { (ctx.t("reporting.col.status")) }
                            th scope="col" { (ctx.t("reporting.col.kind")) }
                            th scope="col" { (ctx.t("reporting.col.version")) }
                            th scope="col" { (ctx.t("reporting.col.abnormal")) }
                        } }
                        tbody {
                            @for d in &days {
                                @let r = recent.iter().find(|r| r.report.date == *d);
                                @let s = r.map_or(DayStatus::Missing, StoredReport::status);
                                tr {
                                    td { a href={ "/reporting?date=" (d) } { (d) } }
                                    td { (status_badge(ctx, s)) }
                                    td { @if let Some(r) = r { (ctx.t(kind_key(r.report.kind))) } }
                                    td { @if let Some(r) = r { (r.version) } }
                                    td { @if let Some(r) = r { (abnormal_text(ctx.lang, &r.report)) } }
                                }
                            }
                        }
                    }
                }
                p { a href="/risk" { (ctx.t("reporting.risk_link")) } }
            }
        },
    ))
}

/// The full report form: the values as typed, and the supply items to list.
fn render_form(
    ctx: &Ctx,
    form: &ReportForm,
    items: &[SupplyItem],
    editing: Option<u32>,
    errors: &[FieldError],
) -> Markup {
    let lang = ctx.lang;
    let title = match editing {
        Some(v) => ctx.tf(
            "reporting.full.edit_title",
            &[("date", &form.date), ("n", &(v + 1))],
        ),
        None => ctx.tf("reporting.full.new_title", &[("date", &form.date)]),
    };
    let num = |field: &'static str| {
        Input::text(field, ctx.t(field_key(field)), form.count_value(field))
            .kind("number")
            .render(ctx, errors)
    };
    let zones_error = field_error(errors, "zones");
    let help_error = field_error(errors, "help");
    page(
        ctx,
        &title,
        html! {
            p { a href={ "/reporting?date=" (form.date) } { (ctx.t("reporting.back")) } }
            h1 { (title) }
            @if editing.is_some() { p class="hint" { (ctx.t("reporting.full.edit_help")) } }
            (error_summary(ctx, errors))
            form method="post" action="/reporting/report" class="rep-form" data-live-check="/reporting/check" {
                (csrf_field(ctx))
                input type="hidden" name="kind" value="full";
                fieldset {
                    legend { (ctx.t("reporting.form.people")) }
                    div class="grid2" {
                        (Input::text("date", ctx.t("reporting.field.date"), &form.date).kind("date").required().render(ctx, errors))
                        (Input::text("on_site", ctx.t("reporting.field.on_site"), &form.on_site)
                            .kind("number").required().hint(ctx.t("reporting.form.on_site_hint")).render(ctx, errors))
                    }
                    div id="f-zones" class={ "rep-zones" @if zones_error.is_some() { " invalid" } }
                        role="group" aria-labelledby="f-zones-label" {
                        span id="f-zones-label" class="group-label" { (ctx.t("reporting.form.zones")) }
                        small class="hint" { (ctx.t("reporting.form.zones_hint")) }
                        div class="grid4" {
                            @for z in Zone::ALL { (num(z.as_str())) }
                        }
                        span class="error" role="alert" data-error-for="zones" {
                            @if let Some(e) = zones_error { (e) }
                        }
                    }
                    div class="grid2" {
                        (Input::text("isolation", ctx.t("reporting.field.isolation"), &form.isolation)
                            .kind("number").hint(ctx.t("reporting.form.isolation_hint")).render(ctx, errors))
                        (Input::text("observation", ctx.t("reporting.field.observation"), &form.observation)
                            .kind("number").hint(ctx.t("reporting.form.observation_hint")).render(ctx, errors))
                    }
                }
                fieldset {
                    legend { (ctx.t("reporting.form.tests")) }
                    div class="grid2" {
                        (num("tests_done"))
                        (num("tests_abnormal"))
                    }
                    div class="field check" {
                        label {
                            input type="checkbox" id="f-disinfected" name="disinfected" value="1" checked[form.disinfected];
                            (ctx.t("reporting.field.disinfected"))
                        }
                    }
                }
                fieldset {
                    legend { (ctx.t("reporting.form.vehicles")) }
                    p class="hint" { (ctx.t("reporting.form.vehicles_hint")) }
                    div class="grid2" {
                        (num("vehicles_in"))
                        (num("vehicles_out"))
                    }
                }
                fieldset {
                    legend { (ctx.t("reporting.form.supplies")) }
                    p class="hint" { (ctx.t("reporting.form.supplies_hint")) }
                    div class="table-wrap" {
                        table class="rep-supplies" {
                            thead { tr {
                                th scope="col" { (ctx.t("reporting.col.item")) }
                                th scope="col" { (ctx.t("reporting.col.stock")) }
                                th scope="col" { (ctx.t("reporting.col.used")) }
                            } }
                            tbody {
                                @for line in &form.supplies {
                                    @let name = item_name(items, &line.item, lang);
                                    @let unit_days = items.iter().any(|i| i.key == line.item
                                        && i.unit == passgate_shared::reporting::SupplyUnit::Days);
                                    @let stock_name = format!("supplies.{}.stock", line.item);
                                    @let used_name = format!("supplies.{}.used", line.item);
                                    @let line_error = field_error(errors, &format!("supplies.{}", line.item));
                                    tr {
                                        th scope="row" {
                                            (name)
                                            @if unit_days { " " small { (ctx.t("reporting.supply.days")) } }
                                            @if let Some(e) = line_error { span class="error" role="alert" { (e) } }
                                        }
                                        td { (supply_input(&stock_name, &name, ctx.t("reporting.col.stock"), &line.stock, errors)) }
                                        td { (supply_input(&used_name, &name, ctx.t("reporting.col.used"), &line.used, errors)) }
                                    }
                                }
                            }
                        }
                    }
                }
                fieldset {
                    legend { (ctx.t("reporting.form.help")) }
                    div id="f-help" class={ "field" @if help_error.is_some() { " invalid" } } role="group"
                        aria-labelledby="f-help-label" {
                        span id="f-help-label" class="group-label" { (ctx.t("reporting.field.help")) }
                        ul class="checks" {
                            @for h in HelpKind::ALL {
                                li { label {
                                    input type="checkbox" name="help" value=(h.as_str())
                                        checked[form.help.iter().any(|x| x == h.as_str())];
                                    " " (h.label(lang))
                                } }
                            }
                        }
                        span class="error" role="alert" data-error-for="help" { @if let Some(e) = help_error { (e) } }
                    }
                    @let text_error = field_error(errors, "help_text");
                    div class={ "field" @if text_error.is_some() { " invalid" } } {
                        label for="f-help_text" { (ctx.t("reporting.field.help_text")) }
                        textarea id="f-help_text" name="help_text" rows="3" maxlength="500"
                            aria-invalid=[text_error.map(|_| "true")] { (form.help_text) }
                        small class="hint" { (ctx.t("reporting.form.help_hint")) }
                        span class="error" role="alert" data-error-for="help_text" { @if let Some(e) = text_error { (e) } }
                    }
                }
                span class="error" role="alert" data-error-for="kind" { @if let Some(e) = field_error(errors, "kind") { (e) } }
                div class="actions" {
                    button type="submit" class="primary" { (ctx.t("reporting.full.submit")) }
                    a href={ "/reporting?date=" (form.date) } { (ctx.t("reporting.cancel")) }
                }
            }
        },
    )
}

/// One number input of the supplies table: the visible column header names it, a hidden
/// label says which item it is for.
fn supply_input(
    name: &str,
    item: &str,
    column: &str,
    value: &str,
    errors: &[FieldError],
) -> Markup {
    let id = format!("f-{name}");
    let err = field_error(errors, name);
    html! {
        div class={ "field" @if err.is_some() { " invalid" } } {
            label for=(id) class="sr-only" { (item) " " (column) }
            input id=(id) name=(name) type="number" value=(value)
                aria-invalid=[err.map(|_| "true")];
            span class="error" role="alert" data-error-for=(name) { @if let Some(e) = err { (e) } }
        }
    }
}

async fn report_form(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<DayQuery>,
) -> WebResult<Response> {
    let enterprise = own_enterprise(&ctx)?;
    let date = match query_date(&ctx, q.date.as_deref()) {
        Ok(d) => d,
        Err(e) => return Err(WebError::Validation(vec![e])),
    };
    let items = active_items(&st).await?;
    let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
    let current = st.store.current_report(enterprise, &date).await?;
    let vehicles = st.store.vehicle_counts(enterprise, &date).await?;
    let (form, editing) = match &current {
        Some(c) if c.report.kind == ReportKind::Full => {
            (ReportForm::from_report(&c.report, &keys), Some(c.version))
        }
        _ => {
            // A new full report (or one replacing a zero report): vehicles from the
            // enterprise's own checkpoints, supplies from its last report, the headcount
            // from today's zero report if there is one.
            let mut f = ReportForm::empty(&date, ReportKind::Full, &keys);
            f.vehicles_in = vehicles.vehicles_in.to_string();
            f.vehicles_out = vehicles.vehicles_out.to_string();
            if let Some(last) = st.store.last_report_before(enterprise, &date).await? {
                for line in &mut f.supplies {
                    if let Some(s) = last.report.supplies.iter().find(|s| s.item == line.item) {
                        line.stock = s.stock.to_string();
                    }
                }
                f.on_site = last.report.on_site.to_string();
            }
            if let Some(c) = &current {
                f.on_site = c.report.on_site.to_string();
            }
            (f, current.as_ref().map(|c| c.version))
        }
    };
    Ok(render_form(&ctx, &form, &items, editing, &[]).into_response())
}

/// Every problem of a typed report: what the form could not read, then what the shared
/// rules say about the rest (empty when there is none).
fn problems(ctx: &Ctx, form: &ReportForm, items: &[SupplyItem]) -> Vec<FieldError> {
    let (draft, form_errors) = form.to_draft(ctx.lang);
    let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let rules = validate_report(&draft, &keys, now())
        .err()
        .unwrap_or_default();
    merge_problems(ctx.lang, form_errors, rules)
}

/// File a typed report through the API's own path (`routes::reports::submit`: the shared
/// rules, the next version, the configured due time, the audit entry). `Ok(date)` once
/// stored, or every problem of the form.
async fn file(
    st: &AppState,
    ctx: &Ctx,
    enterprise: EnterpriseId,
    form: &ReportForm,
    items: &[SupplyItem],
) -> WebResult<Result<String, Vec<FieldError>>> {
    let (draft, form_errors) = form.to_draft(ctx.lang);
    if !form_errors.is_empty() {
        return Ok(Err(problems(ctx, form, items)));
    }
    let user = ctx.user()?;
    Ok(
        match crate::routes::reports::submit(st, enterprise, &draft, &user.username, now()).await? {
            Ok(stored) => Ok(stored.report.date),
            Err(rules) => Err(merge_problems(ctx.lang, Vec::new(), rules)),
        },
    )
}

async fn file_full(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let enterprise = own_enterprise(&ctx)?;
    let items = active_items(&st).await?;
    let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
    let mut form = ReportForm::parse(&body, &keys);
    form.kind = ReportKind::Full.as_str().to_owned();
    match file(&st, &ctx, enterprise, &form, &items).await? {
        Ok(date) => Ok(see_other(&format!("/reporting?date={date}&done=submitted"))),
        Err(errors) => {
            let current = match local_day_range(form.date.trim()) {
                Some(_) => {
                    st.store
                        .current_report(enterprise, form.date.trim())
                        .await?
                }
                None => None,
            };
            let markup = render_form(&ctx, &form, &items, current.map(|c| c.version), &errors);
            Ok(with_status(markup, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

async fn file_zero(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let enterprise = own_enterprise(&ctx)?;
    let items = active_items(&st).await?;
    let mut form = ReportForm::parse(&body, &[]);
    form.kind = ReportKind::Zero.as_str().to_owned();
    match file(&st, &ctx, enterprise, &form, &items).await? {
        Ok(date) => Ok(see_other(&format!("/reporting?date={date}&done=submitted"))),
        Err(errors) => {
            let date = query_date(&ctx, Some(&form.date)).unwrap_or_else(|_| today());
            let markup = render_today(
                &st,
                &ctx,
                enterprise,
                &date,
                Some(&form.on_site),
                &errors,
                None,
            )
            .await?;
            Ok(with_status(markup, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

/// Checks as you type: the same rules as the submit, as `{"errors": [{field, message}]}`.
async fn check(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    own_enterprise(&ctx)?;
    let items = active_items(&st).await?;
    let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
    let form = ReportForm::parse(&body, &keys);
    let errors = problems(&ctx, &form, &items);
    Ok(Json(serde_json::json!({ "errors": errors })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: UserRole, team: Option<i64>, enterprise: Option<u32>) -> User {
        User {
            id: 1,
            username: "u".into(),
            display_name: "u".into(),
            role,
            enterprise_id: enterprise.map(EnterpriseId),
            team_id: team,
            password_hash: String::new(),
            must_change_password: false,
            active: true,
            created_at: 0,
            last_login_at: None,
        }
    }

    #[test]
    fn each_role_sees_its_enterprises() {
        let e = EnterpriseId(7);
        let all = Scope::of(&user(UserRole::Taskforce, None, None));
        assert!(all.allows(e, None) && all.allows(e, Some(3)));
        let team = Scope::of(&user(UserRole::Supervisor, Some(3), None));
        assert!(team.allows(e, Some(3)));
        assert!(!team.allows(e, Some(4)) && !team.allows(e, None));
        assert_eq!(team.team_filter(), Some(Some(3)));
        let lost = Scope::of(&user(UserRole::Supervisor, None, None));
        assert!(!lost.allows(e, Some(3)));
        assert_eq!(lost.team_filter(), None);
        let own = Scope::of(&user(UserRole::Enterprise, None, Some(7)));
        assert!(own.allows(e, Some(1)) && !own.allows(EnterpriseId(8), Some(1)));
        assert_eq!(Scope::of(&user(UserRole::Ops, None, None)), Scope::Nothing);
    }

    #[test]
    fn days_count_back_in_beijing_days() {
        assert_eq!(days_before("2022-03-01", 1), "2022-02-28");
        assert_eq!(days_before("2022-04-01", 13), "2022-03-19");
    }
}
