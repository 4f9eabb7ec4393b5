//! The one error type of the checkpoint program. Every message says what went wrong and what
//! the guard or the administrator can do about it.

use std::path::PathBuf;

use passgate_shared::CheckpointId;
use passgate_shared::bundle_file::BundleError;
use passgate_shared::record::DeviceId;
use thiserror::Error;

/// Why the server refused an enrolment code (`POST /api/v1/devices/enroll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// 404 `code_unknown`: no such code (mistyped?).
    Unknown,
    /// 409 `code_used`: the code enrolled another device already.
    Used,
    /// 410 `code_expired`: the code is past its lifetime.
    Expired,
}

impl CodeProblem {
    pub fn code(self) -> &'static str {
        match self {
            CodeProblem::Unknown => "code_unknown",
            CodeProblem::Used => "code_used",
            CodeProblem::Expired => "code_expired",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            CodeProblem::Unknown => "the enrolment code is not known to the server (mistyped?)",
            CodeProblem::Used => "the enrolment code has already been used",
            CodeProblem::Expired => "the enrolment code has expired",
        }
    }

    fn describe_zh(self) -> &'static str {
        match self {
            CodeProblem::Unknown => "注册码无效",
            CodeProblem::Used => "注册码已被使用",
            CodeProblem::Expired => "注册码已过期",
        }
    }
}

/// Everything that can stop a checkpoint command. A refused pass is *not* an error: it is a
/// verdict. Errors are about the program, its data, the network or the input file.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// There is no local database yet, or it holds no enrolment.
    #[error(
        "this checkpoint is not enrolled (no configuration in {dir}); run `passgate-checkpoint enroll --server URL --code CODE` with a code from the operations bureau first / 本机尚未注册，请先运行 passgate-checkpoint enroll"
    )]
    NotEnrolled { dir: PathBuf },

    /// `enroll` on a data directory that already holds an enrolment.
    #[error(
        "{dir} already holds the enrolment of device {device_id} at checkpoint {checkpoint_id}; its scan log stays there. To enrol this machine again, use a new --data-dir / 该数据目录已注册，如需重新注册请使用新的数据目录"
    )]
    AlreadyEnrolled {
        dir: PathBuf,
        device_id: DeviceId,
        checkpoint_id: CheckpointId,
    },

    /// The local SQLite database failed.
    #[error(
        "local database error while {context}: {source}; check the disk (free space, permissions) of the data directory / 本地数据库错误，请检查数据目录所在磁盘"
    )]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The disk of the data directory is full: the scan (or other write) was not recorded.
    #[error(
        "the disk of the data directory is full while {context}: {source}; nothing was recorded. Free space on that disk (old logs, photos), then scan again; recorded scans are intact / 磁盘已满，本次未记录，请清理磁盘空间后重新扫描"
    )]
    DiskFull {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// Another program holds the database's write lock for longer than the busy timeout.
    #[error(
        "the local database is locked by another program while {context}: {source}; nothing was recorded. Close the other passgate-checkpoint (or whatever holds checkpoint.db open), then try again / 本地数据库被其他程序占用，本次未记录，请关闭其他程序后重试"
    )]
    DatabaseLocked {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The database file is damaged or is not a database at all.
    #[error(
        "the local database file is damaged ({context}): {source}; keep the data directory for the operations bureau (it holds the scan log), run `passgate-checkpoint check` and enrol a replacement data directory / 本地数据库文件已损坏，请保留数据目录并联系运行局"
    )]
    DatabaseDamaged {
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
        "stored data is damaged: {0}; keep the data directory for the operations bureau and run `passgate-checkpoint status` / 本机存储数据损坏"
    )]
    CorruptData(String),

    /// Every stored bundle file failed to verify, so the gate has nothing to decide with.
    #[error(
        "the stored trust bundle is damaged ({0}) and no earlier good copy is left; run `passgate-checkpoint sync` to fetch a fresh one / 本机信任数据已损坏且无可用备份，请立即同步"
    )]
    NoUsableBundle(String),

    /// The device key file is missing, unreadable, malformed or readable by others.
    #[error("device key {path}: {why} / 设备密钥文件异常")]
    DeviceKey { path: PathBuf, why: String },

    /// The server answered with an error status.
    #[error("the server refused the request: HTTP {status} {code}: {message}{}", http_hint(*status))]
    Http {
        status: u16,
        code: String,
        message: String,
    },

    /// The server refused the enrolment code.
    #[error(
        "enrolment refused: {} ({}{}); ask the operations bureau for a new enrolment code / {}，请向运行局重新申请注册码",
        problem.describe(),
        problem.code(),
        if message.is_empty() { String::new() } else { format!(": {message}") },
        problem.describe_zh()
    )]
    EnrolmentCode {
        problem: CodeProblem,
        message: String,
    },

    /// The server says this device was revoked: its uploads are refused.
    #[error(
        "this device has been revoked by the operations bureau: {message}; its scans stay stored here. Ask the operations bureau to enrol a replacement device / 本设备已被运行局停用，扫描记录仍保存在本机"
    )]
    DeviceRevoked { message: String },

    /// The server refused an upload batch whole (signature, chain or sequence check).
    #[error(
        "the server refused the upload batch (seq {first}–{last}): {message}; nothing was marked uploaded. Keep the data directory and report this to the operations bureau / 服务器拒收上传批次，记录仍保存在本机"
    )]
    BatchRefused {
        first: u64,
        last: u64,
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

    /// The server URL given to `enroll` is unusable.
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

    /// A bundle file from the server failed its checks (signature, key, format, delta).
    #[error(
        "refusing the trust bundle from the server: {0}; the held bundle is kept. Ask the operations bureau to check the server / 服务器下发的信任数据未通过校验，已拒绝，继续使用本机现有数据"
    )]
    BundleRefused(BundleError),

    /// The server offered an older bundle than the one held: refused.
    #[error(
        "refusing a rolled-back bundle: the server offered version {offered} but this gate holds version {held}; the held bundle is kept. Ask the operations bureau to check the server / 服务器下发的信任数据版本较旧（回退），已拒绝"
    )]
    BundleRollback { held: u64, offered: u64 },

    /// The checkpoint is not in the bundle's checkpoint directory.
    #[error(
        "checkpoint {0} is not in the trust bundle's checkpoint directory; the bundle was not used. Check the checkpoint with the operations bureau / 信任数据中没有编号为 {0} 的查验点，请与运行局核对"
    )]
    UnknownCheckpoint(CheckpointId),

    /// No scan record with this sequence number.
    #[error("there is no scan record #{0} on this device / 本机没有第 {0} 条记录")]
    NoSuchRecord(u64),

    /// The record cannot be overridden (accepted already, or overridden already).
    #[error("record #{seq} cannot be overridden: {why} / 第 {seq} 条记录不能特批：{why_zh}")]
    NotOverridable {
        seq: u64,
        why: String,
        why_zh: String,
    },

    /// The operating system could not provide randomness (record id or device key).
    #[error("the operating system's random source failed: {0}")]
    Random(String),

    /// A command-line value is unusable (beyond what the argument parser checks).
    #[error("{0}")]
    Usage(String),
}

fn http_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            " (the device token was refused: was this device revoked or replaced? ask the operations bureau)"
        }
        404 => " (check the server URL)",
        _ => "",
    }
}

impl CheckpointError {
    /// Wrap a database error with what the program was doing.
    /// Full disks, locks held by another program and damaged files get their own variants
    /// (and advice); the rest is [`CheckpointError::Database`].
    pub fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> CheckpointError {
        move |source| {
            // SQLite's primary result code is the low byte of the (extended) code.
            let primary = match &source {
                sqlx::Error::Database(e) => e
                    .code()
                    .and_then(|c| c.parse::<i64>().ok())
                    .map(|c| c & 0xff),
                _ => None,
            };
            match primary {
                // SQLITE_FULL
                Some(13) => CheckpointError::DiskFull { context, source },
                // SQLITE_BUSY, SQLITE_LOCKED
                Some(5 | 6) => CheckpointError::DatabaseLocked { context, source },
                // SQLITE_CORRUPT, SQLITE_NOTADB
                Some(11 | 26) => CheckpointError::DatabaseDamaged { context, source },
                _ => CheckpointError::Database { context, source },
            }
        }
    }

    /// A stable machine-readable code, used in `--json` error output.
    pub fn code(&self) -> &'static str {
        match self {
            CheckpointError::NotEnrolled { .. } => "not_enrolled",
            CheckpointError::AlreadyEnrolled { .. } => "already_enrolled",
            CheckpointError::Database { .. } => "database",
            CheckpointError::DiskFull { .. } => "disk_full",
            CheckpointError::DatabaseLocked { .. } => "database_locked",
            CheckpointError::DatabaseDamaged { .. } => "database_damaged",
            CheckpointError::Migration(_) => "migration",
            CheckpointError::Io { .. } => "io",
            CheckpointError::CorruptData(_) => "corrupt_data",
            CheckpointError::NoUsableBundle(_) => "no_usable_bundle",
            CheckpointError::DeviceKey { .. } => "device_key",
            CheckpointError::Http { .. } => "http",
            CheckpointError::EnrolmentCode { problem, .. } => problem.code(),
            CheckpointError::DeviceRevoked { .. } => "device_revoked",
            CheckpointError::BatchRefused { .. } => "batch_refused",
            CheckpointError::Network(_) => "network",
            CheckpointError::Protocol(_) => "protocol",
            CheckpointError::InvalidServerUrl { .. } => "invalid_server_url",
            CheckpointError::Image { .. } => "image",
            CheckpointError::NoQrFound { .. } => "no_qr_found",
            CheckpointError::BundleRefused(_) => "bundle_refused",
            CheckpointError::BundleRollback { .. } => "bundle_rollback",
            CheckpointError::UnknownCheckpoint(_) => "unknown_checkpoint",
            CheckpointError::NoSuchRecord(_) => "no_such_record",
            CheckpointError::NotOverridable { .. } => "not_overridable",
            CheckpointError::Random(_) => "random",
            CheckpointError::Usage(_) => "usage",
        }
    }

    /// The process exit status for this error: 3 when the server or network is at fault or
    /// refused us, 2 for everything local (usage, data directory, input file).
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckpointError::Http { .. }
            | CheckpointError::EnrolmentCode { .. }
            | CheckpointError::DeviceRevoked { .. }
            | CheckpointError::BatchRefused { .. }
            | CheckpointError::Network(_)
            | CheckpointError::Protocol(_)
            | CheckpointError::BundleRefused(_)
            | CheckpointError::BundleRollback { .. }
            | CheckpointError::UnknownCheckpoint(_) => 3,
            _ => 2,
        }
    }
}

/// The checkpoint's result type.
pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;
