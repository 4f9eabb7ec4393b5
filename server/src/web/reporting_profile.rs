//! The reporting part of an enterprise's page for the operations bureau (who registers
//! enterprises) and administrators: its profile — unified social credit code (checked with
//! its check character by `CreditCode::parse`), address, contact, first responsible person,
//! supervision team — and the grids of its zones with their grid leaders.
//!
//! The section is drawn into the enterprise page of [`super::orgs`]; its forms post here.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use maud::{Markup, html};
use passgate_shared::reporting::{CreditCode, Zone};
use passgate_shared::{EnterpriseId, Lang};

use super::access::{Access, roles};
use super::i18n::tr;
use super::layout::{Input, csrf_field, error_summary, field_message, localized, select};
use super::session::form_urlencoded_pairs;
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::audit::{self, Action};
use crate::error::FieldError;
use crate::routes::enterprises::required_name;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::reporting::{EnterpriseProfile, NewGrid, ProfileUpdate};

pub fn pages() -> Vec<Page> {
    let ops = Access::Roles(roles::OPS);
    vec![
        Page::post("/enterprises/{id}/profile", ops, post(save_profile)),
        Page::post("/enterprises/{id}/grids", ops, post(add_grid)),
        Page::post(
            "/enterprises/{id}/grids/{grid}/delete",
            ops,
            post(delete_grid),
        ),
    ]
}

/// Longest address, names and phone numbers, in characters.
const ADDRESS_MAX: usize = 200;
const PERSON_MAX: usize = 50;
const GRID_NAME_MAX: usize = 50;

/// A phone number as people write it: digits with optional spaces, hyphens and a leading
/// `+`; 7 to 15 digits (a landline with area code, a mobile, an international number).
pub fn check_phone(lang: Lang, field: &str, raw: &str) -> Result<Option<String>, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let body = t.strip_prefix('+').unwrap_or(t);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        || !(7..=15).contains(&digits)
    {
        return Err(FieldError::new(field, tr(lang, "profile.phone.invalid")));
    }
    Ok(Some(t.to_owned()))
}

/// An optional text of at most `max` characters.
fn optional(lang: Lang, field: &str, raw: &str, max: usize) -> Result<Option<String>, FieldError> {
    let t = raw.trim();
    if t.chars().count() > max {
        return Err(FieldError::new(
            field,
            super::i18n::trf(lang, "profile.too_long", &[("max", &max)]),
        ));
    }
    Ok(Some(t.to_owned()).filter(|s| !s.is_empty()))
}

/// The profile form as typed.
#[derive(Debug, Default, Clone)]
pub struct ProfileForm {
    credit_code: String,
    address: String,
    contact_name: String,
    contact_phone: String,
    responsible_person: String,
    responsible_phone: String,
    team_id: String,
}

impl ProfileForm {
    fn of(p: &EnterpriseProfile) -> ProfileForm {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        ProfileForm {
            credit_code: p
                .credit_code
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            address: s(&p.address),
            contact_name: s(&p.contact_name),
            contact_phone: s(&p.contact_phone),
            responsible_person: s(&p.responsible_person),
            responsible_phone: s(&p.responsible_phone),
            team_id: p.team_id.map(|t| t.to_string()).unwrap_or_default(),
        }
    }

    fn parse(body: &str) -> ProfileForm {
        let mut f = ProfileForm::default();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "credit_code" => f.credit_code = v,
                "address" => f.address = v,
                "contact_name" => f.contact_name = v,
                "contact_phone" => f.contact_phone = v,
                "responsible_person" => f.responsible_person = v,
                "responsible_phone" => f.responsible_phone = v,
                "team_id" => f.team_id = v,
                _ => {}
            }
        }
        f
    }

    /// The update, or every field that is wrong. An empty credit code clears it; a code
    /// that is given must pass its check character.
    pub fn check(&self, lang: Lang) -> Result<ProfileUpdate, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut keep = |r: Result<Option<String>, FieldError>| match r {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let address = keep(optional(lang, "address", &self.address, ADDRESS_MAX));
        let contact_name = keep(optional(
            lang,
            "contact_name",
            &self.contact_name,
            PERSON_MAX,
        ));
        let contact_phone = keep(check_phone(lang, "contact_phone", &self.contact_phone));
        let responsible_person = keep(optional(
            lang,
            "responsible_person",
            &self.responsible_person,
            PERSON_MAX,
        ));
        let responsible_phone = keep(check_phone(
            lang,
            "responsible_phone",
            &self.responsible_phone,
        ));
        let credit_code = match self.credit_code.trim() {
            "" => None,
            c => match CreditCode::parse(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(FieldError::new(
                        "credit_code",
                        field_message(lang, &e.to_string()),
                    ));
                    None
                }
            },
        };
        let team_id = match self.team_id.trim() {
            "" => None,
            t => match t.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("team_id", tr(lang, "profile.team.invalid")));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProfileUpdate {
            credit_code,
            address,
            contact_name,
            contact_phone,
            responsible_person,
            responsible_phone,
            team_id,
        })
    }
}

/// The grid form as typed.
#[derive(Debug, Default, Clone)]
pub struct GridForm {
    zone: String,
    name: String,
    leader: String,
    leader_phone: String,
}

impl GridForm {
    fn parse(body: &str) -> GridForm {
        let mut f = GridForm::default();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "zone" => f.zone = v,
                "name" => f.name = v,
                "leader" => f.leader = v,
                "leader_phone" => f.leader_phone = v,
                _ => {}
            }
        }
        f
    }

    fn check(&self, lang: Lang) -> Result<NewGrid, Vec<FieldError>> {
        let mut errors = Vec::new();
        let zone = Zone::parse(self.zone.trim());
        if zone.is_none() {
            errors.push(FieldError::new("zone", tr(lang, "grids.zone.invalid")));
        }
        let name = required_name("name", Some(&self.name), GRID_NAME_MAX)
            .map_err(|e| errors.push(localized(lang, e)))
            .ok();
        let leader = required_name("leader", Some(&self.leader), PERSON_MAX)
            .map_err(|e| errors.push(localized(lang, e)))
            .ok();
        let phone = match check_phone(lang, "leader_phone", &self.leader_phone) {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                errors.push(e);
                String::new()
            }
        };
        match (zone, name, leader) {
            (Some(zone), Some(name), Some(leader)) if errors.is_empty() => Ok(NewGrid {
                zone,
                name,
                leader,
                leader_phone: phone,
            }),
            _ => Err(errors),
        }
    }
}

/// A refused form of this section, to show again with its errors.
pub enum Refused<'a> {
    None,
    Profile(&'a ProfileForm, &'a [FieldError]),
    Grid(&'a GridForm, &'a [FieldError]),
}

/// The profile and grids section of enterprise `id`'s page.
pub async fn section(
    st: &AppState,
    ctx: &Ctx,
    id: EnterpriseId,
    refused: Refused<'_>,
) -> WebResult<Markup> {
    let profile = st
        .store
        .enterprise_profile(id)
        .await?
        .ok_or(WebError::NotFound("enterprise"))?;
    let teams = st.store.list_teams().await?;
    let grids = st.store.list_grids(id).await?;
    let (pf, perrs) = match &refused {
        Refused::Profile(f, e) => ((*f).clone(), *e),
        _ => (ProfileForm::of(&profile), &[][..]),
    };
    let (gf, gerrs) = match &refused {
        Refused::Grid(f, e) => ((*f).clone(), *e),
        _ => (
            GridForm {
                zone: Zone::Green.as_str().into(),
                ..GridForm::default()
            },
            &[][..],
        ),
    };
    let team_options: Vec<(String, String)> = teams
        .iter()
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect();
    let zone_options: Vec<(String, String)> = Zone::ALL
        .iter()
        .map(|z| (z.as_str().to_owned(), z.label(ctx.lang).to_owned()))
        .collect();
    let base = format!("/enterprises/{}", id.0);
    Ok(html! {
        h2 id="profile" { (ctx.t("profile.title")) }
        (error_summary(ctx, perrs))
        form method="post" action={ (base) "/profile" } class="card" {
            (csrf_field(ctx))
            div class="grid2" {
                (Input::text("credit_code", ctx.t("profile.credit_code"), &pf.credit_code)
                    .hint(ctx.t("profile.credit_code.hint")).autocomplete("off").render(ctx, perrs))
                (select(ctx, "team_id", ctx.t("profile.team"), &team_options, &pf.team_id, false, perrs))
                (Input::text("address", ctx.t("profile.address"), &pf.address).render(ctx, perrs))
                (Input::text("contact_name", ctx.t("profile.contact_name"), &pf.contact_name).render(ctx, perrs))
                (Input::text("contact_phone", ctx.t("profile.contact_phone"), &pf.contact_phone).kind("tel").render(ctx, perrs))
                (Input::text("responsible_person", ctx.t("profile.responsible"), &pf.responsible_person)
                    .hint(ctx.t("profile.responsible.hint")).render(ctx, perrs))
                (Input::text("responsible_phone", ctx.t("profile.responsible_phone"), &pf.responsible_phone).kind("tel").render(ctx, perrs))
            }
            button type="submit" class="primary" { (ctx.t("profile.save")) }
        }
        h2 id="grids" { (ctx.t("grids.title")) }
        p class="hint" { (ctx.t("grids.lead")) }
        @if grids.is_empty() {
            p { (ctx.t("grids.none")) }
        } @else {
            div class="table-wrap" {
                table class="grids" {
                    thead { tr {
                        th scope="col" { (ctx.t("grids.zone")) }
                        th scope="col" { (ctx.t("grids.name")) }
                        th scope="col" { (ctx.t("grids.leader")) }
                        th scope="col" { (ctx.t("grids.leader_phone")) }
                        th scope="col" { (ctx.t("teams.actions")) }
                    } }
                    tbody {
                        @for g in &grids {
                            tr {
                                td { (g.zone.label(ctx.lang)) }
                                td { (g.name) }
                                td { (g.leader) }
                                td { (g.leader_phone) }
                                td {
                                    form method="post" action={ (base) "/grids/" (g.id) "/delete" }
                                        data-confirm=(ctx.tf("grids.delete_confirm", &[("name", &g.name)])) {
                                        (csrf_field(ctx))
                                        button type="submit" class="danger" { (ctx.t("grids.delete")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h3 { (ctx.t("grids.add")) }
        (error_summary(ctx, gerrs))
        form method="post" action={ (base) "/grids" } class="card" {
            (csrf_field(ctx))
            div class="grid2" {
                (select(ctx, "zone", ctx.t("grids.zone"), &zone_options, &gf.zone, true, gerrs))
                (Input::text("name", ctx.t("grids.name"), &gf.name).required().render(ctx, gerrs))
                (Input::text("leader", ctx.t("grids.leader"), &gf.leader).required().render(ctx, gerrs))
                (Input::text("leader_phone", ctx.t("grids.leader_phone"), &gf.leader_phone).kind("tel").render(ctx, gerrs))
            }
            button type="submit" { (ctx.t("grids.add")) }
        }
    })
}

fn path_id(raw: &str) -> WebResult<EnterpriseId> {
    raw.trim()
        .parse::<u32>()
        .map(EnterpriseId)
        .map_err(|_| WebError::NotFound("enterprise"))
}

async fn save_profile(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: String,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    if st.store.enterprise_profile(id).await?.is_none() {
        return Err(WebError::NotFound("enterprise"));
    }
    let form = ProfileForm::parse(&body);
    let errors = match form.check(ctx.lang) {
        Ok(update) => match st.store.set_enterprise_profile(id, &update).await {
            Ok(p) => {
                audit::record(
                    &st,
                    &ctx.user()?.username,
                    Action::EnterpriseProfileChanged,
                    &format!("enterprise:{}", id.0),
                    serde_json::json!({
                        "credit_code": p.credit_code.as_ref().map(|c| c.to_string()),
                        "team_id": p.team_id,
                    }),
                )
                .await?;
                return Ok(see_other(&format!(
                    "/enterprises/{}?done=profile#profile",
                    id.0
                )));
            }
            Err(StoreError::Conflict(_)) => vec![FieldError::new(
                "credit_code",
                ctx.t("profile.credit_code.taken"),
            )],
            Err(StoreError::NotFound("supervision team")) => {
                vec![FieldError::new("team_id", ctx.t("profile.team.invalid"))]
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let markup = super::orgs::render_enterprise(
        &st,
        &ctx,
        id.0,
        None,
        &[],
        "",
        Refused::Profile(&form, &errors),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

async fn add_grid(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: String,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    if st.store.enterprise_profile(id).await?.is_none() {
        return Err(WebError::NotFound("enterprise"));
    }
    let form = GridForm::parse(&body);
    let errors = match form.check(ctx.lang) {
        Ok(new) => match st.store.add_grid(id, &new).await {
            Ok(g) => {
                audit::record(
                    &st,
                    &ctx.user()?.username,
                    Action::GridChanged,
                    &format!("enterprise:{}", id.0),
                    serde_json::json!({ "added": g.id, "zone": g.zone.as_str(), "name": g.name }),
                )
                .await?;
                return Ok(see_other(&format!("/enterprises/{}?done=grid#grids", id.0)));
            }
            Err(StoreError::Conflict(_)) => {
                vec![FieldError::new("name", ctx.t("grids.name.taken"))]
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let markup = super::orgs::render_enterprise(
        &st,
        &ctx,
        id.0,
        None,
        &[],
        "",
        Refused::Grid(&form, &errors),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

async fn delete_grid(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((id, grid)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let grid: i64 = grid
        .trim()
        .parse()
        .map_err(|_| WebError::NotFound("grid"))?;
    st.store.delete_grid(id, grid).await?;
    audit::record(
        &st,
        &ctx.user()?.username,
        Action::GridChanged,
        &format!("enterprise:{}", id.0),
        serde_json::json!({ "deleted": grid }),
    )
    .await?;
    Ok(see_other(&format!(
        "/enterprises/{}?done=grid_deleted#grids",
        id.0
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_digits_with_separators() {
        assert_eq!(
            check_phone(Lang::Zh, "p", " 0371-6666 8888 ")
                .unwrap()
                .as_deref(),
            Some("0371-6666 8888")
        );
        assert!(
            check_phone(Lang::Zh, "p", "+86 138 0000 0000")
                .unwrap()
                .is_some()
        );
        assert_eq!(check_phone(Lang::Zh, "p", "").unwrap(), None);
        assert!(check_phone(Lang::Zh, "p", "12345").is_err());
        assert!(check_phone(Lang::Zh, "p", "138abc00000").is_err());
    }

    #[test]
    fn a_bad_credit_code_says_why_in_the_readers_language() {
        let f = ProfileForm {
            credit_code: "91410100MA3X0000".into(),
            contact_phone: "x".into(),
            ..ProfileForm::default()
        };
        let e = f.check(Lang::Zh).unwrap_err();
        let code = e.iter().find(|e| e.field == "credit_code").unwrap();
        assert_eq!(code.message, "统一社会信用代码应为 18 位，实为 16 位");
        assert!(e.iter().any(|e| e.field == "contact_phone"));
        let en = f.check(Lang::En).unwrap_err();
        assert!(en[1].message.contains("18 characters") || en[0].message.contains("18 characters"));
        let ok = ProfileForm {
            credit_code: " 91350100m000100y43 ".into(),
            team_id: "2".into(),
            ..ProfileForm::default()
        }
        .check(Lang::Zh)
        .unwrap();
        assert_eq!(ok.credit_code.unwrap().as_str(), "91350100M000100Y43");
        assert_eq!((ok.team_id, ok.address), (Some(2), None));
    }
}
