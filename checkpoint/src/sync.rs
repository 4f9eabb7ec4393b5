//! The client side of the sync protocol (`docs/sync-protocol.md`): fetch the trust bundle,
//! upload scan records.
//!
//! * Every request carries `Authorization: Bearer TOKEN`.
//! * Transient failures (connection errors, timeouts, HTTP 5xx, 408, 429) are retried with
//!   exponential backoff; other 4xx answers fail at once with the server's
//!   `{"error", "message"}`.
//! * Records are marked uploaded only after the server answered 2xx for their batch. The
//!   server is idempotent by record id, so a batch retried after a lost answer is harmless:
//!   it comes back as duplicates.
//! * A bundle older than the one held is refused (rollback protection).

use std::time::Duration;

use passgate_shared::sync::{BundleResponse, UploadRequest, UploadResponse};
use passgate_shared::{Bundle, CheckpointId, CheckpointInfo, UnixSeconds};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{CheckpointError, Result};
use crate::store::Store;

/// Records per upload request.
pub const UPLOAD_BATCH: u32 = 500;

/// `GET` path of the bundle.
pub const BUNDLE_PATH: &str = "/api/v1/sync/bundle";
/// `POST` path of the upload.
pub const UPLOAD_PATH: &str = "/api/v1/sync/upload";

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, at least 1.
    pub attempts: u32,
    /// Wait before the second try; doubled for each further try.
    pub base_delay: Duration,
    /// Longest wait between tries.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Check and normalise a server URL: `http://host[:port][/prefix]`, no trailing slash.
/// This build speaks plain HTTP only (gates sit on the closed internal network).
pub fn normalise_server_url(url: &str) -> Result<String> {
    let bad = |why: &str| CheckpointError::InvalidServerUrl {
        url: url.to_owned(),
        why: why.into(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(bad(
                "this build speaks plain http only; use the server's http:// address on the internal network",
            ));
        }
        _ => return Err(bad("use an address like http://10.0.0.5:8080")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("the address has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("the address may not have a query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

fn check_token(token: &str) -> Result<()> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CheckpointError::Usage(
            "the device token must be non-empty printable ASCII without spaces; copy it again from the console"
                .into(),
        ));
    }
    Ok(())
}

/// An HTTP client for one server and device token.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
    retry: RetryPolicy,
}

/// The server's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    message: String,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

fn transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

impl SyncClient {
    /// A client for `server_url` (checked with [`normalise_server_url`]) and `token`.
    pub fn new(server_url: &str, token: &str) -> Result<SyncClient> {
        let base_url = normalise_server_url(server_url)?;
        check_token(token)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("passgate-checkpoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CheckpointError::Network(error_chain(&e)))?;
        Ok(SyncClient {
            http,
            base_url,
            token: token.to_owned(),
            retry: RetryPolicy::default(),
        })
    }

    /// Use another retry policy (tests use short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> SyncClient {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /api/v1/sync/bundle`.
    pub async fn fetch_bundle(&self) -> Result<Bundle> {
        let r: BundleResponse = self.call(Method::GET, BUNDLE_PATH, None).await?;
        Ok(r.bundle)
    }

    /// `POST /api/v1/sync/upload`.
    pub async fn upload(&self, request: &UploadRequest) -> Result<UploadResponse> {
        let body = serde_json::to_vec(request)
            .map_err(|e| CheckpointError::Protocol(format!("cannot encode the upload: {e}")))?;
        self.call(Method::POST, UPLOAD_PATH, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base_url);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.once(method.clone(), &url, body.clone()).await {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| CheckpointError::Protocol(format!("{method} {path}: {e}")));
                }
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(e)) => e,
            };
            if attempt >= attempts {
                return Err(err);
            }
            let wait = self.retry.delay(attempt);
            tracing::warn!(
                "{method} {url} failed (try {attempt} of {attempts}): {err}; retrying in {wait:?}"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Transient(CheckpointError::Network(error_chain(&e))))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Failure::Transient(CheckpointError::Network(error_chain(&e))))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error, b.message),
            Err(_) => {
                let text = String::from_utf8_lossy(&bytes);
                let text: String = text.trim().chars().take(300).collect();
                (format!("http_{}", status.as_u16()), text)
            }
        };
        let err = CheckpointError::Http {
            status: status.as_u16(),
            code,
            message,
        };
        Err(if transient(status) {
            Failure::Transient(err)
        } else {
            Failure::Final(err)
        })
    }
}

enum Failure {
    Transient(CheckpointError),
    Final(CheckpointError),
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSummary {
    pub server_url: String,
    pub checkpoint: CheckpointInfo,
    pub bundle_version: u64,
    pub bundle_generated_at: UnixSeconds,
    pub keys: usize,
    pub revoked: u64,
}

/// Fetch the bundle from the server, check that it knows `checkpoint_id`, and store the
/// configuration and the bundle in `data_dir` (created if missing). Nothing is written when
/// the server cannot be reached or does not know the checkpoint.
pub async fn init(
    data_dir: &std::path::Path,
    server_url: &str,
    token: &str,
    checkpoint_id: CheckpointId,
) -> Result<InitSummary> {
    let client = SyncClient::new(server_url, token)?;
    let bundle = client.fetch_bundle().await?;
    let checkpoint = bundle
        .checkpoint(checkpoint_id)
        .cloned()
        .ok_or(CheckpointError::UnknownCheckpoint(checkpoint_id))?;
    let store = Store::create(data_dir).await?;
    if let Some((held, unsent)) = store.unsent_elsewhere(checkpoint_id).await? {
        store.close().await;
        return Err(CheckpointError::UnsentScans {
            unsent,
            held,
            wanted: checkpoint_id,
        });
    }
    store
        .save_init(client.base_url(), token, checkpoint_id, &bundle)
        .await?;
    store.close().await;
    Ok(InitSummary {
        server_url: client.base_url().to_owned(),
        checkpoint,
        bundle_version: bundle.version,
        bundle_generated_at: bundle.generated_at,
        keys: bundle.keys.len(),
        revoked: bundle.revoked.len(),
    })
}

/// What `sync` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncSummary {
    /// Records sent and confirmed by the server in this run.
    pub uploaded: u64,
    /// Of those, how many the server stored for the first time.
    pub stored: u64,
    /// Of those, how many the server already had.
    pub duplicates: u64,
    /// Upload requests made.
    pub batches: u64,
    /// The bundle version held before the sync, and after.
    pub previous_bundle_version: Option<u64>,
    pub bundle_version: u64,
}

/// Upload every unsent record in batches of [`UPLOAD_BATCH`], then fetch the bundle and
/// replace the held one unless it is older. Uses the default retry policy.
pub async fn sync(store: &Store, now: UnixSeconds) -> Result<SyncSummary> {
    let config = store.require_config().await?;
    let client = SyncClient::new(&config.server_url, &config.token)?;
    sync_with(store, &client, now).await
}

/// [`sync`] with a given client (and so a given retry policy).
pub async fn sync_with(
    store: &Store,
    client: &SyncClient,
    now: UnixSeconds,
) -> Result<SyncSummary> {
    let config = store.require_config().await?;
    let mut summary = SyncSummary {
        uploaded: 0,
        stored: 0,
        duplicates: 0,
        batches: 0,
        previous_bundle_version: store.bundle_version().await?,
        bundle_version: 0,
    };
    loop {
        let records = store.unsent(UPLOAD_BATCH).await?;
        if records.is_empty() {
            break;
        }
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let request = UploadRequest {
            checkpoint_id: config.checkpoint_id,
            records,
        };
        let response = client.upload(&request).await?;
        let marked = store.mark_uploaded(&ids, now).await?;
        if marked == 0 {
            // Someone else (a concurrent sync) marked them; stop rather than loop.
            break;
        }
        summary.batches += 1;
        summary.uploaded += marked;
        summary.stored += response.stored;
        summary.duplicates += response.duplicates;
        if response.stored + response.duplicates != ids.len() as u64 {
            tracing::warn!(
                "server counted {} stored + {} duplicates for {} records sent",
                response.stored,
                response.duplicates,
                ids.len()
            );
        }
    }
    let bundle = client.fetch_bundle().await?;
    if bundle.checkpoint(config.checkpoint_id).is_none() {
        return Err(CheckpointError::UnknownCheckpoint(config.checkpoint_id));
    }
    store.replace_bundle(&bundle).await?;
    summary.bundle_version = bundle.version;
    store.set_last_sync(now).await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            normalise_server_url("http://10.0.0.5:8080/").unwrap(),
            "http://10.0.0.5:8080"
        );
        assert_eq!(
            normalise_server_url(" http://h/pg/ ").unwrap(),
            "http://h/pg"
        );
        for bad in ["https://h", "ftp://h", "h:80", "", "http://h/?a=1"] {
            assert!(normalise_server_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        let ms: Vec<u128> = (1..=6).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(p.delay(100), p.max_delay);
    }

    #[test]
    fn tokens() {
        assert!(check_token("abc.DEF-123_x").is_ok());
        assert!(check_token("").is_err());
        assert!(check_token("a b").is_err());
        assert!(check_token("令牌").is_err());
    }
}
