//! The gate sync API (`docs/sync-protocol.md`): the signed bundle file, full or as a delta,
//! and the upload of signed, chained record batches.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::{encode_delta, encode_snapshot};
use passgate_shared::keys::parse_public_key_b64;
use passgate_shared::record::{UploadBatch, check_batch_sealed};
use passgate_shared::sync::UploadResult;
use passgate_shared::{Bundle, CheckpointInfo};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::doc::{BodyRefusals, ErrorBody, Refusals};
use super::{ApiJson, ApiQuery};
use crate::auth::{BundleRead, Caller, GateUpload};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::state::{AppState, now};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bundle))
        .routes(routes!(upload))
}

/// The current bundle. The version is read first, so the data that follows is at least as
/// new as the version claims.
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

/// How long a built bundle file is served before it is rebuilt even though nothing changed,
/// so that `generated_at` (which gates use to judge staleness) stays fresh.
pub const BUNDLE_REFRESH_SECONDS: i64 = 60;

/// Signed bundle files built for one bundle version: the snapshot and the deltas asked for
/// so far. A request costs one version query while the cache is current; every instance
/// keeps its own, and a change on any instance bumps the shared version.
#[derive(Default)]
pub struct BundleCache {
    inner: tokio::sync::Mutex<Option<CachedBundle>>,
}

struct CachedBundle {
    version: u64,
    built_at: i64,
    bundle: Arc<Bundle>,
    snapshot: Bytes,
    deltas: HashMap<u64, Bytes>,
}

/// The signed bundle file: a delta from `since` when the gate holds an older version of
/// this server's bundle, else a full snapshot.
pub async fn bundle_file(st: &AppState, since: Option<u64>) -> ApiResult<Bytes> {
    let version = st.store.bundle_version().await?;
    let mut cache = st.bundle_cache.inner.lock().await;
    let fresh = cache
        .as_ref()
        .is_some_and(|c| c.version == version && now() - c.built_at < BUNDLE_REFRESH_SECONDS);
    if !fresh {
        let bundle = current_bundle(st).await?;
        let ring = st.keys.ring();
        let (key_id, key) = ring.bundle_signer();
        let snapshot = encode_snapshot(&bundle, &ring.public_bundle_keys(), key_id, key);
        *cache = Some(CachedBundle {
            version: bundle.version,
            built_at: bundle.generated_at,
            bundle: Arc::new(bundle),
            snapshot: Bytes::from(snapshot),
            deltas: HashMap::new(),
        });
    }
    let Some(c) = cache.as_mut() else {
        return Err(ApiError::Internal(
            "the bundle cache is empty after a rebuild".into(),
        ));
    };
    match since {
        // A gate already at this version gets an empty delta: the fresh time, not the set.
        Some(base) if base >= 1 && base <= c.version => {
            if let Some(d) = c.deltas.get(&base) {
                return Ok(d.clone());
            }
            let added: RevocationSet = st
                .store
                .revoked_since(base, c.version)
                .await?
                .into_iter()
                .collect();
            let ring = st.keys.ring();
            let (key_id, key) = ring.bundle_signer();
            let delta = encode_delta(
                &c.bundle,
                base,
                &added,
                &ring.public_bundle_keys(),
                key_id,
                key,
            );
            let delta = Bytes::from(delta);
            c.deltas.insert(base, delta.clone());
            Ok(delta)
        }
        _ => Ok(c.snapshot.clone()),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BundleQuery {
    since: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/sync/bundle",
    tag = "sync",
    summary = "Download the trust bundle (docs/sync-protocol.md)",
    params(BundleQuery),
    responses(
        (status = 200, description = "The signed bundle file: a snapshot, or a delta from `since`", content_type = "application/octet-stream", body = Vec<u8>),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops", "checkpoint"])),
)]
async fn bundle(
    State(st): State<AppState>,
    caller: Caller<BundleRead>,
    ApiQuery(q): ApiQuery<BundleQuery>,
) -> ApiResult<impl IntoResponse> {
    // The version read before building: the file served is at least this new.
    let version = st.store.bundle_version().await?;
    let bytes = bundle_file(&st, q.since).await?;
    // The console shows which gates are behind; a failure here must not stop the download.
    if let Some(device) = caller.token.device_id
        && let Err(e) = st.store.record_bundle_fetch(device, version, now()).await
    {
        tracing::warn!(%device, error = %e, "could not record the bundle download");
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

#[utoipa::path(
    post,
    path = "/sync/upload",
    tag = "sync",
    summary = "Upload a signed, chained batch of gate records (docs/sync-protocol.md)",
    request_body = UploadBatch,
    responses(
        (status = 200, description = "What was stored", body = UploadResult),
        (status = 404, description = "device not found", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "checkpoint"])),
)]
async fn upload(
    State(st): State<AppState>,
    caller: Caller<GateUpload>,
    ApiJson(batch): ApiJson<UploadBatch>,
) -> ApiResult<Json<UploadResult>> {
    let Some(device_id) = caller.token.device_id else {
        return Err(ApiError::BadRequest(
            "only an enrolled device can upload: run `passgate-checkpoint enroll` with a code from the operations bureau".into(),
        ));
    };
    if batch.device_id != device_id {
        return Err(ApiError::BatchRefused(format!(
            "this token belongs to device {device_id}, the batch claims device {}",
            batch.device_id
        )));
    }
    let device = st
        .store
        .get_device(device_id)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    if batch.checkpoint_id != device.checkpoint_id {
        return Err(ApiError::BatchRefused(format!(
            "device {device_id} is enrolled at checkpoint {}, not {}",
            device.checkpoint_id, batch.checkpoint_id
        )));
    }
    let key = parse_public_key_b64(&device.public_key).ok_or_else(|| {
        ApiError::Internal(format!("device {device_id} has an unreadable public key"))
    })?;
    let sealed =
        check_batch_sealed(&batch, &key).map_err(|e| ApiError::BatchRefused(e.to_string()))?;
    let out = st
        .store
        .ingest_batch(device_id, &batch.records, &sealed, now())
        .await?;
    let last_seq = batch.records.last().map_or(0, |r| r.seq);
    Metrics::add(&st.metrics.sync_batches, 1);
    Metrics::add(&st.metrics.sync_records_stored, out.stored);
    Metrics::add(&st.metrics.sync_records_duplicate, out.duplicates);
    tracing::info!(device = %device_id, stored = out.stored, duplicates = out.duplicates, gap = out.gap, "sync upload");
    Ok(Json(UploadResult {
        stored: out.stored,
        duplicates: out.duplicates,
        last_seq,
    }))
}
