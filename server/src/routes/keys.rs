//! `GET /keys`: the public issuer keys, for anyone who wants to check a pass.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use passgate_shared::IssuerKey;
use serde::Serialize;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/keys", get(keys))
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
