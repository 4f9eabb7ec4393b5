//! The administrator's view of the audit log: the newest entries, filtered by action, and
//! whether the whole chain verifies.

use axum::extract::{Query, State};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::access::{Access, roles};
use super::layout::{datetime, page};
use super::{Ctx, Page, WebResult};
use crate::audit::{self, Action};
use crate::state::AppState;

pub fn pages() -> Vec<Page> {
    vec![Page::get("/audit", Access::Roles(roles::ADMIN), get(list))]
}

/// Entries per page.
const PAGE: u32 = 100;

#[derive(Deserialize, Default)]
struct AuditQuery {
    action: Option<String>,
    before: Option<String>,
}

/// The catalog key of an action's label.
fn action_key(a: Action) -> &'static str {
    match a {
        Action::PassIssued => crate::k!("audit.action.pass_issued"),
        Action::PassRevoked => crate::k!("audit.action.pass_revoked"),
        Action::PassReissued => crate::k!("audit.action.pass_reissued"),
        Action::PassesImported => crate::k!("audit.action.passes_imported"),
        Action::ApplicationDecided => crate::k!("audit.action.application_decided"),
        Action::OverrideReviewed => crate::k!("audit.action.override_reviewed"),
        Action::HeldVehicleHandled => crate::k!("audit.action.held_vehicle_handled"),
        Action::KeyStatusChanged => crate::k!("audit.action.key_status_changed"),
        Action::KeyRotated => crate::k!("audit.action.key_rotated"),
        Action::DeviceEnrolled => crate::k!("audit.action.device_enrolled"),
        Action::DeviceRevoked => crate::k!("audit.action.device_revoked"),
        Action::EnrolmentCodeMade => crate::k!("audit.action.enrolment_code_made"),
        Action::UserCreated => crate::k!("audit.action.user_created"),
        Action::UserChanged => crate::k!("audit.action.user_changed"),
        Action::PasswordReset => crate::k!("audit.action.password_reset"),
        Action::Login => crate::k!("audit.action.login"),
        Action::LoginFailed => crate::k!("audit.action.login_failed"),
        Action::PersonalDataViewed => crate::k!("audit.action.personal_data_viewed"),
        Action::PersonalDataExported => crate::k!("audit.action.personal_data_exported"),
        Action::DataPurged => crate::k!("audit.action.data_purged"),
        Action::ReportSubmitted => crate::k!("audit.action.report_submitted"),
        Action::RiskCaseOpened => crate::k!("audit.action.risk_case_opened"),
        Action::RiskStepRecorded => crate::k!("audit.action.risk_step_recorded"),
        Action::TeamChanged => crate::k!("audit.action.team_changed"),
        Action::EnterpriseProfileChanged => crate::k!("audit.action.enterprise_profile_changed"),
        Action::GridChanged => crate::k!("audit.action.grid_changed"),
        Action::SupplyItemChanged => crate::k!("audit.action.supply_item_changed"),
        Action::ReportingSettingsChanged => crate::k!("audit.action.reporting_settings_changed"),
    }
}

async fn list(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> WebResult<Markup> {
    let action = q.action.as_deref().and_then(Action::parse);
    let before = q.before.as_deref().and_then(|b| b.parse::<i64>().ok());
    let entries = st
        .store
        .recent_audit(action.map(Action::as_str), before, PAGE)
        .await?;
    let verdict = audit::verify_store(&st).await?;
    let title = ctx.t("audit.title");
    let selected = action.map(Action::as_str).unwrap_or_default();
    Ok(page(
        &ctx,
        title,
        html! {
            h1 { (title) }
            @match &verdict.first_break {
                None => div class="alert ok" role="status" {
                    (ctx.tf("audit.intact", &[("entries", &verdict.entries)]))
                    " " code { (verdict.last_hash.get(..16).unwrap_or("-")) }
                },
                Some(b) => div class="alert error" role="alert" {
                    strong { (ctx.t("audit.broken")) } " " (b.to_string())
                },
            }
            form method="get" action="/audit" class="filters" {
                div class="field" {
                    label for="f-action" { (ctx.t("audit.filter.action")) }
                    select id="f-action" name="action" {
                        option value="" { (ctx.t("audit.filter.all")) }
                        @for a in Action::ALL {
                            option value=(a.as_str()) selected[a.as_str() == selected] { (ctx.t(action_key(a))) }
                        }
                    }
                }
                button type="submit" { (ctx.t("audit.filter.apply")) }
            }
            @if entries.is_empty() {
                p { (ctx.t("audit.empty")) }
            } @else {
                div class="table-wrap" {
                    table {
                        thead { tr {
                            th class="num" { (ctx.t("audit.col.seq")) }
                            th { (ctx.t("audit.col.at")) }
                            th { (ctx.t("audit.col.actor")) }
                            th { (ctx.t("audit.col.action")) }
                            th { (ctx.t("audit.col.subject")) }
                            th { (ctx.t("audit.col.detail")) }
                        } }
                        tbody {
                            @for e in &entries {
                                tr {
                                    td class="num" { (e.seq) }
                                    td { (datetime(e.at)) }
                                    td { (e.actor) }
                                    td { @match Action::parse(&e.action) {
                                        Some(a) => (ctx.t(action_key(a))),
                                        None => (e.action),
                                    } }
                                    td { (e.subject) }
                                    td { code { (e.detail) } }
                                }
                            }
                        }
                    }
                }
                @if let Some(last) = entries.last().filter(|_| entries.len() == PAGE as usize) {
                    p { a href={ "/audit?action=" (selected) "&before=" (last.seq) } { (ctx.t("pager.next")) } }
                }
            }
        },
    ))
}
