//! The operations bureau's registers: enterprises, checkpoints and the gate devices enrolled
//! at each checkpoint (enrolment codes, which gates are behind on the trust bundle,
//! revoking a lost device).
//!
//! Validation reuses the API's rules (`routes::enterprises::required_name`, the enrolment
//! code helpers of `routes::devices`), so the console and the API accept the same things.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::record::DeviceId;
use passgate_shared::{CheckpointId, EnterpriseId};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{Input, csrf_field, datetime, error_summary, localized, notice, page, select};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::FieldError;
use crate::routes::devices::{CODE_HOURS, hash_code, new_code_text};
use crate::routes::enterprises::required_name;
use crate::state::{AppState, now};
use crate::store::orgs::DeviceSync;
use crate::store::{
    Checkpoint, CheckpointKind, DeviceStatus, Enterprise, NewCheckpoint, StoreError,
};

pub fn pages() -> Vec<Page> {
    let ops = Access::Roles(roles::OPS);
    vec![
        Page::get("/enterprises", ops, get(enterprise_list)),
        Page::get("/enterprises/new", ops, get(enterprise_new)),
        Page::post("/enterprises", ops, post(enterprise_create)),
        Page::get("/enterprises/{id}", ops, get(enterprise_detail)),
        Page::post("/enterprises/{id}", ops, post(enterprise_edit)),
        Page::get("/checkpoints", ops, get(checkpoint_list)),
        Page::get("/checkpoints/new", ops, get(checkpoint_new)),
        Page::post("/checkpoints", ops, post(checkpoint_create)),
        Page::get("/checkpoints/{id}", ops, get(checkpoint_detail)),
        Page::post("/checkpoints/{id}", ops, post(checkpoint_edit)),
        Page::post(
            "/checkpoints/{id}/enrolment-codes",
            ops,
            post(enrolment_code),
        ),
        Page::post("/devices/{id}/revoke", ops, post(device_revoke)),
    ]
}

/// Longest names, as the API allows.
const NAME_MAX: usize = 100;
const REASON_MAX: usize = 200;
/// Lifetimes an enrolment code may be given, in hours (the API allows 1 to 168).
const CODE_LIFETIMES: [u32; 4] = [2, 24, 72, 168];

/// A path id; anything that is not one is a page that does not exist.
fn path_id(raw: &str, what: &'static str) -> WebResult<u32> {
    raw.trim().parse().map_err(|_| WebError::NotFound(what))
}

fn invalid(markup: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response()
}

/// "3 分钟" / "5 小时" / "2 天".
fn age(ctx: &Ctx, seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 3600 {
        ctx.tf("orgs.age.minutes", &[("n", &(s / 60))])
    } else if s < 2 * 86_400 {
        ctx.tf("orgs.age.hours", &[("n", &(s / 3600))])
    } else {
        ctx.tf("orgs.age.days", &[("n", &(s / 86_400))])
    }
}

fn kind_key(kind: CheckpointKind) -> &'static str {
    match kind {
        CheckpointKind::EnterpriseGate => crate::k!("orgs.kind.enterprise_gate"),
        CheckpointKind::ZoneBorder => crate::k!("orgs.kind.zone_border"),
        CheckpointKind::HighwayExit => crate::k!("orgs.kind.highway_exit"),
    }
}

fn zone_key(inside: bool) -> &'static str {
    if inside {
        crate::k!("orgs.checkpoint.inside")
    } else {
        crate::k!("orgs.checkpoint.outside")
    }
}

const KINDS: [CheckpointKind; 3] = [
    CheckpointKind::EnterpriseGate,
    CheckpointKind::ZoneBorder,
    CheckpointKind::HighwayExit,
];

// ---------------------------------------------------------------- enterprises

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    done: String,
}

async fn enterprise_list(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> WebResult<Markup> {
    let list = st.store.enterprise_summaries(now()).await?;
    let title = ctx.t("orgs.enterprises.title");
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            @if q.done == "created" { (notice(ctx.t("orgs.enterprise.created"))) }
            div class="actions" {
                a class="button primary" href="/enterprises/new" { (ctx.t("orgs.enterprises.new")) }
            }
            @if list.is_empty() {
                p { (ctx.t("orgs.enterprises.empty")) }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th { (ctx.t("orgs.enterprise.name")) }
                            th class="num" { (ctx.t("orgs.enterprises.checkpoints")) }
                            th class="num" { (ctx.t("orgs.enterprises.active_passes")) }
                            th { (ctx.t("orgs.created_at")) }
                        } }
                        tbody {
                            @for e in &list {
                                tr {
                                    td { a href={ "/enterprises/" (e.enterprise.id.0) } { (e.enterprise.name) } }
                                    td class="num" { (e.checkpoints) }
                                    td class="num" { (e.active_passes) }
                                    td { (datetime(e.enterprise.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn enterprise_form(ctx: &Ctx, action: &str, name: &str, errors: &[FieldError]) -> Markup {
    html! {
        (error_summary(ctx, errors))
        form method="post" action=(action) class="card" {
            (csrf_field(ctx))
            (Input::text("name", ctx.t("orgs.enterprise.name"), name)
                .required()
                .hint(ctx.t("orgs.enterprise.name_hint"))
                .render(ctx, errors))
            button type="submit" class="primary" { (ctx.t("orgs.save")) }
        }
    }
}

fn render_enterprise_new(ctx: &Ctx, name: &str, errors: &[FieldError]) -> Markup {
    let title = ctx.t("orgs.enterprises.new");
    page(
        ctx,
        title,
        html! {
            p { a href="/enterprises" { (ctx.t("orgs.enterprises.back")) } }
            h1 { (title) }
            (enterprise_form(ctx, "/enterprises", name, errors))
        },
    )
}

async fn enterprise_new(ctx: Ctx) -> Markup {
    render_enterprise_new(&ctx, "", &[])
}

#[derive(Deserialize, Default)]
struct NameForm {
    #[serde(default)]
    name: String,
}

/// The enterprise name rule of the API, plus a clear message for a taken name.
fn enterprise_name_error(ctx: &Ctx, e: StoreError) -> WebResult<FieldError> {
    match e {
        StoreError::Conflict(_) => Ok(FieldError::new("name", ctx.t("orgs.enterprise.taken"))),
        other => Err(other.into()),
    }
}

async fn enterprise_create(
    State(st): State<AppState>,
    ctx: Ctx,
    Form(form): Form<NameForm>,
) -> WebResult<Response> {
    let name = match required_name("name", Some(&form.name), NAME_MAX) {
        Ok(n) => n,
        Err(e) => {
            return Ok(invalid(render_enterprise_new(
                &ctx,
                &form.name,
                &[localized(ctx.lang, e)],
            )));
        }
    };
    match st.store.create_enterprise(&name, now()).await {
        Ok(e) => {
            tracing::info!(enterprise = %e.id, by = ?ctx.user.as_ref().map(|u| &u.username), "enterprise registered");
            Ok(see_other(&format!("/enterprises/{}?done=created", e.id.0)))
        }
        Err(e) => {
            let err = enterprise_name_error(&ctx, e)?;
            Ok(invalid(render_enterprise_new(&ctx, &form.name, &[err])))
        }
    }
}

/// The enterprise page; `reporting` is a refused form of its reporting section (profile,
/// grids), shown again with its errors.
pub(super) async fn render_enterprise(
    st: &AppState,
    ctx: &Ctx,
    id: u32,
    name_value: Option<&str>,
    errors: &[FieldError],
    done: &str,
    reporting: super::reporting_profile::Refused<'_>,
) -> WebResult<Markup> {
    let summaries = st.store.enterprise_summaries(now()).await?;
    let Some(summary) = summaries.into_iter().find(|e| e.enterprise.id.0 == id) else {
        return Err(WebError::NotFound("enterprise"));
    };
    let e = &summary.enterprise;
    let checkpoints: Vec<Checkpoint> = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .filter(|c| c.enterprise_id == Some(e.id))
        .collect();
    let reporting = super::reporting_profile::section(st, ctx, e.id, reporting).await?;
    let title = e.name.as_str();
    Ok(page(
        ctx,
        title,
        html! {
            p { a href="/enterprises" { (ctx.t("orgs.enterprises.back")) } }
            h1 { (title) }
            @if done == "created" { (notice(ctx.t("orgs.enterprise.created"))) }
            @if matches!(done, "saved" | "profile" | "grid" | "grid_deleted") { (notice(ctx.t("orgs.saved"))) }
            dl class="facts" {
                dt { (ctx.t("orgs.id")) } dd { (e.id.0) }
                dt { (ctx.t("orgs.created_at")) } dd { (datetime(e.created_at)) }
                dt { (ctx.t("orgs.enterprises.checkpoints")) } dd { (summary.checkpoints) }
                dt { (ctx.t("orgs.enterprises.active_passes")) } dd { (summary.active_passes) }
            }
            h2 { (ctx.t("orgs.enterprise.edit")) }
            (enterprise_form(ctx, &format!("/enterprises/{}", e.id.0), name_value.unwrap_or(&e.name), errors))
            h2 { (ctx.t("orgs.enterprise.checkpoints")) }
            @if checkpoints.is_empty() {
                p { (ctx.t("orgs.enterprise.no_checkpoints")) }
            } @else {
                ul {
                    @for c in &checkpoints {
                        li { a href={ "/checkpoints/" (c.id.0) } { (c.name) } " · " (ctx.t(kind_key(c.kind))) }
                    }
                }
            }
            div class="actions" {
                a class="button" href={ "/checkpoints/new?enterprise=" (e.id.0) } { (ctx.t("orgs.enterprise.add_checkpoint")) }
            }
            (reporting)
        },
    ))
}

async fn enterprise_detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> WebResult<Markup> {
    let id = path_id(&id, "enterprise")?;
    render_enterprise(
        &st,
        &ctx,
        id,
        None,
        &[],
        &q.done,
        super::reporting_profile::Refused::None,
    )
    .await
}

async fn enterprise_edit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<NameForm>,
) -> WebResult<Response> {
    let id = path_id(&id, "enterprise")?;
    let error = match required_name("name", Some(&form.name), NAME_MAX) {
        Err(e) => localized(ctx.lang, e),
        Ok(name) => match st.store.rename_enterprise(EnterpriseId(id), &name).await {
            Ok(_) => return Ok(see_other(&format!("/enterprises/{id}?done=saved"))),
            Err(e) => enterprise_name_error(&ctx, e)?,
        },
    };
    let markup = render_enterprise(
        &st,
        &ctx,
        id,
        Some(&form.name),
        &[error],
        "",
        super::reporting_profile::Refused::None,
    )
    .await?;
    Ok(invalid(markup))
}

// ---------------------------------------------------------------- checkpoints

/// What the console shows of one device's sync state.
struct SyncState {
    /// Its last contact: an upload or a bundle download.
    last_sync: Option<i64>,
    /// Bundle versions it is behind the current one (`None`: never downloaded one).
    behind: Option<u64>,
    /// Seconds since it downloaded its bundle.
    bundle_age: Option<i64>,
    /// Active, and its bundle is older than the gates' staleness limit (or it has none).
    stale: bool,
}

fn sync_state(st: &AppState, d: &DeviceSync, current: u64, now: i64) -> SyncState {
    let last_sync = match (d.device.last_seen_at, d.bundle_fetched_at) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let bundle_age = d.bundle_fetched_at.map(|t| now - t);
    let limit = i64::from(st.settings.policy.stale_after_hours) * 3600;
    SyncState {
        last_sync,
        behind: d.bundle_version.map(|v| current.saturating_sub(v)),
        bundle_age,
        stale: d.device.status == DeviceStatus::Active && bundle_age.is_none_or(|a| a > limit),
    }
}

async fn checkpoint_list(State(st): State<AppState>, ctx: Ctx) -> WebResult<Markup> {
    let checkpoints = st.store.list_checkpoints().await?;
    let enterprises: HashMap<EnterpriseId, String> = st
        .store
        .list_enterprises()
        .await?
        .into_iter()
        .map(|e| (e.id, e.name))
        .collect();
    let devices = st.store.device_syncs(None).await?;
    let current = st.store.bundle_version().await?;
    let t = now();
    let title = ctx.t("orgs.checkpoints.title");
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            p { (ctx.tf("orgs.bundle.current", &[("version", &current)])) }
            div class="actions" {
                a class="button primary" href="/checkpoints/new" { (ctx.t("orgs.checkpoints.new")) }
            }
            @if checkpoints.is_empty() {
                p { (ctx.t("orgs.checkpoints.empty")) }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th { (ctx.t("orgs.checkpoint.name")) }
                            th { (ctx.t("orgs.checkpoint.kind")) }
                            th { (ctx.t("orgs.checkpoint.zone")) }
                            th { (ctx.t("orgs.checkpoint.enterprise")) }
                            th class="num" { (ctx.t("orgs.checkpoints.devices")) }
                            th { (ctx.t("orgs.checkpoints.last_sync")) }
                            th { (ctx.t("orgs.checkpoints.oldest_bundle")) }
                        } }
                        tbody {
                            @for c in &checkpoints {
                                @let states: Vec<SyncState> = devices.iter()
                                    .filter(|d| d.device.checkpoint_id == c.id && d.device.status == DeviceStatus::Active)
                                    .map(|d| sync_state(&st, d, current, t))
                                    .collect();
                                @let last = states.iter().filter_map(|s| s.last_sync).max();
                                @let never = states.iter().any(|s| s.bundle_age.is_none());
                                @let oldest = states.iter().filter_map(|s| s.bundle_age).max();
                                @let stale = states.iter().any(|s| s.stale);
                                tr {
                                    td { a href={ "/checkpoints/" (c.id.0) } { (c.name) } }
                                    td { (ctx.t(kind_key(c.kind))) }
                                    td { (ctx.t(zone_key(c.inside_zone))) }
                                    td {
                                        @if let Some(name) = c.enterprise_id.and_then(|e| enterprises.get(&e)) {
                                            a href={ "/enterprises/" (c.enterprise_id.map_or(0, |e| e.0)) } { (name) }
                                        } @else { "—" }
                                    }
                                    td class="num" { (states.len()) }
                                    td { @if let Some(l) = last { (datetime(l)) } @else { "—" } }
                                    td {
                                        @if never {
                                            (ctx.t("orgs.device.never_bundle"))
                                        } @else if let Some(o) = oldest {
                                            (age(&ctx, o))
                                        } @else { "—" }
                                        @if stale { " " span class="badge stale" { (ctx.t("orgs.device.stale")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// The checkpoint form's values, as typed.
#[derive(Deserialize, Default, Clone)]
struct CheckpointForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    inside_zone: String,
    #[serde(default)]
    enterprise_id: String,
}

impl CheckpointForm {
    fn of(c: &Checkpoint) -> CheckpointForm {
        CheckpointForm {
            name: c.name.clone(),
            kind: c.kind.as_str().to_owned(),
            inside_zone: if c.inside_zone {
                "1".into()
            } else {
                String::new()
            },
            enterprise_id: c.enterprise_id.map(|e| e.0.to_string()).unwrap_or_default(),
        }
    }

    fn inside(&self) -> bool {
        matches!(self.inside_zone.as_str(), "1" | "on" | "true")
    }
}

fn checkpoint_form(
    ctx: &Ctx,
    action: &str,
    f: &CheckpointForm,
    enterprises: &[Enterprise],
    errors: &[FieldError],
) -> Markup {
    let kinds: Vec<(String, String)> = KINDS
        .iter()
        .map(|k| (k.as_str().to_owned(), ctx.t(kind_key(*k)).to_owned()))
        .collect();
    let ents: Vec<(String, String)> = enterprises
        .iter()
        .map(|e| (e.id.0.to_string(), e.name.clone()))
        .collect();
    html! {
        (error_summary(ctx, errors))
        form method="post" action=(action) class="card" {
            (csrf_field(ctx))
            (Input::text("name", ctx.t("orgs.checkpoint.name"), &f.name)
                .required()
                .hint(ctx.t("orgs.checkpoint.name_hint"))
                .render(ctx, errors))
            (select(ctx, "kind", ctx.t("orgs.checkpoint.kind"), &kinds, &f.kind, true, errors))
            div class="field check" {
                label {
                    input type="checkbox" name="inside_zone" value="1" checked[f.inside()];
                    " " (ctx.t("orgs.checkpoint.inside_label"))
                }
                small class="hint" { (ctx.t("orgs.checkpoint.inside_hint")) }
            }
            (select(ctx, "enterprise_id", ctx.t("orgs.checkpoint.enterprise"), &ents, &f.enterprise_id, false, errors))
            button type="submit" class="primary" { (ctx.t("orgs.save")) }
        }
    }
}

/// Check a checkpoint form: the API's name rule, a known kind and enterprise, and no other
/// checkpoint with the same name (gate staff pick checkpoints by name).
async fn check_checkpoint(
    st: &AppState,
    ctx: &Ctx,
    f: &CheckpointForm,
    editing: Option<CheckpointId>,
) -> WebResult<Result<NewCheckpoint, Vec<FieldError>>> {
    let mut errors = Vec::new();
    let name = match required_name("name", Some(&f.name), NAME_MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(localized(ctx.lang, e));
            None
        }
    };
    let all = st.store.list_checkpoints().await?;
    if let Some(n) = &name
        && all
            .iter()
            .any(|c| Some(c.id) != editing && c.name.trim().to_lowercase() == n.to_lowercase())
    {
        errors.push(FieldError::new("name", ctx.t("orgs.checkpoint.taken")));
    }
    let kind = CheckpointKind::parse(f.kind.trim());
    if kind.is_none() {
        errors.push(FieldError::new(
            "kind",
            ctx.t("orgs.checkpoint.kind_invalid"),
        ));
    }
    let enterprise_id = match f.enterprise_id.trim() {
        "" => None,
        raw => match raw.parse::<u32>().ok().map(EnterpriseId) {
            Some(id) if st.store.get_enterprise(id).await?.is_some() => Some(id),
            _ => {
                errors.push(FieldError::new(
                    "enterprise_id",
                    ctx.t("orgs.checkpoint.enterprise_invalid"),
                ));
                None
            }
        },
    };
    Ok(match (name, kind) {
        (Some(name), Some(kind)) if errors.is_empty() => Ok(NewCheckpoint {
            name,
            kind,
            inside_zone: f.inside(),
            enterprise_id,
        }),
        _ => Err(errors),
    })
}

fn render_checkpoint_new(
    ctx: &Ctx,
    f: &CheckpointForm,
    enterprises: &[Enterprise],
    errors: &[FieldError],
) -> Markup {
    let title = ctx.t("orgs.checkpoints.new");
    page(
        ctx,
        title,
        html! {
            p { a href="/checkpoints" { (ctx.t("orgs.checkpoints.back")) } }
            h1 { (title) }
            (checkpoint_form(ctx, "/checkpoints", f, enterprises, errors))
        },
    )
}

#[derive(Deserialize, Default)]
struct NewCheckpointQuery {
    enterprise: Option<String>,
}

async fn checkpoint_new(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NewCheckpointQuery>,
) -> WebResult<Markup> {
    let enterprises = st.store.list_enterprises().await?;
    let enterprise = q
        .enterprise
        .and_then(|e| e.trim().parse::<u32>().ok())
        .filter(|id| enterprises.iter().any(|e| e.id.0 == *id));
    let f = CheckpointForm {
        kind: if enterprise.is_some() {
            CheckpointKind::EnterpriseGate
        } else {
            CheckpointKind::ZoneBorder
        }
        .as_str()
        .to_owned(),
        inside_zone: "1".into(),
        enterprise_id: enterprise.map(|e| e.to_string()).unwrap_or_default(),
        ..CheckpointForm::default()
    };
    Ok(render_checkpoint_new(&ctx, &f, &enterprises, &[]))
}

async fn checkpoint_create(
    State(st): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CheckpointForm>,
) -> WebResult<Response> {
    match check_checkpoint(&st, &ctx, &f, None).await? {
        Ok(new) => {
            let c = st.store.create_checkpoint(&new, now()).await?;
            tracing::info!(checkpoint = %c.id, "checkpoint registered");
            Ok(see_other(&format!("/checkpoints/{}?done=created", c.id.0)))
        }
        Err(errors) => {
            let enterprises = st.store.list_enterprises().await?;
            Ok(invalid(render_checkpoint_new(
                &ctx,
                &f,
                &enterprises,
                &errors,
            )))
        }
    }
}

/// What the checkpoint page shows besides the checkpoint itself.
#[derive(Default)]
struct CheckpointView<'a> {
    form: Option<&'a CheckpointForm>,
    errors: &'a [FieldError],
    /// A refused revocation: the device and why.
    revoke_error: Option<(DeviceId, String)>,
    done: &'a str,
}

async fn render_checkpoint(
    st: &AppState,
    ctx: &Ctx,
    id: u32,
    view: CheckpointView<'_>,
) -> WebResult<Markup> {
    let Some(c) = st.store.get_checkpoint(CheckpointId(id)).await? else {
        return Err(WebError::NotFound("checkpoint"));
    };
    let enterprises = st.store.list_enterprises().await?;
    let devices = st.store.device_syncs(Some(c.id)).await?;
    let current = st.store.bundle_version().await?;
    let t = now();
    let own = CheckpointForm::of(&c);
    let form = view.form.unwrap_or(&own);
    let enterprise = c
        .enterprise_id
        .and_then(|e| enterprises.iter().find(|x| x.id == e));
    let title = c.name.as_str();
    Ok(page(
        ctx,
        title,
        html! {
            p { a href="/checkpoints" { (ctx.t("orgs.checkpoints.back")) } }
            h1 { (title) }
            @match view.done {
                "created" => (notice(ctx.t("orgs.checkpoint.created"))),
                "saved" => (notice(ctx.t("orgs.saved"))),
                "revoked" => (notice(ctx.t("orgs.device.revoked_notice"))),
                _ => {}
            }
            @if let Some((_, m)) = &view.revoke_error {
                div class="alert error" role="alert" { (m) }
            }
            dl class="facts" {
                dt { (ctx.t("orgs.id")) } dd { (c.id.0) }
                dt { (ctx.t("orgs.checkpoint.kind")) } dd { (ctx.t(kind_key(c.kind))) }
                dt { (ctx.t("orgs.checkpoint.zone")) }
                dd { (ctx.t(zone_key(c.inside_zone))) }
                dt { (ctx.t("orgs.checkpoint.enterprise")) }
                dd {
                    @if let Some(e) = enterprise {
                        a href={ "/enterprises/" (e.id.0) } { (e.name) }
                    } @else { "—" }
                }
                dt { (ctx.t("orgs.created_at")) } dd { (datetime(c.created_at)) }
            }

            h2 { (ctx.t("orgs.devices.title")) }
            p { (ctx.tf("orgs.bundle.current", &[("version", &current)])) }
            @if devices.is_empty() {
                p { (ctx.t("orgs.devices.empty")) }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th class="num" { (ctx.t("orgs.device.id")) }
                            th { (ctx.t("orgs.device.name")) }
                            th { (ctx.t("orgs.device.status")) }
                            th { (ctx.t("orgs.device.enrolled_at")) }
                            th { (ctx.t("orgs.device.last_sync")) }
                            th { (ctx.t("orgs.device.bundle")) }
                            th { (ctx.t("orgs.device.actions")) }
                        } }
                        tbody {
                            @for d in &devices {
                                @let s = sync_state(st, d, current, t);
                                @let dev = &d.device;
                                @let err = view.revoke_error.as_ref().filter(|(i, _)| *i == dev.id).map(|(_, m)| m.as_str());
                                tr class={ @if s.stale { "stale" } } {
                                    td class="num" { (dev.id.0) }
                                    td { (dev.name) }
                                    td {
                                        @if dev.status == DeviceStatus::Active {
                                            span class="badge active" { (ctx.t("orgs.device.active")) }
                                        } @else {
                                            span class="badge revoked" { (ctx.t("orgs.device.revoked")) }
                                            @if let Some(at) = dev.revoked_at { br; small { (datetime(at)) } }
                                            @if let Some(r) = &dev.revoke_reason { br; small { (r) } }
                                        }
                                    }
                                    td { (datetime(dev.enrolled_at)) }
                                    td { @if let Some(l) = s.last_sync { (datetime(l)) } @else { (ctx.t("orgs.device.never_synced")) } }
                                    td {
                                        @match (d.bundle_version, s.bundle_age) {
                                            (Some(v), Some(a)) => {
                                                (ctx.tf("orgs.device.bundle_version", &[("version", &v), ("age", &age(ctx, a))]))
                                                @if s.behind.unwrap_or(0) > 0 {
                                                    br; small { (ctx.tf("orgs.device.behind", &[("n", &s.behind.unwrap_or(0))])) }
                                                }
                                            }
                                            _ => { (ctx.t("orgs.device.never_bundle")) }
                                        }
                                        @if s.stale { " " span class="badge stale" { (ctx.t("orgs.device.stale")) } }
                                    }
                                    td {
                                        @if dev.status == DeviceStatus::Active {
                                            form method="post" action={ "/devices/" (dev.id.0) "/revoke" } class="orgs-revoke"
                                                data-confirm=(ctx.tf("orgs.device.revoke_confirm", &[("name", &dev.name)])) {
                                                (csrf_field(ctx))
                                                label for={ "reason-" (dev.id.0) } { (ctx.t("orgs.device.reason")) }
                                                input id={ "reason-" (dev.id.0) } name="reason" type="text" required
                                                    maxlength=(REASON_MAX) aria-invalid=[err.map(|_| "true")];
                                                @if let Some(e) = err { span class="error" role="alert" { (e) } }
                                                button type="submit" class="danger" { (ctx.t("orgs.device.revoke")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p class="hint" { (ctx.tf("orgs.device.stale_hint", &[("hours", &st.settings.policy.stale_after_hours)])) }
            }

            h2 { (ctx.t("orgs.enrol.title")) }
            p { (ctx.t("orgs.enrol.help")) }
            form method="post" action={ "/checkpoints/" (c.id.0) "/enrolment-codes" } class="card" {
                (csrf_field(ctx))
                @let hours: Vec<(String, String)> = CODE_LIFETIMES.iter()
                    .map(|h| (h.to_string(), ctx.tf("orgs.enrol.hours", &[("n", h)]))).collect();
                (select(ctx, "valid_hours", ctx.t("orgs.enrol.valid_hours"), &hours, &CODE_HOURS.to_string(), true, &[]))
                button type="submit" class="primary" { (ctx.t("orgs.enrol.submit")) }
            }

            h2 { (ctx.t("orgs.checkpoint.edit")) }
            p { (ctx.t("orgs.checkpoint.edit_help")) }
            (checkpoint_form(ctx, &format!("/checkpoints/{}", c.id.0), form, &enterprises, view.errors))
        },
    ))
}

async fn checkpoint_detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> WebResult<Markup> {
    let id = path_id(&id, "checkpoint")?;
    let view = CheckpointView {
        done: &q.done,
        ..CheckpointView::default()
    };
    render_checkpoint(&st, &ctx, id, view).await
}

async fn checkpoint_edit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CheckpointForm>,
) -> WebResult<Response> {
    let id = path_id(&id, "checkpoint")?;
    if st.store.get_checkpoint(CheckpointId(id)).await?.is_none() {
        return Err(WebError::NotFound("checkpoint"));
    }
    match check_checkpoint(&st, &ctx, &f, Some(CheckpointId(id))).await? {
        Ok(new) => {
            st.store.update_checkpoint(CheckpointId(id), &new).await?;
            tracing::info!(checkpoint = id, "checkpoint changed");
            Ok(see_other(&format!("/checkpoints/{id}?done=saved")))
        }
        Err(errors) => {
            let view = CheckpointView {
                form: Some(&f),
                errors: &errors,
                ..CheckpointView::default()
            };
            Ok(invalid(render_checkpoint(&st, &ctx, id, view).await?))
        }
    }
}

#[derive(Deserialize, Default)]
struct CodeForm {
    #[serde(default)]
    valid_hours: String,
}

/// The server's address as the browser reached it, for the enrolment command.
fn server_url(ctx: &Ctx, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    match host {
        Some(h) => format!("{}://{h}", if ctx.secure { "https" } else { "http" }),
        None => ctx.t("orgs.enrol.server_placeholder").to_owned(),
    }
}

async fn enrolment_code(
    State(st): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CodeForm>,
) -> WebResult<Response> {
    let id = path_id(&id, "checkpoint")?;
    let Some(c) = st.store.get_checkpoint(CheckpointId(id)).await? else {
        return Err(WebError::NotFound("checkpoint"));
    };
    let hours = match f.valid_hours.trim() {
        "" => CODE_HOURS,
        raw => match raw.parse::<u32>() {
            Ok(h) if (1..=168).contains(&h) => h,
            _ => {
                return Err(WebError::BadRequest(
                    ctx.t("orgs.enrol.hours_invalid").into(),
                ));
            }
        },
    };
    let code = new_code_text().map_err(|e| WebError::Internal(e.to_string()))?;
    let t = now();
    let expires_at = t + i64::from(hours) * 3600;
    st.store
        .create_enrollment_code(c.id, &hash_code(&code), expires_at, t)
        .await?;
    crate::audit::record(
        &st,
        &ctx.user()?.username,
        crate::audit::Action::EnrolmentCodeMade,
        &format!("checkpoint:{}", c.id.0),
        serde_json::json!({ "hours": hours }),
    )
    .await?;
    tracing::info!(checkpoint = %c.id, hours, "enrolment code issued from the console");
    let command = format!(
        "passgate-checkpoint enroll --server {} --code {code}",
        server_url(&ctx, &headers)
    );
    let title = ctx.t("orgs.enrol.code_title");
    let body = page(
        &ctx,
        title,
        html! {
            p { a href={ "/checkpoints/" (c.id.0) } { (ctx.tf("orgs.enrol.back", &[("name", &c.name)])) } }
            h1 { (title) }
            div class="alert" role="status" { (ctx.t("orgs.enrol.once")) }
            div class="card" {
                p { (ctx.tf("orgs.enrol.for", &[("name", &c.name)])) }
                p class="orgs-code" { code { (code) } }
                p { (ctx.tf("orgs.enrol.expires", &[("time", &datetime(expires_at))])) }
                p { (ctx.t("orgs.enrol.command")) }
                pre class="orgs-command" { code { (command) } }
                p class="hint" { (ctx.t("orgs.enrol.after")) }
            }
        },
    );
    // Shown once: no copy in a cache or the browser history.
    Ok(([(header::CACHE_CONTROL, "no-store")], body).into_response())
}

#[derive(Deserialize, Default)]
struct RevokeForm {
    #[serde(default)]
    reason: String,
}

async fn device_revoke(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> WebResult<Response> {
    let id = DeviceId(path_id(&id, "device")?);
    let Some(device) = st.store.get_device(id).await? else {
        return Err(WebError::NotFound("device"));
    };
    let checkpoint = device.checkpoint_id.0;
    let refused = match required_name("reason", Some(&f.reason), REASON_MAX) {
        Err(e) => localized(ctx.lang, e).message,
        Ok(reason) => match st.store.revoke_device(id, &reason, now()).await {
            Ok(_) => {
                crate::audit::record(
                    &st,
                    &ctx.user()?.username,
                    crate::audit::Action::DeviceRevoked,
                    &format!("device:{}", id.0),
                    serde_json::json!({ "reason": reason }),
                )
                .await?;
                tracing::info!(device = %id, by = ?ctx.user.as_ref().map(|u| &u.username), "device revoked from the console");
                return Ok(see_other(&format!(
                    "/checkpoints/{checkpoint}?done=revoked"
                )));
            }
            Err(StoreError::Conflict(_)) => ctx.t("orgs.device.already_revoked").to_owned(),
            Err(e) => return Err(e.into()),
        },
    };
    let view = CheckpointView {
        revoke_error: Some((id, refused)),
        ..CheckpointView::default()
    };
    Ok(invalid(
        render_checkpoint(&st, &ctx, checkpoint, view).await?,
    ))
}
