//! `/checkpoints`: gates, inside or outside the zone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use passgate_shared::EnterpriseId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::doc::{BodyRefusals, Refusals};
use super::enterprises::required_name;
use crate::auth::{Caller, OpsWrite, ReadData};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::{AppState, now};
use crate::store::{Checkpoint, CheckpointKind, NewCheckpoint};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

#[derive(Deserialize, ToSchema)]
struct NewCheckpointBody {
    name: Option<String>,
    inside_zone: Option<bool>,
    enterprise_id: Option<u32>,
    kind: Option<String>,
}

#[utoipa::path(
    post,
    path = "/checkpoints",
    tag = "checkpoints",
    summary = "Register a checkpoint",
    request_body = NewCheckpointBody,
    responses(
        (status = 201, description = "The checkpoint registered", body = Checkpoint),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn create(
    State(st): State<AppState>,
    _caller: Caller<OpsWrite>,
    ApiJson(body): ApiJson<NewCheckpointBody>,
) -> ApiResult<(StatusCode, Json<Checkpoint>)> {
    let mut errors = Vec::new();
    let name = required_name("name", body.name.as_deref(), 100)
        .map_err(|f| errors.push(f))
        .ok();
    let inside_zone = body.inside_zone;
    if inside_zone.is_none() {
        errors.push(FieldError::new(
            "inside_zone",
            "required: true or false / 必填：是否在区内",
        ));
    }
    let enterprise_id = body.enterprise_id.map(EnterpriseId);
    if let Some(id) = enterprise_id
        && st.store.get_enterprise(id).await?.is_none()
    {
        errors.push(FieldError::new(
            "enterprise_id",
            format!("no enterprise {id} / 企业 {id} 不存在"),
        ));
    }
    let default_kind = if enterprise_id.is_some() {
        CheckpointKind::EnterpriseGate
    } else {
        CheckpointKind::ZoneBorder
    };
    let kind = match body.kind.as_deref() {
        None => Some(default_kind),
        Some(k) => CheckpointKind::parse(k).or_else(|| {
            errors.push(FieldError::new(
                "kind",
                "one of enterprise_gate, zone_border, highway_exit",
            ));
            None
        }),
    };
    match (name, inside_zone, kind) {
        (Some(name), Some(inside_zone), Some(kind)) if errors.is_empty() => {
            let new = NewCheckpoint {
                name,
                kind,
                inside_zone,
                enterprise_id,
            };
            let c = st.store.create_checkpoint(&new, now()).await?;
            Ok((StatusCode::CREATED, Json(c)))
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

#[utoipa::path(
    get,
    path = "/checkpoints",
    tag = "checkpoints",
    summary = "List the checkpoints",
    responses(
        (status = 200, description = "Every checkpoint", body = Vec<Checkpoint>),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn list(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
) -> ApiResult<Json<Vec<Checkpoint>>> {
    Ok(Json(st.store.list_checkpoints().await?))
}
