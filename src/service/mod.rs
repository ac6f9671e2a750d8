//! The core operations, shared by every API dialect and the worker: each is one transaction that
//! loads state under a lock, asks the domain what to do, and writes the answer.

pub mod lifecycle;
pub mod numbers;
pub mod resources;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::carrier::Carrier;
use crate::config::OutboxConfig;
use crate::domain::clock::Clock;
use crate::domain::ids::WorkspaceId;
use crate::error::{Error, Result};
use crate::store::{workspaces, Db};

/// Everything an operation needs; cheap to share between requests and workers.
pub struct Core {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub carrier: Arc<dyn Carrier>,
    pub carrier_timeout: std::time::Duration,
    /// Retry policy and lease of background jobs.
    pub outbox: OutboxConfig,
    /// Numbers settled per database round (`worker.batch`).
    pub batch: i64,
}

/// The workspace a request acts in, established by its access key.
#[derive(Clone, Copy, Debug)]
pub struct Tenant {
    pub id: WorkspaceId,
    pub test_mode: bool,
}

impl Core {
    /// The workspace's "now": the real clock, or a test-mode workspace's own clock read in the
    /// caller's transaction.
    pub async fn now(&self, conn: &mut AnyConnection, tenant: Tenant) -> Result<DateTime<Utc>> {
        if !tenant.test_mode {
            return Ok(self.clock.now());
        }
        workspaces::get_workspace(conn, tenant.id)
            .await?
            .and_then(|w| w.clock_at)
            .ok_or_else(|| Error::internal("test clock", "test-mode workspace without a clock"))
    }
}
