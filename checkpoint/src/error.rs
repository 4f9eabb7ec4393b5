//! The one error type of the checkpoint program. Every message says what went wrong and what
//! the guard or the administrator can do about it.

use std::path::PathBuf;

use passgate_shared::CheckpointId;
use thiserror::Error;

/// Everything that can stop a checkpoint command. A refused pass is *not* an error: it is a
/// verdict. Errors are about the program, its data, the network or the input file.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// There is no local database yet, or it holds no configuration / bundle.
    #[error(
        "this checkpoint is not initialised (no configuration in {dir}); run `passgate-checkpoint init --server URL --token TOKEN --checkpoint-id ID` first / 本机尚未初始化，请先运行 passgate-checkpoint init"
    )]
    NotInitialised { dir: PathBuf },

    /// The local SQLite database failed.
    #[error(
        "local database error while {context}: {source}; check the disk (free space, permissions) of the data directory / 本地数据库错误，请检查数据目录所在磁盘"
    )]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The database schema could not be brought up to date.
    #[error(
        "cannot prepare the local database schema: {0}; the database may come from a newer program version or be damaged"
    )]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Stored data could not be read back (damaged database or incompatible version).
    #[error(
        "stored data is damaged: {0}; run `passgate-checkpoint sync` (or `init` again) to fetch fresh trust data"
    )]
    CorruptData(String),

    /// The server answered with an error status.
    #[error("the server refused the request: HTTP {status} {code}: {message}{}", http_hint(*status))]
    Http {
        status: u16,
        code: String,
        message: String,
    },

    /// The server could not be reached or did not answer in time (after retries).
    #[error(
        "cannot reach the server: {0}; check the network and the server URL, then try again (scans stay stored locally) / 无法连接服务器，请检查网络后重试（扫描记录已保存在本机）"
    )]
    Network(String),

    /// The server's answer was not what the sync protocol says.
    #[error(
        "the server sent an unexpected answer: {0}; check that the URL points at a passgate server"
    )]
    Protocol(String),

    /// The server URL given to `init` is unusable.
    #[error("invalid server URL {url:?}: {why}")]
    InvalidServerUrl { url: String, why: String },

    /// The image file could not be read or decoded.
    #[error("cannot read image {path}: {why} (PNG or JPEG expected) / 无法读取图片")]
    Image { path: PathBuf, why: String },

    /// The image holds no readable QR code; nothing was scanned or recorded.
    #[error(
        "no readable QR code found in {path}; nothing was recorded. Retake the photo closer, flat and in focus / 图片中未识别到二维码，未记录，请靠近、对准后重拍"
    )]
    NoQrFound { path: PathBuf },

    /// The server offered an older bundle than the one held: refused.
    #[error(
        "refusing a rolled-back bundle: the server offered version {offered} but this gate holds version {held}; the held bundle is kept. Ask the operations bureau to check the server / 服务器下发的信任数据版本较旧（回退），已拒绝"
    )]
    BundleRollback { held: u64, offered: u64 },

    /// The checkpoint id is not in the server's checkpoint directory.
    #[error(
        "checkpoint {0} is not known to the server; check the id with the operations bureau / 服务器上没有编号为 {0} 的查验点，请与运行局核对"
    )]
    UnknownCheckpoint(CheckpointId),

    /// Re-initialising to another checkpoint would strand scans not uploaded yet.
    #[error(
        "{unsent} scans of checkpoint {held} are not uploaded yet; run `passgate-checkpoint sync` before initialising this device as checkpoint {wanted}"
    )]
    UnsentScans {
        unsent: u64,
        held: CheckpointId,
        wanted: CheckpointId,
    },

    /// The operating system could not provide randomness for a record id.
    #[error("the operating system's random source failed: {0}")]
    Random(String),

    /// A command-line value is unusable (beyond what the argument parser checks).
    #[error("{0}")]
    Usage(String),
}

fn http_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check the device token given to `init`)",
        404 => " (check the server URL)",
        _ => "",
    }
}

impl CheckpointError {
    /// Wrap a database error with what the program was doing.
    pub fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> CheckpointError {
        move |source| CheckpointError::Database { context, source }
    }

    /// A stable machine-readable code, used in `--json` error output.
    pub fn code(&self) -> &'static str {
        match self {
            CheckpointError::NotInitialised { .. } => "not_initialised",
            CheckpointError::Database { .. } => "database",
            CheckpointError::Migration(_) => "migration",
            CheckpointError::Io { .. } => "io",
            CheckpointError::CorruptData(_) => "corrupt_data",
            CheckpointError::Http { .. } => "http",
            CheckpointError::Network(_) => "network",
            CheckpointError::Protocol(_) => "protocol",
            CheckpointError::InvalidServerUrl { .. } => "invalid_server_url",
            CheckpointError::Image { .. } => "image",
            CheckpointError::NoQrFound { .. } => "no_qr_found",
            CheckpointError::BundleRollback { .. } => "bundle_rollback",
            CheckpointError::UnknownCheckpoint(_) => "unknown_checkpoint",
            CheckpointError::UnsentScans { .. } => "unsent_scans",
            CheckpointError::Random(_) => "random",
            CheckpointError::Usage(_) => "usage",
        }
    }

    /// The process exit status for this error: 3 when the server or network is at fault,
    /// 2 for everything local (usage, data directory, input file).
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckpointError::Http { .. }
            | CheckpointError::Network(_)
            | CheckpointError::Protocol(_)
            | CheckpointError::BundleRollback { .. }
            | CheckpointError::UnknownCheckpoint(_) => 3,
            _ => 2,
        }
    }
}

/// The checkpoint's result type.
pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;
