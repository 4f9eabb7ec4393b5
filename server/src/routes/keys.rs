//! `/keys`: the public issuer keys, for anyone who wants to check a pass; and what an
//! administrator does with them: rotate the issuer key (a new key signs from now on), change
//! a key's status (retire, or mark compromised so every gate refuses the passes the key
//! signed after its next sync), and re-issue the live passes of a compromised key. The rules
//! are in [`crate::signing`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use passgate_shared::{IssuerKey, KeyId};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::passes::PassView;
use crate::auth::{AdminOnly, Caller};
use crate::error::{ApiError, ApiResult};
use crate::signing::{reissue_compromised, rotate, set_key_status, status_change};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys))
        .route("/keys/rotate", post(rotate_key))
        .route("/keys/{id}/status", post(set_status))
        .route("/keys/{id}/reissue", post(reissue))
}

#[derive(Serialize)]
struct Keys {
    keys: Vec<IssuerKey>,
}

async fn keys(State(st): State<AppState>) -> ApiResult<Json<Keys>> {
    Ok(Json(Keys {
        keys: st.store.list_issuer_keys().await?,
    }))
}

#[derive(Serialize)]
struct Rotated {
    /// The new issuer key, which signs from now on.
    key: IssuerKey,
    keys: Vec<IssuerKey>,
}

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

#[derive(Deserialize)]
struct StatusBody {
    status: Option<String>,
}

async fn set_status(
    State(st): State<AppState>,
    caller: Caller<AdminOnly>,
    Path(id): Path<u8>,
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
#[derive(Serialize)]
struct Reissue {
    from_key: u8,
    to_key: u8,
    count: usize,
    passes: Vec<PassView>,
}

async fn reissue(
    State(st): State<AppState>,
    caller: Caller<AdminOnly>,
    Path(id): Path<u8>,
) -> ApiResult<Json<Reissue>> {
    let done = reissue_compromised(&st, KeyId(id), caller.name()).await?;
    Ok(Json(Reissue {
        from_key: done.from.0,
        to_key: done.to.0,
        count: done.passes.len(),
        passes: done.passes.iter().map(PassView::from).collect(),
    }))
}
