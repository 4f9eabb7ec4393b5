//! The risk-person notice flow (风险人员处置): a case per notice, moving through the seven
//! steps of `passgate_shared::reporting::RiskStep`, each with a time, an owner and a note.
//! The open step is flagged overdue past its configured limit; steps move one at a time,
//! except that an administrator may skip ahead with a reason.
//!
//! An enterprise account opens and advances its own enterprise's cases; the task force sees
//! and advances every case; a supervisor sees the cases of its team's enterprises. Any other
//! case answers "not found". Opening and advancing go through the API's own functions
//! (`routes::reports::open_case` / `advance_case`: the same checks — `check_risk_subject`,
//! `check_step` run by the store against the stored step — and the same audit entries).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::EnterpriseId;
use passgate_shared::reporting::RiskStep;
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{
    Input, csrf_field, datetime, error_summary, field_error, localized, localized_all, notice,
    page, select,
};
use super::reporting::{Scope, scope, visible_enterprise};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::{ApiError, FieldError};
use crate::routes::reports::{OpenCaseForm, StepForm, advance_case, open_case};
use crate::state::{AppState, now};
use crate::store::UserRole;
use crate::store::reporting::{ReportingSettings, RiskCase, RiskCaseFilter};

pub fn pages() -> Vec<Page> {
    let view = Access::Roles(roles::RISK_VIEW);
    let edit = Access::Roles(roles::RISK_EDIT);
    vec![
        Page::get("/risk", view, get(list)),
        Page::post("/risk", edit, post(open)),
        Page::get("/risk/{id}", view, get(detail)),
        Page::post("/risk/{id}/step", edit, post(step)),
    ]
}

fn step_key(done: bool, overdue: bool) -> &'static str {
    match (done, overdue) {
        (true, _) => crate::k!("risk.step.done"),
        (false, true) => crate::k!("risk.overdue"),
        (false, false) => crate::k!("risk.step.open"),
    }
}

/// The case `id` if this user may see it.
async fn visible_case(st: &AppState, ctx: &Ctx, id: &str) -> WebResult<RiskCase> {
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| WebError::NotFound("risk case"))?;
    let case = st
        .store
        .get_risk_case(id)
        .await?
        .ok_or(WebError::NotFound("risk case"))?;
    visible_enterprise(st, ctx, case.enterprise_id)
        .await
        .map_err(|_| WebError::NotFound("risk case"))?;
    Ok(case)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    show: Option<String>,
    done: Option<String>,
}

/// The opening form as typed.
#[derive(Debug, Default, Clone)]
struct OpenForm {
    enterprise_id: String,
    subject: String,
    owner: String,
    note: String,
}

fn overdue_badge(ctx: &Ctx) -> Markup {
    html! { span class="badge rep-late" { (ctx.t("risk.overdue")) } }
}

async fn render_list(
    st: &AppState,
    ctx: &Ctx,
    show_all: bool,
    form: &OpenForm,
    errors: &[FieldError],
    done: Option<&str>,
) -> WebResult<Markup> {
    let scope = scope(ctx)?;
    let settings = st.store.reporting_settings().await?;
    let profiles = match scope.team_filter() {
        Some(team) => st.store.enterprise_profiles(team).await?,
        None => Vec::new(),
    };
    let visible: Vec<_> = profiles
        .into_iter()
        .filter(|p| scope.allows(p.enterprise.id, p.team_id))
        .collect();
    let cases: Vec<RiskCase> = match scope {
        Scope::Nothing => Vec::new(),
        _ => st
            .store
            .list_risk_cases(&RiskCaseFilter {
                enterprise: match scope {
                    Scope::Enterprise(e) => Some(e),
                    _ => None,
                },
                team: scope.team_filter().flatten(),
                open_only: !show_all,
            })
            .await?
            .into_iter()
            .filter(|c| visible.iter().any(|p| p.enterprise.id == c.enterprise_id))
            .collect(),
    };
    let name_of = |id: EnterpriseId| {
        visible
            .iter()
            .find(|p| p.enterprise.id == id)
            .map_or_else(|| format!("#{}", id.0), |p| p.enterprise.name.clone())
    };
    let now = now();
    let may_open = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::RISK_EDIT).allows(r))
        && scope != Scope::Nothing;
    let pick_enterprise = !matches!(scope, Scope::Enterprise(_));
    let options: Vec<(String, String)> = visible
        .iter()
        .map(|p| (p.enterprise.id.0.to_string(), p.enterprise.name.clone()))
        .collect();
    let title = ctx.t("risk.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @if done == Some("opened") { (notice(ctx.t("risk.opened"))) }
            p class="hint" { (ctx.t("risk.lead")) }
            p class="no-print" {
                @if show_all {
                    a href="/risk" { (ctx.t("risk.show_open")) }
                } @else {
                    a href="/risk?show=all" { (ctx.t("risk.show_all")) }
                }
            }
            @if cases.is_empty() {
                p { (ctx.t("risk.none")) }
            } @else {
                div class="table-wrap" {
                    table class="risk-list" {
                        thead { tr {
                            th scope="col" { (ctx.t("risk.col.subject")) }
                            th scope="col" { (ctx.t("taskforce.col.enterprise")) }
                            th scope="col" { (ctx.t("risk.col.opened")) }
                            th scope="col" { (ctx.t("risk.col.done")) }
                            th scope="col" { (ctx.t("risk.col.open")) }
                            th scope="col" { (ctx.t("risk.col.due")) }
                        } }
                        tbody {
                            @for c in &cases {
                                @let overdue = c.overdue(&settings, now);
                                tr class=[overdue.then_some("rep-overdue")] {
                                    td { a href={ "/risk/" (c.id) } { (c.subject) } }
                                    td { (name_of(c.enterprise_id)) }
                                    td { (datetime(c.opened_at)) }
                                    td { (c.step.number()) ". " (c.step.label(ctx.lang)) }
                                    td {
                                        @if let Some(s) = c.open_step() {
                                            (s.number()) ". " (s.label(ctx.lang))
                                            @if overdue { " " (overdue_badge(ctx)) }
                                        } @else {
                                            (ctx.t("risk.closed"))
                                        }
                                    }
                                    td { @if let Some(t) = c.due_at(&settings) { (datetime(t)) } }
                                }
                            }
                        }
                    }
                }
            }
            @if may_open {
                h2 id="open" { (ctx.t("risk.open.title")) }
                (error_summary(ctx, errors))
                form method="post" action="/risk" class="card" {
                    (csrf_field(ctx))
                    div class="grid2" {
                        @if pick_enterprise {
                            (select(ctx, "enterprise_id", ctx.t("taskforce.col.enterprise"), &options, &form.enterprise_id, true, errors))
                        }
                        (Input::text("subject", ctx.t("risk.col.subject"), &form.subject)
                            .required().hint(ctx.t("risk.subject.hint")).autocomplete("off").render(ctx, errors))
                        (Input::text("owner", ctx.t("risk.field.owner"), &form.owner)
                            .required().hint(ctx.t("risk.owner.hint")).render(ctx, errors))
                        (Input::text("note", ctx.t("risk.field.note"), &form.note).render(ctx, errors))
                    }
                    button type="submit" class="primary" { (ctx.t("risk.open.submit")) }
                }
            }
        },
    ))
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> WebResult<Markup> {
    let all = q.show.as_deref() == Some("all");
    render_list(&st, &ctx, all, &OpenForm::default(), &[], q.done.as_deref()).await
}

async fn open(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let mut form = OpenForm::default();
    for (k, v) in form_urlencoded_pairs(&body) {
        match k.as_str() {
            "enterprise_id" => form.enterprise_id = v,
            "subject" => form.subject = v,
            "owner" => form.owner = v,
            "note" => form.note = v,
            _ => {}
        }
    }
    let mut errors = Vec::new();
    let enterprise = match scope(&ctx)? {
        Scope::Enterprise(e) => Some(e),
        _ => match form.enterprise_id.trim().parse::<u32>() {
            Ok(id) => match visible_enterprise(&st, &ctx, EnterpriseId(id)).await {
                Ok(p) => Some(p.enterprise.id),
                Err(WebError::NotFound(_)) => {
                    errors.push(FieldError::new(
                        "enterprise_id",
                        ctx.t("risk.enterprise.invalid"),
                    ));
                    None
                }
                Err(e) => return Err(e),
            },
            Err(_) => {
                errors.push(FieldError::new(
                    "enterprise_id",
                    ctx.t("risk.enterprise.required"),
                ));
                None
            }
        },
    };
    if let Some(enterprise) = enterprise {
        let user = ctx.user()?;
        let fields = OpenCaseForm {
            subject: Some(form.subject.clone()),
            owner: Some(form.owner.clone()),
            note: Some(form.note.clone()),
        };
        match open_case(&st, enterprise, &fields, &user.username, now()).await {
            Ok(case) => return Ok(see_other(&format!("/risk/{}?done=opened", case.id))),
            Err(ApiError::Validation(fields)) => errors.extend(localized_all(ctx.lang, fields)),
            Err(e) => return Err(e.into()),
        }
    }
    let markup = render_list(&st, &ctx, false, &form, &errors, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

/// The step form as typed.
#[derive(Debug, Default, Clone)]
struct StepInput {
    step: String,
    owner: String,
    note: String,
    skip_reason: String,
}

async fn render_detail(
    st: &AppState,
    ctx: &Ctx,
    case: &RiskCase,
    form: &StepInput,
    errors: &[FieldError],
    done: Option<&str>,
) -> WebResult<Markup> {
    let settings: ReportingSettings = st.store.reporting_settings().await?;
    let profile = visible_enterprise(st, ctx, case.enterprise_id).await?;
    let now = now();
    let overdue = case.overdue(&settings, now);
    let is_admin = ctx.role() == Some(UserRole::Admin);
    let may_edit = ctx
        .role()
        .is_some_and(|r| Access::Roles(roles::RISK_EDIT).allows(r));
    let open = case.open_step();
    let targets: Vec<(String, String)> = RiskStep::ALL
        .iter()
        .filter(|s| **s > case.step && (is_admin || Some(**s) == open))
        .map(|s| {
            (
                s.number().to_string(),
                format!("{}. {}", s.number(), s.label(ctx.lang)),
            )
        })
        .collect();
    let target_value = if form.step.is_empty() {
        open.map(|s| s.number().to_string()).unwrap_or_default()
    } else {
        form.step.clone()
    };
    let title = ctx.tf("risk.detail.title", &[("subject", &case.subject)]);
    Ok(page(
        ctx,
        &title,
        html! {
            p { a href="/risk" { (ctx.t("risk.back")) } }
            h1 { (title) }
            @match done {
                Some("opened") => (notice(ctx.t("risk.opened"))),
                Some("recorded") => (notice(ctx.t("risk.recorded"))),
                _ => {}
            }
            dl class="facts" {
                dt { (ctx.t("taskforce.col.enterprise")) } dd { (profile.enterprise.name) }
                dt { (ctx.t("risk.col.opened")) } dd { (datetime(case.opened_at)) " · " (case.opened_by) }
                dt { (ctx.t("risk.col.state")) } dd {
                    @if let Some(s) = open {
                        (ctx.tf("risk.waiting_for", &[("step", &format!("{}. {}", s.number(), s.label(ctx.lang)))]))
                        @if let Some(t) = case.due_at(&settings) { " · " (ctx.tf("risk.due_at", &[("at", &datetime(t))])) }
                        @if overdue { " " (overdue_badge(ctx)) }
                    } @else {
                        (ctx.t("risk.closed"))
                        @if let Some(t) = case.closed_at { " · " (datetime(t)) }
                    }
                }
            }
            h2 { (ctx.t("risk.steps.title")) }
            ol class="risk-steps" {
                @for s in RiskStep::ALL {
                    @let rec = case.steps.iter().find(|r| r.step == s);
                    @let is_open = Some(s) == open;
                    li class={ "risk-step" @if rec.is_some() { " done" } @if is_open { " open" } @if is_open && overdue { " rep-overdue" } } {
                        strong { (s.label(ctx.lang)) }
                        " "
                        @if rec.is_some() || is_open {
                            span class="badge" { (ctx.t(step_key(rec.is_some(), is_open && overdue))) }
                        }
                        @if let Some(r) = rec {
                            div class="risk-step-facts" {
                                (datetime(r.done_at)) " · " (ctx.t("risk.field.owner")) "：" (r.owner)
                                @if !r.note.is_empty() { " · " (r.note) }
                                @if let Some(reason) = &r.skipped_reason {
                                    div class="risk-skipped" { (ctx.tf("risk.skipped", &[("reason", reason)])) }
                                }
                            }
                        }
                        @if is_open {
                            @if let Some(limit) = settings.limit(s) {
                                div class="hint" { (ctx.tf("risk.limit", &[("minutes", &limit)])) }
                            }
                        }
                    }
                }
            }
            @if may_edit && open.is_some() {
                h2 id="step" { (ctx.t("risk.record.title")) }
                (error_summary(ctx, errors))
                form method="post" action={ "/risk/" (case.id) "/step" } class="card" {
                    (csrf_field(ctx))
                    div class="grid2" {
                        @if is_admin {
                            (select(ctx, "step", ctx.t("risk.field.target"), &targets, &target_value, true, errors))
                        } @else {
                            input type="hidden" name="step" value=(target_value);
                            div class="field" {
                                span class="group-label" { (ctx.t("risk.field.target")) }
                                span id="f-step" { @for (_, label) in &targets { (label) } }
                                span class="error" role="alert" data-error-for="step" {
                                    @if let Some(e) = field_error(errors, "step") { (e) }
                                }
                            }
                        }
                        (Input::text("owner", ctx.t("risk.field.owner"), &form.owner).required().render(ctx, errors))
                        (Input::text("note", ctx.t("risk.field.note"), &form.note).render(ctx, errors))
                        @if is_admin {
                            (Input::text("skip_reason", ctx.t("risk.field.skip_reason"), &form.skip_reason)
                                .hint(ctx.t("risk.skip.hint")).render(ctx, errors))
                        }
                    }
                    button type="submit" class="primary" { (ctx.t("risk.record.submit")) }
                }
            }
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> WebResult<Markup> {
    let case = visible_case(&st, &ctx, &id).await?;
    render_detail(
        &st,
        &ctx,
        &case,
        &StepInput::default(),
        &[],
        q.done.as_deref(),
    )
    .await
}

async fn step(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: String,
) -> WebResult<Response> {
    let case = visible_case(&st, &ctx, &id).await?;
    let mut form = StepInput::default();
    for (k, v) in form_urlencoded_pairs(&body) {
        match k.as_str() {
            "step" => form.step = v,
            "owner" => form.owner = v,
            "note" => form.note = v,
            "skip_reason" => form.skip_reason = v,
            _ => {}
        }
    }
    let is_admin = ctx.role() == Some(UserRole::Admin);
    let fields = StepForm {
        step: form.step.trim().parse().ok(),
        owner: Some(form.owner.clone()),
        note: Some(form.note.clone()),
        // Only an administrator may skip, so only an administrator's reason is passed on.
        skip_reason: is_admin.then(|| form.skip_reason.clone()),
    };
    let user = ctx.user()?;
    let errors = match advance_case(&st, case.id, &fields, is_admin, &user.username, now()).await {
        Ok(_) => return Ok(see_other(&format!("/risk/{}?done=recorded", case.id))),
        Err(ApiError::Validation(fields)) => localized_all(ctx.lang, fields),
        // The flow's refusals that are not about one input (closed, already done, a skip
        // without the right) belong to the step choice.
        Err(ApiError::Conflict(m)) => vec![localized(ctx.lang, FieldError::new("step", m))],
        Err(e) => return Err(e.into()),
    };
    let fresh = st
        .store
        .get_risk_case(case.id)
        .await?
        .ok_or(WebError::NotFound("risk case"))?;
    let markup = render_detail(&st, &ctx, &fresh, &form, &errors, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}
