//! Console accounts, for the administrator: who has which role, create an account (with a
//! one-time password shown once, to be changed at first login), reset a password, and
//! deactivate or reactivate an account. A supervisor (督导组成员) belongs to a supervision team
//! and sees that team's enterprises only; it is created with its team and can be moved.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use passgate_shared::EnterpriseId;
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{
    Input, csrf_field, datetime, error_summary, localized, notice, page, role_key, select,
};
use super::session::{hash_password, new_password};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::FieldError;
use crate::routes::enterprises::required_name;
use crate::state::{AppState, now};
use crate::store::{NewUser, StoreError, User, UserRole};

pub fn pages() -> Vec<Page> {
    let admin = Access::Roles(roles::ADMIN);
    vec![
        Page::get("/users", admin, get(list)),
        Page::post("/users", admin, post(create)),
        Page::post("/users/{id}/reset-password", admin, post(reset_password)),
        Page::post("/users/{id}/active", admin, post(set_active)),
        Page::post("/users/{id}/team", admin, post(set_team)),
    ]
}

/// User names: 3 to 32 of `a-z 0-9 . _ -`, stored lower-case.
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;

/// The user name rule: `Ok(lower-case name)` or the catalog key of what is wrong.
pub fn check_username(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(crate::k!("users.username.required"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(crate::k!("users.username.chars"));
    }
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&name.chars().count()) {
        return Err(crate::k!("users.username.length"));
    }
    Ok(name)
}

fn path_id(raw: &str) -> WebResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(WebError::NotFound("user"))
}

#[derive(Deserialize, Default, Clone)]
struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    enterprise_id: String,
    #[serde(default)]
    team_id: String,
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    done: String,
}

async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<Notice>) -> WebResult<Markup> {
    let form = NewUserForm {
        role: UserRole::Ops.as_str().into(),
        ..NewUserForm::default()
    };
    render_list(&st, &ctx, &form, &[], &q.done).await
}

async fn render_list(
    st: &AppState,
    ctx: &Ctx,
    form: &NewUserForm,
    errors: &[FieldError],
    done: &str,
) -> WebResult<Markup> {
    let users = st.store.list_users().await?;
    let enterprises = st.store.list_enterprises().await?;
    let names: HashMap<EnterpriseId, &str> = enterprises
        .iter()
        .map(|e| (e.id, e.name.as_str()))
        .collect();
    let me = ctx.user()?.id;
    let roles: Vec<(String, String)> = UserRole::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), ctx.t(role_key(*r)).to_owned()))
        .collect();
    let ents: Vec<(String, String)> = enterprises
        .iter()
        .map(|e| (e.id.0.to_string(), e.name.clone()))
        .collect();
    let teams = st.store.list_teams().await?;
    let team_options: Vec<(String, String)> = teams
        .iter()
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect();
    let team_name = |id: i64| {
        teams
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| format!("#{id}"), |t| t.name.clone())
    };
    let title = ctx.t("users.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @match done {
                "deactivated" => (notice(ctx.t("users.deactivated"))),
                "activated" => (notice(ctx.t("users.activated"))),
                "team" => (notice(ctx.t("users.team.changed"))),
                _ => {}
            }
            div class="table-wrap" {
                table {
                    thead { tr {
                        th { (ctx.t("users.username")) }
                        th { (ctx.t("users.display_name")) }
                        th { (ctx.t("users.role")) }
                        th { (ctx.t("users.enterprise")) }
                        th { (ctx.t("users.team")) }
                        th { (ctx.t("users.status")) }
                        th { (ctx.t("users.last_login")) }
                        th { (ctx.t("users.actions")) }
                    } }
                    tbody {
                        @for u in &users {
                            tr {
                                td { (u.username) @if u.id == me { " " small { (ctx.t("users.you")) } } }
                                td { (u.display_name) }
                                td { (ctx.t(role_key(u.role))) }
                                td { @if let Some(n) = u.enterprise_id.and_then(|e| names.get(&e)) { (n) } @else { "—" } }
                                td {
                                    @if u.role == UserRole::Supervisor {
                                        @let fid = format!("team-{}", u.id);
                                        form id=(fid) method="post" action={ "/users/" (u.id) "/team" } class="orgs-revoke" {
                                            (csrf_field(ctx))
                                            label for={ (fid) "-team_id" } class="sr-only" { (ctx.t("users.team")) }
                                            select id={ (fid) "-team_id" } name="team_id" {
                                                @if u.team_id.is_none() { option value="" selected { "—" } }
                                                @for (value, text) in &team_options {
                                                    option value=(value) selected[u.team_id.map(|t| t.to_string()).as_deref() == Some(value.as_str())] { (text) }
                                                }
                                            }
                                            button type="submit" { (ctx.t("users.team.save")) }
                                        }
                                    } @else if let Some(t) = u.team_id {
                                        (team_name(t))
                                    } @else { "—" }
                                }
                                td {
                                    @if u.active {
                                        span class="badge active" { (ctx.t("users.active")) }
                                        @if u.must_change_password { br; small { (ctx.t("users.must_change")) } }
                                    } @else {
                                        span class="badge revoked" { (ctx.t("users.inactive")) }
                                    }
                                }
                                td { @if let Some(t) = u.last_login_at { (datetime(t)) } @else { (ctx.t("users.never")) } }
                                td {
                                    @if u.id != me {
                                        div class="actions orgs-row-actions" {
                                            form method="post" action={ "/users/" (u.id) "/reset-password" }
                                                data-confirm=(ctx.tf("users.reset_confirm", &[("name", &u.username)])) {
                                                (csrf_field(ctx))
                                                button type="submit" { (ctx.t("users.reset")) }
                                            }
                                            form method="post" action={ "/users/" (u.id) "/active" }
                                                data-confirm=[(u.active).then(|| ctx.tf("users.deactivate_confirm", &[("name", &u.username)]))] {
                                                (csrf_field(ctx))
                                                @if u.active {
                                                    input type="hidden" name="active" value="false";
                                                    button type="submit" class="danger" { (ctx.t("users.deactivate")) }
                                                } @else {
                                                    input type="hidden" name="active" value="true";
                                                    button type="submit" { (ctx.t("users.activate")) }
                                                }
                                            }
                                        }
                                    } @else {
                                        a href="/account/password" { (ctx.t("users.own_password")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }

            h2 id="new" { (ctx.t("users.new")) }
            (error_summary(ctx, errors))
            form method="post" action="/users" class="card" {
                (csrf_field(ctx))
                div class="grid2" {
                    (Input::text("username", ctx.t("users.username"), &form.username)
                        .required().hint(ctx.t("users.username.hint")).autocomplete("off")
                        .render(ctx, errors))
                    (Input::text("display_name", ctx.t("users.display_name"), &form.display_name)
                        .required().render(ctx, errors))
                    (select(ctx, "role", ctx.t("users.role"), &roles, &form.role, true, errors))
                    div data-show-when="role=enterprise" {
                        (select(ctx, "enterprise_id", ctx.t("users.enterprise"), &ents, &form.enterprise_id, false, errors))
                        small class="hint" { (ctx.t("users.enterprise.hint")) }
                    }
                    div data-show-when="role=supervisor" {
                        (select(ctx, "team_id", ctx.t("users.team"), &team_options, &form.team_id, false, errors))
                        small class="hint" { (ctx.t("users.team.hint")) }
                    }
                }
                p class="hint" { (ctx.t("users.new.help")) }
                button type="submit" class="primary" { (ctx.t("users.create")) }
            }
        },
    ))
}

/// What a checked new-account form holds.
struct Checked {
    username: String,
    display_name: String,
    role: UserRole,
    enterprise_id: Option<EnterpriseId>,
    team_id: Option<i64>,
}

/// A supervision team chosen in a form: `Ok(id)` when it exists, else the field's error.
async fn chosen_team(st: &AppState, ctx: &Ctx, raw: &str) -> WebResult<Result<i64, FieldError>> {
    Ok(match raw.trim().parse::<i64>().ok() {
        Some(id) if st.store.get_team(id).await?.is_some() => Ok(id),
        Some(_) => Err(FieldError::new("team_id", ctx.t("users.team.invalid"))),
        None => Err(FieldError::new("team_id", ctx.t("users.team.required"))),
    })
}

/// Check the new-account form.
async fn check_new_user(
    st: &AppState,
    ctx: &Ctx,
    f: &NewUserForm,
) -> WebResult<Result<Checked, Vec<FieldError>>> {
    let mut errors = Vec::new();
    let username = check_username(&f.username)
        .map_err(|key| errors.push(FieldError::new("username", ctx.t(key))))
        .ok();
    let display = required_name("display_name", Some(&f.display_name), 50)
        .map_err(|e| errors.push(localized(ctx.lang, e)))
        .ok();
    let role = UserRole::parse(f.role.trim());
    if role.is_none() {
        errors.push(FieldError::new("role", ctx.t("users.role.invalid")));
    }
    let mut enterprise = None;
    if role == Some(UserRole::Enterprise) {
        match f.enterprise_id.trim().parse::<u32>().ok().map(EnterpriseId) {
            Some(id) if st.store.get_enterprise(id).await?.is_some() => enterprise = Some(id),
            Some(_) => errors.push(FieldError::new(
                "enterprise_id",
                ctx.t("users.enterprise.invalid"),
            )),
            None => errors.push(FieldError::new(
                "enterprise_id",
                ctx.t("users.enterprise.required"),
            )),
        }
    }
    let mut team = None;
    if role == Some(UserRole::Supervisor) {
        match chosen_team(st, ctx, &f.team_id).await? {
            Ok(id) => team = Some(id),
            Err(e) => errors.push(e),
        }
    }
    Ok(match (username, display, role) {
        (Some(username), Some(display_name), Some(role)) if errors.is_empty() => Ok(Checked {
            username,
            display_name,
            role,
            enterprise_id: enterprise,
            team_id: team,
        }),
        _ => Err(errors),
    })
}

/// A page with a one-time password: shown once, never cached.
fn password_page(ctx: &Ctx, title: &str, user: &User, password: &str, intro: &str) -> Response {
    let body = page(
        ctx,
        title,
        html! {
            p { a href="/users" { (ctx.t("users.back")) } }
            h1 { (title) }
            div class="alert" role="status" { (ctx.t("users.password.once")) }
            div class="card" {
                p { (intro) }
                dl class="facts" {
                    dt { (ctx.t("users.username")) } dd { code { (user.username) } }
                    dt { (ctx.t("users.password")) } dd { code class="orgs-code" { (password) } }
                }
                p class="hint" { (ctx.t("users.password.must_change")) }
            }
        },
    );
    ([(header::CACHE_CONTROL, "no-store")], body).into_response()
}

async fn create(
    State(st): State<AppState>,
    ctx: Ctx,
    Form(f): Form<NewUserForm>,
) -> WebResult<Response> {
    let errors = match check_new_user(&st, &ctx, &f).await? {
        Ok(Checked {
            username,
            display_name,
            role,
            enterprise_id,
            team_id,
        }) => {
            let password = new_password()?;
            let new = NewUser {
                username,
                display_name,
                role,
                enterprise_id,
                team_id,
                password_hash: hash_password(password.clone()).await?,
                must_change_password: true,
            };
            match st.store.create_user(&new, now()).await {
                Ok(user) => {
                    crate::audit::record(
                        &st,
                        &ctx.user()?.username,
                        crate::audit::Action::UserCreated,
                        &format!("user:{}", user.username),
                        serde_json::json!({
                            "role": role.as_str(),
                            "enterprise_id": user.enterprise_id.map(|e| e.0),
                            "team_id": user.team_id,
                        }),
                    )
                    .await?;
                    tracing::info!(user = %user.username, role = role.as_str(), by = %ctx.user()?.username, "account created");
                    let intro = ctx.tf("users.created", &[("name", &user.username)]);
                    return Ok(password_page(
                        &ctx,
                        ctx.t("users.created_title"),
                        &user,
                        &password,
                        &intro,
                    ));
                }
                Err(StoreError::Conflict(_)) => {
                    vec![FieldError::new("username", ctx.t("users.username.taken"))]
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(errors) => errors,
    };
    let markup = render_list(&st, &ctx, &f, &errors, "").await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

async fn reset_password(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let Some(user) = st.store.get_user(id).await? else {
        return Err(WebError::NotFound("user"));
    };
    if user.id == ctx.user()?.id {
        return Err(WebError::Conflict(ctx.t("users.reset_self").into()));
    }
    let password = new_password()?;
    st.store
        .set_password(user.id, &hash_password(password.clone()).await?, true)
        .await?;
    crate::audit::record(
        &st,
        &ctx.user()?.username,
        crate::audit::Action::PasswordReset,
        &format!("user:{}", user.username),
        serde_json::json!({}),
    )
    .await?;
    tracing::info!(user = %user.username, by = %ctx.user()?.username, "password reset");
    let intro = ctx.tf("users.reset_done", &[("name", &user.username)]);
    Ok(password_page(
        &ctx,
        ctx.t("users.reset_title"),
        &user,
        &password,
        &intro,
    ))
}

#[derive(Deserialize, Default)]
struct ActiveForm {
    #[serde(default)]
    active: String,
}

async fn set_active(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let active = match f.active.trim() {
        "true" | "1" => true,
        "false" | "0" => false,
        _ => {
            return Err(WebError::Validation(vec![FieldError::new(
                "active",
                ctx.t("users.active.invalid"),
            )]));
        }
    };
    let Some(user) = st.store.get_user(id).await? else {
        return Err(WebError::NotFound("user"));
    };
    if !active && user.id == ctx.user()?.id {
        return Err(WebError::Conflict(ctx.t("users.deactivate_self").into()));
    }
    st.store.set_user_active(user.id, active).await?;
    crate::audit::record(
        &st,
        &ctx.user()?.username,
        crate::audit::Action::UserChanged,
        &format!("user:{}", user.username),
        serde_json::json!({ "active": active }),
    )
    .await?;
    tracing::info!(user = %user.username, active, by = %ctx.user()?.username, "account activity changed");
    Ok(see_other(if active {
        "/users?done=activated"
    } else {
        "/users?done=deactivated"
    }))
}

#[derive(Deserialize, Default)]
struct TeamForm {
    #[serde(default)]
    team_id: String,
}

/// Move a supervisor to another supervision team.
async fn set_team(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<TeamForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let Some(user) = st.store.get_user(id).await? else {
        return Err(WebError::NotFound("user"));
    };
    if user.role != UserRole::Supervisor {
        return Err(WebError::Conflict(
            ctx.t("users.team.only_supervisors").into(),
        ));
    }
    let team = chosen_team(&st, &ctx, &f.team_id)
        .await?
        .map_err(|e| WebError::Validation(vec![e]))?;
    st.store.set_user_team(user.id, Some(team)).await?;
    crate::audit::record(
        &st,
        &ctx.user()?.username,
        crate::audit::Action::UserChanged,
        &format!("user:{}", user.username),
        serde_json::json!({ "team_id": team }),
    )
    .await?;
    tracing::info!(user = %user.username, team, by = %ctx.user()?.username, "supervisor moved");
    Ok(see_other("/users?done=team"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_rule() {
        assert_eq!(check_username(" Li.Wei_2 "), Ok("li.wei_2".to_owned()));
        assert_eq!(check_username("ops-1"), Ok("ops-1".to_owned()));
        assert_eq!(check_username(""), Err("users.username.required"));
        assert_eq!(check_username("李伟"), Err("users.username.chars"));
        assert_eq!(check_username("a b"), Err("users.username.chars"));
        assert_eq!(check_username("ab"), Err("users.username.length"));
        assert_eq!(
            check_username(&"a".repeat(USERNAME_MAX + 1)),
            Err("users.username.length")
        );
    }
}
