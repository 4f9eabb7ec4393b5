//! The pass pages of the operations bureau: the list with search and filters, the issuance
//! form (checked as you type by the same rules as the submit), the detail page with the QR
//! code and the revoke form, and the printable A4 pass.
//!
//! The crew's phone is shown masked (`138****5678`) to everyone who may see the pass; the
//! operations bureau and the administrator may press 显示完整号码, a POST that records a
//! `personal_data_viewed` audit entry and answers the detail page with the full number (not
//! cached, never in a URL).
//!
//! The two bureaus see every pass; an enterprise account sees only its own enterprise's
//! passes (the list is filtered, any other pass answers "not found").

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use maud::{Markup, html};
use passgate_shared::time::{LOCAL_OFFSET_SECONDS, local_day_range};
use passgate_shared::{Cargo, EnterpriseId, Lang, PassClass, PassNumber};

use super::access::{Access, roles};
use super::i18n::tr;
use super::layout::{
    Input, csrf_field, datetime, error_summary, field_error, localized_all, notice, page, pager,
    select, trusted,
};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other, urlencode};
use crate::error::{ApiError, FieldError};
use crate::metrics::Metrics;
use crate::routes::passes::{NewPass, issue_pass, validate};
use crate::state::{AppState, now};
use crate::store::{Checkpoint, PassFilter, PassRecord, PassStatus, StoreError, UserRole};

/// Passes per page of the list.
pub const PAGE_SIZE: u32 = 20;

/// Longest revoke reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

pub fn pages() -> Vec<Page> {
    vec![
        Page::get("/passes", Access::Roles(roles::PASS_VIEW), get(list)),
        Page::get("/passes/new", Access::Roles(roles::OPS), get(new_form)),
        Page::post("/passes", Access::Roles(roles::OPS), post(issue)),
        Page::post("/passes/check", Access::Roles(roles::OPS), post(check)),
        Page::get(
            "/passes/{number}",
            Access::Roles(roles::PASS_VIEW),
            get(detail),
        ),
        Page::get(
            "/passes/{number}/print",
            Access::Roles(roles::PASS_VIEW),
            get(print),
        ),
        Page::post(
            "/passes/{number}/revoke",
            Access::Roles(roles::OPS),
            post(revoke),
        ),
        Page::post(
            "/passes/{number}/phone",
            Access::Roles(roles::PERSONAL_DATA),
            post(reveal_phone),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Words for enum values

fn class_key(class: PassClass) -> &'static str {
    match class {
        PassClass::LongHaul => crate::k!("passes.class.long_haul"),
        PassClass::ShortHaul => crate::k!("passes.class.short_haul"),
        PassClass::LoadUnloadLeave => crate::k!("passes.class.load_unload_leave"),
    }
}

fn cargo_key(cargo: Cargo) -> &'static str {
    match cargo {
        Cargo::EpidemicSupplies => crate::k!("passes.cargo.epidemic_supplies"),
        Cargo::ProductionMaterials => crate::k!("passes.cargo.production_materials"),
        Cargo::DailyNecessities => crate::k!("passes.cargo.daily_necessities"),
    }
}

/// The cargo of a stored pass in words (the stored API name if it is not known).
fn cargo_name(ctx: &Ctx, stored: &str) -> String {
    match Cargo::parse(stored) {
        Some(c) => ctx.t(cargo_key(c)).to_owned(),
        None => stored.to_owned(),
    }
}

/// Where a pass stands for people: revoked, expired (active but past its validity) or
/// active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Active,
    Expired,
    Revoked,
}

impl Shown {
    pub const ALL: [Shown; 3] = [Shown::Active, Shown::Expired, Shown::Revoked];

    pub fn of(p: &PassRecord, now: i64) -> Shown {
        match p.status {
            PassStatus::Revoked => Shown::Revoked,
            PassStatus::Active if p.valid_until <= now => Shown::Expired,
            PassStatus::Active => Shown::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Active => "active",
            Shown::Expired => "expired",
            Shown::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Option<Shown> {
        Shown::ALL.into_iter().find(|v| v.as_str() == s)
    }

    fn key(self) -> &'static str {
        match self {
            Shown::Active => crate::k!("passes.status.active"),
            Shown::Expired => crate::k!("passes.status.expired"),
            Shown::Revoked => crate::k!("passes.status.revoked"),
        }
    }
}

fn status_badge(ctx: &Ctx, shown: Shown) -> Markup {
    html! { span class={ "badge " (shown.as_str()) } { (ctx.t(shown.key())) } }
}

fn class_badge(ctx: &Ctx, class: PassClass) -> Markup {
    html! { span class={ "badge class-" (class.as_str()) } { (ctx.t(class_key(class))) } }
}

/// A `datetime-local` value (`2026-12-01T08:00`) for an instant, in Beijing time.
fn local_input(t: i64) -> String {
    match (
        DateTime::from_timestamp(t, 0),
        FixedOffset::east_opt(LOCAL_OFFSET_SECONDS),
    ) {
        (Some(d), Some(tz)) => d.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        _ => String::new(),
    }
}

/// A Beijing wall-clock time typed into the form, as RFC 3339 with `+08:00`. `None` when
/// the text is not such a time.
pub fn local_to_rfc3339(text: &str) -> Option<String> {
    let text = text.trim();
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(|t| t.format("%Y-%m-%dT%H:%M:%S+08:00").to_string())
}

/// The user's enterprise when the user is an enterprise account: `Some(None)` for an
/// enterprise account that belongs to none (it sees nothing), `None` for everyone else.
fn own_enterprise(ctx: &Ctx) -> Option<Option<EnterpriseId>> {
    ctx.user
        .as_ref()
        .filter(|u| u.role == UserRole::Enterprise)
        .map(|u| u.enterprise_id)
}

/// The pass `number`, if this user may see it; otherwise "not found" (also for a pass of
/// another enterprise, so that its existence is not disclosed).
async fn find_visible(st: &AppState, ctx: &Ctx, number: &str) -> WebResult<PassRecord> {
    let n = PassNumber::parse(number.trim()).map_err(|_| WebError::NotFound("pass"))?;
    let p = st
        .store
        .get_pass(n)
        .await?
        .ok_or(WebError::NotFound("pass"))?;
    match own_enterprise(ctx) {
        Some(own) if own != Some(p.enterprise_id) => Err(WebError::NotFound("pass")),
        _ => Ok(p),
    }
}

fn with_status(markup: Markup, status: StatusCode) -> Response {
    let mut resp = markup.into_response();
    *resp.status_mut() = status;
    resp
}

// ---------------------------------------------------------------------------------------
// The list

/// The list's filters as typed (kept to fill the filter form again).
#[derive(Debug, Default)]
struct ListQuery {
    plate: String,
    class: String,
    status: String,
    enterprise: String,
    valid_on: String,
    offset: u32,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> ListQuery {
        let mut q = ListQuery::default();
        for (k, v) in form_urlencoded_pairs(raw.unwrap_or_default()) {
            let v = v.trim().to_owned();
            match k.as_str() {
                "plate" => q.plate = v,
                "class" => q.class = v,
                "status" => q.status = v,
                "enterprise" => q.enterprise = v,
                "valid_on" => q.valid_on = v,
                "offset" => q.offset = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        q
    }

    /// The link to this list with these filters, ready for `offset=` to be appended.
    fn base(&self) -> String {
        let mut out = String::from("/passes?");
        for (k, v) in [
            ("plate", &self.plate),
            ("class", &self.class),
            ("status", &self.status),
            ("enterprise", &self.enterprise),
            ("valid_on", &self.valid_on),
        ] {
            if !v.is_empty() {
                out.push_str(&format!("{k}={}&", urlencode(v)));
            }
        }
        out
    }

    /// The store filter; a value that makes no sense is reported and left out.
    fn filter(&self, ctx: &Ctx, now: i64, errors: &mut Vec<FieldError>) -> PassFilter {
        let mut f = PassFilter {
            limit: PAGE_SIZE,
            offset: self.offset,
            ..PassFilter::default()
        };
        let plate: String = self
            .plate
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•'))
            .collect();
        if plate.chars().count() > 10 {
            errors.push(FieldError::new(
                "plate",
                ctx.t("passes.filter.plate_too_long"),
            ));
        } else if !plate.is_empty() {
            f.plate_contains = Some(plate);
        }
        if !self.class.is_empty() {
            match PassClass::parse(&self.class) {
                Some(c) => f.class = Some(c),
                None => errors.push(FieldError::new("class", ctx.t("passes.filter.bad_choice"))),
            }
        }
        if !self.status.is_empty() {
            match Shown::parse(&self.status) {
                Some(Shown::Active) => {
                    f.status = Some(PassStatus::Active);
                    f.valid_until_after = Some(now);
                }
                Some(Shown::Expired) => {
                    f.status = Some(PassStatus::Active);
                    f.valid_until_upto = Some(now);
                }
                Some(Shown::Revoked) => f.status = Some(PassStatus::Revoked),
                None => errors.push(FieldError::new("status", ctx.t("passes.filter.bad_choice"))),
            }
        }
        if !self.enterprise.is_empty() {
            match self.enterprise.parse::<u32>() {
                Ok(id) => f.enterprise = Some(EnterpriseId(id)),
                Err(_) => errors.push(FieldError::new(
                    "enterprise",
                    ctx.t("passes.filter.bad_choice"),
                )),
            }
        }
        if !self.valid_on.is_empty() {
            match local_day_range(&self.valid_on) {
                Some((start, end)) => {
                    f.valid_from_before = Some(end);
                    f.valid_until_after = Some(f.valid_until_after.map_or(start, |t| t.max(start)));
                }
                None => errors.push(FieldError::new("valid_on", ctx.t("passes.filter.bad_date"))),
            }
        }
        f
    }
}

async fn list(State(st): State<AppState>, ctx: Ctx, RawQuery(raw): RawQuery) -> WebResult<Markup> {
    let q = ListQuery::parse(raw.as_deref());
    let now = now();
    let mut errors = Vec::new();
    let mut filter = q.filter(&ctx, now, &mut errors);
    let own = own_enterprise(&ctx);
    if let Some(own) = own {
        filter.enterprise = own;
    }
    let (passes, total) = match own {
        // An enterprise account that belongs to no enterprise sees nothing.
        Some(None) => (Vec::new(), 0),
        _ => st.store.list_passes(&filter).await?,
    };
    let enterprises = st.store.list_enterprises().await?;
    let names: HashMap<u32, &str> = enterprises
        .iter()
        .map(|e| (e.id.0, e.name.as_str()))
        .collect();
    let class_options: Vec<(String, String)> = PassClass::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), ctx.t(class_key(*c)).to_owned()))
        .collect();
    let status_options: Vec<(String, String)> = Shown::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), ctx.t(s.key()).to_owned()))
        .collect();
    let enterprise_options: Vec<(String, String)> = enterprises
        .iter()
        .map(|e| (e.id.0.to_string(), e.name.clone()))
        .collect();
    let may_issue = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::OPS).allows(r));
    let title = ctx.t("passes.list.title");
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            @if may_issue {
                p class="actions" {
                    a class="button primary" href="/passes/new" { (ctx.t("passes.list.issue")) }
                }
            }
            form method="get" action="/passes" class="filters card" role="search" {
                (Input::text("plate", ctx.t("passes.field.plate"), &q.plate)
                    .hint(ctx.t("passes.filter.plate_hint")).render(&ctx, &errors))
                (select(&ctx, "class", ctx.t("passes.field.class"), &class_options, &q.class, false, &errors))
                (select(&ctx, "status", ctx.t("passes.field.status"), &status_options, &q.status, false, &errors))
                @if own.is_none() {
                    (select(&ctx, "enterprise", ctx.t("passes.field.enterprise"), &enterprise_options,
                        &q.enterprise, false, &errors))
                }
                (Input::text("valid_on", ctx.t("passes.filter.valid_on"), &q.valid_on)
                    .kind("date").render(&ctx, &errors))
                div class="field" {
                    button type="submit" class="primary" { (ctx.t("passes.filter.submit")) }
                }
                div class="field" {
                    a href="/passes" { (ctx.t("passes.filter.clear")) }
                }
            }
            @if passes.is_empty() {
                p class="alert" { (ctx.t("passes.list.empty")) }
            } @else {
                div class="table-wrap" {
                    table class="pass-list" {
                        thead {
                            tr {
                                th scope="col" { (ctx.t("passes.field.number")) }
                                th scope="col" { (ctx.t("passes.field.plate")) }
                                th scope="col" { (ctx.t("passes.field.class")) }
                                th scope="col" { (ctx.t("passes.field.status")) }
                                th scope="col" { (ctx.t("passes.field.enterprise")) }
                                th scope="col" { (ctx.t("passes.field.validity")) }
                                th scope="col" { (ctx.t("passes.field.created_at")) }
                            }
                        }
                        tbody {
                            @for p in &passes {
                                tr {
                                    td { a href={ "/passes/" (p.number) } { (p.number) } }
                                    td class="plate-cell" { (p.plate) }
                                    td { (class_badge(&ctx, p.class)) }
                                    td { (status_badge(&ctx, Shown::of(p, now))) }
                                    td { (names.get(&p.enterprise_id.0).copied().unwrap_or("—")) }
                                    td { (datetime(p.valid_from)) " — " (datetime(p.valid_until)) }
                                    td { (datetime(p.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            (pager(&ctx, &q.base(), u64::from(q.offset), u64::from(PAGE_SIZE), total))
        },
    ))
}

// ---------------------------------------------------------------------------------------
// The issuance form

/// The issuance form as typed, every value kept so a refused form comes back filled in.
/// The names are those of [`NewPass`], so the shared rules' errors land on the right input.
#[derive(Debug, Default, Clone)]
pub struct PassForm {
    pub class: String,
    pub plate: String,
    pub driver: String,
    pub co_driver: String,
    pub driver_id_number: String,
    pub enterprise_id: String,
    pub origin: String,
    pub destination: String,
    pub checkpoints: Vec<String>,
    pub cargo: String,
    pub valid_from: String,
    pub valid_until: String,
    pub max_dwell_minutes: String,
    pub crew_phone: String,
}

impl PassForm {
    /// Read an urlencoded body (repeated `checkpoints` keys are collected).
    pub fn parse(body: &str) -> PassForm {
        let mut f = PassForm::default();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "class" => f.class = v,
                "plate" => f.plate = v,
                "driver" => f.driver = v,
                "co_driver" => f.co_driver = v,
                "driver_id_number" => f.driver_id_number = v,
                "enterprise_id" => f.enterprise_id = v,
                "origin" => f.origin = v,
                "destination" => f.destination = v,
                "checkpoints" => f.checkpoints.push(v),
                "cargo" => f.cargo = v,
                "valid_from" => f.valid_from = v,
                "valid_until" => f.valid_until = v,
                "max_dwell_minutes" => f.max_dwell_minutes = v,
                "crew_phone" => f.crew_phone = v,
                _ => {}
            }
        }
        f
    }

    /// The request for the shared rules, and what the form itself could not read (in the
    /// reader's language). Fields that do not apply to the chosen class (hidden on the page)
    /// are left out.
    pub fn to_new_pass(&self, lang: Lang) -> (NewPass, Vec<FieldError>) {
        let mut errors = Vec::new();
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let class = PassClass::parse(self.class.trim());
        let enterprise_id = match self.enterprise_id.trim() {
            "" => None,
            s => s
                .parse::<u32>()
                .map_err(|_| {
                    errors.push(FieldError::new(
                        "enterprise_id",
                        tr(lang, "passes.form.bad_choice"),
                    ))
                })
                .ok(),
        };
        let checkpoints = if class == Some(PassClass::LongHaul) {
            let mut ids = Vec::new();
            for v in self
                .checkpoints
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
            {
                match v.parse::<u32>() {
                    Ok(id) => ids.push(id),
                    Err(_) => {
                        errors.push(FieldError::new(
                            "checkpoints",
                            tr(lang, "passes.form.bad_choice"),
                        ));
                        break;
                    }
                }
            }
            Some(ids).filter(|ids| !ids.is_empty())
        } else {
            None
        };
        let max_dwell_minutes = if class == Some(PassClass::LoadUnloadLeave) {
            match self.max_dwell_minutes.trim() {
                "" => None,
                s => s
                    .parse::<u32>()
                    .map_err(|_| {
                        errors.push(FieldError::new(
                            "max_dwell_minutes",
                            tr(lang, "passes.form.bad_minutes"),
                        ))
                    })
                    .ok(),
            }
        } else {
            None
        };
        let mut time = |field: &str, value: &str| match value.trim() {
            "" => None,
            v => match local_to_rfc3339(v) {
                Some(rfc) => Some(rfc),
                None => {
                    errors.push(FieldError::new(field, tr(lang, "passes.form.bad_time")));
                    None
                }
            },
        };
        let valid_from = time("valid_from", &self.valid_from);
        let valid_until = time("valid_until", &self.valid_until);
        let new = NewPass {
            class: text(&self.class),
            plate: text(&self.plate),
            driver: text(&self.driver),
            co_driver: text(&self.co_driver),
            driver_id_number: text(&self.driver_id_number),
            enterprise_id,
            origin: text(&self.origin),
            destination: text(&self.destination),
            checkpoints,
            cargo: text(&self.cargo),
            valid_from,
            valid_until,
            max_dwell_minutes,
            crew_phone: text(&self.crew_phone),
        };
        (new, errors)
    }
}

/// Every problem of a form: what the form could not read, then what the shared rules say
/// about the rest (one message per field, in the reader's language), and the request.
pub(super) async fn form_problems(
    st: &AppState,
    lang: Lang,
    form: &PassForm,
) -> WebResult<(NewPass, Vec<FieldError>)> {
    let (new, mut errors) = form.to_new_pass(lang);
    match validate(st, &new, now()).await {
        Ok(_) => {}
        Err(ApiError::Validation(fields)) => {
            for e in localized_all(lang, fields) {
                if !errors.iter().any(|known| known.field == e.field) {
                    errors.push(e);
                }
            }
        }
        Err(other) => return Err(other.into()),
    }
    Ok((new, errors))
}

async fn render_form(
    st: &AppState,
    ctx: &Ctx,
    form: &PassForm,
    errors: &[FieldError],
) -> WebResult<Markup> {
    let enterprises = st.store.list_enterprises().await?;
    let checkpoints = st.store.list_checkpoints().await?;
    let enterprise_options: Vec<(String, String)> = enterprises
        .iter()
        .map(|e| (e.id.0.to_string(), e.name.clone()))
        .collect();
    let class_options: Vec<(String, String)> = PassClass::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), ctx.t(class_key(*c)).to_owned()))
        .collect();
    let cargo_options: Vec<(String, String)> = Cargo::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), ctx.t(cargo_key(*c)).to_owned()))
        .collect();
    let cp_error = field_error(errors, "checkpoints");
    let title = ctx.t("passes.new.title");
    let dwell_hint = ctx.tf(
        "passes.form.dwell_hint",
        &[("max", &passgate_shared::pass::MAX_DWELL_MINUTES)],
    );
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            (error_summary(ctx, errors))
            form method="post" action="/passes" class="pass-form" data-live-check="/passes/check" {
                (csrf_field(ctx))
                fieldset {
                    legend { (ctx.t("passes.form.vehicle")) }
                    div class="grid2" {
                        (Input::text("plate", ctx.t("passes.field.plate"), &form.plate).required()
                            .hint(ctx.t("passes.form.plate_hint")).render(ctx, errors))
                        (select(ctx, "class", ctx.t("passes.field.class"), &class_options, &form.class, true, errors))
                        (Input::text("driver", ctx.t("passes.field.driver"), &form.driver).required()
                            .autocomplete("off").render(ctx, errors))
                        (Input::text("co_driver", ctx.t("passes.field.co_driver"), &form.co_driver)
                            .autocomplete("off").render(ctx, errors))
                        (Input::text("driver_id_number", ctx.t("passes.field.driver_id_number"), &form.driver_id_number)
                            .hint(ctx.t("passes.form.id_hint")).autocomplete("off").render(ctx, errors))
                        (Input::text("crew_phone", ctx.t("passes.field.crew_phone"), &form.crew_phone)
                            .kind("tel").hint(ctx.t("passes.form.phone_hint")).autocomplete("off").render(ctx, errors))
                    }
                }
                fieldset {
                    legend { (ctx.t("passes.form.business")) }
                    div class="grid2" {
                        (select(ctx, "enterprise_id", ctx.t("passes.field.enterprise"), &enterprise_options,
                            &form.enterprise_id, true, errors))
                        (select(ctx, "cargo", ctx.t("passes.field.cargo"), &cargo_options, &form.cargo, true, errors))
                    }
                    @if enterprises.is_empty() {
                        p class="hint" {
                            (ctx.t("passes.form.no_enterprises")) " "
                            a href="/enterprises" { (ctx.t("passes.form.register_enterprise")) }
                        }
                    }
                }
                fieldset {
                    legend { (ctx.t("passes.form.route")) }
                    div class="grid2" {
                        (Input::text("origin", ctx.t("passes.field.origin"), &form.origin).required()
                            .hint(ctx.t("passes.form.division_hint")).render(ctx, errors))
                        (Input::text("destination", ctx.t("passes.field.destination"), &form.destination).required()
                            .hint(ctx.t("passes.form.division_hint")).render(ctx, errors))
                    }
                    div data-show-when="class=long_haul" {
                        div id="f-checkpoints" class={ "field checkpoints" @if cp_error.is_some() { " invalid" } }
                            role="group" aria-labelledby="f-checkpoints-label" {
                            span id="f-checkpoints-label" class="group-label" {
                                (ctx.t("passes.field.checkpoints"))
                                span class="req" aria-hidden="true" { " *" }
                                span class="sr-only" { (ctx.t("form.required")) }
                            }
                            small class="hint" { (ctx.t("passes.form.checkpoints_hint")) }
                            @if checkpoints.is_empty() {
                                p class="hint" { (ctx.t("passes.form.no_checkpoints")) }
                            }
                            ul class="checks" {
                                @for cp in &checkpoints {
                                    @let id = cp.id.0.to_string();
                                    li {
                                        label {
                                            input type="checkbox" name="checkpoints" value=(id)
                                                checked[form.checkpoints.contains(&id)];
                                            " " (cp.name)
                                        }
                                    }
                                }
                            }
                            span class="error" role="alert" data-error-for="checkpoints" {
                                @if let Some(e) = cp_error { (e) }
                            }
                        }
                    }
                    div data-show-when="class=load_unload_leave" {
                        (Input::text("max_dwell_minutes", ctx.t("passes.field.max_dwell"), &form.max_dwell_minutes)
                            .kind("number").hint(&dwell_hint).render(ctx, errors))
                    }
                }
                fieldset {
                    legend { (ctx.t("passes.form.validity")) }
                    div class="grid2" {
                        (Input::text("valid_from", ctx.t("passes.field.valid_from"), &form.valid_from)
                            .kind("datetime-local").required().hint(ctx.t("passes.form.time_hint")).render(ctx, errors))
                        (Input::text("valid_until", ctx.t("passes.field.valid_until"), &form.valid_until)
                            .kind("datetime-local").required().hint(ctx.t("passes.form.time_hint")).render(ctx, errors))
                    }
                }
                div class="actions" {
                    button type="submit" class="primary" { (ctx.t("passes.form.submit")) }
                    a href="/passes" { (ctx.t("passes.form.cancel")) }
                }
            }
        },
    ))
}

async fn new_form(State(st): State<AppState>, ctx: Ctx) -> WebResult<Markup> {
    let now = now();
    let area = st.settings.area.to_string();
    let form = PassForm {
        class: PassClass::LongHaul.as_str().to_owned(),
        origin: area.clone(),
        destination: area,
        cargo: Cargo::ProductionMaterials.as_str().to_owned(),
        valid_from: local_input(now),
        valid_until: local_input(now + 7 * 86_400),
        max_dwell_minutes: st.settings.policy.default_max_dwell_minutes.to_string(),
        ..PassForm::default()
    };
    render_form(&st, &ctx, &form, &[]).await
}

/// Checks as you type: the same rules as the submit, as `{"errors": [{field, message}]}`.
async fn check(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let form = PassForm::parse(&body);
    let (_, errors) = form_problems(&st, ctx.lang, &form).await?;
    Ok(Json(serde_json::json!({ "errors": errors })).into_response())
}

async fn issue(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let user = ctx.user()?.clone();
    let form = PassForm::parse(&body);
    let (new, errors) = form.to_new_pass(ctx.lang);
    let errors = if errors.is_empty() {
        match issue_pass(&st, &new, &user.username).await {
            Ok(record) => {
                Metrics::add(&st.metrics.passes_issued, 1);
                return Ok(see_other(&format!("/passes/{}?issued=1", record.number)));
            }
            Err(ApiError::Validation(fields)) => localized_all(ctx.lang, fields),
            Err(other) => return Err(other.into()),
        }
    } else {
        form_problems(&st, ctx.lang, &form).await?.1
    };
    let markup = render_form(&st, &ctx, &form, &errors).await?;
    Ok(with_status(markup, StatusCode::UNPROCESSABLE_ENTITY))
}

// ---------------------------------------------------------------------------------------
// Detail and revoke

/// The names of a route's checkpoints (`#id` for one that is not known).
fn checkpoint_names(p: &PassRecord, all: &[Checkpoint]) -> Vec<String> {
    p.route_checkpoints
        .iter()
        .map(|id| {
            all.iter()
                .find(|c| c.id == *id)
                .map_or_else(|| format!("#{}", id.0), |c| c.name.clone())
        })
        .collect()
}

/// What the detail and print pages show besides the record.
struct Extras {
    enterprise: String,
    checkpoints: Vec<String>,
    qr: String,
}

async fn details_of(st: &AppState, p: &PassRecord, qr_mm: u32) -> WebResult<Extras> {
    let enterprise = st
        .store
        .get_enterprise(p.enterprise_id)
        .await?
        .map_or_else(|| format!("#{}", p.enterprise_id.0), |e| e.name);
    let checkpoints = if p.route_checkpoints.is_empty() {
        Vec::new()
    } else {
        checkpoint_names(p, &st.store.list_checkpoints().await?)
    };
    let qr = crate::qr::svg(&p.qr_text, qr_mm).map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Extras {
        enterprise,
        checkpoints,
        qr,
    })
}

fn crew_text(p: &PassRecord) -> String {
    match &p.co_driver_masked {
        Some(co) => format!("{}、{}", p.driver_masked, co),
        None => p.driver_masked.clone(),
    }
}

/// Which banner the detail page shows above the pass.
enum Banner<'a> {
    None,
    Notice(&'a str),
    Error(String),
}

async fn render_detail(
    st: &AppState,
    ctx: &Ctx,
    p: &PassRecord,
    banner: Banner<'_>,
    reason: &str,
    errors: &[FieldError],
) -> WebResult<Markup> {
    render_detail_with(st, ctx, p, banner, reason, errors, None).await
}

/// The detail page; `full_phone` is the crew's phone in full, after an audited request.
async fn render_detail_with(
    st: &AppState,
    ctx: &Ctx,
    p: &PassRecord,
    banner: Banner<'_>,
    reason: &str,
    errors: &[FieldError],
    full_phone: Option<&str>,
) -> WebResult<Markup> {
    let now = now();
    let shown = Shown::of(p, now);
    let more = details_of(st, p, 50).await?;
    let may_revoke = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::OPS).allows(r));
    let may_see_phone = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::PERSONAL_DATA).allows(r));
    let title = ctx.tf("passes.detail.title", &[("number", &p.number)]);
    let reason_error = field_error(errors, "reason");
    Ok(page(
        ctx,
        &title,
        html! {
            h1 { (title) }
            @match &banner {
                Banner::None => {}
                Banner::Notice(text) => { (notice(text)) }
                Banner::Error(text) => { div class="alert error" role="alert" { (text) } }
            }
            (error_summary(ctx, errors))
            div class="pass-detail card" {
                dl class="facts" {
                    dt { (ctx.t("passes.field.status")) }
                    dd { (status_badge(ctx, shown)) }
                    dt { (ctx.t("passes.field.class")) }
                    dd { (class_badge(ctx, p.class)) }
                    dt { (ctx.t("passes.field.plate")) }
                    dd class="plate-cell" { (p.plate) }
                    dt { (ctx.t("passes.field.driver")) }
                    dd { (p.driver_masked) }
                    dt { (ctx.t("passes.field.co_driver")) }
                    dd { (p.co_driver_masked.as_deref().unwrap_or("—")) }
                    dt { (ctx.t("passes.field.crew_phone")) }
                    dd class="phone" {
                        @match (full_phone, &p.crew_phone_masked) {
                            (Some(full), _) => {
                                strong data-phone="full" { (full) }
                                " " small class="hint" { (ctx.t("passes.phone.audited")) }
                            }
                            (None, Some(masked)) => {
                                span data-phone="masked" { (masked) }
                                @if may_see_phone && p.crew_phone_sealed.is_some() {
                                    form method="post" action={ "/passes/" (p.number) "/phone" } class="inline" {
                                        (csrf_field(ctx))
                                        button type="submit" class="link" { (ctx.t("passes.phone.reveal")) }
                                    }
                                }
                            }
                            (None, None) => { "—" }
                        }
                    }
                    dt { (ctx.t("passes.field.enterprise")) }
                    dd { (more.enterprise) }
                    dt { (ctx.t("passes.field.route")) }
                    dd { (p.origin) " → " (p.destination) }
                    @if p.class == PassClass::LongHaul {
                        dt { (ctx.t("passes.field.checkpoints")) }
                        dd { (more.checkpoints.join(" → ")) }
                    }
                    dt { (ctx.t("passes.field.cargo")) }
                    dd { (cargo_name(ctx, &p.cargo)) }
                    dt { (ctx.t("passes.field.validity")) }
                    dd { (datetime(p.valid_from)) " — " (datetime(p.valid_until)) }
                    @if let Some(m) = p.max_dwell_minutes {
                        dt { (ctx.t("passes.field.max_dwell")) }
                        dd { (ctx.tf("passes.detail.minutes", &[("minutes", &m)])) }
                    }
                    dt { (ctx.t("passes.field.key_id")) }
                    dd { (p.key_id.0) }
                    @if let (Some(at), Some(from)) = (p.reissued_at, p.reissued_from_key) {
                        dt { (ctx.t("passes.field.reissued")) }
                        dd { (ctx.tf("passes.detail.reissued", &[("at", &datetime(at)), ("key", &from.0)])) }
                    }
                    dt { (ctx.t("passes.field.created_by")) }
                    dd { (p.created_by) }
                    dt { (ctx.t("passes.field.created_at")) }
                    dd { (datetime(p.created_at)) }
                    @if let Some(at) = p.revoked_at {
                        dt { (ctx.t("passes.field.revoked_at")) }
                        dd { (datetime(at)) }
                    }
                    @if let Some(r) = &p.revoke_reason {
                        dt { (ctx.t("passes.field.revoke_reason")) }
                        dd { (r) }
                    }
                }
                figure class="qr" {
                    (trusted(more.qr))
                    figcaption { (ctx.t("passes.detail.qr_caption")) }
                }
            }
            div class="actions" {
                a class="button primary" href={ "/passes/" (p.number) "/print" } { (ctx.t("passes.detail.print")) }
                a class="button" href="/passes" { (ctx.t("passes.detail.back")) }
            }
            @if may_revoke && p.status == PassStatus::Active {
                section class="card revoke" {
                    h2 { (ctx.t("passes.revoke.title")) }
                    p { (ctx.t("passes.revoke.help")) }
                    form method="post" action={ "/passes/" (p.number) "/revoke" }
                        data-confirm=(ctx.tf("passes.revoke.confirm", &[("plate", &p.plate)])) {
                        (csrf_field(ctx))
                        div class={ "field" @if reason_error.is_some() { " invalid" } } {
                            label for="f-reason" {
                                (ctx.t("passes.field.revoke_reason"))
                                span class="req" aria-hidden="true" { " *" }
                                span class="sr-only" { (ctx.t("form.required")) }
                            }
                            textarea id="f-reason" name="reason" rows="2" required
                                maxlength=(MAX_REASON_CHARS)
                                aria-invalid=[reason_error.map(|_| "true")]
                                aria-describedby="f-reason-error" { (reason) }
                            span id="f-reason-error" class="error" role="alert" data-error-for="reason" {
                                @if let Some(e) = reason_error { (e) }
                            }
                        }
                        button type="submit" class="danger" { (ctx.t("passes.revoke.submit")) }
                    }
                }
            }
        },
    ))
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    RawQuery(raw): RawQuery,
) -> WebResult<Markup> {
    let p = find_visible(&st, &ctx, &number).await?;
    let flags: Vec<String> = form_urlencoded_pairs(raw.as_deref().unwrap_or_default())
        .into_iter()
        .filter(|(_, v)| v == "1")
        .map(|(k, _)| k)
        .collect();
    let banner = if flags.iter().any(|k| k == "issued") {
        Banner::Notice(ctx.t("passes.detail.issued"))
    } else if flags.iter().any(|k| k == "revoked") && p.status == PassStatus::Revoked {
        Banner::Notice(ctx.t("passes.detail.revoked"))
    } else {
        Banner::None
    };
    render_detail(&st, &ctx, &p, banner, "", &[]).await
}

async fn revoke(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: String,
) -> WebResult<Response> {
    let user = ctx.user()?.clone();
    let p = find_visible(&st, &ctx, &number).await?;
    let reason_raw = form_urlencoded_pairs(&body)
        .into_iter()
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let already = |p: &PassRecord| {
        Banner::Error(ctx.tf(
            "passes.revoke.already",
            &[("at", &p.revoked_at.map(datetime).unwrap_or_default())],
        ))
    };
    if p.status == PassStatus::Revoked {
        let markup = render_detail(&st, &ctx, &p, already(&p), "", &[]).await?;
        return Ok(with_status(markup, StatusCode::CONFLICT));
    }
    let reason = match crate::routes::enterprises::required_name(
        "reason",
        Some(&reason_raw),
        MAX_REASON_CHARS,
    ) {
        Ok(r) => r,
        Err(e) => {
            let errors = localized_all(ctx.lang, vec![e]);
            let markup = render_detail(&st, &ctx, &p, Banner::None, &reason_raw, &errors).await?;
            return Ok(with_status(markup, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    match st.store.revoke_pass(p.number, &reason, now()).await {
        Ok(_) => {}
        // Someone else revoked it a moment ago.
        Err(StoreError::Conflict(_)) => {
            let p = find_visible(&st, &ctx, &number).await?;
            let markup = render_detail(&st, &ctx, &p, already(&p), "", &[]).await?;
            return Ok(with_status(markup, StatusCode::CONFLICT));
        }
        Err(e) => return Err(e.into()),
    }
    crate::audit::record(
        &st,
        &user.username,
        crate::audit::Action::PassRevoked,
        &format!("pass:{}", p.number),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    Metrics::add(&st.metrics.passes_revoked, 1);
    tracing::info!(number = %p.number, by = %user.username, "pass revoked in the console");
    Ok(see_other(&format!("/passes/{}?revoked=1", p.number)))
}

/// 显示完整号码: the crew's full phone, for the operations bureau and the administrator.
/// Every view is an audit entry; the answer is not cached.
async fn reveal_phone(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> WebResult<Response> {
    let user = ctx.user()?.clone();
    let p = find_visible(&st, &ctx, &number).await?;
    let Some(sealed) = p.crew_phone_sealed.as_deref() else {
        return Err(WebError::NotFound("phone"));
    };
    let phone =
        crate::privacy::open_phone(&st.personal_secret, p.number, sealed).ok_or_else(|| {
            WebError::Internal(format!(
                "the phone of pass {} does not open with personal-data.secret",
                p.number
            ))
        })?;
    crate::audit::record(
        &st,
        &user.username,
        crate::audit::Action::PersonalDataViewed,
        &format!("pass:{}", p.number),
        serde_json::json!({ "field": "crew_phone" }),
    )
    .await?;
    tracing::info!(number = %p.number, by = %user.username, "crew phone viewed");
    let markup =
        render_detail_with(&st, &ctx, &p, Banner::None, "", &[], Some(phone.as_str())).await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], markup).into_response())
}

// ---------------------------------------------------------------------------------------
// The printable pass

async fn print(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> WebResult<Markup> {
    let p = find_visible(&st, &ctx, &number).await?;
    let shown = Shown::of(&p, now());
    let more = details_of(&st, &p, 60).await?;
    let class_name = ctx.t(class_key(p.class));
    let title = ctx.tf("passes.print.title", &[("plate", &p.plate)]);
    Ok(page(
        &ctx,
        &title,
        html! {
            div class="actions no-print" {
                button type="button" class="primary" data-print { (ctx.t("passes.print.button")) }
                a class="button" href={ "/passes/" (p.number) } { (ctx.t("passes.print.back")) }
                span class="hint" { (ctx.t("passes.print.help")) }
            }
            article class="pass-sheet" {
                div class={ "band class-" (p.class.as_str()) } {
                    (ctx.t("passes.print.heading")) " · " (class_name)
                }
                @if shown != Shown::Active {
                    div class="void" { (ctx.t(shown.key())) " · " (ctx.t("passes.print.void")) }
                }
                div class="body" {
                    div class="columns" {
                        div class="qr" { (trusted(more.qr)) }
                        div class="main" {
                            div class="plate" { (p.plate) }
                            dl class="facts" {
                                dt { (ctx.t("passes.field.number")) }
                                dd class="number" { (p.number) }
                                dt { (ctx.t("passes.field.class")) }
                                dd { (class_name) }
                                dt { (ctx.t("passes.field.validity")) }
                                dd { (datetime(p.valid_from)) " — " (datetime(p.valid_until)) }
                                @if p.class == PassClass::LoadUnloadLeave {
                                    dt { (ctx.t("passes.field.max_dwell")) }
                                    dd { (ctx.tf("passes.detail.minutes", &[("minutes", &p.max_dwell_minutes.unwrap_or(st.settings.policy.default_max_dwell_minutes))])) }
                                } @else {
                                    dt { (ctx.t("passes.field.route")) }
                                    dd { (p.origin) " → " (p.destination) }
                                }
                                dt { (ctx.t("passes.field.cargo")) }
                                dd { (cargo_name(&ctx, &p.cargo)) }
                                dt { (ctx.t("passes.field.crew")) }
                                dd { (crew_text(&p)) }
                                dt { (ctx.t("passes.field.enterprise")) }
                                dd { (more.enterprise) }
                            }
                        }
                    }
                    @if !more.checkpoints.is_empty() {
                        div class="stops" {
                            p class="stops-label" { (ctx.t("passes.print.stops")) }
                            ol class="stops" {
                                @for name in &more.checkpoints { li { (name) } }
                            }
                        }
                    }
                    p class="rule" { (ctx.t(rule_key(p.class))) }
                    p class="two-codes" { (ctx.t("passes.print.two_codes")) }
                    p class="authority" {
                        (ctx.tf("passes.print.authority", &[("authority", &st.settings.authority)]))
                        " · "
                        (ctx.tf("passes.print.issued_at", &[("at", &datetime(p.created_at))]))
                        @if let Some(at) = p.reissued_at {
                            " · "
                            (ctx.tf("passes.print.reissued_at", &[("at", &datetime(at))]))
                        }
                    }
                }
            }
        },
    ))
}

/// The rule a gate applies to the class, printed on the pass.
fn rule_key(class: PassClass) -> &'static str {
    match class {
        PassClass::LongHaul => crate::k!("passes.print.rule.long_haul"),
        PassClass::ShortHaul => crate::k!("passes.print.rule.short_haul"),
        PassClass::LoadUnloadLeave => crate::k!("passes.print.rule.load_unload_leave"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn beijing_wall_clock_becomes_rfc3339() {
        assert_eq!(
            local_to_rfc3339("2026-12-01T08:00").as_deref(),
            Some("2026-12-01T08:00:00+08:00")
        );
        assert_eq!(
            local_to_rfc3339(" 2026-12-01 08:30:15 ").as_deref(),
            Some("2026-12-01T08:30:15+08:00")
        );
        assert_eq!(local_to_rfc3339("tomorrow"), None);
        assert_eq!(local_to_rfc3339("2026-13-01T08:00"), None);
        let t = DateTime::parse_from_rfc3339("2026-12-01T08:00:00+08:00")
            .unwrap()
            .timestamp();
        assert_eq!(local_input(t), "2026-12-01T08:00");
    }

    #[test]
    fn the_form_leaves_out_fields_of_other_classes() {
        let f = PassForm::parse(
            "class=short_haul&checkpoints=1&checkpoints=2&max_dwell_minutes=120&enterprise_id=3",
        );
        assert_eq!(f.checkpoints, vec!["1", "2"]);
        let (new, errors) = f.to_new_pass(Lang::Zh);
        assert!(errors.is_empty());
        assert_eq!(new.checkpoints, None);
        assert_eq!(new.max_dwell_minutes, None);
        assert_eq!(new.enterprise_id, Some(3));

        let f = PassForm::parse("class=long_haul&checkpoints=1&checkpoints=2");
        assert_eq!(f.to_new_pass(Lang::Zh).0.checkpoints, Some(vec![1, 2]));
        let f = PassForm::parse("class=load_unload_leave&max_dwell_minutes=abc&valid_from=x");
        let (_, errors) = f.to_new_pass(Lang::En);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["max_dwell_minutes", "valid_from"]);
    }
}
