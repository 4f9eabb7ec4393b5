//! Signing keys, for the administrator: the issuer key new passes are signed with, the
//! other issuer keys and their status, the bundle-signing keys, how to rotate, and marking an
//! issuer key retired or compromised (the same rule as `POST /api/v1/keys/{id}/status`).

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
use super::layout::{csrf_field, datetime, error_summary, localized, notice, page};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::FieldError;
use crate::routes::keys::status_change;
use crate::state::AppState;

pub fn pages() -> Vec<Page> {
    let admin = Access::Roles(roles::ADMIN);
    vec![
        Page::get("/keys", admin, get(keys_page)),
        Page::post("/keys/{id}/status", admin, post(set_status)),
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

#[derive(Deserialize, Default)]
struct Done {
    key: Option<String>,
    status: Option<String>,
}

async fn keys_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<Done>,
) -> WebResult<Markup> {
    let done = match (q.key.as_deref().map(str::parse::<u8>), q.status.as_deref()) {
        (Some(Ok(k)), Some(s)) => status_change(Some(s)).ok().map(|s| (k, s)),
        _ => None,
    };
    render(&st, &ctx, &[], done).await
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    errors: &[FieldError],
    done: Option<(u8, KeyStatus)>,
) -> WebResult<Markup> {
    let rows = st.store.issuer_key_rows().await?;
    let (signing, _) = st.keys.active();
    let signing_row = rows.iter().find(|r| r.id == signing);
    let fp = |b64: &str| {
        passgate_shared::keys::parse_public_key_b64(b64)
            .map(|k| fingerprint(&k))
            .unwrap_or_default()
    };
    let (bundle_signer, _) = st.keys.bundle_signer();
    let bundle_keys = st.keys.public_bundle_keys();
    let title = ctx.t("keys.title");
    Ok(page(
        ctx,
        title,
        html! {
            h1 { (title) }
            @if let Some((k, s)) = done {
                (notice(&ctx.tf("keys.changed", &[("id", &k), ("status", &ctx.t(status_key(s)))])))
            }
            (error_summary(ctx, errors))

            h2 { (ctx.t("keys.signing.title")) }
            @if let Some(r) = signing_row {
                @if r.status == KeyStatus::Compromised {
                    div class="alert error" role="alert" { (ctx.t("keys.signing.compromised")) }
                }
                dl class="facts" {
                    dt { (ctx.t("keys.id")) } dd { (r.id.0) }
                    dt { (ctx.t("keys.fingerprint")) } dd { code { (fp(&r.public_key)) } }
                    dt { (ctx.t("keys.created")) } dd { (datetime(r.created_at)) }
                    dt { (ctx.t("keys.status")) } dd { span class=(status_class(r.status)) { (ctx.t(status_key(r.status))) } }
                }
            } @else {
                p { (ctx.tf("keys.signing.unregistered", &[("id", &signing.0)])) }
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
                                td class="num" { (r.id.0) @if r.id == signing { " " small { (ctx.t("keys.signing.mark")) } } }
                                td { code { (fp(&r.public_key)) } }
                                td { (datetime(r.created_at)) }
                                td { span class=(status_class(r.status)) { (ctx.t(status_key(r.status))) } }
                                td {
                                    @if r.status != KeyStatus::Compromised {
                                        div class="actions orgs-row-actions" {
                                            @if r.status == KeyStatus::Active {
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

async fn set_status(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> WebResult<Response> {
    let id: u8 = id
        .trim()
        .parse()
        .map_err(|_| WebError::NotFound("issuer key"))?;
    let status = match status_change(Some(&f.status)) {
        Ok(s) => s,
        Err(e) => {
            let e = localized(ctx.lang, e);
            let markup = render(&st, &ctx, &[e], None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response());
        }
    };
    st.store.set_issuer_key_status(KeyId(id), status).await?;
    crate::audit::record(
        &st,
        &ctx.user()?.username,
        crate::audit::Action::KeyStatusChanged,
        &format!("issuer_key:{id}"),
        serde_json::json!({ "status": format!("{status:?}").to_lowercase() }),
    )
    .await?;
    tracing::warn!(key = id, ?status, by = %ctx.user()?.username, "issuer key status changed from the console");
    let s = match status {
        KeyStatus::Compromised => "compromised",
        _ => "retired",
    };
    Ok(see_other(&format!("/keys?key={id}&status={s}")))
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
