//! Enterprise pass applications and the held-vehicle queue.

use async_trait::async_trait;

use super::SqlStore;

#[async_trait]
pub trait WorkflowStore: Send + Sync {}

#[async_trait]
impl WorkflowStore for SqlStore {}
