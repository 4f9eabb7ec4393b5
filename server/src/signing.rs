//! Issuer keys at run time: which key signs new passes, rotating it without a restart,
//! changing a key's status, and re-issuing the live passes of a compromised key. The API
//! (`routes/keys.rs`) and the console (`web/keys.rs`) both call these, so each rule lives
//! here once.
//!
//! ## Which key signs
//! The **store** decides: the newest issuer key registered there signs, and only while its
//! status is `active`. Several instances share one database and one key directory, so an
//! instance that finds the store naming a key it has not read yet (a peer rotated) reads the
//! directory again ([`crate::keyring::Keys::issuer_key`]). If the newest key is retired or
//! compromised, nothing is signed until an administrator rotates: a leaked key never keeps
//! signing by default.
//!
//! ## Rotation
//! [`rotate`] writes the next `issuer-NN.key` (mode 0600, encrypted under the key passphrase
//! when there is one) and registers it as active in one store transaction that retires the
//! previous active key and bumps the bundle version. New passes are signed with it at once;
//! passes signed before stay valid until they expire (gates see their key as retired); gates
//! learn the new public key from their next bundle.
//!
//! ## Re-issue after a compromise
//! [`reissue_compromised`] signs every live pass of a compromised key again with the active
//! key, **keeping its number**. The old QR code stays refused, because gates refuse every
//! signature of a compromised key whatever the number; a new number would add nothing to
//! that, while the same number keeps the pass's scan history, its entry/exit pairing at the
//! gates (a truck inside on the old print can leave on the new one) and the number the
//! enterprise already knows. `docs/operations.md` gives the reasoning and the runbook.

use ed25519_dalek::SigningKey;
use passgate_shared::{IssuerKey, KeyId, KeyStatus};

use crate::audit::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::keyring::KeyError;
use crate::state::{AppState, now};
use crate::store::PassRecord;

/// The issuer key new passes are signed with.
pub struct Signer {
    pub id: KeyId,
    key: SigningKey,
}

impl Signer {
    pub fn key(&self) -> &SigningKey {
        &self.key
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("id", &self.id).finish()
    }
}

fn key_error(e: KeyError) -> ApiError {
    match e {
        // Not a fault of the server: every key number is used. Say so (409), so the
        // administrator learns what to do, instead of a bare 500.
        KeyError::Exhausted => {
            ApiError::Conflict(format!("{e} / 签发密钥编号 1–255 已全部用完，无法再轮换"))
        }
        e => ApiError::Internal(e.to_string()),
    }
}

/// Run blocking key-file work (file IO, key derivation) off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("key task failed: {e}")))?
        .map_err(key_error)
}

fn status_name(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "active",
        KeyStatus::Retired => "retired",
        KeyStatus::Compromised => "compromised",
    }
}

/// Why no key may sign now, in both languages.
fn cannot_sign(id: KeyId, status: KeyStatus) -> ApiError {
    let zh = match status {
        KeyStatus::Compromised => "已标记为泄露",
        _ => "已停用",
    };
    ApiError::Conflict(format!(
        "issuer key {id} is {}: no pass can be signed until an administrator rotates the issuer key / 签发密钥 {id} {zh}，管理员轮换签发密钥后才能签发通行证",
        status_name(status)
    ))
}

/// The key that signs new passes now: the newest issuer key in the store, if it is active.
pub async fn signer(st: &AppState) -> ApiResult<Signer> {
    let registered = st.store.list_issuer_keys().await?;
    let newest = registered
        .last()
        .ok_or_else(|| ApiError::Internal("no issuer key is registered".into()))?;
    if newest.status != KeyStatus::Active {
        return Err(cannot_sign(newest.id, newest.status));
    }
    let id = newest.id;
    let key = match st.keys.ring().issuer_key(id) {
        Some(k) => Some(k.clone()),
        None => {
            let keys = st.keys.clone();
            blocking(move || keys.issuer_key(id)).await?
        }
    };
    let key = key.ok_or_else(|| {
        ApiError::Internal(format!(
            "issuer key {id} is the active key in the database but the key directory {} has no \
             issuer-{:02}.key: copy it from the instance that made it",
            st.keys.dir().display(),
            id.0
        ))
    })?;
    if key.verifying_key() != newest.public {
        return Err(ApiError::Internal(format!(
            "issuer-{:02}.key in {} is not the key the database registered as issuer key {id}",
            id.0,
            st.keys.dir().display()
        )));
    }
    Ok(Signer { id, key })
}

/// Make the next issuer key and make it the one that signs, on every instance at once (the
/// store is what they ask). Audited as `key_rotated`.
pub async fn rotate(st: &AppState, actor: &str) -> ApiResult<IssuerKey> {
    let _one = st.keys.rotation_lock().await;
    let before = st.store.list_issuer_keys().await?;
    let above = before.last().map_or(KeyId(0), |k| k.id);
    let keys = st.keys.clone();
    let (id, key) = blocking(move || keys.create_issuer_key(above)).await?;
    let new = IssuerKey {
        id,
        public: key.verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    };
    if let Err(e) = st.store.activate_issuer_key(&new, now()).await {
        // Nothing was signed with it: take the file away, so that it cannot become active
        // unannounced at the next start.
        let keys = st.keys.clone();
        if let Err(d) = blocking(move || keys.discard_issuer_key(id)).await {
            tracing::error!(key = id.0, error = %d, "an unregistered issuer key file could not be removed");
        }
        return Err(e.into());
    }
    let retired: Vec<u8> = before
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .map(|k| k.id.0)
        .collect();
    audit::record(
        st,
        actor,
        Action::KeyRotated,
        &format!("issuer_key:{id}"),
        serde_json::json!({
            "retired": retired,
            "fingerprint": crate::web::keys::fingerprint(&new.public),
        }),
    )
    .await?;
    tracing::warn!(key = id.0, ?retired, by = actor, "issuer key rotated");
    Ok(new)
}

/// The status an administrator may give an issuer key: `retired` (no new passes, old ones
/// still verify) or `compromised` (gates refuse every pass it signed). A key is never made
/// active by hand: rotation makes a new one.
pub fn status_change(value: Option<&str>) -> Result<KeyStatus, crate::error::FieldError> {
    match value.map(str::trim) {
        Some("retired") => Ok(KeyStatus::Retired),
        Some("compromised") => Ok(KeyStatus::Compromised),
        _ => Err(crate::error::FieldError::new(
            "status",
            "retired or compromised / 状态须为 retired 或 compromised",
        )),
    }
}

/// Give issuer key `id` a new status, bumping the bundle version so gates learn it. The key
/// that signs may be marked compromised (issuing then stops until a rotation) but not
/// retired: rotating retires it and leaves a key to sign with. Audited as
/// `key_status_changed`.
pub async fn set_key_status(
    st: &AppState,
    id: KeyId,
    status: KeyStatus,
    actor: &str,
) -> ApiResult<()> {
    let registered = st.store.list_issuer_keys().await?;
    let key = registered
        .iter()
        .find(|k| k.id == id)
        .ok_or(ApiError::NotFound("issuer key"))?;
    let signs = registered.last().map(|k| k.id) == Some(id) && key.status == KeyStatus::Active;
    if status == KeyStatus::Retired && signs {
        return Err(ApiError::Conflict(format!(
            "issuer key {id} signs new passes: rotate the issuer key instead, which retires it / 签发密钥 {id} 正在签发新通行证，请改为轮换签发密钥（轮换时自动停用）"
        )));
    }
    if key.status == KeyStatus::Compromised {
        return Err(ApiError::Conflict(format!(
            "issuer key {id} is already marked compromised, which cannot be undone / 签发密钥 {id} 已标记为泄露，不能更改"
        )));
    }
    st.store.set_issuer_key_status(id, status).await?;
    audit::record(
        st,
        actor,
        Action::KeyStatusChanged,
        &format!("issuer_key:{id}"),
        serde_json::json!({ "status": status_name(status) }),
    )
    .await?;
    tracing::warn!(key = id.0, ?status, by = actor, "issuer key status changed");
    Ok(())
}

/// What one re-issue did: the passes signed again, for reprinting.
#[derive(Debug, Clone)]
pub struct Reissued {
    pub from: KeyId,
    pub to: KeyId,
    /// The passes as they are now (new QR text, same numbers), oldest first.
    pub passes: Vec<PassRecord>,
}

/// The one action of the compromise drill: sign every live pass of compromised key `from`
/// (active, not expired) again with the active key, in one transaction, keeping each pass's
/// number. A pass revoked or re-issued meanwhile is left out; running it again finds
/// nothing left to do. Audited as one `pass_reissued` entry naming every pass.
pub async fn reissue_compromised(st: &AppState, from: KeyId, actor: &str) -> ApiResult<Reissued> {
    let registered = st.store.list_issuer_keys().await?;
    let key = registered
        .iter()
        .find(|k| k.id == from)
        .ok_or(ApiError::NotFound("issuer key"))?;
    if key.status != KeyStatus::Compromised {
        return Err(ApiError::Conflict(format!(
            "issuer key {from} is not marked compromised: its passes stay valid and need no re-issue / 签发密钥 {from} 未标记为泄露，其通行证仍然有效，无需重新签发"
        )));
    }
    let signer = signer(st).await?;
    let now = now();
    let live = st.store.live_passes_signed_by(from, now).await?;
    let mut signed = Vec::with_capacity(live.len());
    for p in &live {
        let mut pass = passgate_shared::codec::decode_text(&p.qr_text)
            .map_err(|e| {
                ApiError::Internal(format!(
                    "the stored QR of pass {} does not decode: {e}",
                    p.number
                ))
            })?
            .pass;
        if pass.number != p.number {
            return Err(ApiError::Internal(format!(
                "the stored QR of pass {} carries number {}",
                p.number, pass.number
            )));
        }
        pass.key_id = signer.id;
        let text = passgate_shared::codec::sign_to_text(&pass, signer.key())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        signed.push((p.number, text));
    }
    let changed = st
        .store
        .reissue_passes(from, signer.id, &signed, now)
        .await?;
    let passes: Vec<PassRecord> = live
        .into_iter()
        .zip(signed)
        .filter(|(p, _)| changed.contains(&p.number))
        .map(|(p, (_, qr_text))| PassRecord {
            key_id: signer.id,
            qr_text,
            reissued_at: Some(now),
            reissued_from_key: Some(from),
            ..p
        })
        .collect();
    let numbers: Vec<String> = passes.iter().map(|p| p.number.to_string()).collect();
    audit::record(
        st,
        actor,
        Action::PassReissued,
        &format!("issuer_key:{from}"),
        serde_json::json!({ "to_key": signer.id.0, "count": numbers.len(), "numbers": numbers }),
    )
    .await?;
    tracing::warn!(
        from = from.0,
        to = signer.id.0,
        count = passes.len(),
        by = actor,
        "passes of a compromised key re-issued"
    );
    Ok(Reissued {
        from,
        to: signer.id,
        passes,
    })
}
