//! Enterprises, checkpoints and devices as the console edits them.

use async_trait::async_trait;

use super::SqlStore;

#[async_trait]
pub trait OrgStore: Send + Sync {}

#[async_trait]
impl OrgStore for SqlStore {}
