//! The task force's board (专班看板) for the task force, administrators and supervision teams:
//! a day's reporting coverage per supervision team (reported, zero-reported, late, missing,
//! each count a link to its enterprises), the abnormal enterprises with the reasons the
//! shared rules give, supplies whose days of cover are below their threshold, and the open
//! risk cases with overdue steps marked; every table as Excel or CSV. A page per enterprise
//! shows its profile, grids, report history over a range and charts.
//!
//! Supervisors see the enterprises of their own team only: another team's enterprise, team
//! or case answers "not found". Counts come from [`crate::store::ReportingStore::day_overview`]
//! and the shared rules (`DayEntry::status`, `Coverage`, `abnormalities`, `days_of_cover`,
//! `supply_warning`); nothing is counted twice in two ways.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use passgate_shared::reporting::{CONSUMPTION_WINDOW, Coverage, DayStatus, Zone, abnormalities};
use passgate_shared::{EnterpriseId, Lang};
use serde::Deserialize;

use super::access::{Access, roles};
use super::chart::{Chart, ChartKind, Series};
use super::dashboard::{DashTable, Range, parse_format, parse_range, render_table};
use super::export::{self, Cell, Table};
use super::i18n::{tr, trf};
use super::layout::{Input, error_summary, page, select, trusted};
use super::reporting::{
    Scope, abnormal_text, item_name, kind_key, query_date, report_facts, scope, status_badge,
    status_key, versions_table, visible_enterprise,
};
use super::{Ctx, Page, WebError, WebResult};
use crate::error::FieldError;
use crate::routes::reports::supply_cover;
use crate::state::{AppState, now};
use crate::store::reporting::{
    DayEntry, EnterpriseProfile, ReportingSettings, RiskCase, RiskCaseFilter, StoredReport,
    SupplyItem, Team,
};

pub fn pages() -> Vec<Page> {
    let who = Access::Roles(roles::TASKFORCE_VIEW);
    vec![
        Page::get("/taskforce", who, get(board)),
        Page::get("/taskforce/coverage", who, get(bucket)),
        Page::get("/taskforce/export/{table}", who, get(export_table)),
        Page::get("/taskforce/enterprises/{id}", who, get(enterprise_page)),
        Page::get("/taskforce/enterprises/{id}/day", who, get(enterprise_day)),
        Page::get(
            "/taskforce/enterprises/{id}/export",
            who,
            get(enterprise_export),
        ),
    ]
}

/// The board's tables, in page order (also the names of their exports).
pub const TABLES: [&str; 5] = ["coverage", "abnormal", "supplies", "risk", "bucket"];

/// The days of history an enterprise page shows unless asked otherwise.
const HISTORY_DAYS: i64 = 14;

// ---------------------------------------------------------------------------------------
// Statuses in links

/// A status as it is written in a link (`?status=missing`).
pub fn status_str(s: DayStatus) -> &'static str {
    match s {
        DayStatus::Reported => "reported",
        DayStatus::ZeroReported => "zero_reported",
        DayStatus::Late => "late",
        DayStatus::Missing => "missing",
    }
}

pub const STATUSES: [DayStatus; 4] = [
    DayStatus::Reported,
    DayStatus::ZeroReported,
    DayStatus::Late,
    DayStatus::Missing,
];

fn parse_status(s: &str) -> Option<DayStatus> {
    STATUSES.into_iter().find(|x| status_str(*x) == s)
}

// ---------------------------------------------------------------------------------------
// The query: a day and a team

#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    date: Option<String>,
    team: Option<String>,
    status: Option<String>,
    format: Option<String>,
}

/// Which team a page is narrowed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TeamPick {
    /// Every team in the user's scope.
    Any,
    Team(i64),
    /// Enterprises not yet given a team.
    NoTeam,
}

impl TeamPick {
    fn param(self) -> String {
        match self {
            TeamPick::Any => String::new(),
            TeamPick::Team(t) => t.to_string(),
            TeamPick::NoTeam => "none".into(),
        }
    }

    fn holds(self, team: Option<i64>) -> bool {
        match self {
            TeamPick::Any => true,
            TeamPick::Team(t) => team == Some(t),
            TeamPick::NoTeam => team.is_none(),
        }
    }
}

/// The team asked for, checked against the user's scope: a supervisor asking for another
/// team (or for the enterprises without one) gets "not found".
fn team_pick(lang: Lang, scope: Scope, raw: Option<&str>) -> WebResult<TeamPick> {
    let pick = match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => TeamPick::Any,
        Some("none") => TeamPick::NoTeam,
        Some(t) => match t.parse::<i64>() {
            Ok(id) => TeamPick::Team(id),
            Err(_) => {
                return Err(WebError::Validation(vec![FieldError::new(
                    "team",
                    tr(lang, "taskforce.error.team"),
                )]));
            }
        },
    };
    match (scope, pick) {
        (Scope::Team(own), TeamPick::Team(t)) if t != own => Err(WebError::NotFound("team")),
        (Scope::Team(_), TeamPick::NoTeam) => Err(WebError::NotFound("team")),
        _ => Ok(pick),
    }
}

/// Everything the board shows for one day.
struct Board {
    date: String,
    pick: TeamPick,
    teams: Vec<Team>,
    /// The enterprises in scope and in the chosen team, with their day.
    entries: Vec<DayEntry>,
    settings: ReportingSettings,
    items: Vec<SupplyItem>,
    warnings: Vec<Warning>,
    cases: Vec<RiskCase>,
    names: HashMap<EnterpriseId, String>,
}

/// A supply below its threshold.
struct Warning {
    enterprise: EnterpriseId,
    team: Option<i64>,
    item: String,
    stock: u32,
    /// Days of cover, one decimal.
    cover: f64,
    threshold: u32,
}

async fn load(
    st: &AppState,
    ctx: &Ctx,
    date: String,
    pick: TeamPick,
    with_details: bool,
) -> WebResult<Board> {
    let scope = scope(ctx)?;
    let teams: Vec<Team> = st
        .store
        .list_teams()
        .await?
        .into_iter()
        .filter(|t| {
            scope
                .team_filter()
                .is_some_and(|f| f.is_none_or(|f| f == t.id))
        })
        .collect();
    let settings = st.store.reporting_settings().await?;
    let items = st.store.supply_items().await?;
    let entries: Vec<DayEntry> = match scope.team_filter() {
        None => Vec::new(),
        Some(own) => {
            let team = own.or(match pick {
                TeamPick::Team(t) => Some(t),
                _ => None,
            });
            st.store
                .day_overview(&date, team)
                .await?
                .into_iter()
                .filter(|e| scope.allows(e.enterprise.id, e.team_id) && pick.holds(e.team_id))
                .collect()
        }
    };
    let names = entries
        .iter()
        .map(|e| (e.enterprise.id, e.enterprise.name.clone()))
        .collect();
    let mut warnings = Vec::new();
    let mut cases = Vec::new();
    if with_details {
        for e in &entries {
            for c in supply_cover(st, e.enterprise.id, &date).await? {
                if c.warning {
                    warnings.push(Warning {
                        enterprise: e.enterprise.id,
                        team: e.team_id,
                        cover: c.days_of_cover.map_or(0.0, |d| (d * 10.0).round() / 10.0),
                        stock: c.stock.unwrap_or(0),
                        threshold: c.warn_days,
                        item: c.item,
                    });
                }
            }
        }
        if let Some(own) = scope.team_filter() {
            let team = own.or(match pick {
                TeamPick::Team(t) => Some(t),
                _ => None,
            });
            let in_scope: HashMap<EnterpriseId, Option<i64>> = entries
                .iter()
                .map(|e| (e.enterprise.id, e.team_id))
                .collect();
            cases = st
                .store
                .list_risk_cases(&RiskCaseFilter {
                    enterprise: None,
                    team,
                    open_only: true,
                })
                .await?
                .into_iter()
                .filter(|c| in_scope.contains_key(&c.enterprise_id))
                .collect();
        }
    }
    Ok(Board {
        date,
        pick,
        teams,
        entries,
        settings,
        items,
        warnings,
        cases,
        names,
    })
}

fn team_name(lang: Lang, teams: &[Team], id: Option<i64>) -> String {
    match id {
        None => tr(lang, "taskforce.no_team").to_owned(),
        Some(id) => teams
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| format!("#{id}"), |t| t.name.clone()),
    }
}

fn h(lang: Lang, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| tr(lang, k).to_owned()).collect()
}

fn title_key(id: &str) -> &'static str {
    match id {
        "coverage" => crate::k!("taskforce.coverage.title"),
        "abnormal" => crate::k!("taskforce.abnormal.title"),
        "supplies" => crate::k!("taskforce.supplies.title"),
        "risk" => crate::k!("taskforce.risk.title"),
        _ => crate::k!("taskforce.bucket.title"),
    }
}

fn bucket_link(b: &Board, team: TeamPick, status: Option<DayStatus>) -> String {
    let mut s = format!("/taskforce/coverage?date={}&team={}", b.date, team.param());
    if let Some(st) = status {
        s.push_str("&status=");
        s.push_str(status_str(st));
    }
    s
}

fn enterprise_link(id: EnterpriseId) -> String {
    format!("/taskforce/enterprises/{}", id.0)
}

/// Coverage per team: each team in scope (all of them, even without enterprises), then
/// the enterprises without a team when there are any, then the total.
pub fn coverage_by_team(entries: &[DayEntry]) -> BTreeMap<Option<i64>, Coverage> {
    let mut by: BTreeMap<Option<i64>, Coverage> = BTreeMap::new();
    for e in entries {
        by.entry(e.team_id).or_default().add(e.status());
    }
    by
}

fn build(lang: Lang, b: &Board, id: &str, status: Option<DayStatus>) -> Option<DashTable> {
    let now = now();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut links: Vec<Vec<Option<String>>> = Vec::new();
    let mut row_classes = Vec::new();
    let headers = match id {
        "coverage" => {
            let by = coverage_by_team(&b.entries);
            let mut teams: Vec<Option<i64>> = b
                .teams
                .iter()
                .map(|t| Some(t.id))
                .filter(|t| b.pick.holds(*t))
                .collect();
            if by.contains_key(&None) {
                teams.push(None);
            }
            let mut total = Coverage::default();
            for team in teams {
                let c = by.get(&team).copied().unwrap_or_default();
                let pick = team.map_or(TeamPick::NoTeam, TeamPick::Team);
                let counts = [c.reported, c.zero_reported, c.late, c.missing];
                let mut row = vec![Cell::text(team_name(lang, &b.teams, team))];
                row.push(u64::from(c.total()).into());
                row.extend(counts.iter().map(|n| Cell::from(u64::from(*n))));
                rows.push(row);
                let mut l = vec![None, Some(bucket_link(b, pick, None))];
                l.extend(
                    STATUSES
                        .iter()
                        .map(|s| Some(bucket_link(b, pick, Some(*s)))),
                );
                links.push(l);
                total.reported += c.reported;
                total.zero_reported += c.zero_reported;
                total.late += c.late;
                total.missing += c.missing;
            }
            let mut row = vec![
                Cell::text(tr(lang, "taskforce.total")),
                u64::from(total.total()).into(),
            ];
            row.extend(
                [
                    total.reported,
                    total.zero_reported,
                    total.late,
                    total.missing,
                ]
                .iter()
                .map(|n| Cell::from(u64::from(*n))),
            );
            rows.push(row);
            let mut l = vec![None, Some(bucket_link(b, b.pick, None))];
            l.extend(
                STATUSES
                    .iter()
                    .map(|s| Some(bucket_link(b, b.pick, Some(*s)))),
            );
            links.push(l);
            let mut hs = h(lang, &["taskforce.col.team", "taskforce.col.enterprises"]);
            hs.extend(STATUSES.iter().map(|s| tr(lang, status_key(*s)).to_owned()));
            hs
        }
        "abnormal" => {
            for e in &b.entries {
                let Some(r) = &e.report else { continue };
                if abnormalities(&r.report).is_empty() {
                    continue;
                }
                rows.push(vec![
                    Cell::text(e.enterprise.name.clone()),
                    Cell::text(team_name(lang, &b.teams, e.team_id)),
                    Cell::text(tr(lang, status_key(e.status()))),
                    Cell::text(abnormal_text(lang, &r.report)),
                    Cell::from(u64::from(r.report.red)),
                    Cell::from(u64::from(r.report.yellow)),
                    Cell::from(u64::from(r.report.tests_abnormal)),
                    Cell::text(r.report.help_text.clone()),
                    Cell::DateTime(r.submitted_at),
                ]);
                links.push(vec![Some(enterprise_link(e.enterprise.id))]);
            }
            h(
                lang,
                &[
                    "taskforce.col.enterprise",
                    "taskforce.col.team",
                    "taskforce.col.status",
                    "taskforce.col.reasons",
                    "reporting.field.red",
                    "reporting.field.yellow",
                    "reporting.field.tests_abnormal",
                    "reporting.field.help_text",
                    "taskforce.col.submitted_at",
                ],
            )
        }
        "supplies" => {
            for w in &b.warnings {
                rows.push(vec![
                    Cell::text(b.names.get(&w.enterprise).cloned().unwrap_or_default()),
                    Cell::text(team_name(lang, &b.teams, w.team)),
                    Cell::text(item_name(&b.items, &w.item, lang)),
                    Cell::from(u64::from(w.stock)),
                    Cell::Float(w.cover),
                    Cell::from(u64::from(w.threshold)),
                ]);
                links.push(vec![Some(enterprise_link(w.enterprise))]);
            }
            h(
                lang,
                &[
                    "taskforce.col.enterprise",
                    "taskforce.col.team",
                    "taskforce.col.item",
                    "taskforce.col.stock",
                    "taskforce.col.cover",
                    "taskforce.col.threshold",
                ],
            )
        }
        "risk" => {
            for c in &b.cases {
                let overdue = c.overdue(&b.settings, now);
                let open = c.open_step();
                rows.push(vec![
                    Cell::text(b.names.get(&c.enterprise_id).cloned().unwrap_or_default()),
                    Cell::text(c.subject.clone()),
                    Cell::text(format!("{}. {}", c.step.number(), c.step.label(lang))),
                    Cell::text(
                        open.map(|s| format!("{}. {}", s.number(), s.label(lang)))
                            .unwrap_or_default(),
                    ),
                    c.due_at(&b.settings).map_or(Cell::Empty, Cell::DateTime),
                    Cell::text(if overdue {
                        tr(lang, "risk.overdue")
                    } else {
                        tr(lang, "risk.on_time")
                    }),
                ]);
                links.push(vec![
                    Some(enterprise_link(c.enterprise_id)),
                    Some(format!("/risk/{}", c.id)),
                ]);
                row_classes.push(overdue.then_some("rep-overdue"));
            }
            h(
                lang,
                &[
                    "taskforce.col.enterprise",
                    "risk.col.subject",
                    "risk.col.done",
                    "risk.col.open",
                    "risk.col.due",
                    "risk.col.state",
                ],
            )
        }
        "bucket" => {
            for e in b
                .entries
                .iter()
                .filter(|e| status.is_none_or(|s| e.status() == s))
            {
                let r = e.report.as_ref();
                rows.push(vec![
                    Cell::text(e.enterprise.name.clone()),
                    Cell::text(team_name(lang, &b.teams, e.team_id)),
                    Cell::text(tr(lang, status_key(e.status()))),
                    r.map_or(Cell::Empty, |r| {
                        Cell::text(tr(lang, kind_key(r.report.kind)))
                    }),
                    r.map_or(Cell::Empty, |r| Cell::from(u64::from(r.version))),
                    r.map_or(Cell::Empty, |r| Cell::DateTime(r.first_submitted_at)),
                    r.map_or(Cell::Empty, |r| Cell::DateTime(r.submitted_at)),
                    r.map_or(Cell::Empty, |r| Cell::text(abnormal_text(lang, &r.report))),
                ]);
                links.push(vec![
                    Some(enterprise_link(e.enterprise.id)),
                    None,
                    r.map(|_| {
                        format!(
                            "/taskforce/enterprises/{}/day?date={}",
                            e.enterprise.id.0, b.date
                        )
                    }),
                ]);
                row_classes.push((e.status() == DayStatus::Missing).then_some("rep-missing-row"));
            }
            h(
                lang,
                &[
                    "taskforce.col.enterprise",
                    "taskforce.col.team",
                    "taskforce.col.status",
                    "reporting.col.kind",
                    "reporting.col.version",
                    "taskforce.col.first_submitted_at",
                    "taskforce.col.submitted_at",
                    "taskforce.col.reasons",
                ],
            )
        }
        _ => return None,
    };
    let id = TABLES.into_iter().find(|t| *t == id)?;
    let name = match (id, status) {
        ("bucket", Some(s)) => trf(
            lang,
            "taskforce.bucket.named",
            &[("status", &tr(lang, status_key(s))), ("date", &b.date)],
        ),
        _ => tr(lang, title_key(id)).to_owned(),
    };
    Some(DashTable {
        id,
        table: Table {
            name,
            headers,
            rows,
        },
        links,
        row_classes,
    })
}

fn export_links(ctx: &Ctx, b: &Board, id: &str, status: Option<DayStatus>) -> Markup {
    let mut base = format!(
        "/taskforce/export/{id}?date={}&team={}",
        b.date,
        b.pick.param()
    );
    if let Some(s) = status {
        base.push_str("&status=");
        base.push_str(status_str(s));
    }
    html! {
        p class="exports no-print" {
            a href={ (base) "&format=xlsx" } download { (ctx.t("taskforce.export.xlsx")) }
            " "
            a href={ (base) "&format=csv" } download { (ctx.t("taskforce.export.csv")) }
        }
    }
}

fn team_options(b: &Board) -> Vec<(String, String)> {
    b.teams
        .iter()
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect()
}

fn day_form(
    ctx: &Ctx,
    action: &str,
    b: Option<&Board>,
    date: &str,
    errors: &[FieldError],
) -> Markup {
    let options = b.map(team_options).unwrap_or_default();
    let show_team = ctx
        .user
        .as_ref()
        .is_some_and(|u| Scope::of(u) == Scope::All);
    html! {
        form method="get" action=(action) class="dash-range no-print" {
            (Input::text("date", ctx.t("reporting.field.date"), date).kind("date").render(ctx, errors))
            @if show_team {
                (select(ctx, "team", ctx.t("taskforce.col.team"), &options,
                    &b.map(|b| b.pick.param()).unwrap_or_default(), false, errors))
            }
            button type="submit" { (ctx.t("reporting.show")) }
        }
    }
}

async fn board(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<BoardQuery>,
) -> WebResult<Response> {
    let title = ctx.t("taskforce.title");
    let date = match query_date(&ctx, q.date.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            let errors = vec![e];
            let body = html! {
                h1 { (title) }
                (error_summary(&ctx, &errors))
                (day_form(&ctx, "/taskforce", None, q.date.as_deref().unwrap_or_default(), &errors))
            };
            return Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                page(&ctx, title, body),
            )
                .into_response());
        }
    };
    let pick = team_pick(ctx.lang, scope(&ctx)?, q.team.as_deref())?;
    let b = load(&st, &ctx, date, pick, true).await?;
    let mut total = Coverage::default();
    for e in &b.entries {
        total.add(e.status());
    }
    let abnormal = b
        .entries
        .iter()
        .filter(|e| {
            e.report
                .as_ref()
                .is_some_and(|r| !abnormalities(&r.report).is_empty())
        })
        .count();
    let overdue = b
        .cases
        .iter()
        .filter(|c| c.overdue(&b.settings, now()))
        .count();
    let tables: Vec<DashTable> = ["coverage", "abnormal", "supplies", "risk"]
        .iter()
        .filter_map(|id| build(ctx.lang, &b, id, None))
        .collect();
    let body = html! {
        h1 { (title) }
        p class="lead" {
            (ctx.tf("taskforce.lead", &[("date", &b.date), ("due", &b.settings.due)]))
            @if let Scope::Team(t) = scope(&ctx)? {
                " " (ctx.tf("taskforce.own_team", &[("team", &team_name(ctx.lang, &b.teams, Some(t)))]))
            }
        }
        (day_form(&ctx, "/taskforce", Some(&b), &b.date, &[]))
        ul class="kpis" id="rep-kpis" {
            li class="kpi" { span { (ctx.t("taskforce.kpi.enterprises")) } div class="n" data-kpi="total" { (total.total()) } }
            @for s in STATUSES {
                li class={ "kpi kpi-" (status_str(s)) } {
                    span { (ctx.t(status_key(s))) }
                    div class="n" data-kpi=(status_str(s)) {
                        a href=(bucket_link(&b, b.pick, Some(s))) {
                            (match s {
                                DayStatus::Reported => total.reported,
                                DayStatus::ZeroReported => total.zero_reported,
                                DayStatus::Late => total.late,
                                DayStatus::Missing => total.missing,
                            })
                        }
                    }
                }
            }
            li class="kpi" { span { (ctx.t("taskforce.kpi.abnormal")) } div class="n" data-kpi="abnormal" { (abnormal) } }
            li class="kpi" { span { (ctx.t("taskforce.kpi.warnings")) } div class="n" data-kpi="warnings" { (b.warnings.len()) } }
            li class="kpi" { span { (ctx.t("taskforce.kpi.overdue")) } div class="n" data-kpi="overdue" { (overdue) } }
        }
        @for t in &tables {
            section class="dash-section" id={ "t-" (t.id) } {
                h2 { (t.table.name) }
                @match t.id {
                    "coverage" => p class="hint" { (ctx.t("taskforce.coverage.note")) },
                    "supplies" => p class="hint" { (ctx.tf("taskforce.supplies.note", &[("n", &CONSUMPTION_WINDOW)])) },
                    "risk" => p class="hint" { (ctx.t("taskforce.risk.note")) },
                    _ => {}
                }
                (render_table(&ctx, t))
                (export_links(&ctx, &b, t.id, None))
            }
        }
    };
    Ok(page(&ctx, title, body).into_response())
}

/// The enterprises of one bucket (a team's missing reports, say).
async fn bucket(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<BoardQuery>,
) -> WebResult<Response> {
    let date = query_date(&ctx, q.date.as_deref()).map_err(|e| WebError::Validation(vec![e]))?;
    let pick = team_pick(ctx.lang, scope(&ctx)?, q.team.as_deref())?;
    let status = bucket_status(ctx.lang, q.status.as_deref())?;
    let b = load(&st, &ctx, date, pick, false).await?;
    let t = build(ctx.lang, &b, "bucket", status)
        .ok_or_else(|| WebError::Internal("bucket table".into()))?;
    let team_text = match pick {
        TeamPick::Any => ctx.t("taskforce.all_teams").to_owned(),
        TeamPick::Team(id) => team_name(ctx.lang, &b.teams, Some(id)),
        TeamPick::NoTeam => ctx.t("taskforce.no_team").to_owned(),
    };
    let title = t.table.name.clone();
    let body = html! {
        p { a href={ "/taskforce?date=" (b.date) "&team=" (b.pick.param()) } { (ctx.t("taskforce.back")) } }
        h1 { (title) }
        p class="lead" { (ctx.tf("taskforce.bucket.lead", &[("team", &team_text), ("n", &t.table.rows.len())])) }
        @if let Some(s) = status { p { (status_badge(&ctx, s)) } }
        (render_table(&ctx, &t))
        (export_links(&ctx, &b, "bucket", status))
    };
    Ok(page(&ctx, &title, body).into_response())
}

fn bucket_status(lang: Lang, raw: Option<&str>) -> WebResult<Option<DayStatus>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_status(s).map(Some).ok_or_else(|| {
            WebError::Validation(vec![FieldError::new(
                "status",
                tr(lang, "taskforce.error.status"),
            )])
        }),
    }
}

async fn export_table(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<BoardQuery>,
) -> WebResult<Response> {
    if !TABLES.contains(&id.as_str()) {
        return Err(WebError::NotFound("table"));
    }
    let format = parse_format(ctx.lang, q.format.as_deref())?;
    let date = query_date(&ctx, q.date.as_deref()).map_err(|e| WebError::Validation(vec![e]))?;
    let pick = team_pick(ctx.lang, scope(&ctx)?, q.team.as_deref())?;
    let status = bucket_status(ctx.lang, q.status.as_deref())?;
    let details = matches!(id.as_str(), "supplies" | "risk");
    let b = load(&st, &ctx, date, pick, details).await?;
    let t = build(ctx.lang, &b, &id, status).ok_or(WebError::NotFound("table"))?;
    let stem = format!("{}_{}", t.table.name, b.date);
    export::download(&t.table, format, &stem)
}

// ---------------------------------------------------------------------------------------
// One enterprise

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    date: Option<String>,
    format: Option<String>,
}

fn path_id(raw: &str) -> WebResult<EnterpriseId> {
    raw.trim()
        .parse::<u32>()
        .map(EnterpriseId)
        .map_err(|_| WebError::NotFound("enterprise"))
}

/// The range of an enterprise page: the last two weeks unless asked.
fn history_range(lang: Lang, q: &RangeQuery) -> Result<Range, Vec<FieldError>> {
    let t = super::reporting::today();
    let from = q
        .from
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| super::reporting::days_before(&t, HISTORY_DAYS - 1));
    let to = q.to.clone().filter(|s| !s.trim().is_empty()).unwrap_or(t);
    parse_range(lang, Some(&from), Some(&to))
}

/// The history table: one row per day of the range, the current version of its report.
fn history_table(
    lang: Lang,
    profile: &EnterpriseProfile,
    range: &Range,
    reports: &[StoredReport],
) -> DashTable {
    let mut rows = Vec::new();
    let mut links = Vec::new();
    let mut row_classes = Vec::new();
    for d in &range.days {
        let r = reports.iter().find(|r| r.report.date == *d);
        let status = r.map_or(DayStatus::Missing, StoredReport::status);
        let n =
            |f: fn(&StoredReport) -> u32| r.map_or(Cell::Empty, |r| Cell::from(u64::from(f(r))));
        rows.push(vec![
            Cell::text(d.clone()),
            Cell::text(tr(lang, status_key(status))),
            r.map_or(Cell::Empty, |r| {
                Cell::text(tr(lang, kind_key(r.report.kind)))
            }),
            n(|r| r.version),
            n(|r| r.report.on_site),
            n(|r| r.report.green),
            n(|r| r.report.blue),
            n(|r| r.report.yellow),
            n(|r| r.report.red),
            n(|r| r.report.tests_done),
            n(|r| r.report.tests_abnormal),
            n(|r| r.report.vehicles_in),
            n(|r| r.report.vehicles_out),
            r.map_or(Cell::Empty, |r| Cell::text(abnormal_text(lang, &r.report))),
        ]);
        links.push(vec![r.map(|_| {
            format!(
                "/taskforce/enterprises/{}/day?date={d}",
                profile.enterprise.id.0
            )
        })]);
        row_classes.push(match status {
            DayStatus::Missing => Some("rep-missing-row"),
            DayStatus::Late => Some("rep-late-row"),
            _ => None,
        });
    }
    let mut headers = h(
        lang,
        &[
            "reporting.col.date",
            "reporting.col.status",
            "reporting.col.kind",
            "reporting.col.version",
        ],
    );
    headers.extend(
        [
            "on_site",
            "green",
            "blue",
            "yellow",
            "red",
            "tests_done",
            "tests_abnormal",
            "vehicles_in",
            "vehicles_out",
        ]
        .iter()
        .map(|f| tr(lang, super::reporting::field_key(f)).to_owned()),
    );
    headers.push(tr(lang, "taskforce.col.reasons").to_owned());
    DashTable {
        id: "history",
        table: Table {
            name: trf(
                lang,
                "taskforce.history.named",
                &[("name", &profile.enterprise.name)],
            ),
            headers,
            rows,
        },
        links,
        row_classes,
    }
}

/// The charts of an enterprise page. Only the days with a report are drawn: a day without
/// one is not a day with nobody on site.
fn charts(ctx: &Ctx, range: &Range, reports: &[StoredReport], items: &[SupplyItem]) -> Markup {
    let lang = ctx.lang;
    let filed: Vec<&StoredReport> = range
        .days
        .iter()
        .filter_map(|d| reports.iter().find(|r| r.report.date == *d))
        .collect();
    let labels: Vec<String> = filed
        .iter()
        .map(|r| r.report.date.get(5..).unwrap_or(&r.report.date).to_owned())
        .collect();
    let per_day = |f: &dyn Fn(&StoredReport) -> u32| -> Vec<f64> {
        filed.iter().map(|r| f64::from(f(r))).collect()
    };
    let desc = ctx.tf(
        "taskforce.chart.desc",
        &[("from", &range.from), ("to", &range.to)],
    );
    let zones = Chart {
        id: "chart-zones".into(),
        kind: ChartKind::Line,
        title: ctx.t("taskforce.chart.zones").into(),
        desc: desc.clone(),
        labels: labels.clone(),
        series: Zone::ALL
            .iter()
            .map(|z| Series {
                name: z.label(lang).to_owned(),
                values: per_day(&|r: &StoredReport| match z {
                    Zone::Green => r.report.green,
                    Zone::Blue => r.report.blue,
                    Zone::Yellow => r.report.yellow,
                    Zone::Red => r.report.red,
                }),
            })
            .collect(),
        empty_text: ctx.t("taskforce.chart.empty").into(),
    };
    let tests = Chart {
        id: "chart-tests".into(),
        kind: ChartKind::Bars,
        title: ctx.t("taskforce.chart.tests").into(),
        desc: desc.clone(),
        labels: labels.clone(),
        series: vec![
            Series {
                name: ctx.t("reporting.field.tests_done").into(),
                values: per_day(&|r: &StoredReport| r.report.tests_done),
            },
            Series {
                name: ctx.t("reporting.field.tests_abnormal").into(),
                values: per_day(&|r: &StoredReport| r.report.tests_abnormal),
            },
        ],
        empty_text: ctx.t("taskforce.chart.empty").into(),
    };
    // Stock per item, for the items the reports in the range list (at most six lines: the
    // chart's colours).
    let mut keys: Vec<&str> = Vec::new();
    for i in items {
        if reports
            .iter()
            .any(|r| r.report.supplies.iter().any(|s| s.item == i.key))
            && keys.len() < 6
        {
            keys.push(&i.key);
        }
    }
    let stock = Chart {
        id: "chart-stock".into(),
        kind: ChartKind::Line,
        title: ctx.t("taskforce.chart.stock").into(),
        desc,
        labels,
        series: keys
            .iter()
            .map(|k| Series {
                name: item_name(items, k, lang),
                values: filed
                    .iter()
                    .map(|r| {
                        r.report
                            .supplies
                            .iter()
                            .find(|s| s.item == *k)
                            .map_or(0.0, |s| f64::from(s.stock))
                    })
                    .collect(),
            })
            .collect(),
        empty_text: ctx.t("taskforce.chart.empty").into(),
    };
    html! {
        div class="dash-charts" {
            @for c in [&zones, &tests, &stock] {
                figure class="chart" {
                    figcaption { (c.title) }
                    (trusted(c.render()))
                }
            }
        }
    }
}

/// Days of cover of each item, from the enterprise's reports up to the end of the range.
async fn cover_table(
    st: &AppState,
    lang: Lang,
    profile: &EnterpriseProfile,
    to: &str,
) -> WebResult<DashTable> {
    let mut rows = Vec::new();
    let mut row_classes = Vec::new();
    for c in supply_cover(st, profile.enterprise.id, to).await? {
        let name = match lang {
            Lang::Zh => c.name_zh.clone(),
            Lang::En => c.name_en.clone(),
        };
        rows.push(vec![
            Cell::text(name),
            c.stock.map_or(Cell::Empty, |s| Cell::from(u64::from(s))),
            match (c.stock, c.days_of_cover) {
                (None, _) => Cell::Empty,
                (Some(_), None) => Cell::text(tr(lang, "taskforce.cover.unlimited")),
                (Some(_), Some(d)) => Cell::Float((d * 10.0).round() / 10.0),
            },
            Cell::from(u64::from(c.warn_days)),
            Cell::text(c.as_of.clone().unwrap_or_default()),
            Cell::text(if c.warning {
                tr(lang, "taskforce.cover.warn")
            } else {
                tr(lang, "taskforce.cover.ok")
            }),
        ]);
        row_classes.push(c.warning.then_some("rep-warn-row"));
    }
    Ok(DashTable {
        id: "cover",
        table: Table {
            name: tr(lang, "taskforce.cover.title").to_owned(),
            headers: h(
                lang,
                &[
                    "taskforce.col.item",
                    "taskforce.col.stock",
                    "taskforce.col.cover",
                    "taskforce.col.threshold",
                    "taskforce.col.as_of",
                    "taskforce.col.state",
                ],
            ),
            rows,
        },
        links: Vec::new(),
        row_classes,
    })
}

/// The profile facts of an enterprise (shared with the operations bureau's page).
pub fn profile_facts(ctx: &Ctx, p: &EnterpriseProfile, teams: &[Team]) -> Markup {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    // A person and a phone, either of which may be missing.
    let person = |name: &Option<String>, phone: &Option<String>| match (name, phone) {
        (None, None) => "—".to_owned(),
        (n, p) => [n.as_deref(), p.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
    };
    html! {
        dl class="facts" {
            dt { (ctx.t("profile.credit_code")) } dd { (p.credit_code.as_ref().map_or_else(|| "—".into(), |c| c.to_string())) }
            dt { (ctx.t("profile.address")) } dd { (dash(&p.address)) }
            dt { (ctx.t("profile.contact")) } dd { (person(&p.contact_name, &p.contact_phone)) }
            dt { (ctx.t("profile.responsible")) } dd { (person(&p.responsible_person, &p.responsible_phone)) }
            dt { (ctx.t("profile.team")) } dd { (team_name(ctx.lang, teams, p.team_id)) }
        }
    }
}

async fn enterprise_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Response> {
    let profile = visible_enterprise(&st, &ctx, path_id(&id)?).await?;
    let range = history_range(ctx.lang, &q).map_err(WebError::Validation)?;
    let reports = st
        .store
        .reports_between(Some(profile.enterprise.id), None, &range.from, &range.to)
        .await?;
    let items = st.store.supply_items().await?;
    let teams = st.store.list_teams().await?;
    let grids = st.store.list_grids(profile.enterprise.id).await?;
    let history = history_table(ctx.lang, &profile, &range, &reports);
    let cover = cover_table(&st, ctx.lang, &profile, &range.to).await?;
    let settings = st.store.reporting_settings().await?;
    let cases = st
        .store
        .list_risk_cases(&RiskCaseFilter {
            enterprise: Some(profile.enterprise.id),
            team: None,
            open_only: false,
        })
        .await?;
    let now = now();
    let title = profile.enterprise.name.clone();
    let export = format!(
        "/taskforce/enterprises/{}/export?{}",
        profile.enterprise.id.0,
        range.query()
    );
    let body = html! {
        p { a href="/taskforce" { (ctx.t("taskforce.back")) } }
        h1 { (title) }
        (profile_facts(&ctx, &profile, &teams))
        h2 { (ctx.t("grids.title")) }
        @if grids.is_empty() {
            p { (ctx.t("grids.none")) }
        } @else {
            ul class="rep-grids" {
                @for g in &grids {
                    li { (g.zone.label(ctx.lang)) " · " (g.name) " · " (ctx.t("grids.leader")) "：" (g.leader) " " (g.leader_phone) }
                }
            }
        }
        form method="get" action={ "/taskforce/enterprises/" (profile.enterprise.id.0) } class="dash-range no-print" {
            (Input::text("from", ctx.t("dashboard.from"), &range.from).kind("date").render(&ctx, &[]))
            (Input::text("to", ctx.t("dashboard.to"), &range.to).kind("date").render(&ctx, &[]))
            button type="submit" { (ctx.t("reporting.show")) }
        }
        (charts(&ctx, &range, &reports, &items))
        section class="dash-section" {
            h2 { (cover.table.name) }
            p class="hint" { (ctx.tf("taskforce.cover.note", &[("date", &range.to), ("n", &CONSUMPTION_WINDOW)])) }
            (render_table(&ctx, &cover))
        }
        section class="dash-section" {
            h2 { (history.table.name) }
            (render_table(&ctx, &history))
            p class="exports no-print" {
                a href={ (export) "&format=xlsx" } download { (ctx.t("taskforce.export.xlsx")) }
                " "
                a href={ (export) "&format=csv" } download { (ctx.t("taskforce.export.csv")) }
            }
        }
        section class="dash-section" {
            h2 { (ctx.t("risk.title")) }
            @if cases.is_empty() { p { (ctx.t("risk.none")) } }
            ul {
                @for c in &cases {
                    li class=[c.overdue(&settings, now).then_some("rep-overdue")] {
                        a href={ "/risk/" (c.id) } { (c.subject) }
                        " · " (c.step.number()) ". " (c.step.label(ctx.lang))
                        @if c.overdue(&settings, now) { " " span class="badge rep-late" { (ctx.t("risk.overdue")) } }
                    }
                }
            }
        }
    };
    Ok(page(&ctx, &title, body).into_response())
}

async fn enterprise_day(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Response> {
    let profile = visible_enterprise(&st, &ctx, path_id(&id)?).await?;
    let date = query_date(&ctx, q.date.as_deref()).map_err(|e| WebError::Validation(vec![e]))?;
    let versions = st
        .store
        .report_versions(profile.enterprise.id, &date)
        .await?;
    let items = st.store.supply_items().await?;
    let title = ctx.tf(
        "taskforce.day.title",
        &[("name", &profile.enterprise.name), ("date", &date)],
    );
    let status = versions
        .last()
        .map_or(DayStatus::Missing, StoredReport::status);
    let body = html! {
        p { a href=(enterprise_link(profile.enterprise.id)) { (ctx.t("taskforce.day.back")) } }
        h1 { (title) }
        p { (status_badge(&ctx, status)) }
        (versions_table(&ctx, &versions, &items))
        @if let Some(c) = versions.last() {
            h2 { (ctx.t("taskforce.day.current")) }
            (report_facts(&ctx, &c.report, &items))
        }
    };
    Ok(page(&ctx, &title, body).into_response())
}

async fn enterprise_export(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Response> {
    let profile = visible_enterprise(&st, &ctx, path_id(&id)?).await?;
    let format = parse_format(ctx.lang, q.format.as_deref())?;
    let range = history_range(ctx.lang, &q).map_err(WebError::Validation)?;
    let reports = st
        .store
        .reports_between(Some(profile.enterprise.id), None, &range.from, &range.to)
        .await?;
    let t = history_table(ctx.lang, &profile, &range, &reports);
    let stem = format!("{}_{}_{}", t.table.name, range.from, range.to);
    export::download(&t.table, format, &stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_from_their_links() {
        for s in STATUSES {
            assert_eq!(parse_status(status_str(s)), Some(s));
        }
        assert_eq!(parse_status("fine"), None);
    }

    #[test]
    fn supervisors_cannot_pick_another_team() {
        let own = Scope::Team(3);
        assert_eq!(team_pick(Lang::Zh, own, None).unwrap(), TeamPick::Any);
        assert_eq!(
            team_pick(Lang::Zh, own, Some("3")).unwrap(),
            TeamPick::Team(3)
        );
        assert!(matches!(
            team_pick(Lang::Zh, own, Some("4")),
            Err(WebError::NotFound(_))
        ));
        assert!(matches!(
            team_pick(Lang::Zh, own, Some("none")),
            Err(WebError::NotFound(_))
        ));
        assert_eq!(
            team_pick(Lang::Zh, Scope::All, Some("none")).unwrap(),
            TeamPick::NoTeam
        );
        assert!(matches!(
            team_pick(Lang::Zh, Scope::All, Some("x")),
            Err(WebError::Validation(_))
        ));
    }
}
