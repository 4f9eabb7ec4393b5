//! `/keys`: the public issuer keys, for anyone who wants to check a pass; and the key status
//! changes an administrator makes (retire, or mark compromised so every gate refuses the
//! passes the key signed after its next sync).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use passgate_shared::{IssuerKey, KeyId, KeyStatus};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::auth::{AdminOnly, Caller};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys))
        .route("/keys/{id}/status", post(set_status))
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

/// The status an administrator may give an issuer key: `retired` (no new passes, old ones
/// still verify) or `compromised` (gates refuse every pass it signed). A key is never made
/// active again by hand: the newest key file is the active one.
pub fn status_change(value: Option<&str>) -> Result<KeyStatus, FieldError> {
    match value.map(str::trim) {
        Some("retired") => Ok(KeyStatus::Retired),
        Some("compromised") => Ok(KeyStatus::Compromised),
        _ => Err(FieldError::new(
            "status",
            "retired or compromised / 状态须为 retired 或 compromised",
        )),
    }
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
    st.store.set_issuer_key_status(KeyId(id), status).await?;
    crate::audit::record(
        &st,
        caller.name(),
        crate::audit::Action::KeyStatusChanged,
        &format!("issuer_key:{id}"),
        serde_json::json!({ "status": format!("{status:?}").to_lowercase() }),
    )
    .await?;
    tracing::warn!(
        key = id,
        ?status,
        by = caller.name(),
        "issuer key status changed"
    );
    Ok(Json(Keys {
        keys: st.store.list_issuer_keys().await?,
    }))
}
