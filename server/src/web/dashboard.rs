//! The transport bureau's daily data: passes issued and where they stand, scans per
//! checkpoint and class, rejections by reason, anomalies, trend charts; every table as Excel
//! or CSV; a drill-down list of scan records; and the daily report workbook the operations
//! bureau sends headquarters (每日使用运行数据).
//!
//! Counts come from SQL aggregates ([`ReportStore`]); the anomalies come from the shared
//! cross-gate detection ([`crate::routes::anomalies::day_anomalies`]), which reads a day's
//! records, so they are shown for ranges of at most [`ANOMALY_DAYS`] days.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use passgate_shared::anomaly::{Anomaly, AnomalyKind};
use passgate_shared::sync::Direction;
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{CheckpointId, Lang, PassClass};
use serde::Deserialize;

use super::access::{Access, roles};
use super::chart::{Chart, ChartKind, Series};
use super::export::{self, Cell, ExportFormat, SheetWriter, Table};
use super::i18n::tr;
use super::layout::{Input, error_summary, page, pager, select, trusted};
use super::{Ctx, Page, WebError, WebResult, urlencode};
use crate::error::FieldError;
use crate::state::{AppState, now};
use crate::store::reports::{DayScans, PassState, ScanCount, ScanFilter, ScanRow};

/// The longest range the dashboard shows at once.
pub const MAX_DAYS: usize = 92;
/// The longest range for which anomalies are computed (they read every record).
pub const ANOMALY_DAYS: usize = 31;
/// Scan records per page of the drill-down list.
const PAGE: u64 = 50;

pub fn pages() -> Vec<Page> {
    let who = Access::Roles(roles::TRANSPORT);
    vec![
        Page::get("/dashboard", who, get(dashboard)),
        Page::get("/dashboard/scans", who, get(scans)),
        Page::get("/dashboard/export/{table}", who, get(export_table)),
        Page::get("/reports/daily", who, get(daily_report)),
    ]
}

// ---- labels ----

fn class_name(lang: Lang, class: Option<PassClass>) -> String {
    match class {
        Some(c) => lang.pick(c.name_zh(), c.name_en()).to_owned(),
        None => tr(lang, "dashboard.class.none").to_owned(),
    }
}

fn direction_name(lang: Lang, d: Direction) -> &'static str {
    match d {
        Direction::In => tr(lang, crate::k!("dashboard.direction.in")),
        Direction::Out => tr(lang, crate::k!("dashboard.direction.out")),
    }
}

/// The label of a stored verdict (`accepted`, `override`, a reject reason code).
pub fn verdict_name(lang: Lang, code: &str) -> String {
    let key = match code {
        "accepted" => crate::k!("dashboard.verdict.accepted"),
        "override" => crate::k!("dashboard.verdict.override"),
        "rejected" => crate::k!("dashboard.verdict.rejected"),
        "malformed" => crate::k!("dashboard.reason.malformed"),
        "unsupported_version" => crate::k!("dashboard.reason.unsupported_version"),
        "unknown_key" => crate::k!("dashboard.reason.unknown_key"),
        "key_compromised" => crate::k!("dashboard.reason.key_compromised"),
        "key_not_valid" => crate::k!("dashboard.reason.key_not_valid"),
        "bad_signature" => crate::k!("dashboard.reason.bad_signature"),
        "not_yet_valid" => crate::k!("dashboard.reason.not_yet_valid"),
        "expired" => crate::k!("dashboard.reason.expired"),
        "revoked" => crate::k!("dashboard.reason.revoked"),
        "off_route" => crate::k!("dashboard.reason.off_route"),
        "outside_zone" => crate::k!("dashboard.reason.outside_zone"),
        "wrong_enterprise" => crate::k!("dashboard.reason.wrong_enterprise"),
        "bundle_stale" => crate::k!("dashboard.reason.bundle_stale"),
        "already_inside" => crate::k!("dashboard.reason.already_inside"),
        "daily_limit" => crate::k!("dashboard.reason.daily_limit"),
        other => return other.to_owned(),
    };
    tr(lang, key).to_owned()
}

fn anomaly_key(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::InsideTwice => crate::k!("dashboard.anomaly.inside_twice"),
        AnomalyKind::DailyLimit => crate::k!("dashboard.anomaly.daily_limit"),
        AnomalyKind::OffRoute => crate::k!("dashboard.anomaly.off_route"),
        AnomalyKind::Overstay => crate::k!("dashboard.anomaly.overstay"),
        AnomalyKind::RevokedUse => crate::k!("dashboard.anomaly.revoked_use"),
        AnomalyKind::ClockRollback => crate::k!("dashboard.anomaly.clock_rollback"),
        AnomalyKind::Override => crate::k!("dashboard.anomaly.override"),
        AnomalyKind::ChainGap => crate::k!("dashboard.anomaly.chain_gap"),
    }
}

fn state_key(s: PassState) -> &'static str {
    match s {
        PassState::Active => crate::k!("dashboard.state.active"),
        PassState::Pending => crate::k!("dashboard.state.pending"),
        PassState::Expired => crate::k!("dashboard.state.expired"),
        PassState::Revoked => crate::k!("dashboard.state.revoked"),
    }
}

// ---- the date range ----

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// A checked range of Beijing days.
#[derive(Debug, Clone)]
pub(super) struct Range {
    pub from: String,
    pub to: String,
    /// `[start, end)` in Unix seconds.
    pub start: i64,
    pub end: i64,
    pub days: Vec<String>,
}

impl Range {
    pub fn query(&self) -> String {
        format!("from={}&to={}", self.from, self.to)
    }
}

fn today() -> String {
    local_day(now())
}

fn parse_day(
    lang: Lang,
    field: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<(i64, i64)> {
    let r = local_day_range(value.trim());
    if r.is_none() {
        errors.push(FieldError::new(
            field,
            super::i18n::trf(lang, "dashboard.error.date", &[("value", &value)]),
        ));
    }
    r
}

/// The range asked for (today when nothing is given), or what is wrong with it.
pub(super) fn parse_range(
    lang: Lang,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Range, Vec<FieldError>> {
    let t = today();
    let from = from.map(str::trim).filter(|s| !s.is_empty());
    let to = to.map(str::trim).filter(|s| !s.is_empty());
    let (from, to) = match (from, to) {
        (None, None) => (t.clone(), t),
        (Some(f), None) => (f.to_owned(), f.to_owned()),
        (None, Some(x)) => (x.to_owned(), x.to_owned()),
        (Some(f), Some(x)) => (f.to_owned(), x.to_owned()),
    };
    let mut errors = Vec::new();
    let a = parse_day(lang, "from", &from, &mut errors);
    let b = parse_day(lang, "to", &to, &mut errors);
    let (Some((start, _)), Some((_, end))) = (a, b) else {
        return Err(errors);
    };
    if end <= start {
        return Err(vec![FieldError::new(
            "to",
            tr(lang, "dashboard.error.order"),
        )]);
    }
    let n = ((end - start) / 86_400) as usize;
    if n > MAX_DAYS {
        return Err(vec![FieldError::new(
            "to",
            super::i18n::trf(lang, "dashboard.error.too_long", &[("max", &MAX_DAYS)]),
        )]);
    }
    let days = (0..n)
        .map(|i| local_day(start + i as i64 * 86_400))
        .collect();
    Ok(Range {
        from,
        to,
        start,
        end,
        days,
    })
}

// ---- the data ----

struct Data {
    range: Range,
    checkpoints: HashMap<CheckpointId, String>,
    issued: Vec<(String, PassClass, u64)>,
    states: Vec<(PassClass, PassState, u64)>,
    counts: Vec<ScanCount>,
    by_day: Vec<DayScans>,
    /// `None` when the range is too long to look for anomalies.
    anomalies: Option<Vec<Anomaly>>,
}

async fn anomalies_of(st: &AppState, days: &[String]) -> WebResult<Vec<Anomaly>> {
    let mut out = Vec::new();
    for d in days {
        let found = crate::routes::anomalies::day_anomalies(st, d).await?;
        out.extend(found.anomalies.into_iter().map(|v| v.anomaly));
    }
    Ok(out)
}

async fn load(st: &AppState, range: Range, with_anomalies: bool) -> WebResult<Data> {
    let checkpoints = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let issued = st
        .store
        .passes_issued_by_day(range.start, range.end)
        .await?;
    let states = st.store.pass_states_at(now()).await?;
    let counts = st.store.scan_counts(&range.from, &range.to).await?;
    let by_day = st.store.scans_by_day(&range.from, &range.to).await?;
    let anomalies = if with_anomalies && range.days.len() <= ANOMALY_DAYS {
        Some(anomalies_of(st, &range.days).await?)
    } else {
        None
    };
    Ok(Data {
        range,
        checkpoints,
        issued,
        states,
        counts,
        by_day,
        anomalies,
    })
}

fn checkpoint_name(data: &HashMap<CheckpointId, String>, id: CheckpointId) -> String {
    data.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
}

/// A table of the dashboard, with an optional link per cell (drill-down) and an optional
/// class per row (to mark a row, e.g. an overdue one).
pub(super) struct DashTable {
    pub id: &'static str,
    pub table: Table,
    pub links: Vec<Vec<Option<String>>>,
    pub row_classes: Vec<Option<&'static str>>,
}

/// The dashboard's tables, in page order (also the names of their exports).
const TABLES: [&str; 6] = [
    "issued",
    "status",
    "scans",
    "rejections",
    "anomalies",
    "trend",
];

fn title_key(id: &str) -> &'static str {
    match id {
        "issued" => crate::k!("dashboard.issued.title"),
        "status" => crate::k!("dashboard.status.title"),
        "scans" => crate::k!("dashboard.scans.title"),
        "rejections" => crate::k!("dashboard.rejections.title"),
        "anomalies" => crate::k!("dashboard.anomalies.title"),
        _ => crate::k!("dashboard.trend.title"),
    }
}

fn h(lang: Lang, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| tr(lang, k).to_owned()).collect()
}

fn scans_link(range: &Range, extra: &str) -> String {
    format!("/dashboard/scans?{}{extra}", range.query())
}

fn build(lang: Lang, data: &Data, id: &str) -> Option<DashTable> {
    let r = &data.range;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut links: Vec<Vec<Option<String>>> = Vec::new();
    let headers = match id {
        "issued" => {
            let mut total = 0;
            for c in PassClass::ALL {
                let n: u64 = data.issued.iter().filter(|x| x.1 == c).map(|x| x.2).sum();
                total += n;
                rows.push(vec![Cell::text(class_name(lang, Some(c))), n.into()]);
            }
            rows.push(vec![Cell::text(tr(lang, "dashboard.total")), total.into()]);
            h(lang, &["dashboard.col.class", "dashboard.col.issued"])
        }
        "status" => {
            let mut sums = [0u64; 4];
            for c in PassClass::ALL {
                let mut row = vec![Cell::text(class_name(lang, Some(c)))];
                let mut total = 0;
                for (i, s) in PassState::ALL.into_iter().enumerate() {
                    let n: u64 = data
                        .states
                        .iter()
                        .filter(|x| x.0 == c && x.1 == s)
                        .map(|x| x.2)
                        .sum();
                    sums[i] += n;
                    total += n;
                    row.push(n.into());
                }
                row.push(total.into());
                rows.push(row);
            }
            let mut row = vec![Cell::text(tr(lang, "dashboard.total"))];
            row.extend(sums.iter().map(|n| Cell::from(*n)));
            row.push(sums.iter().sum::<u64>().into());
            rows.push(row);
            let mut hs = h(lang, &["dashboard.col.class"]);
            hs.extend(
                PassState::ALL
                    .iter()
                    .map(|s| tr(lang, state_key(*s)).to_owned()),
            );
            hs.push(tr(lang, "dashboard.total").to_owned());
            hs
        }
        "scans" => {
            let mut by: BTreeMap<(CheckpointId, Option<PassClass>), [u64; 3]> = BTreeMap::new();
            for c in &data.counts {
                let e = by.entry((c.checkpoint_id, c.class)).or_default();
                match (c.accepted, c.direction) {
                    (true, Direction::In) => e[0] += c.count,
                    (true, Direction::Out) => e[1] += c.count,
                    (false, _) => e[2] += c.count,
                }
            }
            let mut sums = [0u64; 3];
            for ((cp, class), n) in &by {
                let base = format!(
                    "&checkpoint={cp}{}",
                    class
                        .map(|c| format!("&class={}", c.as_str()))
                        .unwrap_or_default()
                );
                rows.push(vec![
                    Cell::text(checkpoint_name(&data.checkpoints, *cp)),
                    Cell::text(class_name(lang, *class)),
                    n[0].into(),
                    n[1].into(),
                    n[2].into(),
                    (n[0] + n[1] + n[2]).into(),
                ]);
                links.push(vec![
                    None,
                    None,
                    Some(scans_link(
                        r,
                        &format!("{base}&direction=in&result=accepted"),
                    )),
                    Some(scans_link(
                        r,
                        &format!("{base}&direction=out&result=accepted"),
                    )),
                    Some(scans_link(r, &format!("{base}&result=rejected"))),
                    Some(scans_link(r, &base)),
                ]);
                for i in 0..3 {
                    sums[i] += n[i];
                }
            }
            rows.push(vec![
                Cell::text(tr(lang, "dashboard.total")),
                Cell::Empty,
                sums[0].into(),
                sums[1].into(),
                sums[2].into(),
                (sums[0] + sums[1] + sums[2]).into(),
            ]);
            links.push(vec![]);
            h(
                lang,
                &[
                    "dashboard.col.checkpoint",
                    "dashboard.col.class",
                    "dashboard.col.in",
                    "dashboard.col.out",
                    "dashboard.col.rejected",
                    "dashboard.total",
                ],
            )
        }
        "rejections" => {
            let mut by: BTreeMap<&str, u64> = BTreeMap::new();
            for c in data.counts.iter().filter(|c| !c.accepted) {
                *by.entry(c.verdict.as_str()).or_default() += c.count;
            }
            let mut list: Vec<(&str, u64)> = by.into_iter().collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            for (code, n) in &list {
                rows.push(vec![Cell::text(verdict_name(lang, code)), (*n).into()]);
                links.push(vec![
                    None,
                    Some(scans_link(r, &format!("&reason={}", urlencode(code)))),
                ]);
            }
            rows.push(vec![
                Cell::text(tr(lang, "dashboard.total")),
                list.iter().map(|x| x.1).sum::<u64>().into(),
            ]);
            links.push(vec![None, Some(scans_link(r, "&result=rejected"))]);
            h(lang, &["dashboard.col.reason", "dashboard.col.count"])
        }
        "anomalies" => {
            let list = data.anomalies.as_ref()?;
            for a in list {
                let day = local_day(a.at);
                let cps: Vec<String> = a
                    .checkpoints
                    .iter()
                    .map(|c| checkpoint_name(&data.checkpoints, *c))
                    .collect();
                rows.push(vec![
                    Cell::DateTime(a.at),
                    Cell::text(tr(lang, anomaly_key(a.kind))),
                    Cell::text(a.plate.clone().unwrap_or_default()),
                    Cell::text(a.number.map(|n| n.to_string()).unwrap_or_default()),
                    Cell::text(cps.join("、")),
                    Cell::text(a.detail.clone()),
                ]);
                let link = match (a.number, a.checkpoints.first()) {
                    (Some(n), _) => Some(format!("/dashboard/scans?day={day}&number={n}")),
                    (None, Some(c)) => Some(format!("/dashboard/scans?day={day}&checkpoint={c}")),
                    _ => None,
                };
                links.push(vec![None, link]);
            }
            h(
                lang,
                &[
                    "dashboard.col.time",
                    "dashboard.col.kind",
                    "dashboard.col.plate",
                    "dashboard.col.number",
                    "dashboard.col.checkpoint",
                    "dashboard.col.detail",
                ],
            )
        }
        "trend" => {
            for d in &r.days {
                let scans = |dir: Direction, acc: bool| -> u64 {
                    data.by_day
                        .iter()
                        .filter(|x| {
                            x.day == *d && x.accepted == acc && (!acc || x.direction == dir)
                        })
                        .map(|x| x.count)
                        .sum()
                };
                let issued = |c: PassClass| -> u64 {
                    data.issued
                        .iter()
                        .filter(|x| x.0 == *d && x.1 == c)
                        .map(|x| x.2)
                        .sum()
                };
                let mut row = vec![
                    Cell::text(d.clone()),
                    scans(Direction::In, true).into(),
                    scans(Direction::Out, true).into(),
                    scans(Direction::In, false).into(),
                ];
                row.extend(PassClass::ALL.iter().map(|c| Cell::from(issued(*c))));
                rows.push(row);
                let day_scans = |extra: &str| Some(format!("/dashboard/scans?day={d}{extra}"));
                links.push(vec![
                    Some(format!("/reports/daily?day={d}")),
                    day_scans("&direction=in&result=accepted"),
                    day_scans("&direction=out&result=accepted"),
                    day_scans("&result=rejected"),
                ]);
            }
            let mut hs = h(
                lang,
                &[
                    "dashboard.col.day",
                    "dashboard.col.in",
                    "dashboard.col.out",
                    "dashboard.col.rejected",
                ],
            );
            hs.extend(PassClass::ALL.iter().map(|c| {
                super::i18n::trf(
                    lang,
                    "dashboard.col.issued_class",
                    &[("class", &class_name(lang, Some(*c)))],
                )
            }));
            hs
        }
        _ => return None,
    };
    let id = TABLES.into_iter().find(|t| *t == id)?;
    Some(DashTable {
        id,
        table: Table {
            name: tr(lang, title_key(id)).to_owned(),
            headers,
            rows,
        },
        links,
        row_classes: Vec::new(),
    })
}

pub(super) fn render_table(ctx: &Ctx, t: &DashTable) -> Markup {
    // A column of numbers is right-aligned, its header too, so each count sits under its name.
    let numeric: Vec<bool> = (0..t.table.headers.len())
        .map(|j| {
            t.table
                .rows
                .iter()
                .any(|r| matches!(r.get(j), Some(Cell::Int(_) | Cell::Float(_))))
        })
        .collect();
    html! {
        div class="table-wrap" {
            table class="dash-table" {
                thead { tr { @for (j, hd) in t.table.headers.iter().enumerate() {
                    th scope="col" class=[numeric.get(j).copied().unwrap_or(false).then_some("num")] { (hd) }
                } } }
                tbody {
                    @for (i, row) in t.table.rows.iter().enumerate() {
                        tr class=[t.row_classes.get(i).copied().flatten()] {
                            @for (j, cell) in row.iter().enumerate() {
                                @let text = match cell {
                                    Cell::DateTime(at) => super::layout::datetime(*at),
                                    other => other.display(),
                                };
                                @let link = t.links.get(i).and_then(|l| l.get(j)).cloned().flatten();
                                @let num = matches!(cell, Cell::Int(_) | Cell::Float(_));
                                td class=[num.then_some("num")] {
                                    @match link {
                                        Some(href) => a href=(href) { (text) },
                                        None => (text),
                                    }
                                }
                            }
                        }
                    }
                    @if t.table.rows.is_empty() {
                        tr { td colspan=(t.table.headers.len()) class="empty" { (ctx.t("dashboard.no_rows")) } }
                    }
                }
            }
        }
    }
}

fn export_links(ctx: &Ctx, t: &DashTable, range: &Range) -> Markup {
    let base = format!("/dashboard/export/{}?{}", t.id, range.query());
    html! {
        p class="exports no-print" {
            a href={ (base) "&format=xlsx" } download { (ctx.t("dashboard.export.xlsx")) }
            " "
            a href={ (base) "&format=csv" } download { (ctx.t("dashboard.export.csv")) }
        }
    }
}

fn charts(ctx: &Ctx, data: &Data) -> Markup {
    let lang = ctx.lang;
    let labels: Vec<String> = data
        .range
        .days
        .iter()
        .map(|d| d.get(5..).unwrap_or(d).to_owned())
        .collect();
    let per_day = |dir: Direction| -> Vec<f64> {
        data.range
            .days
            .iter()
            .map(|d| {
                data.by_day
                    .iter()
                    .filter(|x| x.day == *d && x.accepted && x.direction == dir)
                    .map(|x| x.count as f64)
                    .sum()
            })
            .collect()
    };
    let scans = Chart {
        id: "chart-scans".into(),
        kind: ChartKind::Line,
        title: ctx.t("dashboard.chart.scans").into(),
        desc: ctx.tf(
            "dashboard.chart.scans_desc",
            &[("from", &data.range.from), ("to", &data.range.to)],
        ),
        labels: labels.clone(),
        series: vec![
            Series {
                name: direction_name(lang, Direction::In).into(),
                values: per_day(Direction::In),
            },
            Series {
                name: direction_name(lang, Direction::Out).into(),
                values: per_day(Direction::Out),
            },
        ],
        empty_text: ctx.t("dashboard.chart.empty").into(),
    };
    let issued = Chart {
        id: "chart-issued".into(),
        kind: ChartKind::Bars,
        title: ctx.t("dashboard.chart.issued").into(),
        desc: ctx.tf(
            "dashboard.chart.issued_desc",
            &[("from", &data.range.from), ("to", &data.range.to)],
        ),
        labels,
        series: PassClass::ALL
            .iter()
            .map(|c| Series {
                name: class_name(lang, Some(*c)),
                values: data
                    .range
                    .days
                    .iter()
                    .map(|d| {
                        data.issued
                            .iter()
                            .filter(|x| x.0 == *d && x.1 == *c)
                            .map(|x| x.2 as f64)
                            .sum()
                    })
                    .collect(),
            })
            .collect(),
        empty_text: ctx.t("dashboard.chart.empty").into(),
    };
    html! {
        div class="dash-charts" {
            figure class="chart" { (trusted(scans.render())) }
            figure class="chart" { (trusted(issued.render())) }
        }
    }
}

fn range_form(ctx: &Ctx, from: &str, to: &str, errors: &[FieldError]) -> Markup {
    html! {
        form method="get" action="/dashboard" class="dash-range no-print" {
            (Input::text("from", ctx.t("dashboard.from"), from).kind("date").hint(ctx.t("dashboard.date_hint")).render(ctx, errors))
            (Input::text("to", ctx.t("dashboard.to"), to).kind("date").render(ctx, errors))
            button type="submit" { (ctx.t("dashboard.show")) }
        }
    }
}

async fn dashboard(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<RangeQuery>,
) -> WebResult<Response> {
    let title = ctx.t("dashboard.title");
    let range = match parse_range(ctx.lang, q.from.as_deref(), q.to.as_deref()) {
        Ok(r) => r,
        Err(errors) => {
            let body = html! {
                h1 { (title) }
                (error_summary(&ctx, &errors))
                (range_form(&ctx, q.from.as_deref().unwrap_or_default(), q.to.as_deref().unwrap_or_default(), &errors))
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&ctx, title, body)).into_response());
        }
    };
    let data = load(&st, range, true).await?;
    let r = &data.range;
    let tables: Vec<DashTable> = TABLES
        .iter()
        .filter_map(|id| build(ctx.lang, &data, id))
        .collect();
    let issued_total: u64 = data.issued.iter().map(|x| x.2).sum();
    let active_now: u64 = data
        .states
        .iter()
        .filter(|x| x.1 == PassState::Active)
        .map(|x| x.2)
        .sum();
    let scans_total: u64 = data.counts.iter().map(|c| c.count).sum();
    let rejected: u64 = data
        .counts
        .iter()
        .filter(|c| !c.accepted)
        .map(|c| c.count)
        .sum();
    let overstays = data
        .anomalies
        .as_ref()
        .map(|l| l.iter().filter(|a| a.kind == AnomalyKind::Overstay).count());
    let body = html! {
        h1 { (title) }
        p class="lead" { (ctx.tf("dashboard.range", &[("from", &r.from), ("to", &r.to), ("days", &r.days.len())])) }
        (range_form(&ctx, &r.from, &r.to, &[]))
        p class="no-print" {
            a href={ "/reports/daily?day=" (r.to) } download { (ctx.tf("dashboard.daily_report", &[("day", &r.to)])) }
            " "
            button type="button" data-print { (ctx.t("dashboard.print")) }
        }
        ul class="kpis" {
            li class="kpi" { span { (ctx.t("dashboard.kpi.issued")) } div class="n" { (issued_total) } }
            li class="kpi" { span { (ctx.t("dashboard.kpi.active")) } div class="n" { (active_now) } }
            li class="kpi" { span { (ctx.t("dashboard.kpi.scans")) } div class="n" { (scans_total) } }
            li class="kpi" { span { (ctx.t("dashboard.kpi.rejected")) } div class="n" { (rejected) } }
            @if let Some(n) = overstays {
                li class="kpi" { span { (ctx.t("dashboard.kpi.overstays")) } div class="n" { (n) } }
            }
        }
        (charts(&ctx, &data))
        @for t in &tables {
            section class="dash-section" id={ "t-" (t.id) } {
                h2 { (t.table.name) }
                @if t.id == "status" { p class="hint" { (ctx.t("dashboard.status.note")) } }
                @if t.id == "anomalies" {
                    @if let Some(list) = &data.anomalies {
                        ul class="dash-counts" {
                            @for (kind, n) in anomaly_counts(list) {
                                li { (ctx.t(anomaly_key(kind))) "：" (n) }
                            }
                        }
                    }
                }
                (render_table(&ctx, t))
                (export_links(&ctx, t, r))
            }
        }
        @if data.anomalies.is_none() {
            section class="dash-section" id="t-anomalies" {
                h2 { (ctx.t("dashboard.anomalies.title")) }
                p { (ctx.tf("dashboard.anomalies.too_long", &[("max", &ANOMALY_DAYS)])) }
            }
        }
    };
    Ok(page(&ctx, title, body).into_response())
}

fn anomaly_counts(list: &[Anomaly]) -> Vec<(AnomalyKind, usize)> {
    let mut by: BTreeMap<AnomalyKind, usize> = BTreeMap::new();
    for a in list {
        *by.entry(a.kind).or_default() += 1;
    }
    by.into_iter().collect()
}

async fn export_table(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Response> {
    if !TABLES.contains(&id.as_str()) {
        return Err(WebError::NotFound("table"));
    }
    let format = parse_format(ctx.lang, q.format.as_deref())?;
    let range =
        parse_range(ctx.lang, q.from.as_deref(), q.to.as_deref()).map_err(WebError::Validation)?;
    let data = load(&st, range, id == "anomalies").await?;
    let t = build(ctx.lang, &data, &id).ok_or_else(|| {
        WebError::BadRequest(ctx.tf("dashboard.anomalies.too_long", &[("max", &ANOMALY_DAYS)]))
    })?;
    let stem = format!("{}_{}_{}", t.table.name, data.range.from, data.range.to);
    export::download(&t.table, format, &stem)
}

pub(super) fn parse_format(lang: Lang, f: Option<&str>) -> WebResult<ExportFormat> {
    match f.map(str::trim).unwrap_or("xlsx") {
        "" | "xlsx" => Ok(ExportFormat::Xlsx),
        "csv" => Ok(ExportFormat::Csv),
        _ => Err(WebError::Validation(vec![FieldError::new(
            "format",
            tr(lang, "dashboard.error.format"),
        )])),
    }
}

// ---- the drill-down list ----

#[derive(Debug, Default, Deserialize)]
pub struct ScanQuery {
    day: Option<String>,
    from: Option<String>,
    to: Option<String>,
    checkpoint: Option<String>,
    reason: Option<String>,
    result: Option<String>,
    number: Option<String>,
    direction: Option<String>,
    class: Option<String>,
    offset: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The filter a query asks for, and what is wrong with it.
fn scan_filter(lang: Lang, q: &ScanQuery) -> (ScanFilter, Vec<FieldError>) {
    let mut errors = Vec::new();
    let (from, to) = match nonempty(&q.day) {
        Some(d) => (Some(d), Some(d)),
        None => (nonempty(&q.from), nonempty(&q.to)),
    };
    let range = match parse_range(lang, from, to) {
        Ok(r) => r,
        Err(mut e) => {
            for f in &mut e {
                if q.day.is_some() {
                    f.field = "day".into();
                }
            }
            errors.extend(e);
            let t = today();
            Range {
                from: t.clone(),
                to: t,
                start: 0,
                end: 0,
                days: vec![],
            }
        }
    };
    let mut f = ScanFilter {
        from_day: range.from,
        to_day: range.to,
        ..ScanFilter::default()
    };
    if let Some(c) = nonempty(&q.checkpoint) {
        match c.parse::<u32>() {
            Ok(id) => f.checkpoint = Some(CheckpointId(id)),
            Err(_) => errors.push(FieldError::new(
                "checkpoint",
                tr(lang, "dashboard.error.checkpoint"),
            )),
        }
    }
    f.verdict = nonempty(&q.reason).map(str::to_owned);
    match nonempty(&q.result) {
        None => {}
        Some("accepted") => f.accepted = Some(true),
        Some("rejected") => f.accepted = Some(false),
        Some(_) => errors.push(FieldError::new(
            "result",
            tr(lang, "dashboard.error.result"),
        )),
    }
    f.number = nonempty(&q.number).map(str::to_owned);
    if let Some(d) = nonempty(&q.direction) {
        match Direction::parse(d) {
            Some(d) => f.direction = Some(d),
            None => errors.push(FieldError::new(
                "direction",
                tr(lang, "dashboard.error.direction"),
            )),
        }
    }
    if let Some(c) = nonempty(&q.class) {
        match PassClass::parse(c) {
            Some(c) => f.class = Some(c),
            None => errors.push(FieldError::new("class", tr(lang, "dashboard.error.class"))),
        }
    }
    (f, errors)
}

fn scan_cells(lang: Lang, r: &ScanRow) -> Vec<Cell> {
    vec![
        Cell::DateTime(r.scanned_at),
        Cell::text(if r.checkpoint_name.is_empty() {
            format!("#{}", r.checkpoint_id)
        } else {
            r.checkpoint_name.clone()
        }),
        Cell::text(direction_name(lang, r.direction)),
        Cell::text(r.plate.clone().unwrap_or_default()),
        Cell::text(r.number.clone().unwrap_or_default()),
        Cell::text(
            r.class
                .map(|c| class_name(lang, Some(c)))
                .unwrap_or_default(),
        ),
        Cell::text(verdict_name(lang, &r.verdict)),
    ]
}

fn scan_headers(lang: Lang) -> Vec<String> {
    h(
        lang,
        &[
            "dashboard.col.time",
            "dashboard.col.checkpoint",
            "dashboard.col.direction",
            "dashboard.col.plate",
            "dashboard.col.number",
            "dashboard.col.class",
            "dashboard.col.verdict",
        ],
    )
}

async fn scans(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ScanQuery>,
) -> WebResult<Markup> {
    let lang = ctx.lang;
    let (filter, errors) = scan_filter(lang, &q);
    let offset = nonempty(&q.offset)
        .and_then(|o| o.parse::<u64>().ok())
        .unwrap_or(0);
    let (rows, total) = if errors.is_empty() {
        st.store.scan_page(&filter, offset, PAGE).await?
    } else {
        (Vec::new(), 0)
    };
    let checkpoints = st.store.list_checkpoints().await?;
    let cp_options: Vec<(String, String)> = checkpoints
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    let mut base = format!(
        "/dashboard/scans?from={}&to={}",
        filter.from_day, filter.to_day
    );
    for (k, v) in [
        ("checkpoint", &q.checkpoint),
        ("reason", &q.reason),
        ("result", &q.result),
        ("number", &q.number),
        ("direction", &q.direction),
        ("class", &q.class),
    ] {
        if let Some(v) = nonempty(v) {
            base.push_str(&format!("&{k}={}", urlencode(v)));
        }
    }
    base.push('&');
    let title = ctx.t("dashboard.scans_list.title");
    let dir_options = vec![
        (
            "in".to_owned(),
            direction_name(lang, Direction::In).to_owned(),
        ),
        (
            "out".to_owned(),
            direction_name(lang, Direction::Out).to_owned(),
        ),
    ];
    let result_options = vec![
        (
            "accepted".to_owned(),
            ctx.t("dashboard.result.accepted").to_owned(),
        ),
        (
            "rejected".to_owned(),
            ctx.t("dashboard.result.rejected").to_owned(),
        ),
    ];
    let class_options: Vec<(String, String)> = PassClass::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), class_name(lang, Some(*c))))
        .collect();
    let val = |s: &Option<String>| s.clone().unwrap_or_default();
    let headers = scan_headers(lang);
    let body = html! {
        h1 { (title) }
        p { a href={ "/dashboard?from=" (filter.from_day) "&to=" (filter.to_day) } { (ctx.t("dashboard.back")) } }
        (error_summary(&ctx, &errors))
        form method="get" action="/dashboard/scans" class="dash-filter no-print" {
            (Input::text("from", ctx.t("dashboard.from"), &filter.from_day).kind("date").render(&ctx, &errors))
            (Input::text("to", ctx.t("dashboard.to"), &filter.to_day).kind("date").render(&ctx, &errors))
            (select(&ctx, "checkpoint", ctx.t("dashboard.col.checkpoint"), &cp_options, &val(&q.checkpoint), false, &errors))
            (select(&ctx, "direction", ctx.t("dashboard.col.direction"), &dir_options, &val(&q.direction), false, &errors))
            (select(&ctx, "result", ctx.t("dashboard.col.verdict"), &result_options, &val(&q.result), false, &errors))
            (select(&ctx, "class", ctx.t("dashboard.col.class"), &class_options, &val(&q.class), false, &errors))
            (Input::text("reason", ctx.t("dashboard.col.reason"), &val(&q.reason)).hint(ctx.t("dashboard.reason_hint")).render(&ctx, &errors))
            (Input::text("number", ctx.t("dashboard.col.number"), &val(&q.number)).render(&ctx, &errors))
            button type="submit" { (ctx.t("dashboard.show")) }
        }
        p { (ctx.tf("dashboard.scans_list.count", &[("total", &total)])) }
        div class="table-wrap" {
            table class="dash-table" {
                thead { tr { @for hd in &headers { th scope="col" { (hd) } } } }
                tbody {
                    @for r in &rows {
                        tr class=[(!r.accepted).then_some("rejected")] {
                            @for (i, c) in scan_cells(lang, r).iter().enumerate() {
                                td {
                                    @if i == 0 { (super::layout::datetime(r.scanned_at)) } @else { (c.display()) }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() {
                        tr { td colspan=(headers.len()) class="empty" { (ctx.t("dashboard.no_rows")) } }
                    }
                }
            }
        }
        (pager(&ctx, &base, offset, PAGE, total))
    };
    Ok(page(&ctx, title, body))
}

// ---- the daily report ----

#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    day: Option<String>,
}

/// Scan records read per query while writing the detail sheet.
const CHUNK: u64 = 5_000;

async fn daily_report(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<DayQuery>,
) -> WebResult<Response> {
    let lang = ctx.lang;
    let day = nonempty(&q.day).map(str::to_owned).unwrap_or_else(today);
    let mut errors = Vec::new();
    let Some((start, end)) = parse_day(lang, "day", &day, &mut errors) else {
        return Err(WebError::Validation(errors));
    };
    let bytes = daily_workbook(&st, lang, &day, start, end).await?;
    let name = ctx.tf("dashboard.report.file", &[("day", &day)]);
    Ok(export::attachment(
        bytes,
        export::XLSX_TYPE,
        &format!("{name}.xlsx"),
    ))
}

/// The daily report workbook: a summary sheet and every scan record of the day.
pub async fn daily_workbook(
    st: &AppState,
    lang: Lang,
    day: &str,
    start: i64,
    end: i64,
) -> WebResult<Vec<u8>> {
    let t = |k: &str| tr(lang, k).to_owned();
    let checkpoints: HashMap<CheckpointId, String> = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let counts = st.store.scan_counts(day, day).await?;
    let issued = st.store.passes_issued_by_day(start, end).await?;
    let states = st.store.pass_states_at(end - 1).await?;
    let anomalies = crate::routes::anomalies::day_anomalies(st, day).await?;
    let overstays: Vec<&Anomaly> = anomalies
        .anomalies
        .iter()
        .map(|v| &v.anomaly)
        .filter(|a| a.kind == AnomalyKind::Overstay)
        .collect();

    let mut sum = SheetWriter::new(&t("dashboard.report.summary"))?;
    sum.header(&h(
        lang,
        &[
            "dashboard.col.checkpoint",
            "dashboard.col.class",
            "dashboard.col.in",
            "dashboard.col.out",
            "dashboard.col.accepted",
            "dashboard.col.rejected",
        ],
    ))?;
    let mut by: BTreeMap<(CheckpointId, Option<PassClass>), [u64; 4]> = BTreeMap::new();
    for c in &counts {
        let e = by.entry((c.checkpoint_id, c.class)).or_default();
        match (c.accepted, c.direction) {
            (true, Direction::In) => e[0] += c.count,
            (true, Direction::Out) => e[1] += c.count,
            (false, _) => e[3] += c.count,
        }
        if c.accepted {
            e[2] += c.count;
        }
    }
    let mut totals = [0u64; 4];
    for ((cp, class), n) in &by {
        let mut row = vec![
            Cell::text(checkpoint_name(&checkpoints, *cp)),
            Cell::text(class_name(lang, *class)),
        ];
        row.extend(n.iter().map(|x| Cell::from(*x)));
        sum.row(&row)?;
        for i in 0..4 {
            totals[i] += n[i];
        }
    }
    let mut row = vec![Cell::text(t("dashboard.total")), Cell::Empty];
    row.extend(totals.iter().map(|x| Cell::from(*x)));
    sum.row(&row)?;

    sum.blank();
    sum.title(&t("dashboard.report.issued"))?;
    sum.header(&h(lang, &["dashboard.col.class", "dashboard.col.issued"]))?;
    for c in PassClass::ALL {
        let n: u64 = issued.iter().filter(|x| x.1 == c).map(|x| x.2).sum();
        sum.row(&[Cell::text(class_name(lang, Some(c))), n.into()])?;
    }
    sum.blank();
    sum.title(&t("dashboard.report.active"))?;
    sum.header(&h(lang, &["dashboard.col.class", "dashboard.col.active"]))?;
    for c in PassClass::ALL {
        let n: u64 = states
            .iter()
            .filter(|x| x.0 == c && x.1 == PassState::Active)
            .map(|x| x.2)
            .sum();
        sum.row(&[Cell::text(class_name(lang, Some(c))), n.into()])?;
    }
    sum.blank();
    sum.title(&t("dashboard.report.overstays"))?;
    sum.row(&[
        Cell::text(t("dashboard.anomaly.overstay")),
        (overstays.len() as u64).into(),
    ])?;
    if !overstays.is_empty() {
        sum.header(&h(
            lang,
            &[
                "dashboard.col.time",
                "dashboard.col.plate",
                "dashboard.col.number",
                "dashboard.col.checkpoint",
                "dashboard.col.detail",
            ],
        ))?;
        for a in &overstays {
            let cps: Vec<String> = a
                .checkpoints
                .iter()
                .map(|c| checkpoint_name(&checkpoints, *c))
                .collect();
            sum.row(&[
                Cell::DateTime(a.at),
                Cell::text(a.plate.clone().unwrap_or_default()),
                Cell::text(a.number.map(|n| n.to_string()).unwrap_or_default()),
                Cell::text(cps.join("、")),
                Cell::text(a.detail.clone()),
            ])?;
        }
    }

    let mut detail = SheetWriter::new(&t("dashboard.report.detail"))?;
    detail.header(&scan_headers(lang))?;
    let filter = ScanFilter {
        from_day: day.to_owned(),
        to_day: day.to_owned(),
        ..ScanFilter::default()
    };
    let mut after = None;
    loop {
        let chunk = st.store.scan_chunk(&filter, after, CHUNK).await?;
        for r in &chunk {
            detail.row(&scan_cells(lang, r))?;
        }
        match chunk.last() {
            Some(r) if chunk.len() as u64 == CHUNK => {
                after = Some((r.scanned_at, r.device_id, r.seq))
            }
            _ => break,
        }
    }
    export::workbook(vec![sum.finish()?, detail.finish()?])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn ranges_are_checked() {
        let r = parse_range(Lang::Zh, Some("2026-12-01"), Some("2026-12-03")).unwrap();
        assert_eq!(r.days, vec!["2026-12-01", "2026-12-02", "2026-12-03"]);
        let e = parse_range(Lang::Zh, Some("2026-13-01"), None).unwrap_err();
        assert_eq!(e[0].field, "from");
        assert!(e[0].message.contains("2026-13-01"));
        let e = parse_range(Lang::Zh, Some("2026-12-03"), Some("2026-12-01")).unwrap_err();
        assert_eq!(e[0].field, "to");
        let e = parse_range(Lang::Zh, Some("2026-01-01"), Some("2026-12-01")).unwrap_err();
        assert!(e[0].message.contains("92"));
        assert!(parse_range(Lang::Zh, Some("2026-01-01"), Some("2026-04-02")).is_ok());
    }

    #[test]
    fn every_anomaly_kind_has_the_shared_chinese_name() {
        for kind in [
            AnomalyKind::InsideTwice,
            AnomalyKind::DailyLimit,
            AnomalyKind::OffRoute,
            AnomalyKind::Overstay,
            AnomalyKind::RevokedUse,
            AnomalyKind::ClockRollback,
            AnomalyKind::Override,
            AnomalyKind::ChainGap,
        ] {
            assert_eq!(tr(Lang::Zh, anomaly_key(kind)), kind.name_zh());
        }
    }

    #[test]
    fn every_reject_reason_has_a_label() {
        for code in passgate_shared::verify::RejectReason::CODES {
            assert_ne!(verdict_name(Lang::Zh, code), code);
            assert_ne!(verdict_name(Lang::En, code), code);
        }
        assert_eq!(verdict_name(Lang::Zh, "something_new"), "something_new");
    }
}
