//! Signing keys, for the administrator: the issuer key new passes are signed with, the
//! other issuer keys and their status, the bundle-signing keys, how to rotate; rotating the
//! issuer key (轮换签发密钥), marking an issuer key retired or compromised, and re-issuing the
//! live passes of a compromised key — the same rules as `POST /api/v1/keys/rotate`,
//! `/keys/{id}/status` and `/keys/{id}/reissue` ([`crate::signing`]). The reprint list of a
//! re-issue (`/keys/{id}/reissued`) is for the operations bureau too, who print the passes.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::VerifyingKey;
use maud::{Markup, html};
use passgate_shared::{KeyId, KeyStatus};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::access::{Access, roles};
use super::layout::{csrf_field, datetime, error_summary, localized, notice, page, pager};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::{ApiError, FieldError};
use crate::signing::{reissue_compromised, rotate, set_key_status, status_change};
use crate::state::AppState;
use crate::store::PassFilter;

/// Passes per page of a reprint list.
pub const REPRINT_PAGE: u32 = 50;

pub fn pages() -> Vec<Page> {
    let admin = Access::Roles(roles::ADMIN);
    vec![
        Page::get("/keys", admin, get(keys_page)),
        Page::post("/keys/rotate", admin, post(rotate_key)),
        Page::post("/keys/{id}/status", admin, post(set_status)),
        Page::post("/keys/{id}/reissue", admin, post(reissue)),
        Page::get(
            "/keys/{id}/reissued",
            Access::Roles(roles::OPS),
            get(reprint_list),
        ),
    ]
}

/// A short fingerprint of a public key: the first 16 bytes of its SHA-256, in groups of four
/// hex digits, for comparing by eye with what a gate shows.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..16])
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_key(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => crate::k!("keys.status.active"),
        KeyStatus::Retired => crate::k!("keys.status.retired"),
        KeyStatus::Compromised => crate::k!("keys.status.compromised"),
    }
}

fn status_class(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "badge active",
        KeyStatus::Retired => "badge",
        KeyStatus::Compromised => "badge revoked",
    }
}

/// What the page reports after an action.
enum Done {
    Status(u8, KeyStatus),
    Rotated(u8),
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    key: Option<String>,
    status: Option<String>,
    rotated: Option<String>,
}

async fn keys_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<DoneQuery>,
) -> WebResult<Markup> {
    let done = match (
        q.key.as_deref().map(str::parse::<u8>),
        q.status.as_deref(),
        q.rotated.as_deref().map(str::parse::<u8>),
    ) {
        (Some(Ok(k)), Some(s), _) => status_change(Some(s)).ok().map(|s| Done::Status(k, s)),
        (_, _, Some(Ok(k))) => Some(Done::Rotated(k)),
        _ => None,
    };
    render(&st, &ctx, &[], done).await
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    errors: &[FieldError],
    done: Option<Done>,
) -> WebResult<Markup> {
    let rows = st.store.issuer_key_rows().await?;
    // The store decides which key signs: the newest registered, while it is active.
    let newest = rows.last();
    let signing = newest
        .filter(|r| r.status == KeyStatus::Active)
        .map(|r| r.id);
    let fp = |b64: &str| {
        passgate_shared::keys::parse_public_key_b64(b64)
            .map(|k| fingerprint(&k))
            .unwrap_or_default()
    };
    let ring = st.keys.ring();
    let (bundle_signer, _) = ring.bundle_signer();
    let bundle_keys = ring.public_bundle_keys();
    let title = ctx.t("keys.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @match done {
                Some(Done::Status(k, s)) => {
                    (notice(&ctx.tf("keys.changed", &[("id", &k), ("status", &ctx.t(status_key(s)))])))
                }
                Some(Done::Rotated(k)) => { (notice(&ctx.tf("keys.rotated", &[("id", &k)]))) }
                None => {}
            }
            (error_summary(ctx, errors))

            h2 { (ctx.t("keys.signing.title")) }
            @match newest {
                Some(r) => {
                    @if signing.is_none() {
                        div class="alert error" role="alert" {
                            @if r.status == KeyStatus::Compromised { (ctx.t("keys.signing.compromised")) }
                            @else { (ctx.t("keys.signing.retired")) }
                        }
                    }
                    dl class="facts" {
                        dt { (ctx.t("keys.id")) } dd { (r.id.0) }
                        dt { (ctx.t("keys.fingerprint")) } dd { code { (fp(&r.public_key)) } }
                        dt { (ctx.t("keys.created")) } dd { (datetime(r.created_at)) }
                        dt { (ctx.t("keys.status")) } dd { span class=(status_class(r.status)) { (ctx.t(status_key(r.status))) } }
                    }
                }
                None => { p { (ctx.t("keys.signing.unregistered")) } }
            }
            form method="post" action="/keys/rotate" class="actions"
                data-confirm=(ctx.t("keys.rotate_confirm")) {
                (csrf_field(ctx))
                button type="submit" class="primary" { (ctx.t("keys.rotate")) }
                span class="hint" { (ctx.t("keys.rotate_help")) }
            }

            h2 { (ctx.t("keys.all.title")) }
            div class="table-wrap" {
                table {
                    thead { tr {
                        th class="num" { (ctx.t("keys.id")) }
                        th { (ctx.t("keys.fingerprint")) }
                        th { (ctx.t("keys.created")) }
                        th { (ctx.t("keys.status")) }
                        th { (ctx.t("keys.actions")) }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td class="num" { (r.id.0) @if Some(r.id) == signing { " " small { (ctx.t("keys.signing.mark")) } } }
                                td { code { (fp(&r.public_key)) } }
                                td { (datetime(r.created_at)) }
                                td { span class=(status_class(r.status)) { (ctx.t(status_key(r.status))) } }
                                td {
                                    @if r.status == KeyStatus::Compromised {
                                        div class="actions orgs-row-actions" {
                                            form method="post" action={ "/keys/" (r.id.0) "/reissue" }
                                                data-confirm=(ctx.tf("keys.reissue_confirm", &[("id", &r.id.0)])) {
                                                (csrf_field(ctx))
                                                button type="submit" class="primary" { (ctx.t("keys.reissue")) }
                                            }
                                            a href={ "/keys/" (r.id.0) "/reissued" } { (ctx.t("keys.reprint_list")) }
                                        }
                                    } @else {
                                        div class="actions orgs-row-actions" {
                                            @if r.status == KeyStatus::Active && Some(r.id) != signing {
                                                form method="post" action={ "/keys/" (r.id.0) "/status" }
                                                    data-confirm=(ctx.tf("keys.retire_confirm", &[("id", &r.id.0)])) {
                                                    (csrf_field(ctx))
                                                    input type="hidden" name="status" value="retired";
                                                    button type="submit" { (ctx.t("keys.retire")) }
                                                }
                                            }
                                            form method="post" action={ "/keys/" (r.id.0) "/status" }
                                                data-confirm=(ctx.tf("keys.compromise_confirm", &[("id", &r.id.0)])) {
                                                (csrf_field(ctx))
                                                input type="hidden" name="status" value="compromised";
                                                button type="submit" class="danger" { (ctx.t("keys.compromise")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p class="hint" { (ctx.t("keys.sync_note")) }

            h2 { (ctx.t("keys.bundle.title")) }
            p { (ctx.t("keys.bundle.help")) }
            div class="table-wrap" {
                table {
                    thead { tr {
                        th class="num" { (ctx.t("keys.id")) }
                        th { (ctx.t("keys.fingerprint")) }
                        th { (ctx.t("keys.bundle.role")) }
                    } }
                    tbody {
                        @for k in &bundle_keys {
                            tr {
                                td class="num" { (k.id.0) }
                                td { code { (fingerprint(&k.public)) } }
                                td {
                                    @if k.id == bundle_signer { (ctx.t("keys.bundle.signing")) }
                                    @else { (ctx.t("keys.bundle.announced")) }
                                }
                            }
                        }
                    }
                }
            }

            h2 { (ctx.t("keys.rotate.title")) }
            h3 { (ctx.t("keys.rotate.issuer.title")) }
            ol {
                li { (ctx.t("keys.rotate.issuer.1")) }
                li { (ctx.t("keys.rotate.issuer.2")) }
                li { (ctx.t("keys.rotate.issuer.3")) }
            }
            h3 { (ctx.t("keys.rotate.leak.title")) }
            ol {
                li { (ctx.t("keys.rotate.leak.1")) }
                li { (ctx.t("keys.rotate.leak.2")) }
                li { (ctx.t("keys.rotate.leak.3")) }
                li { (ctx.t("keys.rotate.leak.4")) }
            }
            h3 { (ctx.t("keys.rotate.bundle.title")) }
            ol {
                li { (ctx.t("keys.rotate.bundle.1")) }
                li { (ctx.t("keys.rotate.bundle.2")) }
                li { (ctx.t("keys.rotate.bundle.3")) }
            }
            p class="hint" { (ctx.t("keys.rotate.doc")) }
        },
    ))
}

#[derive(Deserialize, Default)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

/// The keys page again with a refusal of the shared rules in the reader's language.
async fn refused(st: &AppState, ctx: &Ctx, e: ApiError) -> WebResult<Response> {
    let (status, message) = match e {
        ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
        ApiError::Validation(mut f) if !f.is_empty() => {
            (StatusCode::UNPROCESSABLE_ENTITY, f.remove(0).message)
        }
        other => return Err(other.into()),
    };
    let e = localized(ctx.lang, FieldError::new("status", message));
    let markup = render(st, ctx, &[e], None).await?;
    Ok((status, markup).into_response())
}

fn key_id(id: &str) -> WebResult<KeyId> {
    id.trim()
        .parse()
        .map(KeyId)
        .map_err(|_| WebError::NotFound("issuer key"))
}

async fn set_status(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> WebResult<Response> {
    let id = key_id(&id)?;
    let status = match status_change(Some(&f.status)) {
        Ok(s) => s,
        Err(e) => return refused(&st, &ctx, ApiError::Validation(vec![e])).await,
    };
    let user = ctx.user()?.username.clone();
    match set_key_status(&st, id, status, &user).await {
        Ok(()) => {}
        Err(e @ (ApiError::Conflict(_) | ApiError::Validation(_))) => {
            return refused(&st, &ctx, e).await;
        }
        Err(e) => return Err(e.into()),
    }
    let s = match status {
        KeyStatus::Compromised => "compromised",
        _ => "retired",
    };
    Ok(see_other(&format!("/keys?key={}&status={s}", id.0)))
}

/// 轮换签发密钥: a new issuer key signs from now on.
async fn rotate_key(State(st): State<AppState>, ctx: Ctx) -> WebResult<Response> {
    let user = ctx.user()?.username.clone();
    match rotate(&st, &user).await {
        Ok(key) => Ok(see_other(&format!("/keys?rotated={}", key.id.0))),
        Err(e @ ApiError::Conflict(_)) => refused(&st, &ctx, e).await,
        Err(e) => Err(e.into()),
    }
}

/// 重新签发: the live passes of a compromised key, signed again; then their reprint list.
async fn reissue(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = key_id(&id)?;
    let user = ctx.user()?.username.clone();
    match reissue_compromised(&st, id, &user).await {
        Ok(done) => Ok(see_other(&format!(
            "/keys/{}/reissued?done={}",
            id.0,
            done.passes.len()
        ))),
        Err(e @ ApiError::Conflict(_)) => refused(&st, &ctx, e).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
struct ReprintQuery {
    done: Option<u64>,
    offset: Option<u32>,
}

/// The passes re-issued off a compromised key, with their print links: what to reprint and
/// hand to the drivers.
async fn reprint_list(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ReprintQuery>,
) -> WebResult<Markup> {
    let id = key_id(&id)?;
    if !st
        .store
        .list_issuer_keys()
        .await?
        .iter()
        .any(|k| k.id == id)
    {
        return Err(WebError::NotFound("issuer key"));
    }
    let offset = q.offset.unwrap_or(0);
    let filter = PassFilter {
        reissued_from_key: Some(id),
        limit: REPRINT_PAGE,
        offset,
        ..PassFilter::default()
    };
    let (passes, total) = st.store.list_passes(&filter).await?;
    let title = ctx.tf("keys.reprint.title", &[("id", &id.0)]);
    Ok(page(
        &ctx,
        &title,
        html! {
            h1 { (title) }
            @if let Some(n) = q.done {
                (notice(&ctx.tf("keys.reprint.done", &[("count", &n), ("id", &id.0)])))
            }
            p { (ctx.t("keys.reprint.help")) }
            @if passes.is_empty() {
                p class="alert" { (ctx.t("keys.reprint.empty")) }
            } @else {
                div class="table-wrap" {
                    table class="reprint-list" {
                        thead { tr {
                            th scope="col" { (ctx.t("passes.field.number")) }
                            th scope="col" { (ctx.t("passes.field.plate")) }
                            th scope="col" { (ctx.t("passes.field.validity")) }
                            th scope="col" { (ctx.t("keys.reprint.when")) }
                            th scope="col" { (ctx.t("keys.actions")) }
                        } }
                        tbody {
                            @for p in &passes {
                                tr {
                                    td { a href={ "/passes/" (p.number) } { (p.number) } }
                                    td class="plate-cell" { (p.plate) }
                                    td { (datetime(p.valid_from)) " — " (datetime(p.valid_until)) }
                                    td { (p.reissued_at.map(datetime).unwrap_or_default()) }
                                    td { a class="button" href={ "/passes/" (p.number) "/print" } { (ctx.t("keys.reprint.print")) } }
                                }
                            }
                        }
                    }
                }
                (pager(&ctx, &format!("/keys/{}/reissued?", id.0), u64::from(offset), u64::from(REPRINT_PAGE), total))
            }
            p { a href="/passes" { (ctx.t("keys.reprint.back")) } }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_and_differ() {
        let a = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
        let b = ed25519_dalek::SigningKey::from_bytes(&[2; 32]).verifying_key();
        let fa = fingerprint(&a);
        assert_eq!(fa.len(), 32 + 7, "{fa}");
        assert_ne!(fa, fingerprint(&b));
        assert_eq!(fa, fingerprint(&a));
    }
}
