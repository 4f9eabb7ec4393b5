//! `/enterprises`: the key enterprises passes serve.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiJson;
use crate::auth::{Caller, OpsWrite, ReadData};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now};
use crate::store::Enterprise;

pub fn router() -> Router<AppState> {
    Router::new().route("/enterprises", get(list).post(create))
}

#[derive(Deserialize)]
struct NewEnterprise {
    name: Option<String>,
}

/// Trim a required name and check its length.
pub fn required_name(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<String, crate::error::FieldError> {
    let v = value.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(crate::error::FieldError::new(field, "required / 必填"));
    }
    if v.chars().count() > max {
        return Err(crate::error::FieldError::new(
            field,
            format!("at most {max} characters / 最多 {max} 个字"),
        ));
    }
    Ok(v.to_owned())
}

async fn create(
    State(st): State<AppState>,
    _caller: Caller<OpsWrite>,
    ApiJson(body): ApiJson<NewEnterprise>,
) -> ApiResult<(StatusCode, Json<Enterprise>)> {
    let name = required_name("name", body.name.as_deref(), 100)
        .map_err(|f| ApiError::Validation(vec![f]))?;
    let e = st.store.create_enterprise(&name, now()).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

async fn list(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
) -> ApiResult<Json<Vec<Enterprise>>> {
    Ok(Json(st.store.list_enterprises().await?))
}
