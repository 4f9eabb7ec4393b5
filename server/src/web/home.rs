//! The landing page: what this user's role can do, one link each.

use axum::routing::get;
use maud::{Markup, html};

use super::access::{Access, roles};
use super::layout::page;
use super::{Ctx, Page};

pub fn pages() -> Vec<Page> {
    vec![Page::get("/", Access::AnyUser, get(home))]
}

/// Tasks on the home page: link, title key, explanation key, who sees it.
const TASKS: &[(&str, &str, &str, Access)] = &[
    (
        "/passes/new",
        crate::k!("home.issue"),
        crate::k!("home.issue_help"),
        Access::Roles(roles::OPS),
    ),
    (
        "/passes",
        crate::k!("home.passes"),
        crate::k!("home.passes_help"),
        Access::Roles(roles::PASS_VIEW),
    ),
    (
        "/applications",
        crate::k!("home.applications"),
        crate::k!("home.applications_help"),
        Access::Roles(roles::APPLICATIONS),
    ),
    (
        "/held",
        crate::k!("home.held"),
        crate::k!("home.held_help"),
        Access::Roles(roles::TRANSPORT),
    ),
    (
        "/passes/import",
        crate::k!("home.import"),
        crate::k!("home.import_help"),
        Access::Roles(roles::OPS),
    ),
    (
        "/enterprises",
        crate::k!("home.enterprises"),
        crate::k!("home.enterprises_help"),
        Access::Roles(roles::OPS),
    ),
    (
        "/checkpoints",
        crate::k!("home.checkpoints"),
        crate::k!("home.checkpoints_help"),
        Access::Roles(roles::OPS),
    ),
    (
        "/dashboard",
        crate::k!("home.dashboard"),
        crate::k!("home.dashboard_help"),
        Access::Roles(roles::TRANSPORT),
    ),
    (
        "/reporting",
        crate::k!("home.reporting"),
        crate::k!("home.reporting_help"),
        Access::Roles(roles::REPORT_FILE),
    ),
    (
        "/taskforce",
        crate::k!("home.taskforce"),
        crate::k!("home.taskforce_help"),
        Access::Roles(roles::TASKFORCE_VIEW),
    ),
    (
        "/risk",
        crate::k!("home.risk"),
        crate::k!("home.risk_help"),
        Access::Roles(roles::RISK_VIEW),
    ),
    (
        "/teams",
        crate::k!("home.teams"),
        crate::k!("home.teams_help"),
        Access::Roles(roles::REPORTING_CONFIG),
    ),
    (
        "/reporting/settings",
        crate::k!("home.reporting_settings"),
        crate::k!("home.reporting_settings_help"),
        Access::Roles(roles::REPORTING_CONFIG),
    ),
    (
        "/keys",
        crate::k!("home.keys"),
        crate::k!("home.keys_help"),
        Access::Roles(roles::ADMIN),
    ),
    (
        "/users",
        crate::k!("home.users"),
        crate::k!("home.users_help"),
        Access::Roles(roles::ADMIN),
    ),
];

async fn home(ctx: Ctx) -> Markup {
    let role = ctx.role();
    page(
        &ctx,
        ctx.t("home.title"),
        html! {
            h1 { (ctx.t("home.title")) }
            @if let Some(user) = &ctx.user {
                p { (ctx.tf("home.welcome", &[("name", &user.display_name)])) }
            }
            ul class="kpis" {
                @for (href, title, help, access) in TASKS {
                    @if role.is_some_and(|r| access.allows(r)) {
                        li class="kpi" {
                            a href=(href) { strong { (ctx.t(title)) } }
                            p { (ctx.t(help)) }
                        }
                    }
                }
            }
        },
    )
}
