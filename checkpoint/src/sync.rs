//! The gate side of the gate ↔ server protocol (`docs/sync-protocol.md`): enrolment, the
//! signed bundle download, and the signed, chained, exactly-once upload.
//!
//! * Enrolment (`POST /api/v1/devices/enroll`) needs no token: the one-time code is the
//!   credential. Every other request carries `Authorization: Bearer TOKEN`.
//! * Transient failures (connection errors, timeouts, HTTP 5xx, 408, 429) are retried with
//!   exponential backoff; other 4xx answers fail at once with the server's
//!   `{"error", "message"}`: `403 device_revoked` and `422 batch_refused` stop the sync.
//! * Records go oldest first in batches of [`UPLOAD_BATCH`], signed with the device key
//!   ([`passgate_shared::record::sign_batch`]), and are marked uploaded only after the
//!   server answered 2xx for their batch. The server is idempotent on (device, seq), so a
//!   batch retried after a lost answer comes back as duplicates, and a crash at any point
//!   resends only what was not acknowledged.
//! * Bundle files are checked with the pinned bundle keys and applied by [`crate::trust`]:
//!   bad signatures and rollbacks are refused, the held bundle stays.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use passgate_shared::bundle_file;
use passgate_shared::record::{DeviceId, sign_batch};
use passgate_shared::{Bundle, CheckpointId, IssuerKey, UnixSeconds};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::device;
use crate::error::{CheckpointError, CodeProblem, Result};
use crate::store::{Enrolment, NewBundleFile, Store};
use crate::trust::{self, Applied, MAX_DELTAS};

/// Records per upload request.
pub const UPLOAD_BATCH: u32 = 500;

/// `POST` path of enrolment.
pub const ENROLL_PATH: &str = "/api/v1/devices/enroll";
/// `GET` path of the bundle file.
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
        return Err(CheckpointError::Protocol(
            "the device token must be non-empty printable ASCII without spaces".into(),
        ));
    }
    Ok(())
}

/// `POST /api/v1/devices/enroll` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    /// Base64 (standard) of the device's 32-byte Ed25519 public key.
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `201` answer to an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: String,
    pub token: String,
    /// The public bundle-signing keys to pin.
    pub bundle_keys: Vec<IssuerKey>,
}

/// `200` answer to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAnswer {
    pub stored: u64,
    pub duplicates: u64,
    #[serde(default)]
    pub last_seq: Option<u64>,
}

/// An HTTP client for one server (and, after enrolment, one device token).
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    retry: RetryPolicy,
    /// The server's clock (its `Date` header) in the latest answer, if any.
    server_time: std::sync::Arc<std::sync::Mutex<Option<UnixSeconds>>>,
}

/// How long one request may take, unless `sync --timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("passgate-checkpoint/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CheckpointError::Network(error_chain(&e)))
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

enum Failure {
    Transient(CheckpointError),
    Final(CheckpointError),
}

impl SyncClient {
    /// A client for `server_url` (checked with [`normalise_server_url`]), without a token.
    pub fn new(server_url: &str) -> Result<SyncClient> {
        let base_url = normalise_server_url(server_url)?;
        Ok(SyncClient {
            http: http_client(DEFAULT_TIMEOUT)?,
            base_url,
            token: None,
            retry: RetryPolicy::default(),
            server_time: Default::default(),
        })
    }

    /// Give up on one request (connecting, sending, reading the whole answer) after
    /// `timeout`; the request is then retried like any transient failure.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<SyncClient> {
        if timeout.is_zero() {
            return Err(CheckpointError::Usage(
                "the sync timeout must be more than 0 seconds".into(),
            ));
        }
        self.http = http_client(timeout)?;
        Ok(self)
    }

    /// The server's clock as its latest answer gave it (the HTTP `Date` header).
    pub fn server_time(&self) -> Option<UnixSeconds> {
        *self
            .server_time
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Send `Authorization: Bearer token` from now on.
    pub fn with_token(mut self, token: &str) -> Result<SyncClient> {
        check_token(token)?;
        self.token = Some(token.to_owned());
        Ok(self)
    }

    /// Use another retry policy (tests use short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> SyncClient {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /api/v1/devices/enroll`. The code errors (404/409/410) become
    /// [`CheckpointError::EnrolmentCode`].
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse> {
        let body = serde_json::to_vec(request)
            .map_err(|e| CheckpointError::Protocol(format!("cannot encode the enrolment: {e}")))?;
        match self.call(Method::POST, ENROLL_PATH, Some(body)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| CheckpointError::Protocol(format!("POST {ENROLL_PATH}: {e}"))),
            Err(CheckpointError::Http {
                status,
                code,
                message,
            }) => {
                let problem = match (status, code.as_str()) {
                    (_, "code_unknown") | (404, _) => Some(CodeProblem::Unknown),
                    (_, "code_used") | (409, _) => Some(CodeProblem::Used),
                    (_, "code_expired") | (410, _) => Some(CodeProblem::Expired),
                    _ => None,
                };
                Err(match problem {
                    Some(problem) => CheckpointError::EnrolmentCode { problem, message },
                    None => CheckpointError::Http {
                        status,
                        code,
                        message,
                    },
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/sync/bundle[?since=N]`: the raw bundle file (not checked yet).
    pub async fn fetch_bundle(&self, since: Option<u64>) -> Result<Vec<u8>> {
        let path = match since {
            Some(v) => format!("{BUNDLE_PATH}?since={v}"),
            None => BUNDLE_PATH.to_owned(),
        };
        self.call(Method::GET, &path, None).await
    }

    /// `POST /api/v1/sync/upload` of a signed batch.
    pub async fn upload(
        &self,
        batch: &passgate_shared::record::UploadBatch,
    ) -> Result<UploadAnswer> {
        let body = serde_json::to_vec(batch)
            .map_err(|e| CheckpointError::Protocol(format!("cannot encode the upload: {e}")))?;
        let bytes = self.call(Method::POST, UPLOAD_PATH, Some(body)).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CheckpointError::Protocol(format!("POST {UPLOAD_PATH}: {e}")))
    }

    async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base_url);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.once(method.clone(), &url, body.clone()).await {
                Ok(bytes) => return Ok(bytes),
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
        let mut req = self.http.request(method, url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
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
        if let Some(t) = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        {
            *self
                .server_time
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t.timestamp());
        }
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
        if status == StatusCode::FORBIDDEN && code == "device_revoked" {
            return Err(Failure::Final(CheckpointError::DeviceRevoked { message }));
        }
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

/// What `enroll` did.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollSummary {
    pub server_url: String,
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: String,
    pub public_key: String,
    pub bundle: Bundle,
}

/// Check a device or checkpoint name given to `enroll`.
fn check_name(name: Option<&str>) -> Result<Option<String>> {
    name.map(|n| crate::scan::check_person_id(n, "the device name"))
        .transpose()
}

/// Enrol this device: make its key, register the public half with `code`, download the
/// first bundle file and verify it with the pinned bundle keys; only then write the key
/// (`device.key`, 0600) and commit the configuration and the bundle file in one
/// transaction. A directory that is already enrolled is refused before anything is sent.
pub async fn enroll(
    data_dir: &Path,
    client: &SyncClient,
    code: &str,
    name: Option<&str>,
    now: UnixSeconds,
) -> Result<EnrollSummary> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > 64 || code.chars().any(char::is_control) {
        return Err(CheckpointError::Usage(
            "the enrolment code must be 1 to 64 characters, as the operations bureau gave it"
                .into(),
        ));
    }
    let name = check_name(name)?;
    let store = Store::create(data_dir).await?;
    let result = async {
        if let Some(c) = store.config().await? {
            return Err(CheckpointError::AlreadyEnrolled {
                dir: data_dir.to_path_buf(),
                device_id: c.device_id,
                checkpoint_id: c.checkpoint_id,
            });
        }
        let key = device::generate()?;
        let public_key = B64.encode(key.verifying_key().as_bytes());
        let answer = client
            .enroll(&EnrollRequest {
                code: code.to_owned(),
                public_key: public_key.clone(),
                name: name.clone(),
            })
            .await?;
        let authed = client.clone().with_token(&answer.token)?;
        let bytes = authed.fetch_bundle(None).await?;
        let bundle = install(&store, &key, &answer, client.base_url(), name, &bytes, now).await?;
        Ok(EnrollSummary {
            server_url: client.base_url().to_owned(),
            device_id: answer.device_id,
            checkpoint_id: answer.checkpoint_id,
            checkpoint_name: answer.checkpoint_name,
            public_key,
            bundle,
        })
    }
    .await;
    store.close().await;
    result
}

/// The local half of enrolment, without the network: verify `bundle_bytes` (a snapshot)
/// with `answer.bundle_keys`, check it lists the checkpoint, write the device key and commit
/// the configuration and the file. Tests use it to set up a gate without a server.
pub async fn install(
    store: &Store,
    key: &SigningKey,
    answer: &EnrollResponse,
    server_url: &str,
    name: Option<String>,
    bundle_bytes: &[u8],
    now: UnixSeconds,
) -> Result<Bundle> {
    let server_url = normalise_server_url(server_url)?;
    check_token(&answer.token)?;
    // Never replace the key of an enrolled device.
    if let Some(c) = store.config().await? {
        return Err(CheckpointError::AlreadyEnrolled {
            dir: store.dir().to_path_buf(),
            device_id: c.device_id,
            checkpoint_id: c.checkpoint_id,
        });
    }
    let file = bundle_file::decode(bundle_bytes, &answer.bundle_keys)
        .map_err(CheckpointError::BundleRefused)?;
    let trust_next = if file.header.bundle_keys.is_empty() {
        answer.bundle_keys.clone()
    } else {
        file.header.bundle_keys.clone()
    };
    let (version, generated_at) = (file.header.version, file.header.generated_at);
    if file.is_delta() {
        return Err(CheckpointError::Protocol(
            "the first bundle must be a full snapshot, the server sent a delta".into(),
        ));
    }
    let bundle = bundle_file::apply(None, file).map_err(CheckpointError::BundleRefused)?;
    if bundle.checkpoint(answer.checkpoint_id).is_none() {
        return Err(CheckpointError::UnknownCheckpoint(answer.checkpoint_id));
    }
    device::save(store.dir(), key)?;
    store
        .save_enrolment(
            &Enrolment {
                server_url,
                token: answer.token.clone(),
                device_id: answer.device_id,
                checkpoint_id: answer.checkpoint_id,
                checkpoint_name: answer.checkpoint_name.clone(),
                device_name: name,
            },
            &NewBundleFile {
                bytes: bundle_bytes,
                is_delta: false,
                version,
                generated_at,
                verified_with: &answer.bundle_keys,
                trust_next: &trust_next,
            },
            now,
        )
        .await?;
    Ok(bundle)
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
    /// Upload requests confirmed.
    pub batches: u64,
    /// The server's `last_seq` after the last batch.
    pub last_seq: Option<u64>,
    /// The bundle version held before the sync, and after.
    pub previous_bundle_version: Option<u64>,
    pub bundle_version: u64,
    /// Whether a bundle file was stored.
    pub bundle_updated: bool,
    /// Whether the gate had to ask for a full snapshot (no usable bundle, delta mismatch,
    /// or a long delta chain).
    pub snapshot: bool,
    /// Gate clock minus the server's clock, when the server said its time.
    pub clock_offset_seconds: Option<i64>,
    /// Whether a time floor that ran ahead of the server's clock was reset.
    pub clock_reset: bool,
}

/// Upload every unsent record, then refresh the bundle. Uses the default retry policy.
pub async fn sync(store: &Store, now: UnixSeconds) -> Result<SyncSummary> {
    sync_within(store, now, DEFAULT_TIMEOUT).await
}

/// [`sync`] with another time limit per request (`sync --timeout`).
pub async fn sync_within(
    store: &Store,
    now: UnixSeconds,
    timeout: Duration,
) -> Result<SyncSummary> {
    let config = store.require_config().await?;
    let client = SyncClient::new(&config.server_url)?
        .with_token(&config.token)?
        .with_timeout(timeout)?;
    sync_with(store, &client, now).await
}

/// Upload every unsent record oldest first in signed batches of [`UPLOAD_BATCH`], marking
/// each batch uploaded only after the server's 2xx; then download the bundle (a delta since
/// the held version, or a snapshot), check it and store it. `client` must carry the
/// device's token.
pub async fn sync_with(
    store: &Store,
    client: &SyncClient,
    now: UnixSeconds,
) -> Result<SyncSummary> {
    let config = store.require_config().await?;
    let key = device::load(store.dir())?;
    let mut summary = SyncSummary {
        uploaded: 0,
        stored: 0,
        duplicates: 0,
        batches: 0,
        last_seq: None,
        previous_bundle_version: None,
        bundle_version: 0,
        bundle_updated: false,
        snapshot: false,
        clock_offset_seconds: None,
        clock_reset: false,
    };
    loop {
        let rows = store.unsent(UPLOAD_BATCH).await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            break;
        };
        let (first, last) = (first.record.seq, last.record.seq);
        if last - first + 1 != rows.len() as u64 {
            return Err(CheckpointError::CorruptData(format!(
                "the unsent records {first}–{last} are not consecutive"
            )));
        }
        let records = rows.into_iter().map(|r| r.record).collect::<Vec<_>>();
        let n = records.len() as u64;
        let batch = sign_batch(config.device_id, config.checkpoint_id, records, &key);
        let answer = match client.upload(&batch).await {
            Ok(a) => a,
            Err(CheckpointError::Http {
                status: 422,
                code,
                message,
            }) => {
                return Err(CheckpointError::BatchRefused {
                    first,
                    last,
                    message: if code == "batch_refused" {
                        message
                    } else {
                        format!("{code}: {message}")
                    },
                });
            }
            Err(e) => return Err(e),
        };
        store.mark_uploaded(first, last, now).await?;
        summary.batches += 1;
        summary.uploaded += n;
        summary.stored += answer.stored;
        summary.duplicates += answer.duplicates;
        summary.last_seq = answer.last_seq.or(summary.last_seq);
        if answer.stored + answer.duplicates != n {
            tracing::warn!(
                "server counted {} stored + {} duplicates for {n} records sent",
                answer.stored,
                answer.duplicates,
            );
        }
    }
    refresh_bundle(store, client, now, &mut summary).await?;
    if let Some(server_now) = client.server_time() {
        let tolerance = match trust::load(store).await {
            Ok(Some(h)) => i64::from(h.bundle.policy.clock_tolerance_minutes) * 60,
            _ => 0,
        };
        summary.clock_offset_seconds = Some(now - server_now);
        summary.clock_reset = store.note_server_time(now, server_now, tolerance).await?;
        if summary.clock_reset {
            tracing::warn!(
                "the scan log's latest time was ahead of the server's clock; the time floor now starts from the server's time"
            );
        }
    }
    store.set_last_sync(now).await?;
    Ok(summary)
}

async fn refresh_bundle(
    store: &Store,
    client: &SyncClient,
    now: UnixSeconds,
    summary: &mut SyncSummary,
) -> Result<()> {
    let config = store.require_config().await?;
    // A stored bundle that no longer verifies at all: fetch a snapshot.
    let held = match trust::load(store).await {
        Ok(h) => h,
        Err(CheckpointError::NoUsableBundle(why)) => {
            tracing::warn!("no usable stored bundle ({why}); fetching a snapshot");
            None
        }
        Err(e) => return Err(e),
    };
    summary.previous_bundle_version = held.as_ref().map(|h| h.bundle.version);
    let since = held
        .as_ref()
        .filter(|h| h.files <= MAX_DELTAS && h.fallback.is_none())
        .map(|h| h.bundle.version);
    summary.snapshot = since.is_none();
    let bytes = client.fetch_bundle(since).await?;
    let mut applied = trust::accept(store, &config, held.as_ref(), &bytes, now).await?;
    if let Applied::NeedSnapshot(why) = &applied {
        tracing::info!("bundle delta does not fit ({why}); fetching a snapshot");
        summary.snapshot = true;
        let bytes = client.fetch_bundle(None).await?;
        applied = trust::accept(store, &config, held.as_ref(), &bytes, now).await?;
    }
    match applied {
        Applied::Stored { bundle } => {
            summary.bundle_version = bundle.version;
            summary.bundle_updated = true;
        }
        Applied::Unchanged => {
            summary.bundle_version = summary.previous_bundle_version.unwrap_or_default();
        }
        Applied::NeedSnapshot(e) => {
            return Err(CheckpointError::BundleRefused(e));
        }
    }
    Ok(())
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
