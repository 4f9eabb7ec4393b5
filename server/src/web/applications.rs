//! Pass applications (通行证申请): an enterprise applies for a pass for its own vehicle, the
//! operations bureau approves (which issues the pass through the same path as the issue
//! form) or rejects it with a reason.
//!
//! - Filing runs the same validation as issuing, so an application that is stored would have
//!   been issuable at that moment; approving runs it again, because dates may have passed.
//! - An enterprise user sees only its own enterprise's applications; another's is "not
//!   found". Approve and reject are operations-bureau routes.
//! - A decided application is never decided again; who decided and when is kept.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::DateTime;
use maud::{Markup, html};
use passgate_shared::{Cargo, EnterpriseId, PassClass};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{
    Input, csrf_field, datetime, error_summary, localized_all, notice, page, pager, select,
};
use super::passes::{PassForm, form_problems};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other, urlencode};
use crate::audit::{self, Action};
use crate::error::{ApiError, FieldError};
use crate::routes::passes::{NewPass, issue_pass, validate};
use crate::state::{AppState, now};
use crate::store::workflow::{Application, ApplicationFilter, ApplicationStatus, NewApplication};
use crate::store::{StoreError, UserRole};
use serde_json::json;

pub fn pages() -> Vec<Page> {
    vec![
        Page::get(
            "/applications",
            Access::Roles(roles::APPLICATIONS),
            get(list),
        ),
        Page::get(
            "/applications/new",
            Access::Roles(roles::APPLICATIONS),
            get(new_form),
        ),
        Page::post(
            "/applications",
            Access::Roles(roles::APPLICATIONS),
            post(create),
        ),
        Page::post(
            "/applications/check",
            Access::Roles(roles::APPLICATIONS),
            post(check),
        ),
        Page::get(
            "/applications/{id}",
            Access::Roles(roles::APPLICATIONS),
            get(show),
        ),
        Page::post(
            "/applications/{id}/approve",
            Access::Roles(roles::OPS),
            post(approve),
        ),
        Page::post(
            "/applications/{id}/reject",
            Access::Roles(roles::OPS),
            post(reject),
        ),
    ]
}

/// Rows per list page.
const PAGE_SIZE: u32 = 50;
/// Longest reject reason and note, in characters.
const MAX_TEXT: usize = 200;

/// The label key of a pass class.
pub fn class_key(class: &str) -> &'static str {
    match PassClass::parse(class) {
        Some(PassClass::LongHaul) => crate::k!("applications.class.long_haul"),
        Some(PassClass::ShortHaul) => crate::k!("applications.class.short_haul"),
        Some(PassClass::LoadUnloadLeave) => crate::k!("applications.class.load_unload_leave"),
        None => crate::k!("applications.unknown"),
    }
}

/// The label key of a cargo category.
pub fn cargo_key(cargo: &str) -> &'static str {
    match Cargo::parse(cargo) {
        Some(Cargo::EpidemicSupplies) => crate::k!("applications.cargo.epidemic_supplies"),
        Some(Cargo::ProductionMaterials) => crate::k!("applications.cargo.production_materials"),
        Some(Cargo::DailyNecessities) => crate::k!("applications.cargo.daily_necessities"),
        None => crate::k!("applications.unknown"),
    }
}

fn status_key(s: ApplicationStatus) -> &'static str {
    match s {
        ApplicationStatus::Pending => crate::k!("applications.status.pending"),
        ApplicationStatus::Approved => crate::k!("applications.status.approved"),
        ApplicationStatus::Rejected => crate::k!("applications.status.rejected"),
    }
}

/// May this user see this application? Enterprise staff see their own enterprise's only.
fn visible(ctx: &Ctx, app: &Application) -> bool {
    match &ctx.user {
        Some(u) if u.role == UserRole::Enterprise => u.enterprise_id == Some(app.new.enterprise_id),
        Some(_) => true,
        None => false,
    }
}

/// The enterprise of an enterprise user (an enterprise account without one cannot apply).
fn own_enterprise(ctx: &Ctx) -> WebResult<Option<EnterpriseId>> {
    let user = ctx.user()?;
    if user.role != UserRole::Enterprise {
        return Ok(None);
    }
    user.enterprise_id
        .map(Some)
        .ok_or_else(|| WebError::BadRequest(ctx.t("applications.no_enterprise").to_owned()))
}

fn parse_id(id: &str) -> WebResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or(WebError::NotFound("application"))
}

async fn load(st: &AppState, ctx: &Ctx, id: &str) -> WebResult<Application> {
    let app = st
        .store
        .get_application(parse_id(id)?)
        .await?
        .ok_or(WebError::NotFound("application"))?;
    if !visible(ctx, &app) {
        return Err(WebError::NotFound("application"));
    }
    Ok(app)
}

/// A form post's fields, as typed: the pass fields, read and checked exactly as the pass
/// form reads them ([`PassForm`]), and the applicant's note.
#[derive(Debug, Default, Clone)]
struct AppForm {
    pass: PassForm,
    note: String,
}

impl AppForm {
    fn parse(body: &[u8]) -> AppForm {
        let text = String::from_utf8_lossy(body);
        let note = form_urlencoded_pairs(&text)
            .into_iter()
            .find(|(k, _)| k == "note")
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        AppForm {
            pass: PassForm::parse(&text),
            note,
        }
    }
}

/// RFC 3339 as a `datetime-local` value (Beijing time), for showing a stored time again.
fn rfc3339_to_local(s: &str) -> String {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => datetime(t.timestamp()).replace(' ', "T"),
        Err(_) => s.to_owned(),
    }
}

/// Validate a form with the pass form's rules: `Ok` with the pass request, or every bad field
/// in the reader's language. An enterprise account's own enterprise replaces whatever the
/// form says.
async fn check_form(
    st: &AppState,
    ctx: &Ctx,
    form: &AppForm,
    enterprise: Option<EnterpriseId>,
) -> WebResult<Result<NewPass, Vec<FieldError>>> {
    let mut pass = form.pass.clone();
    if let Some(e) = enterprise {
        pass.enterprise_id = e.0.to_string();
    }
    let (body, mut errors) = form_problems(st, ctx.lang, &pass).await?;
    if form.note.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            "note",
            ctx.tf("applications.too_long", &[("max", &MAX_TEXT)]),
        ));
    }
    Ok(if errors.is_empty() {
        Ok(body)
    } else {
        Err(errors)
    })
}

fn class_options(ctx: &Ctx) -> Vec<(String, String)> {
    PassClass::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                ctx.t(class_key(c.as_str())).to_owned(),
            )
        })
        .collect()
}

fn cargo_options(ctx: &Ctx) -> Vec<(String, String)> {
    Cargo::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                ctx.t(cargo_key(c.as_str())).to_owned(),
            )
        })
        .collect()
}

async fn render_form(
    st: &AppState,
    ctx: &Ctx,
    form: &AppForm,
    errors: &[FieldError],
) -> WebResult<Markup> {
    let own = own_enterprise(ctx)?;
    let enterprises = st.store.list_enterprises().await?;
    let checkpoints = st.store.list_checkpoints().await?;
    let own_name = own.and_then(|id| {
        enterprises
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.name.clone())
    });
    let enterprise_options: Vec<(String, String)> = enterprises
        .iter()
        .map(|e| (e.id.0.to_string(), e.name.clone()))
        .collect();
    let cp_error = super::layout::field_error(errors, "checkpoints");
    let title = ctx.t("applications.new.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            p { (ctx.t("applications.new.intro")) }
            (error_summary(ctx, errors))
            form method="post" action="/applications" class="card flow-form"
                 data-live-check="/applications/check" novalidate {
                (csrf_field(ctx))
                @match &own_name {
                    Some(name) => {
                        p { strong { (ctx.t("applications.field.enterprise")) } " " (name) }
                    }
                    None => {
                        (select(ctx, "enterprise_id", ctx.t("applications.field.enterprise"),
                            &enterprise_options, &form.pass.enterprise_id, true, errors))
                    }
                }
                div class="grid2" {
                    (select(ctx, "class", ctx.t("applications.field.class"),
                        &class_options(ctx), &form.pass.class, true, errors))
                    (select(ctx, "cargo", ctx.t("applications.field.cargo"),
                        &cargo_options(ctx), &form.pass.cargo, true, errors))
                    (Input::text("plate", ctx.t("applications.field.plate"), &form.pass.plate)
                        .required().hint(ctx.t("applications.hint.plate")).render(ctx, errors))
                    (Input::text("driver", ctx.t("applications.field.driver"), &form.pass.driver)
                        .required().render(ctx, errors))
                    (Input::text("co_driver", ctx.t("applications.field.co_driver"), &form.pass.co_driver)
                        .render(ctx, errors))
                    (Input::text("driver_id_number", ctx.t("applications.field.driver_id_number"),
                        &form.pass.driver_id_number)
                        .hint(ctx.t("applications.hint.driver_id_number")).render(ctx, errors))
                    (Input::text("origin", ctx.t("applications.field.origin"), &form.pass.origin)
                        .required().hint(ctx.t("applications.hint.division")).render(ctx, errors))
                    (Input::text("destination", ctx.t("applications.field.destination"),
                        &form.pass.destination)
                        .required().hint(ctx.t("applications.hint.division")).render(ctx, errors))
                    (Input::text("valid_from", ctx.t("applications.field.valid_from"),
                        &rfc3339_to_local(&form.pass.valid_from))
                        .kind("datetime-local").required().render(ctx, errors))
                    (Input::text("valid_until", ctx.t("applications.field.valid_until"),
                        &rfc3339_to_local(&form.pass.valid_until))
                        .kind("datetime-local").required().render(ctx, errors))
                }
                div data-show-when="class=load_unload_leave" {
                    (Input::text("max_dwell_minutes", ctx.t("applications.field.max_dwell_minutes"),
                        &form.pass.max_dwell_minutes)
                        .kind("number").hint(ctx.t("applications.hint.max_dwell")).render(ctx, errors))
                }
                fieldset id="f-checkpoints" data-show-when="class=long_haul"
                    class={ "flow-checkpoints" @if cp_error.is_some() { " invalid" } } {
                    legend { (ctx.t("applications.field.checkpoints")) }
                    @if checkpoints.is_empty() {
                        p class="hint" { (ctx.t("applications.no_checkpoints")) }
                    }
                    @for c in &checkpoints {
                        @let v = c.id.0.to_string();
                        label class="flow-check" {
                            input type="checkbox" name="checkpoints" value=(v)
                                checked[form.pass.checkpoints.contains(&v)];
                            " " (c.name)
                        }
                    }
                    span class="error" role="alert" data-error-for="checkpoints" {
                        @if let Some(e) = cp_error { (e) }
                    }
                }
                div class="field" {
                    label for="f-note" { (ctx.t("applications.field.note")) }
                    textarea id="f-note" name="note" rows="3" maxlength="200" { (form.note) }
                    span class="error" role="alert" data-error-for="note" {
                        @if let Some(e) = super::layout::field_error(errors, "note") { (e) }
                    }
                }
                div class="actions" {
                    button type="submit" class="primary" { (ctx.t("applications.new.submit")) }
                    a href="/applications" { (ctx.t("applications.back")) }
                }
            }
        },
    ))
}

async fn new_form(State(st): State<AppState>, ctx: Ctx) -> WebResult<Markup> {
    render_form(&st, &ctx, &AppForm::default(), &[]).await
}

async fn create(State(st): State<AppState>, ctx: Ctx, body: Bytes) -> WebResult<Response> {
    let form = AppForm::parse(&body);
    let own = own_enterprise(&ctx)?;
    let pass = match check_form(&st, &ctx, &form, own).await? {
        Ok(pass) => pass,
        Err(errors) => {
            let mut resp = render_form(&st, &ctx, &form, &errors)
                .await?
                .into_response();
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(resp);
        }
    };
    let user = ctx.user()?;
    let new = NewApplication {
        enterprise_id: EnterpriseId(pass.enterprise_id.unwrap_or_default()),
        applicant_id: user.id,
        applicant_name: user.display_name.clone(),
        class: pass.class.clone().unwrap_or_default(),
        plate: pass.plate.clone().unwrap_or_default(),
        driver: pass.driver.clone().unwrap_or_default(),
        co_driver: pass.co_driver.clone(),
        driver_id_number: pass.driver_id_number.clone(),
        origin: pass.origin.clone().unwrap_or_default(),
        destination: pass.destination.clone().unwrap_or_default(),
        checkpoints: pass.checkpoints.clone().unwrap_or_default(),
        cargo: pass.cargo.clone().unwrap_or_default(),
        valid_from: pass.valid_from.clone().unwrap_or_default(),
        valid_until: pass.valid_until.clone().unwrap_or_default(),
        max_dwell_minutes: pass.max_dwell_minutes,
        note: form.note.clone(),
    };
    let app = st.store.create_application(&new, now()).await?;
    tracing::info!(id = app.id, enterprise = %app.new.enterprise_id, by = %user.username, "pass application filed");
    Ok(see_other(&format!("/applications/{}?done=filed", app.id)))
}

/// Checks as you type: `{"errors": [{"field", "message"}]}`.
async fn check(State(st): State<AppState>, ctx: Ctx, body: Bytes) -> WebResult<Response> {
    let form = AppForm::parse(&body);
    let own = own_enterprise(&ctx)?;
    let errors = match check_form(&st, &ctx, &form, own).await? {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    Ok(axum::Json(serde_json::json!({ "errors": errors })).into_response())
}

#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    offset: Option<u32>,
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> WebResult<Markup> {
    let own = own_enterprise(&ctx)?;
    let status = q.status.as_deref().and_then(ApplicationStatus::parse);
    let offset = q.offset.unwrap_or(0);
    let filter = ApplicationFilter {
        enterprise: own,
        status,
        limit: PAGE_SIZE,
        offset,
    };
    let (apps, total) = st.store.list_applications(&filter).await?;
    let enterprises = st.store.list_enterprises().await?;
    let ent_name = |id: EnterpriseId| {
        enterprises
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let status_options: Vec<(String, String)> = ApplicationStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), ctx.t(status_key(*s)).to_owned()))
        .collect();
    let selected = status.map(|s| s.as_str()).unwrap_or_default();
    let base = format!("/applications?status={}&", urlencode(selected));
    let title = ctx.t("applications.list.title");
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            div class="actions" {
                a class="button primary" href="/applications/new" { (ctx.t("applications.new.title")) }
            }
            form method="get" action="/applications" class="filters" {
                (select(&ctx, "status", ctx.t("applications.field.status"), &status_options,
                    selected, false, &[]))
                div class="field" { button type="submit" { (ctx.t("applications.filter")) } }
            }
            @if apps.is_empty() {
                p { (ctx.t("applications.list.empty")) }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th { (ctx.t("applications.field.id")) }
                            th { (ctx.t("applications.field.status")) }
                            th { (ctx.t("applications.field.plate")) }
                            th { (ctx.t("applications.field.class")) }
                            th { (ctx.t("applications.field.cargo")) }
                            @if own.is_none() { th { (ctx.t("applications.field.enterprise")) } }
                            th { (ctx.t("applications.field.validity")) }
                            th { (ctx.t("applications.field.created_at")) }
                            th { (ctx.t("applications.field.pass_number")) }
                        } }
                        tbody {
                            @for a in &apps {
                                tr {
                                    td { a href={ "/applications/" (a.id) } { "#" (a.id) } }
                                    td { span class={ "badge app-" (a.status.as_str()) } { (ctx.t(status_key(a.status))) } }
                                    td { (a.new.plate) }
                                    td { (ctx.t(class_key(&a.new.class))) }
                                    td { (ctx.t(cargo_key(&a.new.cargo))) }
                                    @if own.is_none() { td { (ent_name(a.new.enterprise_id)) } }
                                    td { (validity_text(&a.new)) }
                                    td { (datetime(a.created_at)) }
                                    td { @if let Some(n) = &a.pass_number { (n) } }
                                }
                            }
                        }
                    }
                }
                (pager(&ctx, &base, u64::from(offset), u64::from(PAGE_SIZE), total))
            }
        },
    ))
}

fn validity_text(a: &NewApplication) -> String {
    let t = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| datetime(t.timestamp()))
            .unwrap_or_else(|_| s.to_owned())
    };
    format!("{} – {}", t(&a.valid_from), t(&a.valid_until))
}

/// The stored application as the pass request it asks for.
fn to_new_pass(a: &NewApplication) -> NewPass {
    let class = PassClass::parse(&a.class);
    NewPass {
        class: Some(a.class.clone()),
        plate: Some(a.plate.clone()),
        driver: Some(a.driver.clone()),
        co_driver: a.co_driver.clone(),
        driver_id_number: a.driver_id_number.clone(),
        enterprise_id: Some(a.enterprise_id.0),
        origin: Some(a.origin.clone()),
        destination: Some(a.destination.clone()),
        checkpoints: (class == Some(PassClass::LongHaul)).then(|| a.checkpoints.clone()),
        cargo: Some(a.cargo.clone()),
        valid_from: Some(a.valid_from.clone()),
        valid_until: Some(a.valid_until.clone()),
        max_dwell_minutes: a.max_dwell_minutes,
        // The application form does not ask for the crew's phone.
        crew_phone: None,
    }
}

/// Show an ID number with its middle hidden.
fn mask_id(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    done: Option<String>,
}

async fn render_detail(
    st: &AppState,
    ctx: &Ctx,
    app: &Application,
    done: Option<&str>,
    errors: &[FieldError],
    reason: &str,
) -> WebResult<Markup> {
    let a = &app.new;
    let enterprise = st
        .store
        .get_enterprise(a.enterprise_id)
        .await?
        .map(|e| e.name)
        .unwrap_or_else(|| a.enterprise_id.to_string());
    let checkpoints = st.store.list_checkpoints().await?;
    let cp_names: Vec<String> = a
        .checkpoints
        .iter()
        .map(|id| {
            checkpoints
                .iter()
                .find(|c| c.id.0 == *id)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
        .collect();
    let can_decide = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::OPS).allows(r))
        && app.status == ApplicationStatus::Pending;
    let done_text = match done {
        Some("filed") => Some(ctx.t("applications.done.filed")),
        Some("approved") => Some(ctx.t("applications.done.approved")),
        Some("rejected") => Some(ctx.t("applications.done.rejected")),
        _ => None,
    };
    let reason_error = super::layout::field_error(errors, "reason");
    let title = ctx.tf("applications.detail.title", &[("id", &app.id)]);
    Ok(page(
        ctx,
        &title,
        html! {
            h1 { (title) " " span class={ "badge app-" (app.status.as_str()) } { (ctx.t(status_key(app.status))) } }
            @if let Some(t) = done_text { (notice(t)) }
            @if !errors.is_empty() && reason_error.is_none() {
                div class="alert error" role="alert" {
                    p { strong { (ctx.t("applications.approve_failed")) } }
                    ul { @for e in errors { li { (e.field) ": " (e.message) } } }
                }
            }
            dl class="facts card" {
                dt { (ctx.t("applications.field.enterprise")) } dd { (enterprise) }
                dt { (ctx.t("applications.field.class")) } dd { (ctx.t(class_key(&a.class))) }
                dt { (ctx.t("applications.field.plate")) } dd { (a.plate) }
                dt { (ctx.t("applications.field.driver")) } dd { (a.driver) }
                @if let Some(c) = &a.co_driver {
                    dt { (ctx.t("applications.field.co_driver")) } dd { (c) }
                }
                @if let Some(n) = &a.driver_id_number {
                    dt { (ctx.t("applications.field.driver_id_number")) } dd { (mask_id(n)) }
                }
                dt { (ctx.t("applications.field.origin")) } dd { (a.origin) }
                dt { (ctx.t("applications.field.destination")) } dd { (a.destination) }
                @if !cp_names.is_empty() {
                    dt { (ctx.t("applications.field.checkpoints")) } dd { (cp_names.join(" → ")) }
                }
                dt { (ctx.t("applications.field.cargo")) } dd { (ctx.t(cargo_key(&a.cargo))) }
                dt { (ctx.t("applications.field.validity")) } dd { (validity_text(a)) }
                @if let Some(m) = a.max_dwell_minutes {
                    dt { (ctx.t("applications.field.max_dwell_minutes")) } dd { (m) }
                }
                @if !a.note.is_empty() {
                    dt { (ctx.t("applications.field.note")) } dd { (a.note) }
                }
                dt { (ctx.t("applications.field.applicant")) } dd { (a.applicant_name) " · " (datetime(app.created_at)) }
                @if let (Some(by), Some(at)) = (&app.decided_by, app.decided_at) {
                    dt { (ctx.t("applications.field.decided")) } dd { (by) " · " (datetime(at)) }
                }
                @if let Some(r) = &app.reject_reason {
                    dt { (ctx.t("applications.field.reject_reason")) } dd { (r) }
                }
                @if let Some(n) = &app.pass_number {
                    dt { (ctx.t("applications.field.pass_number")) }
                    dd { a href={ "/passes/" (n) } { (n) } }
                }
            }
            @if can_decide {
                div class="flow-decide" {
                    form method="post" action={ "/applications/" (app.id) "/approve" } class="card" {
                        (csrf_field(ctx))
                        h2 { (ctx.t("applications.approve.title")) }
                        p { (ctx.t("applications.approve.help")) }
                        button type="submit" class="primary"
                            data-confirm=(ctx.t("applications.approve.confirm")) {
                            (ctx.t("applications.approve.submit"))
                        }
                    }
                    form method="post" action={ "/applications/" (app.id) "/reject" } class="card" {
                        (csrf_field(ctx))
                        h2 { (ctx.t("applications.reject.title")) }
                        div class={ "field" @if reason_error.is_some() { " invalid" } } {
                            label for="f-reason" {
                                (ctx.t("applications.field.reject_reason"))
                                span class="req" aria-hidden="true" { " *" }
                                span class="sr-only" { (ctx.t("form.required")) }
                            }
                            textarea id="f-reason" name="reason" rows="3" maxlength="200" required
                                aria-invalid=[reason_error.map(|_| "true")] { (reason) }
                            span class="error" role="alert" data-error-for="reason" {
                                @if let Some(e) = reason_error { (e) }
                            }
                        }
                        button type="submit" class="danger" { (ctx.t("applications.reject.submit")) }
                    }
                }
            }
            p { a href="/applications" { (ctx.t("applications.back")) } }
        },
    ))
}

async fn show(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> WebResult<Markup> {
    let app = load(&st, &ctx, &id).await?;
    render_detail(&st, &ctx, &app, q.done.as_deref(), &[], "").await
}

fn already_decided(ctx: &Ctx, e: StoreError) -> WebError {
    match e {
        StoreError::Conflict(_) => {
            WebError::Conflict(ctx.t("applications.already_decided").to_owned())
        }
        other => other.into(),
    }
}

async fn unprocessable(
    st: &AppState,
    ctx: &Ctx,
    app: &Application,
    errors: &[FieldError],
    reason: &str,
) -> WebResult<Response> {
    let mut resp = render_detail(st, ctx, app, None, errors, reason)
        .await?
        .into_response();
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

async fn approve(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let app = load(&st, &ctx, &id).await?;
    if app.status != ApplicationStatus::Pending {
        return Err(WebError::Conflict(
            ctx.t("applications.already_decided").to_owned(),
        ));
    }
    let body = to_new_pass(&app.new);
    // Checked before the application is taken, so that a stale one stays pending and says why.
    match validate(&st, &body, now()).await {
        Ok(_) => {}
        Err(ApiError::Validation(errors)) => {
            return unprocessable(&st, &ctx, &app, &localized_all(ctx.lang, errors), "").await;
        }
        Err(e) => return Err(e.into()),
    }
    let user = ctx.user()?;
    let claimed = st
        .store
        .claim_application(app.id, &user.username, now())
        .await
        .map_err(|e| already_decided(&ctx, e))?;
    let record = match issue_pass(&st, &body, &user.username).await {
        Ok(r) => r,
        Err(e) => {
            st.store.release_application(claimed.id).await?;
            return match e {
                ApiError::Validation(errors) => {
                    unprocessable(&st, &ctx, &app, &localized_all(ctx.lang, errors), "").await
                }
                other => Err(other.into()),
            };
        }
    };
    let number = record.number.to_string();
    st.store.link_application_pass(claimed.id, &number).await?;
    audit::record(
        &st,
        &user.username,
        Action::ApplicationDecided,
        &format!("application:{}", claimed.id),
        json!({ "decision": "approved", "pass": number }),
    )
    .await?;
    tracing::info!(id = claimed.id, number = %number, by = %user.username, "pass application approved");
    Ok(see_other(&format!(
        "/applications/{}?done=approved",
        claimed.id
    )))
}

async fn reject(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let app = load(&st, &ctx, &id).await?;
    if app.status != ApplicationStatus::Pending {
        return Err(WebError::Conflict(
            ctx.t("applications.already_decided").to_owned(),
        ));
    }
    let reason = form_field(&body, "reason");
    let reason = reason.trim();
    let problem = if reason.is_empty() {
        Some(ctx.t("applications.reject.reason_required").to_owned())
    } else if reason.chars().count() > MAX_TEXT {
        Some(ctx.tf("applications.too_long", &[("max", &MAX_TEXT)]))
    } else {
        None
    };
    if let Some(p) = problem {
        return unprocessable(&st, &ctx, &app, &[FieldError::new("reason", p)], reason).await;
    }
    let user = ctx.user()?;
    let done = st
        .store
        .reject_application(app.id, reason, &user.username, now())
        .await
        .map_err(|e| already_decided(&ctx, e))?;
    audit::record(
        &st,
        &user.username,
        Action::ApplicationDecided,
        &format!("application:{}", done.id),
        json!({ "decision": "rejected", "reason": reason }),
    )
    .await?;
    tracing::info!(id = done.id, by = %user.username, "pass application rejected");
    Ok(see_other(&format!(
        "/applications/{}?done=rejected",
        done.id
    )))
}

/// One field of a urlencoded form body (empty when absent).
fn form_field(body: &[u8], name: &str) -> String {
    form_urlencoded_pairs(&String::from_utf8_lossy(body))
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_show_as_beijing_local_input() {
        assert_eq!(
            rfc3339_to_local("2026-12-01T08:00:00+08:00"),
            "2026-12-01T08:00"
        );
    }

    #[test]
    fn id_numbers_are_masked() {
        assert_eq!(mask_id("410102199001011234"), "410***********1234");
        assert_eq!(mask_id("123"), "***");
    }
}
