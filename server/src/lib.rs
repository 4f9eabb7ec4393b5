//! # passgate-server
//!
//! The issuing server of passgate. The operations bureau registers enterprises and
//! checkpoints and issues Ed25519-signed passes; gates download the trust bundle (issuer
//! keys, revocations, policy, checkpoint directory) and upload their scan records; the
//! transport bureau reads the daily usage counts. Everything is a JSON API under `/api/v1`
//! behind Bearer tokens with roles.
//!
//! `main.rs` only parses the command line; [`open`], [`app`] and [`serve`] do the work, so
//! tests run the same code in-process or as the real binary.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use passgate_shared::{DivisionCode, Policy};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub mod audit;
pub mod auth;
pub mod demo;
pub mod error;
pub mod keyring;
pub mod metrics;
pub mod privacy;
pub mod qr;
pub mod ratelimit;
pub mod routes;
pub mod signing;
pub mod state;
pub mod store;
pub mod testing;
pub mod web;

use keyring::{KeyError, Keys};
use state::{AppState, Settings};
use store::{Role, SqlStore, Store, StoreError};

/// Largest request body, in bytes (a full sync batch fits with room to spare).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the SQLite database (unless `database_url` says otherwise) and, unless
    /// `key_dir` says otherwise, `keys/`.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; `None` means the SQLite file
    /// `DATA_DIR/passgate.db`.
    pub database_url: Option<String>,
    /// The issuer keys and the ID-hash secret; `None` means `DATA_DIR/keys`. Instances that
    /// share a PostgreSQL database must share this directory's contents.
    pub key_dir: Option<PathBuf>,
    pub area: DivisionCode,
    pub authority: String,
    /// API requests allowed per token per minute; 0 = no limit (load tests).
    pub token_rate_per_minute: u32,
    /// Requests with a missing or unknown token allowed per client address per minute;
    /// 0 = no limit (API test runs such as schemathesis, which send many on purpose).
    pub bad_token_rate_per_minute: u32,
    /// Failed enrolment attempts allowed per client address per minute; 0 = no limit
    /// (API test runs).
    pub enrolment_failures_per_minute: u32,
    /// Encrypts the key files at rest, when set.
    pub key_passphrase: Option<keyring::Passphrase>,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            database_url: None,
            key_dir: None,
            area: DivisionCode::from_u32(419_001)
                .unwrap_or_else(|| unreachable!("419001 is a division code")),
            authority: "示范区运行监测协调局".to_owned(),
            token_rate_per_minute: ratelimit::DEFAULT_TOKEN_PER_MINUTE,
            bad_token_rate_per_minute: ratelimit::DEFAULT_BAD_TOKEN_PER_MINUTE,
            enrolment_failures_per_minute: ratelimit::DEFAULT_ENROLMENT_FAILURES_PER_MINUTE,
            key_passphrase: None,
        }
    }
}

/// Why the server could not start or a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot listen or serve: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Demo(String),
}

impl Config {
    /// Where the issuer keys live.
    pub fn key_dir(&self) -> PathBuf {
        self.key_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }
}

/// Open (and migrate) the configured database, without keys: for commands like `backup`.
pub async fn open_store(config: &Config) -> Result<SqlStore, StoreError> {
    match config.database_url.as_deref() {
        None => SqlStore::open_sqlite_file(&default_db_path(&config.data_dir)).await,
        Some(url) => SqlStore::open_url(url).await,
    }
}

/// Open the data directory: keys (created on first start), the database (migrated), and the
/// issuer public keys recorded in it.
pub async fn open(config: &Config) -> Result<AppState, StartError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
        path: dir.clone(),
        source,
    })?;
    let key_dir = config.key_dir();
    let pass = config.key_passphrase.as_ref();
    let keys = Keys::open(&key_dir, pass)?;
    let id_hash_secret =
        keyring::load_or_create_secret_with(&key_dir.join("id-hash.secret"), pass)?;
    let audit_secret = keyring::load_or_create_secret_with(&key_dir.join("audit.secret"), pass)?;
    let personal_secret =
        keyring::load_or_create_secret_with(&key_dir.join("personal-data.secret"), pass)?;
    let store: Arc<dyn Store> = Arc::new(open_store(config).await?);
    let now = state::now();
    // Key files the store does not know yet (the first start, or a file added by hand) are
    // registered; keys made by rotation are registered by the rotation itself.
    for k in keys.ring().public_keys() {
        store.ensure_issuer_key(&k, now).await?;
    }
    let settings = Settings {
        area: config.area,
        authority: config.authority.clone(),
        policy: Policy::default(),
        data_dir: dir.clone(),
    };
    Ok(AppState {
        store,
        keys: Arc::new(keys),
        id_hash_secret: Arc::new(id_hash_secret),
        personal_secret: Arc::new(personal_secret),
        audit_secret: Arc::new(audit_secret),
        settings: Arc::new(settings),
        metrics: Arc::new(metrics::Metrics::default()),
        bundle_cache: Arc::default(),
        limits: Arc::new(ratelimit::Limits::with(
            config.token_rate_per_minute,
            config.bad_token_rate_per_minute,
            config.enrolment_failures_per_minute,
        )),
        web: Arc::default(),
    })
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", routes::router())
        .merge(web::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_enrolment,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Enrolment codes are short enough to guess at volume: limit failed attempts per client
/// address.
async fn limit_enrolment(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() == "/api/v1/devices/enroll" {
        let ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let key = ratelimit::ip_key(ip);
        if let Err(wait) = st.limits.enrolment.check(&key) {
            return error::ApiError::TooManyRequests(wait).into_response();
        }
        let resp = next.run(req).await;
        if resp.status().is_client_error() {
            let _ = st.limits.enrolment.hit(&key);
        }
        return resp;
    }
    next.run(req).await
}

/// Serve until `shutdown` completes, then finish in-flight requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address feeds the login throttle.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Create an API token and return its text (shown once; only the hash is stored).
pub async fn create_token(
    state: &AppState,
    role: Role,
    name: &str,
    checkpoint: Option<passgate_shared::CheckpointId>,
) -> Result<String, StartError> {
    let token = auth::new_token()?;
    state
        .store
        .create_token(
            name,
            role,
            &auth::hash_token(&token),
            checkpoint,
            state::now(),
        )
        .await?;
    Ok(token)
}

/// `DATA_DIR/passgate.db`.
pub fn default_db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("passgate.db")
}
