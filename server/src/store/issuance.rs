//! Bulk issuance: many passes in one transaction.

use async_trait::async_trait;

use super::SqlStore;

#[async_trait]
pub trait IssuanceStore: Send + Sync {}

#[async_trait]
impl IssuanceStore for SqlStore {}
