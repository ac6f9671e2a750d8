//! The core operations, shared by every API dialect and the worker: each is one transaction that
//! loads state under a lock, asks the domain what to do, and writes the answer.

pub mod caller_ids;
pub mod events;
pub mod lifecycle;
pub mod lookups;
pub mod numbers;
pub mod orders;
pub mod resources;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::carrier::account::{Accounts, CarrierAccount, NoAccount};
use crate::carrier::Carrier;
use crate::config::{CallerIdConfig, OutboxConfig};
use crate::domain::clock::Clock;
use crate::domain::ids::{AccessKeyId, WorkspaceId};
use crate::error::{Code, Error, Result};
use crate::store::workspaces::{self, KeyLookup};
use crate::store::Db;

/// A carrier failure inside a request: logged with its cause, answered as a coded 502.
pub fn carrier_unavailable(account: &str, e: crate::carrier::CarrierError) -> Error {
    tracing::warn!(carrier = %account, error = %e, "carrier request failed");
    let message = match e {
        crate::carrier::CarrierError::Timeout => format!("Carrier account {account:?} did not answer in time; nothing changed."),
        other => format!("Carrier account {account:?} failed: {other}; nothing changed."),
    };
    Error::new(Code::CarrierUnavailable, message)
}

/// Everything an operation needs; cheap to share between requests and workers.
pub struct Core {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// Where numbers no carrier account holds are removed (`local`: nowhere).
    pub carrier: Arc<dyn Carrier>,
    /// The configured carrier accounts (Twilio, Telnyx) numbers are bought from and held at.
    pub accounts: Accounts,
    pub carrier_timeout: std::time::Duration,
    /// Retry policy and lease of background jobs.
    pub outbox: OutboxConfig,
    /// Numbers settled per database round (`worker.batch`).
    pub batch: i64,
    pub keys: KeyCache,
    /// Carrier jobs run at once (`worker.carrier_concurrency`).
    pub carrier_concurrency: usize,
    /// Jobs claimed and recorded together (`worker.job_batch`).
    pub job_batch: i64,
    /// Caller-ID verification window and polling (`caller_ids.*`).
    pub caller_ids: CallerIdConfig,
    /// Audit log retention and webhook delivery.
    pub outbound: events::Outbound,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Access keys this node checked recently, by the key's hash, each trusted for `ttl`: most
/// requests then cost no database round trip, and a revocation takes effect within `ttl` on every
/// node. Only valid keys are kept, so a new key works at once.
#[derive(Debug)]
pub struct KeyCache {
    ttl: std::time::Duration,
    checked: std::sync::Mutex<std::collections::HashMap<String, (Tenant, std::time::Instant)>>,
}

impl KeyCache {
    /// Entries kept at most; past it the cache starts over rather than grow without bound.
    const CAPACITY: usize = 10_000;

    pub fn new(ttl: std::time::Duration) -> Self {
        KeyCache { ttl, checked: Default::default() }
    }

    fn get(&self, hash: &str) -> Option<Tenant> {
        let checked = self.checked.lock().expect("not poisoned");
        checked.get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(t, _)| *t)
    }

    fn put(&self, hash: String, tenant: Tenant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut checked = self.checked.lock().expect("not poisoned");
        if checked.len() >= Self::CAPACITY {
            checked.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if checked.len() >= Self::CAPACITY {
                checked.clear();
            }
        }
        checked.insert(hash, (tenant, std::time::Instant::now()));
    }
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
        let hash = workspaces::hash_key(secret);
        if let Some(tenant) = self.keys.get(&hash) {
            return Ok(tenant);
        }
        match workspaces::authenticate(&self.db, &hash).await? {
            KeyLookup::Valid(ws, key) => {
                let tenant = Tenant { id: ws.id, test_mode: ws.test_mode, actor: Actor::Key(key) };
                self.keys.put(hash, tenant);
                Ok(tenant)
            }
            KeyLookup::Revoked => Err(Error::new(Code::AccessKeyRevoked, "This access key has been revoked.")),
            KeyLookup::Unknown => Err(Error::new(Code::InvalidAccessKey, "The access key is not valid.")),
        }
    }

    /// The carrier account `name` (or the default one) as a request chose it.
    pub fn account(&self, name: Option<&str>) -> Result<(String, Arc<dyn CarrierAccount>)> {
        self.accounts.choose(name).map(|(n, a)| (n.to_owned(), a.clone())).map_err(|e| match e {
            NoAccount::NoneConfigured => Error::invalid_field("carrier", "no carrier account is configured on this service"),
            unknown @ NoAccount::Unknown { .. } => Error::invalid_field("carrier", unknown.to_string()),
        })
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

    /// [`Core::now`] for a read outside any transaction: a connection only for a test clock.
    pub async fn read_now(&self, tenant: Tenant) -> Result<DateTime<Utc>> {
        if !tenant.test_mode {
            return Ok(self.clock.now());
        }
        self.now(&mut *self.db.pool.acquire().await?, tenant).await
    }
}
