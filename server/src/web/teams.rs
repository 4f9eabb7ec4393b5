//! Supervision teams (督导组), for the task force and administrators: each team's name, the
//! offices it covers, how many enterprises and supervisors it has; create a team, rename it
//! or change its offices. Enterprises are put in a team on their profile (operations
//! bureau's enterprise page), supervisors on the accounts page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{
    Input, csrf_field, datetime, error_summary, field_error, localized, notice, page,
};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::audit::{self, Action};
use crate::error::FieldError;
use crate::routes::enterprises::required_name;
use crate::state::{AppState, now};
use crate::store::reporting::NewTeam;
use crate::store::{StoreError, UserRole};

pub fn pages() -> Vec<Page> {
    let who = Access::Roles(roles::REPORTING_CONFIG);
    vec![
        Page::get("/teams", who, get(list)),
        Page::post("/teams", who, post(create)),
        Page::post("/teams/{id}", who, post(update)),
    ]
}

/// Longest team name and offices text, in characters.
pub const NAME_MAX: usize = 30;
pub const OFFICES_MAX: usize = 200;

#[derive(Debug, Default, Clone)]
struct TeamForm {
    name: String,
    offices: String,
}

impl TeamForm {
    fn parse(body: &str) -> TeamForm {
        let mut f = TeamForm::default();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "name" => f.name = v,
                "offices" => f.offices = v,
                _ => {}
            }
        }
        f
    }

    fn check(&self, ctx: &Ctx) -> Result<NewTeam, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required_name("name", Some(&self.name), NAME_MAX)
            .map_err(|e| errors.push(localized(ctx.lang, e)))
            .ok();
        let offices = self.offices.trim().to_owned();
        if offices.chars().count() > OFFICES_MAX {
            errors.push(FieldError::new(
                "offices",
                ctx.tf("teams.offices.too_long", &[("max", &OFFICES_MAX)]),
            ));
        }
        match name {
            Some(name) if errors.is_empty() => Ok(NewTeam { name, offices }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    done: Option<String>,
}

/// The page; `editing` is the team whose row shows `form` and `errors` (0: the new-team
/// form).
async fn render(
    st: &AppState,
    ctx: &Ctx,
    editing: i64,
    form: &TeamForm,
    errors: &[FieldError],
    done: Option<&str>,
) -> WebResult<Markup> {
    let teams = st.store.list_teams().await?;
    let profiles = st.store.enterprise_profiles(None).await?;
    let users = st.store.list_users().await?;
    let title = ctx.t("teams.title");
    let row_errors = |id: i64| if id == editing { errors } else { &[] };
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @match done {
                Some("created") => (notice(ctx.t("teams.created"))),
                Some("saved") => (notice(ctx.t("teams.saved"))),
                _ => {}
            }
            p class="hint" { (ctx.t("teams.lead")) }
            @if editing > 0 { (error_summary(ctx, errors)) }
            @if teams.is_empty() { p { (ctx.t("teams.none")) } }
            div class="table-wrap" {
                table class="teams" {
                    thead { tr {
                        th scope="col" { (ctx.t("teams.name")) }
                        th scope="col" { (ctx.t("teams.offices")) }
                        th scope="col" class="num" { (ctx.t("teams.enterprises")) }
                        th scope="col" class="num" { (ctx.t("teams.supervisors")) }
                        th scope="col" { (ctx.t("teams.created_at")) }
                        th scope="col" { (ctx.t("teams.actions")) }
                    } }
                    tbody {
                        @for t in &teams {
                            @let fid = format!("team-{}", t.id);
                            @let errs = row_errors(t.id);
                            @let (name, offices) = if t.id == editing {
                                (form.name.clone(), form.offices.clone())
                            } else {
                                (t.name.clone(), t.offices.clone())
                            };
                            tr id={ "row-" (t.id) } {
                                td { (cell_input(&fid, "name", ctx.t("teams.name"), &name, errs)) }
                                td { (cell_input(&fid, "offices", ctx.t("teams.offices"), &offices, errs)) }
                                td class="num" {
                                    a href={ "/taskforce?team=" (t.id) } {
                                        (profiles.iter().filter(|p| p.team_id == Some(t.id)).count())
                                    }
                                }
                                td class="num" {
                                    (users.iter().filter(|u| u.role == UserRole::Supervisor && u.team_id == Some(t.id)).count())
                                }
                                td { (datetime(t.created_at)) }
                                td {
                                    form id=(fid) method="post" action={ "/teams/" (t.id) } {
                                        (csrf_field(ctx))
                                        button type="submit" { (ctx.t("teams.save")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 id="new" { (ctx.t("teams.new")) }
            @let new_errors = row_errors(0);
            (error_summary(ctx, new_errors))
            form method="post" action="/teams" class="card" {
                (csrf_field(ctx))
                div class="grid2" {
                    (Input::text("name", ctx.t("teams.name"), if editing == 0 { &form.name } else { "" })
                        .required().hint(ctx.t("teams.name.hint")).render(ctx, new_errors))
                    (Input::text("offices", ctx.t("teams.offices"), if editing == 0 { &form.offices } else { "" })
                        .hint(ctx.t("teams.offices.hint")).render(ctx, new_errors))
                }
                button type="submit" class="primary" { (ctx.t("teams.create")) }
            }
        },
    ))
}

/// An input of a table row that belongs to the row's form (the `form` attribute), with its
/// label for screen readers and its error.
pub fn cell_input(
    form: &str,
    name: &str,
    label: &str,
    value: &str,
    errors: &[FieldError],
) -> Markup {
    let id = format!("{form}-{name}");
    let err = field_error(errors, name);
    html! {
        div class={ "field" @if err.is_some() { " invalid" } } {
            label for=(id) class="sr-only" { (label) }
            input id=(id) name=(name) form=(form) value=(value) aria-invalid=[err.map(|_| "true")];
            span class="error" role="alert" { @if let Some(e) = err { (e) } }
        }
    }
}

async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<Notice>) -> WebResult<Markup> {
    render(&st, &ctx, -1, &TeamForm::default(), &[], q.done.as_deref()).await
}

fn taken(ctx: &Ctx) -> Vec<FieldError> {
    vec![FieldError::new("name", ctx.t("teams.name.taken"))]
}

async fn create(State(st): State<AppState>, ctx: Ctx, body: String) -> WebResult<Response> {
    let form = TeamForm::parse(&body);
    let errors = match form.check(&ctx) {
        Ok(new) => match st.store.create_team(&new, now()).await {
            Ok(team) => {
                audit::record(
                    &st,
                    &ctx.user()?.username,
                    Action::TeamChanged,
                    &format!("team:{}", team.id),
                    serde_json::json!({ "name": team.name, "offices": team.offices, "created": true }),
                )
                .await?;
                return Ok(see_other("/teams?done=created"));
            }
            Err(StoreError::Conflict(_)) => taken(&ctx),
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let markup = render(&st, &ctx, 0, &form, &errors, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

async fn update(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: String,
) -> WebResult<Response> {
    let id: i64 = id
        .trim()
        .parse()
        .ok()
        .filter(|i| *i > 0)
        .ok_or(WebError::NotFound("supervision team"))?;
    if st.store.get_team(id).await?.is_none() {
        return Err(WebError::NotFound("supervision team"));
    }
    let form = TeamForm::parse(&body);
    let errors = match form.check(&ctx) {
        Ok(new) => match st.store.update_team(id, &new).await {
            Ok(team) => {
                audit::record(
                    &st,
                    &ctx.user()?.username,
                    Action::TeamChanged,
                    &format!("team:{}", team.id),
                    serde_json::json!({ "name": team.name, "offices": team.offices }),
                )
                .await?;
                return Ok(see_other("/teams?done=saved"));
            }
            Err(StoreError::Conflict(_)) => taken(&ctx),
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let markup = render(&st, &ctx, id, &form, &errors, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}
