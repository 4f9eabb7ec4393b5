//! The held-vehicle queue (通行受阻): every truck a gate refused, for the transport bureau to
//! clear. Trucks carrying epidemic-prevention supplies come first, then key production
//! materials, then daily necessities, then trucks whose pass the server does not know; within
//! each, the longest waiting first.
//!
//! The queue is derived from the synced scan records at read time: a refused record is open
//! until the bureau records what it did (escort, reissue, cleared, turned back) or a
//! supervisor at the gate overrode it.

use std::cmp::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::Cargo;
use passgate_shared::record::DeviceId;
use passgate_shared::time::local_day_range;
use serde::Deserialize;

use super::access::{Access, roles};
use super::applications::cargo_key;
use super::layout::{csrf_field, datetime, error_summary, notice, page, pager, select};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other, urlencode};
use crate::audit::{self, Action};
use crate::error::FieldError;
use crate::state::{AppState, now};
use crate::store::workflow::{HeldAction, HeldActionKind, HeldItem};
use serde_json::json;

pub fn pages() -> Vec<Page> {
    vec![
        Page::get("/held", Access::Roles(roles::TRANSPORT), get(list)),
        Page::get(
            "/held/{device_id}/{seq}",
            Access::Roles(roles::TRANSPORT),
            get(show),
        ),
        Page::post(
            "/held/{device_id}/{seq}/action",
            Access::Roles(roles::TRANSPORT),
            post(act),
        ),
    ]
}

/// Rows per list page.
const PAGE_SIZE: usize = 100;
/// Longest note, in characters.
const MAX_NOTE: usize = 200;

/// Which items the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Open,
    Handled,
    All,
}

impl Show {
    fn parse(s: Option<&str>) -> Show {
        match s {
            Some("handled") => Show::Handled,
            Some("all") => Show::All,
            _ => Show::Open,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Show::Open => "open",
            Show::Handled => "handled",
            Show::All => "all",
        }
    }

    fn wants(self, item: &HeldItem) -> bool {
        match self {
            Show::Open => !item.handled(),
            Show::Handled => item.handled(),
            Show::All => true,
        }
    }
}

/// Rank of a truck's cargo in the queue: lower goes first.
pub fn cargo_rank(cargo: Option<&str>) -> u8 {
    match cargo.and_then(Cargo::parse) {
        Some(Cargo::EpidemicSupplies) => 0,
        Some(Cargo::ProductionMaterials) => 1,
        Some(Cargo::DailyNecessities) => 2,
        None => 3,
    }
}

/// Queue order: open items first, by cargo rank then longest waiting; then handled items,
/// the most recently handled first.
pub fn queue_order(a: &HeldItem, b: &HeldItem) -> Ordering {
    match (a.handled_at(), b.handled_at()) {
        (None, None) => cargo_rank(a.cargo.as_deref())
            .cmp(&cargo_rank(b.cargo.as_deref()))
            .then(a.scanned_at.cmp(&b.scanned_at)),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x).then(a.scanned_at.cmp(&b.scanned_at)),
    }
    .then(a.device_id.cmp(&b.device_id))
    .then(a.seq.cmp(&b.seq))
}

fn reason_key(code: &str) -> &'static str {
    match code {
        "malformed" => crate::k!("held.reason.malformed"),
        "unsupported_version" => crate::k!("held.reason.unsupported_version"),
        "unknown_key" => crate::k!("held.reason.unknown_key"),
        "key_compromised" => crate::k!("held.reason.key_compromised"),
        "key_not_valid" => crate::k!("held.reason.key_not_valid"),
        "bad_signature" => crate::k!("held.reason.bad_signature"),
        "not_yet_valid" => crate::k!("held.reason.not_yet_valid"),
        "expired" => crate::k!("held.reason.expired"),
        "revoked" => crate::k!("held.reason.revoked"),
        "off_route" => crate::k!("held.reason.off_route"),
        "outside_zone" => crate::k!("held.reason.outside_zone"),
        "wrong_enterprise" => crate::k!("held.reason.wrong_enterprise"),
        "bundle_stale" => crate::k!("held.reason.bundle_stale"),
        "already_inside" => crate::k!("held.reason.already_inside"),
        "daily_limit" => crate::k!("held.reason.daily_limit"),
        _ => crate::k!("held.reason.other"),
    }
}

fn action_key(kind: HeldActionKind) -> &'static str {
    match kind {
        HeldActionKind::Escort => crate::k!("held.action.escort"),
        HeldActionKind::Reissue => crate::k!("held.action.reissue"),
        HeldActionKind::Cleared => crate::k!("held.action.cleared"),
        HeldActionKind::Refused => crate::k!("held.action.refused"),
    }
}

fn direction_key(d: &str) -> &'static str {
    match d {
        "in" => crate::k!("held.direction.in"),
        "out" => crate::k!("held.direction.out"),
        _ => crate::k!("held.unknown"),
    }
}

/// A waiting time for people: `3 天 2 小时`, `2 小时 5 分钟`, `7 分钟`.
fn wait_text(ctx: &Ctx, seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    if d > 0 {
        ctx.tf("held.wait.days", &[("d", &d), ("h", &h)])
    } else if h > 0 {
        ctx.tf("held.wait.hours", &[("h", &h), ("m", &m)])
    } else {
        ctx.tf("held.wait.minutes", &[("m", &m)])
    }
}

fn cargo_text(ctx: &Ctx, cargo: Option<&str>) -> &'static str {
    match cargo {
        Some(c) => ctx.t(cargo_key(c)),
        None => ctx.t("held.cargo.unknown"),
    }
}

fn reason_text(ctx: &Ctx, code: &str) -> String {
    match reason_key(code) {
        "held.reason.other" => ctx.tf("held.reason.other", &[("code", &code)]),
        key => ctx.t(key).to_owned(),
    }
}

/// What became of an item, in words.
fn outcome(ctx: &Ctx, item: &HeldItem) -> Markup {
    html! {
        @if let Some(a) = &item.action {
            strong { (ctx.t(action_key(a.kind))) }
            " · " (a.by) " · " (datetime(a.at))
            @if !a.note.is_empty() { br; small { (a.note) } }
        } @else if let Some(o) = &item.gate_override {
            strong { (ctx.t("held.gate_override")) }
            " · " (o.supervisor) " · " (datetime(o.at))
            br; small { (o.reason) }
        }
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    show: Option<String>,
    day: Option<String>,
    offset: Option<usize>,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> WebResult<Markup> {
    let show = Show::parse(q.show.as_deref());
    let day_text = q.day.as_deref().map(str::trim).unwrap_or_default();
    let (day, bad_day) = match day_text {
        "" => (None, false),
        d if local_day_range(d).is_some() => (Some(d), false),
        _ => (None, true),
    };
    let mut items: Vec<HeldItem> = st
        .store
        .held_items(day)
        .await?
        .into_iter()
        .filter(|i| show.wants(i))
        .collect();
    items.sort_by(queue_order);
    let total = items.len();
    let offset = q.offset.unwrap_or(0).min(total);
    let shown = &items[offset..(offset + PAGE_SIZE).min(total)];
    let now = now();
    let show_options: Vec<(String, String)> = [
        (Show::Open, crate::k!("held.show.open")),
        (Show::Handled, crate::k!("held.show.handled")),
        (Show::All, crate::k!("held.show.all")),
    ]
    .iter()
    .map(|(s, k)| (s.as_str().to_owned(), ctx.t(k).to_owned()))
    .collect();
    let base = format!(
        "/held?show={}&day={}&",
        show.as_str(),
        urlencode(day.unwrap_or_default())
    );
    let title = ctx.t("held.title");
    let day_errors = if bad_day {
        vec![FieldError::new("day", ctx.t("held.bad_day"))]
    } else {
        Vec::new()
    };
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            p { (ctx.t("held.intro")) }
            (error_summary(&ctx, &day_errors))
            form method="get" action="/held" class="filters" {
                (select(&ctx, "show", ctx.t("held.field.show"), &show_options, show.as_str(), true, &[]))
                (super::layout::Input::text("day", ctx.t("held.field.day"), day_text)
                    .kind("date").render(&ctx, &day_errors))
                div class="field" { button type="submit" { (ctx.t("held.filter")) } }
            }
            p { (ctx.tf("held.count", &[("n", &total)])) }
            @if shown.is_empty() {
                p { (ctx.t("held.empty")) }
            } @else {
                div class="table-wrap" {
                    table class="flow-held" {
                        thead { tr {
                            th { (ctx.t("held.field.plate")) }
                            th { (ctx.t("held.field.number")) }
                            th { (ctx.t("held.field.checkpoint")) }
                            th { (ctx.t("held.field.refused_at")) }
                            th { (ctx.t("held.field.reason")) }
                            th { (ctx.t("held.field.cargo")) }
                            th class="num" { (ctx.t("held.field.waited")) }
                            th { (ctx.t("held.field.outcome")) }
                        } }
                        tbody {
                            @for i in shown {
                                tr class={ "held-rank-" (cargo_rank(i.cargo.as_deref())) @if i.handled() { " held-done" } } {
                                    td {
                                        a href={ "/held/" (i.device_id) "/" (i.seq) } {
                                            (i.plate.as_deref().unwrap_or("—"))
                                        }
                                    }
                                    td { (i.number.as_deref().unwrap_or("—")) }
                                    td { (i.checkpoint_name.clone().unwrap_or_else(|| i.checkpoint_id.to_string())) }
                                    td { (datetime(i.scanned_at)) }
                                    td { (reason_text(&ctx, &i.reason)) }
                                    td {
                                        span class={ "badge cargo-rank-" (cargo_rank(i.cargo.as_deref())) } {
                                            (cargo_text(&ctx, i.cargo.as_deref()))
                                        }
                                    }
                                    td class="num" { (wait_text(&ctx, i.waited(now))) }
                                    td {
                                        @if i.handled() {
                                            (outcome(&ctx, i))
                                        } @else {
                                            a class="button" href={ "/held/" (i.device_id) "/" (i.seq) } {
                                                (ctx.t("held.handle"))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (pager(&ctx, &base, offset as u64, PAGE_SIZE as u64, total as u64))
            }
        },
    ))
}

fn parse_key(device: &str, seq: &str) -> WebResult<(DeviceId, u64)> {
    match (device.parse::<u32>(), seq.parse::<u64>()) {
        (Ok(d), Ok(s)) if s > 0 && s <= i64::MAX as u64 => Ok((DeviceId(d), s)),
        _ => Err(WebError::NotFound("held vehicle")),
    }
}

async fn load(st: &AppState, device: &str, seq: &str) -> WebResult<HeldItem> {
    let (device, seq) = parse_key(device, seq)?;
    st.store
        .get_held_item(device, seq)
        .await?
        .ok_or(WebError::NotFound("held vehicle"))
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    done: Option<String>,
}

fn render_detail(
    ctx: &Ctx,
    item: &HeldItem,
    done: bool,
    errors: &[FieldError],
    chosen: &str,
    note: &str,
) -> Markup {
    let now = now();
    let action_options: Vec<(String, String)> = HeldActionKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), ctx.t(action_key(*k)).to_owned()))
        .collect();
    let note_error = super::layout::field_error(errors, "note");
    let plate = item.plate.as_deref().unwrap_or("—");
    let title = ctx.tf("held.detail.title", &[("plate", &plate)]);
    html! {
        h1 { (title) }
        @if done { (notice(ctx.t("held.done"))) }
        (error_summary(ctx, errors))
        dl class="facts card" {
            dt { (ctx.t("held.field.plate")) } dd { (plate) }
            dt { (ctx.t("held.field.number")) } dd {
                @if let Some(n) = &item.number { a href={ "/passes/" (n) } { (n) } } @else { "—" }
            }
            dt { (ctx.t("held.field.cargo")) } dd { (cargo_text(ctx, item.cargo.as_deref())) }
            dt { (ctx.t("held.field.checkpoint")) }
            dd { (item.checkpoint_name.clone().unwrap_or_else(|| item.checkpoint_id.to_string())) }
            dt { (ctx.t("held.field.direction")) } dd { (ctx.t(direction_key(&item.direction))) }
            dt { (ctx.t("held.field.refused_at")) } dd { (datetime(item.scanned_at)) }
            dt { (ctx.t("held.field.reason")) } dd { (reason_text(ctx, &item.reason)) }
            dt { (ctx.t(if item.handled() { crate::k!("held.field.waited_total") } else { crate::k!("held.field.waited") })) }
            dd { (wait_text(ctx, item.waited(now))) }
            dt { (ctx.t("held.field.record")) }
            dd { (ctx.tf("held.record_ref", &[("device", &item.device_id), ("seq", &item.seq)])) }
            @if item.handled() {
                dt { (ctx.t("held.field.outcome")) } dd { (outcome(ctx, item)) }
            }
        }
        @if !item.handled() {
            form method="post" action={ "/held/" (item.device_id) "/" (item.seq) "/action" }
                 class="card flow-form" {
                (csrf_field(ctx))
                h2 { (ctx.t("held.act.title")) }
                (select(ctx, "action", ctx.t("held.field.action"), &action_options, chosen, true, errors))
                div class={ "field" @if note_error.is_some() { " invalid" } } {
                    label for="f-note" {
                        (ctx.t("held.field.note"))
                        span class="req" aria-hidden="true" { " *" }
                        span class="sr-only" { (ctx.t("form.required")) }
                    }
                    textarea id="f-note" name="note" rows="3" maxlength="200" required
                        aria-invalid=[note_error.map(|_| "true")] { (note) }
                    small class="hint" { (ctx.t("held.hint.note")) }
                    span class="error" role="alert" data-error-for="note" {
                        @if let Some(e) = note_error { (e) }
                    }
                }
                button type="submit" class="primary" { (ctx.t("held.act.submit")) }
            }
        }
        p { a href="/held" { (ctx.t("held.back")) } }
    }
}

async fn show(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((device, seq)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> WebResult<Markup> {
    let item = load(&st, &device, &seq).await?;
    let plate = item.plate.clone().unwrap_or_default();
    let body = render_detail(&ctx, &item, q.done.is_some(), &[], "", "");
    Ok(page(
        &ctx,
        &ctx.tf("held.detail.title", &[("plate", &plate)]),
        body,
    ))
}

async fn act(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((device, seq)): Path<(String, String)>,
    body: Bytes,
) -> WebResult<Response> {
    let item = load(&st, &device, &seq).await?;
    if item.gate_override.is_some() {
        return Err(WebError::Conflict(
            ctx.t("held.overridden_at_gate").to_owned(),
        ));
    }
    if item.action.is_some() {
        return Err(WebError::Conflict(ctx.t("held.already_handled").to_owned()));
    }
    let pairs = form_urlencoded_pairs(&String::from_utf8_lossy(&body));
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (chosen, note) = (field("action"), field("note"));
    let mut errors = Vec::new();
    let kind = HeldActionKind::parse(&chosen);
    if kind.is_none() {
        errors.push(FieldError::new("action", ctx.t("held.action_required")));
    }
    if note.is_empty() {
        errors.push(FieldError::new("note", ctx.t("held.note_required")));
    } else if note.chars().count() > MAX_NOTE {
        errors.push(FieldError::new(
            "note",
            ctx.tf("held.note_too_long", &[("max", &MAX_NOTE)]),
        ));
    }
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        let plate = item.plate.clone().unwrap_or_default();
        let body = render_detail(&ctx, &item, false, &errors, &chosen, &note);
        let mut resp = page(
            &ctx,
            &ctx.tf("held.detail.title", &[("plate", &plate)]),
            body,
        )
        .into_response();
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    };
    let user = ctx.user()?;
    let action = HeldAction {
        kind,
        note,
        by: user.display_name.clone(),
        at: now(),
    };
    st.store
        .record_held_action(item.device_id, item.seq, &action)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                WebError::Conflict(ctx.t("held.already_handled").to_owned())
            }
            other => other.into(),
        })?;
    audit::record(
        &st,
        &user.username,
        Action::HeldVehicleHandled,
        &format!("scan:{}:{}", item.device_id, item.seq),
        json!({ "action": kind.as_str(), "note": action.note }),
    )
    .await?;
    tracing::info!(device = %item.device_id, seq = item.seq, action = kind.as_str(), by = %user.username, "held vehicle handled");
    Ok(see_other(&format!(
        "/held/{}/{}?done=1",
        item.device_id, item.seq
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use passgate_shared::CheckpointId;

    fn item(seq: u64, cargo: Option<&str>, at: i64, handled: Option<i64>) -> HeldItem {
        HeldItem {
            device_id: DeviceId(1),
            seq,
            checkpoint_id: CheckpointId(1),
            checkpoint_name: None,
            scanned_at: at,
            direction: "in".into(),
            number: None,
            plate: None,
            class: None,
            reason: "expired".into(),
            cargo: cargo.map(str::to_owned),
            enterprise_id: None,
            action: handled.map(|t| HeldAction {
                kind: HeldActionKind::Cleared,
                note: String::new(),
                by: "x".into(),
                at: t,
            }),
            gate_override: None,
        }
    }

    #[test]
    fn queue_puts_priority_cargo_then_longest_waiting_first() {
        let mut items = [
            item(1, Some("daily_necessities"), 100, None),
            item(2, None, 50, None),
            item(3, Some("epidemic_supplies"), 300, None),
            item(4, Some("production_materials"), 200, None),
            item(5, Some("epidemic_supplies"), 250, None),
            item(6, Some("epidemic_supplies"), 10, Some(400)),
        ];
        items.sort_by(queue_order);
        let order: Vec<u64> = items.iter().map(|i| i.seq).collect();
        assert_eq!(order, vec![5, 3, 4, 1, 2, 6]);
    }

    #[test]
    fn waiting_stops_when_handled() {
        assert_eq!(item(1, None, 100, None).waited(700), 600);
        assert_eq!(item(1, None, 100, Some(400)).waited(700), 300);
    }
}
