//! The job runner: durable background work in named queues, each worked by its own task so a
//! slow queue (a hanging carrier) never delays another (period ends).
//!
//! Adding a kind: a variant in [`JobKind`] (with its queue), a payload type implementing
//! [`JobType`] in its own file, and one arm in `runner::Core::run_job`.

pub mod caller_id_check;
pub mod carrier_release;
pub mod number_purchase;
pub mod runner;
pub mod webhook_delivery;

use std::borrow::Cow;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyConnection;

use crate::carrier::CarrierError;
use crate::config::OutboxConfig;
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::service::Core;
use crate::store::jobs::{self, NewJob};

pub use caller_id_check::CallerIdCheck;
pub use carrier_release::CarrierRelease;
pub use number_purchase::NumberPurchase;
pub use webhook_delivery::WebhookDelivery;

crate::domain::text_enum!(
    /// A queue and the task that works it.
    Queue {
        /// Period ends: the sweep of due numbers, plus any billing jobs.
        Billing = "billing",
        /// Calls to the telephony carrier.
        Carrier = "carrier",
        /// Webhook deliveries, plus the audit log's retention.
        Webhooks = "webhooks",
    }
);

crate::domain::text_enum!(JobKind {
    CarrierRelease = "carrier_release",
    NumberPurchase = "number_purchase",
    CallerIdCheck = "caller_id_check",
    WebhookDelivery = "webhook_delivery",
});

impl JobKind {
    pub fn queue(self) -> Queue {
        match self {
            JobKind::CarrierRelease | JobKind::NumberPurchase | JobKind::CallerIdCheck => Queue::Carrier,
            JobKind::WebhookDelivery => Queue::Webhooks,
        }
    }
}

crate::domain::text_enum!(JobStatus {
    Pending = "pending",
    Done = "done",
    /// Gave up after the configured attempts; kept for an operator to see and retry.
    Failed = "failed",
});

/// A job as stored: what to do (`kind`, `payload`), where, and how it is going.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub queue: Queue,
    pub payload: serde_json::Value,
    pub dedupe_key: Option<String>,
    pub workspace_id: Option<WorkspaceId>,
    pub number_id: Option<NumberId>,
    pub status: JobStatus,
    pub attempts: i64,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One kind of job: its payload (stored as JSON) and how to run and retry it.
#[async_trait]
pub trait JobType: Serialize + DeserializeOwned + Send + Sync {
    const KIND: JobKind;

    /// At most one live job per key; `None` lets duplicates queue.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// The workspace and number the job is about, if any (shown with the number).
    fn subject(&self) -> Option<(WorkspaceId, NumberId)> {
        None
    }

    /// Does the work once; an error is recorded on the job and retried as [`JobFailure::retry`]
    /// says.
    async fn run(&self, core: &Core) -> Result<(), JobFailure>;

    /// Runs in the transaction that records the job's last outcome: done (`failure` is `None`)
    /// or parked as failed (with its error), so what follows from it is recorded exactly once.
    async fn finished(&self, _core: &Core, _conn: &mut AnyConnection, _failure: Option<&str>) -> crate::error::Result<()> {
        Ok(())
    }

    /// When to try again after the `attempts`-th failure, or `None` to park the job as failed.
    /// Default: `base * 2^(attempts-1)`, capped, up to `max_attempts`.
    fn retry_at(&self, attempts: i64, policy: &OutboxConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (attempts < policy.max_attempts).then(|| now + backoff(attempts, policy))
    }
}

/// The pause after the `attempts`-th failure: `base * 2^(attempts-1)`, capped at `backoff_max_ms`.
pub fn backoff(attempts: i64, policy: &OutboxConfig) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(40);
    Duration::milliseconds(policy.backoff_base_ms.saturating_mul(1u64 << exp).min(policy.backoff_max_ms) as i64)
}

/// Why an attempt failed, and what that means for the next one.
#[derive(Debug)]
pub struct JobFailure {
    pub message: Cow<'static, str>,
    pub retry: Retry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// On the kind's own schedule ([`JobType::retry_at`]).
    Backoff,
    /// Not before this delay (a carrier's rate limit). The attempt is not counted: a storm of
    /// 429s delays a job but never parks it.
    After(std::time::Duration),
    /// Retrying cannot help (rejected credentials, a number locked at the carrier): park it now.
    Never,
    /// Nothing failed: the work waits on the outside world (a caller ID's owner). Look again after
    /// the delay; not counted, logged quietly.
    Poll(std::time::Duration),
}

impl JobFailure {
    pub fn new(message: impl Into<Cow<'static, str>>, retry: Retry) -> Self {
        JobFailure { message: message.into(), retry }
    }
}

impl From<String> for JobFailure {
    fn from(message: String) -> Self {
        JobFailure::new(message, Retry::Backoff)
    }
}

/// A failure of numberd's own (the database): retried on the kind's schedule.
impl From<crate::error::Error> for JobFailure {
    fn from(e: crate::error::Error) -> Self {
        JobFailure::new(e.to_string(), Retry::Backoff)
    }
}

impl From<sqlx::Error> for JobFailure {
    #[track_caller]
    fn from(e: sqlx::Error) -> Self {
        crate::error::Error::from(e).into()
    }
}

impl From<Cow<'static, str>> for JobFailure {
    fn from(message: Cow<'static, str>) -> Self {
        JobFailure::new(message, Retry::Backoff)
    }
}

impl From<&'static str> for JobFailure {
    fn from(message: &'static str) -> Self {
        JobFailure::new(message, Retry::Backoff)
    }
}

/// A carrier's answer decides the retry: its rate limit's delay, never for what retrying cannot
/// change, backoff for the transient rest.
impl From<CarrierError> for JobFailure {
    fn from(e: CarrierError) -> Self {
        let retry = match &e {
            CarrierError::RateLimited { retry_after } => Retry::After(*retry_after),
            CarrierError::RejectedCredentials(_)
            | CarrierError::Locked(_)
            | CarrierError::Rejected { .. }
            | CarrierError::Unsupported(_) => Retry::Never,
            CarrierError::NotFound | CarrierError::Failed(_) | CarrierError::Timeout => Retry::Backoff,
        };
        JobFailure::new(e.to_string(), retry)
    }
}

/// Queues `job` in the caller's transaction, due at `run_at` (real time). Returns false when a
/// live job already holds its dedupe key.
pub async fn enqueue<T: JobType>(conn: &mut AnyConnection, job: &T, run_at: DateTime<Utc>) -> sqlx::Result<bool> {
    Ok(!enqueue_many(conn, [job], run_at).await?.is_empty())
}

/// [`enqueue`] for many jobs of one type, in one statement per few thousand. Returns the jobs
/// queued (those whose dedupe key a live job holds are not).
pub async fn enqueue_many<'a, T: JobType + 'a>(
    conn: &mut AnyConnection,
    jobs: impl IntoIterator<Item = &'a T>,
    run_at: DateTime<Utc>,
) -> sqlx::Result<Vec<Job>> {
    let mut new = Vec::new();
    for job in jobs {
        let subject = job.subject();
        new.push(NewJob {
            kind: T::KIND,
            payload: serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
            dedupe_key: job.dedupe_key(),
            workspace_id: subject.map(|s| s.0),
            number_id: subject.map(|s| s.1),
            run_at,
        });
    }
    jobs::insert(conn, new, run_at).await
}
