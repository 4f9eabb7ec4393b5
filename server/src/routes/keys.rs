//! `/keys`: the public issuer keys, for anyone who wants to check a pass; and what an
//! administrator does with them: rotate the issuer key (a new key signs from now on), change
//! a key's status (retire, or mark compromised so every gate refuses the passes the key
//! signed after its next sync), and re-issue the live passes of a compromised key. The rules
//! are in [`crate::signing`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use passgate_shared::{IssuerKey, KeyId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::doc::{BodyRefusals, ErrorBody, Refusals};
use super::passes::PassView;
use super::{ApiJson, ApiPath};
use crate::auth::{AdminOnly, Caller};
use crate::error::{ApiError, ApiResult};
use crate::signing::{reissue_compromised, rotate, set_key_status, status_change};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(keys))
        .routes(routes!(rotate_key))
        .routes(routes!(set_status))
        .routes(routes!(reissue))
}

#[derive(Serialize, ToSchema)]
struct Keys {
    keys: Vec<IssuerKey>,
}

#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    summary = "The public issuer keys",
    responses(
        (status = 200, description = "The issuer public keys (no token needed)", body = Keys),
        (status = 500, description = "Server error", body = ErrorBody)
    ),
)]
async fn keys(State(st): State<AppState>) -> ApiResult<Json<Keys>> {
    Ok(Json(Keys {
        keys: st.store.list_issuer_keys().await?,
    }))
}

#[derive(Serialize, ToSchema)]
struct Rotated {
    /// The new issuer key, which signs from now on.
    key: IssuerKey,
    keys: Vec<IssuerKey>,
}

#[utoipa::path(
    post,
    path = "/keys/rotate",
    tag = "keys",
    summary = "Rotate the issuer key",
    responses(
        (status = 201, description = "The new key, which signs from now on, and all keys", body = Rotated),
        (status = 409, description = "another rotation came first, or every key number (1–255) is used", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin"])),
)]
async fn rotate_key(
    State(st): State<AppState>,
    caller: Caller<AdminOnly>,
) -> ApiResult<(StatusCode, Json<Rotated>)> {
    let key = rotate(&st, caller.name()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Rotated {
            key,
            keys: st.store.list_issuer_keys().await?,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
struct StatusBody {
    /// `retired` or `compromised`.
    #[schema(value_type = String, pattern = r"^\s*(retired|compromised)\s*$")]
    status: Option<String>,
}

#[utoipa::path(
    post,
    path = "/keys/{id}/status",
    tag = "keys",
    summary = "Retire a key or mark it compromised",
    params(("id" = u8, Path, maximum = 255, description = "The issuer key id")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "All keys, after the change", body = Keys),
        (status = 404, description = "key not found", body = ErrorBody),
        (status = 409, description = "the change is not allowed from the key's status", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin"])),
)]
async fn set_status(
    State(st): State<AppState>,
    caller: Caller<AdminOnly>,
    ApiPath(id): ApiPath<u8>,
    ApiJson(body): ApiJson<StatusBody>,
) -> ApiResult<Json<Keys>> {
    let status =
        status_change(body.status.as_deref()).map_err(|f| ApiError::Validation(vec![f]))?;
    set_key_status(&st, KeyId(id), status, caller.name()).await?;
    Ok(Json(Keys {
        keys: st.store.list_issuer_keys().await?,
    }))
}

/// The answer of a re-issue: every pass signed again, to reprint.
#[derive(Serialize, ToSchema)]
struct Reissue {
    from_key: u8,
    to_key: u8,
    count: usize,
    passes: Vec<PassView>,
}

#[utoipa::path(
    post,
    path = "/keys/{id}/reissue",
    tag = "keys",
    summary = "Re-issue the live passes of a compromised key",
    params(("id" = u8, Path, maximum = 255, description = "The issuer key id")),
    responses(
        (status = 200, description = "The passes signed again", body = Reissue),
        (status = 404, description = "key not found", body = ErrorBody),
        (status = 409, description = "the key is not compromised, or no key is active", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin"])),
)]
async fn reissue(
    State(st): State<AppState>,
    caller: Caller<AdminOnly>,
    ApiPath(id): ApiPath<u8>,
) -> ApiResult<Json<Reissue>> {
    let done = reissue_compromised(&st, KeyId(id), caller.name()).await?;
    Ok(Json(Reissue {
        from_key: done.from.0,
        to_key: done.to.0,
        count: done.passes.len(),
        passes: done.passes.iter().map(PassView::from).collect(),
    }))
}
