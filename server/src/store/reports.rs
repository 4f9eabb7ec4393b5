//! Aggregates for the transport bureau's dashboard, exports and the daily report.

use async_trait::async_trait;

use super::SqlStore;

#[async_trait]
pub trait ReportStore: Send + Sync {}

#[async_trait]
impl ReportStore for SqlStore {}
