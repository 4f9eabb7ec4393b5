//! `/enterprises`: the key enterprises passes serve.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::doc::{BodyRefusals, ErrorBody, Refusals};
use crate::auth::{Caller, OpsWrite, ReadData};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now};
use crate::store::Enterprise;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

#[derive(Deserialize, ToSchema)]
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

#[utoipa::path(
    post,
    path = "/enterprises",
    tag = "enterprises",
    summary = "Register a key enterprise",
    request_body = NewEnterprise,
    responses(
        (status = 201, description = "The enterprise registered", body = Enterprise),
        (status = 409, description = "an enterprise of this name exists", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
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

#[utoipa::path(
    get,
    path = "/enterprises",
    tag = "enterprises",
    summary = "List the key enterprises",
    responses(
        (status = 200, description = "Every enterprise", body = Vec<Enterprise>),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn list(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
) -> ApiResult<Json<Vec<Enterprise>>> {
    Ok(Json(st.store.list_enterprises().await?))
}
