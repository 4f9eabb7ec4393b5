//! Reporting settings for the task force and administrators: the time the daily report is
//! due, the overdue limit of each risk-person step, and the supply items reports list
//! (names, unit, warning threshold, order, whether new reports may list it).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::reporting::{DueTime, RiskStep, SupplyUnit};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{Input, csrf_field, error_summary, field_error, localized, notice, page};
use super::session::form_urlencoded_pairs;
use super::teams::cell_input;
use super::{Ctx, Page, WebResult, see_other};
use crate::audit::{self, Action};
use crate::error::FieldError;
use crate::routes::enterprises::required_name;
use crate::state::AppState;
use crate::store::reporting::{
    MAX_STEP_LIMIT_MINUTES, ReportingSettings, SupplyItem, supply_unit_str,
};

pub fn pages() -> Vec<Page> {
    let who = Access::Roles(roles::REPORTING_CONFIG);
    vec![
        Page::get("/reporting/settings", who, get(show)),
        Page::post("/reporting/settings", who, post(save_settings)),
        Page::post("/reporting/supplies", who, post(save_item)),
    ]
}

/// Longest item name, in characters.
const ITEM_NAME_MAX: usize = 30;
/// Longest item key.
const KEY_MAX: usize = 32;
/// The largest warning threshold, in days.
const WARN_DAYS_MAX: u32 = 365;

/// The steps that have an overdue limit (2–7).
fn limited_steps() -> impl Iterator<Item = RiskStep> {
    RiskStep::ALL.into_iter().skip(1)
}

fn limit_field(s: RiskStep) -> String {
    format!("limit_{}", s.number())
}

/// The settings form as typed.
#[derive(Debug, Default, Clone)]
struct SettingsForm {
    due: String,
    limits: Vec<(String, String)>,
}

impl SettingsForm {
    fn of(s: &ReportingSettings) -> SettingsForm {
        SettingsForm {
            due: s.due.to_string(),
            limits: limited_steps()
                .map(|st| {
                    (
                        limit_field(st),
                        s.limit(st).map(|m| m.to_string()).unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }

    fn parse(body: &str) -> SettingsForm {
        let pairs = form_urlencoded_pairs(body);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        SettingsForm {
            due: get("due"),
            limits: limited_steps()
                .map(|s| (limit_field(s), get(&limit_field(s))))
                .collect(),
        }
    }

    fn value(&self, field: &str) -> &str {
        self.limits
            .iter()
            .find(|(k, _)| k == field)
            .map_or("", |(_, v)| v.as_str())
    }

    fn check(&self, ctx: &Ctx) -> Result<ReportingSettings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let due = DueTime::parse(&self.due);
        if due.is_none() {
            errors.push(FieldError::new("due", ctx.t("settings.due.invalid")));
        }
        let mut limits = [0u32; 6];
        for (i, s) in limited_steps().enumerate() {
            let field = limit_field(s);
            match self.value(&field).trim().parse::<u32>() {
                Ok(m) if (1..=MAX_STEP_LIMIT_MINUTES).contains(&m) => limits[i] = m,
                _ => errors.push(FieldError::new(
                    &field,
                    ctx.tf(
                        "settings.limit.invalid",
                        &[("max", &MAX_STEP_LIMIT_MINUTES)],
                    ),
                )),
            }
        }
        match due {
            Some(due) if errors.is_empty() => Ok(ReportingSettings {
                due,
                step_limits: limits,
            }),
            _ => Err(errors),
        }
    }
}

/// One supply item's form as typed.
#[derive(Debug, Default, Clone)]
struct ItemForm {
    key: String,
    name_zh: String,
    name_en: String,
    unit: String,
    warn_days: String,
    sort: String,
    active: bool,
    /// A new item (its key can be chosen) rather than an edit.
    new: bool,
}

impl ItemForm {
    fn of(i: &SupplyItem) -> ItemForm {
        ItemForm {
            key: i.key.clone(),
            name_zh: i.name_zh.clone(),
            name_en: i.name_en.clone(),
            unit: supply_unit_str(i.unit).to_owned(),
            warn_days: i.warn_days.to_string(),
            sort: i.sort.to_string(),
            active: i.active,
            new: false,
        }
    }

    fn parse(body: &str) -> ItemForm {
        let mut f = ItemForm::default();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "key" => f.key = v.trim().to_owned(),
                "name_zh" => f.name_zh = v,
                "name_en" => f.name_en = v,
                "unit" => f.unit = v,
                "warn_days" => f.warn_days = v,
                "sort" => f.sort = v,
                "active" => f.active = matches!(v.trim(), "1" | "true" | "on"),
                "new" => f.new = v == "1",
                _ => {}
            }
        }
        f
    }

    fn check(&self, ctx: &Ctx, existing: &[SupplyItem]) -> Result<SupplyItem, Vec<FieldError>> {
        let mut errors = Vec::new();
        let key_ok = !self.key.is_empty()
            && self.key.len() <= KEY_MAX
            && self.key.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            errors.push(FieldError::new("key", ctx.t("supplies.key.invalid")));
        } else if self.new && existing.iter().any(|i| i.key == self.key) {
            errors.push(FieldError::new("key", ctx.t("supplies.key.taken")));
        } else if !self.new && !existing.iter().any(|i| i.key == self.key) {
            errors.push(FieldError::new("key", ctx.t("supplies.key.unknown")));
        }
        let name_zh = required_name("name_zh", Some(&self.name_zh), ITEM_NAME_MAX)
            .map_err(|e| errors.push(localized(ctx.lang, e)))
            .ok();
        let name_en = required_name("name_en", Some(&self.name_en), ITEM_NAME_MAX)
            .map_err(|e| errors.push(localized(ctx.lang, e)))
            .ok();
        let unit = match self.unit.trim() {
            "counted" => Some(SupplyUnit::Counted),
            "days" => Some(SupplyUnit::Days),
            _ => {
                errors.push(FieldError::new("unit", ctx.t("supplies.unit.invalid")));
                None
            }
        };
        let warn_days = match self.warn_days.trim().parse::<u32>() {
            Ok(d) if d <= WARN_DAYS_MAX => Some(d),
            _ => {
                errors.push(FieldError::new(
                    "warn_days",
                    ctx.tf("supplies.warn_days.invalid", &[("max", &WARN_DAYS_MAX)]),
                ));
                None
            }
        };
        let sort = match self.sort.trim() {
            "" => Some(existing.iter().map(|i| i.sort).max().unwrap_or(0) + 10),
            s => match s.parse::<i64>() {
                Ok(n) if (0..=10_000).contains(&n) => Some(n),
                _ => {
                    errors.push(FieldError::new("sort", ctx.t("supplies.sort.invalid")));
                    None
                }
            },
        };
        match (name_zh, name_en, unit, warn_days, sort) {
            (Some(name_zh), Some(name_en), Some(unit), Some(warn_days), Some(sort))
                if errors.is_empty() =>
            {
                Ok(SupplyItem {
                    key: self.key.clone(),
                    name_zh,
                    name_en,
                    unit,
                    warn_days,
                    sort,
                    active: self.active,
                })
            }
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    done: Option<String>,
}

/// What the page shows besides the stored values: a refused form and its errors.
enum Refused<'a> {
    None,
    Settings(&'a SettingsForm, &'a [FieldError]),
    Item(&'a ItemForm, &'a [FieldError]),
}

fn unit_select(form: &str, value: &str, ctx: &Ctx) -> Markup {
    let id = format!("{form}-unit");
    html! {
        label for=(id) class="sr-only" { (ctx.t("supplies.unit")) }
        select id=(id) name="unit" form=(form) {
            option value="counted" selected[value == "counted"] { (ctx.t("supplies.unit.counted")) }
            option value="days" selected[value == "days"] { (ctx.t("supplies.unit.days")) }
        }
    }
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    refused: Refused<'_>,
    done: Option<&str>,
) -> WebResult<Markup> {
    let stored = st.store.reporting_settings().await?;
    let items = st.store.supply_items().await?;
    let (settings, settings_errors): (SettingsForm, &[FieldError]) = match &refused {
        Refused::Settings(f, e) => ((*f).clone(), e),
        _ => (SettingsForm::of(&stored), &[]),
    };
    let (item_form, item_errors): (Option<&ItemForm>, &[FieldError]) = match &refused {
        Refused::Item(f, e) => (Some(f), e),
        _ => (None, &[]),
    };
    let mut rows: Vec<ItemForm> = items.iter().map(ItemForm::of).collect();
    let mut new_row = ItemForm {
        unit: "counted".into(),
        warn_days: "3".into(),
        active: true,
        new: true,
        ..ItemForm::default()
    };
    if let Some(f) = item_form {
        if f.new {
            new_row = f.clone();
        } else if let Some(r) = rows.iter_mut().find(|r| r.key == f.key) {
            *r = f.clone();
        }
    }
    let errors_for = |key: &str, new: bool| -> &[FieldError] {
        match item_form {
            Some(f) if f.new == new && (new || f.key == key) => item_errors,
            _ => &[],
        }
    };
    let title = ctx.t("settings.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @match done {
                Some("settings") => (notice(ctx.t("settings.saved"))),
                Some("item") => (notice(ctx.t("supplies.saved"))),
                _ => {}
            }
            section aria-labelledby="settings-h" {
                h2 id="settings-h" { (ctx.t("settings.reporting")) }
                (error_summary(ctx, settings_errors))
                form method="post" action="/reporting/settings" class="card" {
                    (csrf_field(ctx))
                    (Input::text("due", ctx.t("settings.due"), &settings.due).kind("time").required()
                        .hint(ctx.t("settings.due.hint")).render(ctx, settings_errors))
                    fieldset {
                        legend { (ctx.t("settings.limits")) }
                        p class="hint" { (ctx.t("settings.limits.hint")) }
                        div class="grid2" {
                            @for s in limited_steps() {
                                @let field = limit_field(s);
                                @let label = format!("{}. {}", s.number(), s.label(ctx.lang));
                                (Input::text(&field, &label, settings.value(&field)).kind("number").required()
                                    .render(ctx, settings_errors))
                            }
                        }
                    }
                    button type="submit" class="primary" { (ctx.t("settings.save")) }
                }
            }
            section aria-labelledby="supplies-h" {
                h2 id="supplies-h" { (ctx.t("supplies.title")) }
                p class="hint" { (ctx.t("supplies.lead")) }
                (error_summary(ctx, item_errors))
                div class="table-wrap" {
                    table class="supply-items" {
                        thead { tr {
                            th scope="col" { (ctx.t("supplies.key")) }
                            th scope="col" { (ctx.t("supplies.name_zh")) }
                            th scope="col" { (ctx.t("supplies.name_en")) }
                            th scope="col" { (ctx.t("supplies.unit")) }
                            th scope="col" { (ctx.t("supplies.warn_days")) }
                            th scope="col" { (ctx.t("supplies.sort")) }
                            th scope="col" { (ctx.t("supplies.active")) }
                            th scope="col" { (ctx.t("teams.actions")) }
                        } }
                        tbody {
                            @for r in rows.iter().chain(std::iter::once(&new_row)) {
                                @let fid = if r.new { "item-new".to_owned() } else { format!("item-{}", r.key) };
                                @let errs = errors_for(&r.key, r.new);
                                tr class=[r.new.then_some("supply-new")] {
                                    td {
                                        @if r.new {
                                            (cell_input(&fid, "key", ctx.t("supplies.key"), &r.key, errs))
                                        } @else {
                                            code { (r.key) }
                                            @if let Some(e) = field_error(errs, "key") { span class="error" role="alert" { (e) } }
                                        }
                                    }
                                    td { (cell_input(&fid, "name_zh", ctx.t("supplies.name_zh"), &r.name_zh, errs)) }
                                    td { (cell_input(&fid, "name_en", ctx.t("supplies.name_en"), &r.name_en, errs)) }
                                    td {
                                        (unit_select(&fid, &r.unit, ctx))
                                        @if let Some(e) = field_error(errs, "unit") { span class="error" role="alert" { (e) } }
                                    }
                                    td { (cell_input(&fid, "warn_days", ctx.t("supplies.warn_days"), &r.warn_days, errs)) }
                                    td { (cell_input(&fid, "sort", ctx.t("supplies.sort"), &r.sort, errs)) }
                                    td {
                                        label {
                                            input type="checkbox" name="active" value="1" form=(fid) checked[r.active];
                                            span class="sr-only" { (ctx.t("supplies.active")) }
                                        }
                                    }
                                    td {
                                        form id=(fid) method="post" action="/reporting/supplies" {
                                            (csrf_field(ctx))
                                            @if r.new {
                                                input type="hidden" name="new" value="1";
                                                button type="submit" { (ctx.t("supplies.add")) }
                                            } @else {
                                                input type="hidden" name="key" value=(r.key);
                                                button type="submit" { (ctx.t("teams.save")) }
                                            }
                                        }
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

async fn show(State(st): State<AppState>, ctx: Ctx, Query(q): Query<Notice>) -> WebResult<Markup> {
    render(&st, &ctx, Refused::None, q.done.as_deref()).await
}

async fn save_settings(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let form = SettingsForm::parse(&body);
    match form.check(&ctx) {
        Ok(settings) => {
            st.store.set_reporting_settings(&settings).await?;
            audit::record(
                &st,
                &ctx.user()?.username,
                Action::ReportingSettingsChanged,
                "reporting_settings",
                serde_json::json!({ "due": settings.due.to_string(), "step_limits": settings.step_limits }),
            )
            .await?;
            Ok(see_other("/reporting/settings?done=settings"))
        }
        Err(errors) => {
            let markup = render(&st, &ctx, Refused::Settings(&form, &errors), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
        }
    }
}

async fn save_item(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let form = ItemForm::parse(&body);
    let existing = st.store.supply_items().await?;
    match form.check(&ctx, &existing) {
        Ok(item) => {
            st.store.upsert_supply_item(&item).await?;
            audit::record(
                &st,
                &ctx.user()?.username,
                Action::SupplyItemChanged,
                &format!("supply_item:{}", item.key),
                serde_json::json!({
                    "name_zh": item.name_zh, "unit": supply_unit_str(item.unit),
                    "warn_days": item.warn_days, "active": item.active, "new": form.new,
                }),
            )
            .await?;
            Ok(see_other("/reporting/settings?done=item"))
        }
        Err(errors) => {
            let markup = render(&st, &ctx, Refused::Item(&form, &errors), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
        }
    }
}
