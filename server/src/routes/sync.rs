//! The gate sync API: trust bundle download and scan upload (`docs/sync-protocol.md`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use passgate_shared::bundle::RevocationSet;
use passgate_shared::sync::{BundleResponse, UploadRequest, UploadResponse};
use passgate_shared::{Bundle, CheckpointInfo};

use super::ApiJson;
use crate::auth::{BundleRead, Caller, GateUpload};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::metrics::Metrics;
use crate::state::{AppState, now};

/// Most records one upload may carry.
pub const MAX_BATCH: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sync/bundle", get(bundle))
        .route("/sync/upload", post(upload))
}

/// The current trust bundle. The version is read first, so the data that follows is at
/// least as new as the version claims.
pub async fn current_bundle(st: &AppState) -> ApiResult<Bundle> {
    let version = st.store.bundle_version().await?;
    let keys = st.store.list_issuer_keys().await?;
    let revoked: RevocationSet = st.store.revoked_numbers().await?.into_iter().collect();
    let checkpoints = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .map(|c| CheckpointInfo {
            id: c.id,
            name: c.name,
            inside_zone: c.inside_zone,
            enterprise_id: c.enterprise_id,
        })
        .collect();
    Ok(Bundle {
        version,
        generated_at: now(),
        keys,
        revoked,
        policy: st.settings.policy.clone(),
        checkpoints,
    })
}

async fn bundle(
    State(st): State<AppState>,
    _caller: Caller<BundleRead>,
) -> ApiResult<Json<BundleResponse>> {
    Ok(Json(BundleResponse {
        bundle: current_bundle(&st).await?,
    }))
}

fn is_record_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

async fn upload(
    State(st): State<AppState>,
    caller: Caller<GateUpload>,
    ApiJson(req): ApiJson<UploadRequest>,
) -> ApiResult<Json<UploadResponse>> {
    if let Some(bound) = caller.token.checkpoint_id
        && bound != req.checkpoint_id
    {
        return Err(ApiError::Forbidden);
    }
    if req.records.len() > MAX_BATCH {
        return Err(ApiError::field(
            "records",
            format!("at most {MAX_BATCH} records per upload"),
        ));
    }
    let mut errors = Vec::new();
    for (i, r) in req.records.iter().enumerate() {
        if !is_record_id(&r.id) {
            errors.push(FieldError::new(
                &format!("records[{i}].id"),
                "32 lower-case hex digits",
            ));
        }
        if r.checkpoint_id != req.checkpoint_id {
            errors.push(FieldError::new(
                &format!("records[{i}].checkpoint_id"),
                "differs from the upload's checkpoint",
            ));
        }
        if r.accepted == r.reason.is_some() {
            errors.push(FieldError::new(
                &format!("records[{i}].reason"),
                "an accepted record has no reason and a rejected one has one",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let out = st.store.ingest_scans(&req.records, now()).await?;
    Metrics::add(&st.metrics.sync_batches, 1);
    Metrics::add(&st.metrics.sync_records_stored, out.stored);
    Metrics::add(&st.metrics.sync_records_duplicate, out.duplicates);
    tracing::info!(checkpoint = %req.checkpoint_id, stored = out.stored, duplicates = out.duplicates, "sync upload");
    Ok(Json(UploadResponse {
        stored: out.stored,
        duplicates: out.duplicates,
    }))
}
