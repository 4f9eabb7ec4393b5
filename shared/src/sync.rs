//! Wire types of the checkpoint ↔ server sync protocol (`docs/sync-protocol.md`).

use serde::{Deserialize, Serialize};

use crate::pass::{CheckpointId, PassClass, PassNumber};

/// Which way the truck crossed the gate.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The server's answer to an upload batch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResult {
    /// Records stored now for the first time.
    pub stored: u64,
    /// Records the server already had (a retry); not counted again.
    pub duplicates: u64,
    /// The last sequence number of the batch, now safely stored.
    pub last_seq: u64,
}

/// One row of `GET /api/v1/usage/daily`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub number: Option<PassNumber>,
    pub class: Option<PassClass>,
    pub checkpoint_id: CheckpointId,
    pub direction: Direction,
    /// `accepted` or the reject reason code.
    pub verdict: String,
    pub count: u64,
}

/// `GET /api/v1/usage/daily?date=YYYY-MM-DD`: the day (Beijing time) and its rows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub date: String,
    pub total: u64,
    pub rows: Vec<UsageRow>,
}
