//! The core operations, shared by every API dialect and the worker: each is one transaction that
//! loads state under a lock, asks the domain what to do, and writes the answer.

pub mod events;
pub mod lifecycle;
pub mod lookups;
pub mod numbers;
pub mod resources;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::carrier::Carrier;
use crate::config::OutboxConfig;
use crate::domain::clock::Clock;
use crate::domain::ids::{AccessKeyId, WorkspaceId};
use crate::error::{Code, Error, Result};
use crate::store::workspaces::{self, KeyLookup};
use crate::store::Db;

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
    /// Audit log retention and webhook delivery.
    pub outbound: events::Outbound,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The workspace an operation acts in, and who is acting.
#[derive(Clone, Copy, Debug)]
pub struct Tenant {
    pub id: WorkspaceId,
    pub test_mode: bool,
    pub actor: Actor,
}

/// Who asked for an operation, for the record (an audit log) and for rules that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A request made with this access key of the workspace.
    Key(AccessKeyId),
    /// The background worker (period ends, jobs).
    Worker,
}

impl Core {
    /// The workspace and key an access key secret stands for.
    pub async fn authenticate(&self, secret: &str) -> Result<Tenant> {
        if !workspaces::looks_like_key(secret) {
            return Err(Error::new(Code::MalformedAccessKey, "The access key is not in numberd's format."));
        }
        match workspaces::authenticate(&self.db, secret).await? {
            KeyLookup::Valid(ws, key) => Ok(Tenant { id: ws.id, test_mode: ws.test_mode, actor: Actor::Key(key) }),
            KeyLookup::Revoked => Err(Error::new(Code::AccessKeyRevoked, "This access key has been revoked.")),
            KeyLookup::Unknown => Err(Error::new(Code::InvalidAccessKey, "The access key is not valid.")),
        }
    }

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
