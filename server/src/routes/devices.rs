//! Gate devices: one-time enrolment codes, enrolment, listing and revocation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use passgate_shared::CheckpointId;
use passgate_shared::keys::parse_public_key_b64;
use passgate_shared::record::DeviceId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::doc::{BodyRefusals, ErrorBody, Refusals};
use super::enterprises::required_name;
use super::passes::rfc3339;
use super::{ApiJson, ApiPath};
use crate::auth::{Caller, OpsWrite, hash_token, new_token};
use crate::error::{ApiError, ApiResult};
use crate::keyring::random_bytes;
use crate::state::{AppState, now};
use crate::store::Device;

/// Default lifetime of an enrolment code.
pub const CODE_HOURS: u32 = 24;
/// Letters and digits that cannot be mistaken for each other when read aloud or typed.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(new_code))
        .routes(routes!(enroll))
        .routes(routes!(list))
        .routes(routes!(revoke))
}

/// A code's hash: the server never stores the code itself. Codes are normalised (upper case,
/// no dashes or spaces) so `abcd-efgh-jkmn` and `ABCDEFGHJKMN` are the same code.
pub fn hash_code(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hex::encode(Sha256::digest(
        format!("passgate/enrollment/v1\0{norm}").as_bytes(),
    ))
}

/// A new one-time enrolment code, e.g. `K7QH-2MXR-9PLA`.
pub fn new_code_text() -> Result<String, crate::keyring::KeyError> {
    let bytes = random_bytes()?;
    // 12 characters of 5 bits: 60 bits, shown as three groups of four.
    let chars: Vec<char> = bytes[..12]
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect();
    Ok(chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

#[derive(Deserialize, Default, ToSchema)]
struct CodeRequest {
    valid_hours: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct CodeResponse {
    code: String,
    checkpoint_id: CheckpointId,
    expires_at: String,
}

#[utoipa::path(
    post,
    path = "/checkpoints/{id}/enrollment",
    tag = "devices",
    summary = "Make an enrolment code",
    params(("id" = u32, Path, description = "The checkpoint")),
    request_body(content = Option<CodeRequest>, description = "Optional: the code's lifetime (default 24 h)"),
    responses(
        (status = 201, description = "A one-time enrolment code for a gate device of the checkpoint", body = CodeResponse),
        (status = 404, description = "checkpoint not found", body = ErrorBody),
        (status = 409, description = "the code could not be stored (retry)", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn new_code(
    State(st): State<AppState>,
    caller: Caller<OpsWrite>,
    ApiPath(id): ApiPath<u32>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<CodeResponse>)> {
    // The body is optional: none means the default lifetime.
    let req: CodeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CodeRequest::default()
    } else {
        serde_json::from_slice::<Option<CodeRequest>>(&body)
            .map_err(|e| ApiError::field("body", e.to_string()))?
            .unwrap_or_default()
    };
    let hours = req.valid_hours.unwrap_or(CODE_HOURS);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::field(
            "valid_hours",
            "1 to 168 hours / 有效期 1 至 168 小时",
        ));
    }
    let checkpoint = CheckpointId(id);
    if !st
        .store
        .list_checkpoints()
        .await?
        .iter()
        .any(|c| c.id == checkpoint)
    {
        return Err(ApiError::NotFound("checkpoint"));
    }
    let code = new_code_text().map_err(|e| ApiError::Internal(e.to_string()))?;
    let t = now();
    let expires_at = t + i64::from(hours) * 3600;
    st.store
        .create_enrollment_code(checkpoint, &hash_code(&code), expires_at, t)
        .await?;
    crate::audit::record(
        &st,
        caller.name(),
        crate::audit::Action::EnrolmentCodeMade,
        &format!("checkpoint:{}", checkpoint.0),
        serde_json::json!({ "hours": hours }),
    )
    .await?;
    tracing::info!(checkpoint = %checkpoint, hours, "enrolment code issued");
    Ok((
        StatusCode::CREATED,
        Json(CodeResponse {
            code,
            checkpoint_id: checkpoint,
            expires_at: rfc3339(expires_at),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
struct EnrollRequest {
    code: Option<String>,
    public_key: Option<String>,
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct EnrollResponse {
    device_id: DeviceId,
    checkpoint_id: CheckpointId,
    checkpoint_name: String,
    /// The device's API token, shown once.
    token: String,
    bundle_keys: Vec<passgate_shared::IssuerKey>,
}

#[utoipa::path(
    post,
    path = "/devices/enroll",
    tag = "devices",
    summary = "Enrol a gate device with a one-time code (no token)",
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "The device enrolled, with its API token (shown once)", body = EnrollResponse),
        (status = 400, description = "A bad body", body = ErrorBody),
        (status = 404, description = "Unknown code", body = ErrorBody),
        (status = 409, description = "The code was used already", body = ErrorBody),
        (status = 410, description = "The code expired", body = ErrorBody),
        (status = 429, description = "Too many failed attempts from this address", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
        BodyRefusals
    ),
)]
async fn enroll(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    let code = required_name("code", req.code.as_deref(), 64)
        .map_err(|f| ApiError::Validation(vec![f]))?;
    let public_key = req
        .public_key
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if parse_public_key_b64(&public_key).is_none() {
        return Err(ApiError::field(
            "public_key",
            "a base64 Ed25519 public key (32 bytes)",
        ));
    }
    let name = req
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("gate device");
    let name: String = name.chars().take(100).collect();
    let token = new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let device = st
        .store
        .enroll_device(
            &hash_code(&code),
            &public_key,
            &name,
            &hash_token(&token),
            now(),
        )
        .await?;
    let checkpoint_name = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .find(|c| c.id == device.checkpoint_id)
        .map(|c| c.name)
        .unwrap_or_default();
    crate::audit::record(
        &st,
        &format!("device:{}", device.id.0),
        crate::audit::Action::DeviceEnrolled,
        &format!("device:{}", device.id.0),
        serde_json::json!({ "checkpoint_id": device.checkpoint_id.0, "name": name }),
    )
    .await?;
    tracing::info!(device = %device.id, checkpoint = %device.checkpoint_id, "device enrolled");
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            device_id: device.id,
            checkpoint_id: device.checkpoint_id,
            checkpoint_name,
            token,
            bundle_keys: st.keys.ring().public_bundle_keys(),
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/devices",
    tag = "devices",
    summary = "List the gate devices",
    responses(
        (status = 200, description = "Every enrolled device", body = Vec<Device>),
        Refusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn list(
    State(st): State<AppState>,
    _caller: Caller<OpsWrite>,
) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(st.store.list_devices().await?))
}

#[derive(Deserialize, ToSchema)]
struct RevokeBody {
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/devices/{id}/revoke",
    tag = "devices",
    summary = "Revoke a gate device",
    params(("id" = u32, Path, description = "The device")),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "The device, revoked", body = Device),
        (status = 404, description = "device not found", body = ErrorBody),
        (status = 409, description = "the device is revoked already", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn revoke(
    State(st): State<AppState>,
    caller: Caller<OpsWrite>,
    ApiPath(id): ApiPath<u32>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Json<Device>> {
    let reason = required_name("reason", body.reason.as_deref(), 200)
        .map_err(|f| ApiError::Validation(vec![f]))?;
    let device = st.store.revoke_device(DeviceId(id), &reason, now()).await?;
    crate::audit::record(
        &st,
        caller.name(),
        crate::audit::Action::DeviceRevoked,
        &format!("device:{id}"),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    tracing::info!(device = id, by = caller.name(), "device revoked");
    Ok(Json(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_normalised() {
        let c = new_code_text().unwrap();
        assert_eq!(c.len(), 14);
        assert!(
            c.chars()
                .all(|ch| ch == '-' || CODE_ALPHABET.contains(&(ch as u8)))
        );
        assert_eq!(
            hash_code(&c),
            hash_code(&c.to_lowercase().replace('-', " "))
        );
        assert_ne!(hash_code("AAAA-AAAA-AAAA"), hash_code("AAAA-AAAA-AAAB"));
    }
}
