//! Wire types of the checkpoint ↔ server sync protocol (`docs/sync-protocol.md`).

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::pass::{CheckpointId, PassClass, PassNumber};
use crate::time::UnixSeconds;

/// Which way the truck crossed the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 进
    In,
    /// 出
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Direction::In => "进",
            Direction::Out => "出",
        }
    }
}

/// One scan as a gate recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Made by the gate (32 hex digits), unique across all gates; the idempotency key.
    pub id: String,
    /// The gate's own sequence number, from 1, without gaps.
    pub seq: u64,
    pub checkpoint_id: CheckpointId,
    /// Gate clock at the scan.
    pub scanned_at: UnixSeconds,
    pub direction: Direction,
    /// The pass number, when the pass could be decoded and its signature checked.
    pub number: Option<PassNumber>,
    pub class: Option<PassClass>,
    pub plate: Option<String>,
    pub accepted: bool,
    /// Stable reject reason code; `None` when accepted.
    pub reason: Option<String>,
    /// Warning codes shown with the verdict.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The trust bundle version the gate decided with.
    pub bundle_version: u64,
}

/// `POST /api/v1/sync/upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub checkpoint_id: CheckpointId,
    pub records: Vec<ScanRecord>,
}

/// The server's answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// Records stored now for the first time.
    pub stored: u64,
    /// Records the server already had (a retry); not counted again.
    pub duplicates: u64,
}

/// `GET /api/v1/sync/bundle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleResponse {
    pub bundle: Bundle,
}

/// One row of `GET /api/v1/usage/daily`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub number: Option<PassNumber>,
    pub class: Option<PassClass>,
    pub checkpoint_id: CheckpointId,
    pub direction: Direction,
    /// `accepted` or the reject reason code.
    pub verdict: String,
    pub count: u64,
}

/// `GET /api/v1/usage/daily?date=YYYY-MM-DD`: the day (Beijing time) and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub date: String,
    pub total: u64,
    pub rows: Vec<UsageRow>,
}
