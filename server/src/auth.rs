//! API tokens: made from OS randomness, shown once, stored as a SHA-256 hash, presented as
//! `Authorization: Bearer …`, and checked against the route's roles.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::keyring::{KeyError, random_bytes};
use crate::state::AppState;
use crate::store::{Role, TokenRecord};

/// Prefix of every token, so a leaked one is easy to recognise in logs and repositories.
pub const TOKEN_PREFIX: &str = "pgt_";

/// A new random token (its text, to show once).
pub fn new_token() -> Result<String, KeyError> {
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes()?)))
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Which roles may call a route. Each handler names one of these in its signature, so the
/// check runs before the request body is read, and the rule is visible where the route is.
pub trait Allowed: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

macro_rules! allowed {
    ($($(#[$doc:meta])* $name:ident = [$($role:ident),*];)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Allowed for $name {
            const ROLES: &'static [Role] = &[Role::Admin $(, Role::$role)*];
        }
    )*};
}

allowed! {
    /// Operations bureau work: issue, revoke, register.
    OpsWrite = [Ops];
    /// Reading passes, enterprises, checkpoints and usage.
    ReadData = [Ops, Transport];
    /// Downloading the trust bundle.
    BundleRead = [Ops, Checkpoint];
    /// Uploading scans: gates only.
    GateUpload = [Checkpoint];
    /// Key status changes and other decisions only an administrator takes.
    AdminOnly = [];
    /// Filing daily reports and risk-case steps: an enterprise's own system (its token
    /// names the enterprise) or an administrator.
    ReportFile = [Enterprise];
    /// Reading reports, supplies and risk cases: the task force sees all, an enterprise
    /// token its own enterprise only.
    ReportRead = [Enterprise, Taskforce];
    /// The task force's views across enterprises: teams and the day overview.
    TaskforceRead = [Taskforce];
    /// Reading an enterprise's profile: the operations bureau registers enterprises, the
    /// task force follows them, an enterprise token reads its own.
    ProfileRead = [Ops, Taskforce, Enterprise];
}

/// Look up the Bearer token of a request.
pub async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<TokenRecord> {
    let ip = crate::ratelimit::ip_key(
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip()),
    );
    let result = check_token(parts, state).await;
    match &result {
        Err(ApiError::Unauthenticated) => state
            .limits
            .bad_token
            .hit(&ip)
            .map_err(ApiError::TooManyRequests)?,
        Ok(record) => state
            .limits
            .token
            .hit(&format!("token:{}", record.id))
            .map_err(ApiError::TooManyRequests)?,
        Err(_) => {}
    }
    result
}

async fn check_token(parts: &Parts, state: &AppState) -> ApiResult<TokenRecord> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated)?;
    let value = header.to_str().map_err(|_| ApiError::Unauthenticated)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthenticated)?;
    // The lookup is by hash, so no comparison ever runs over the secret itself.
    let record = state.store.find_token(&hash_token(token)).await?;
    let record = record.ok_or(ApiError::Unauthenticated)?;
    // A revoked device's token still identifies it, so the refusal can say why.
    if let Some(id) = record.device_id {
        let device = state
            .store
            .get_device(id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if device.status == crate::store::DeviceStatus::Revoked {
            return Err(ApiError::DeviceRevoked(
                device.revoke_reason.unwrap_or_default(),
            ));
        }
    }
    Ok(record)
}

/// The authenticated caller of a request, whose role `A` allows.
#[derive(Debug, Clone)]
pub struct Caller<A: Allowed> {
    pub token: TokenRecord,
    allowed: PhantomData<A>,
}

impl<A: Allowed> Caller<A> {
    pub fn name(&self) -> &str {
        &self.token.name
    }

    /// Whether this caller may act on `enterprise`'s data: an enterprise token only on the
    /// enterprise it is bound to (one bound to none, on nothing); every other role the
    /// route admits, on all.
    pub fn may_access(&self, enterprise: passgate_shared::EnterpriseId) -> bool {
        match self.token.role {
            Role::Enterprise => self.token.enterprise_id == Some(enterprise),
            _ => true,
        }
    }

    /// The enterprise an enterprise token is bound to (`None` for every other role).
    pub fn own_enterprise(&self) -> Option<passgate_shared::EnterpriseId> {
        match self.token.role {
            Role::Enterprise => self.token.enterprise_id,
            _ => None,
        }
    }
}

/// Create an API token of role `enterprise`, bound to one enterprise; returns its text
/// (shown once).
pub async fn create_enterprise_token(
    state: &AppState,
    name: &str,
    enterprise: passgate_shared::EnterpriseId,
) -> Result<String, crate::StartError> {
    let token = new_token()?;
    state
        .store
        .create_enterprise_token(name, &hash_token(&token), enterprise, crate::state::now())
        .await?;
    Ok(token)
}

impl<A: Allowed> FromRequestParts<AppState> for Caller<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = authenticate(parts, state).await?;
        if !A::ROLES.contains(&token.role) {
            return Err(ApiError::Forbidden);
        }
        Ok(Caller {
            token,
            allowed: PhantomData,
        })
    }
}
