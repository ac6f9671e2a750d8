//! Recording events in the transaction of the change they describe, and reading the audit log.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;

use super::views::NumberView;
use super::{Actor, Core, Tenant};
use crate::domain::events::{Event, EventActor, EventFilter, EventType};
use crate::domain::number::{NumberKind, NumberStatus};
use crate::domain::record::NumberRecord;
use crate::error::Result;
use crate::jobs::{Job, JobKind};
use crate::store::{events, jobs, webhooks};

tokio::task_local! {
    /// The `x-request-id` of the API request being served, set around each request by the HTTP
    /// layer; background work runs outside it.
    pub static REQUEST_ID: String;
}

fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

impl From<Actor> for EventActor {
    fn from(a: Actor) -> Self {
        match a {
            Actor::Key(id) => EventActor::AccessKey { id },
            Actor::Worker => EventActor::worker(),
        }
    }
}

/// Settings and state of the audit log and webhook delivery.
pub struct Outbound {
    pub retention: Duration,
    /// `webhooks.allow_private`.
    pub allow_private: bool,
    /// Sends deliveries: `webhooks.timeout_ms`, no redirects, refuses forbidden addresses.
    pub client: reqwest::Client,
    /// When retention last ran (epoch seconds), so passes prune at most every few minutes.
    last_prune: AtomicI64,
}

/// How often the retention pass runs at most.
const PRUNE_EVERY_SECS: i64 = 600;

impl Outbound {
    pub fn new(config: &crate::config::Config) -> Outbound {
        // Only a TLS backend that cannot start fails this, and then nothing would work anyway.
        let client = super::webhooks::delivery_client(&config.webhooks).expect("the webhook HTTP client builds");
        Outbound {
            retention: Duration::days(i64::from(config.events.retention_days)),
            allow_private: config.webhooks.allow_private,
            client,
            last_prune: AtomicI64::new(i64::MIN),
        }
    }
}

/// An event about a number: `data` is the number as the API shows it, with `release`, the
/// latest carrier release job of a released dedicated number.
pub(crate) fn number_event(
    event_type: EventType,
    actor: EventActor,
    rec: &NumberRecord,
    release: Option<&Job>,
    occurred_at: DateTime<Utc>,
) -> Result<Event> {
    let data =
        serde_json::value::to_raw_value(&NumberView::new(rec, release)).map_err(|e| crate::error::Error::internal("event data", e))?;
    let mut event = Event::new(event_type, rec.workspace_id, occurred_at, actor);
    event.number_id = Some(rec.id);
    event.data = data;
    Ok(event)
}

impl Core {
    /// Records an event about a number in the caller's transaction: `data` is the number as the
    /// API shows it now (with its carrier release, once one is queued).
    pub(crate) async fn record_number_event(
        &self,
        conn: &mut AnyConnection,
        event_type: EventType,
        actor: EventActor,
        rec: &NumberRecord,
        occurred_at: DateTime<Utc>,
    ) -> Result<()> {
        let release = if rec.kind == NumberKind::Dedicated && rec.status == NumberStatus::Inactive {
            jobs::latest_for_number(conn, JobKind::CarrierRelease, rec.id).await?
        } else {
            None
        };
        let event = number_event(event_type, actor, rec, release.as_ref(), occurred_at)?;
        self.record_events(conn, vec![event]).await
    }

    /// Records `event` (tagged with the current request's id) and queues its webhook deliveries.
    pub(crate) async fn record_event(&self, conn: &mut AnyConnection, event: Event) -> Result<()> {
        self.record_events(conn, vec![event]).await
    }

    /// Records `events` in order (each tagged with the current request's id) and queues their
    /// webhook deliveries.
    pub(crate) async fn record_events(&self, conn: &mut AnyConnection, mut events: Vec<Event>) -> Result<()> {
        let request = request_id();
        for event in &mut events {
            event.request_id = event.request_id.take().or_else(|| request.clone());
        }
        events::record(conn, &events, self.clock.now()).await?;
        Ok(())
    }

    /// A page of the workspace's events, newest first, before the event at `before_seq`.
    pub async fn list_events(&self, tenant: Tenant, filter: &EventFilter, before_seq: Option<i64>, limit: i64) -> Result<Vec<Event>> {
        Ok(events::list(&self.db, tenant.id, filter, before_seq, limit).await?)
    }

    /// The webhooks queue's chores before its jobs: queue deliveries whose predecessors finished
    /// (a safety net: finishing a delivery normally does it at once), and apply retention.
    pub(crate) async fn webhook_housekeeping(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut queued = 0;
        // A read first: the write lock is taken only when something waits.
        if webhooks::any_waiting(&self.db).await? {
            let mut tx = self.db.begin_write().await?;
            queued = webhooks::promote(&mut tx, None, now).await?;
            tx.commit().await?;
        }
        let last = self.outbound.last_prune.load(Ordering::Relaxed);
        if now.timestamp().saturating_sub(last) >= PRUNE_EVERY_SECS {
            self.outbound.last_prune.store(now.timestamp(), Ordering::Relaxed);
            let pruned = events::prune(&self.db, now - self.outbound.retention).await?;
            if pruned > 0 {
                tracing::info!(pruned, "events past retention deleted");
            }
        }
        Ok(queued)
    }
}

impl Core {
    /// The Prometheus exposition: counters kept in memory, gauges read from the database now.
    pub async fn metrics_text(&self) -> Result<String> {
        use crate::store::stats;
        let now = self.clock.now();
        let seconds_since = |at: Option<DateTime<Utc>>| at.map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0);
        let mut queues = Vec::new();
        for &queue in crate::jobs::Queue::ALL {
            let (pending, oldest) = stats::queue(&self.db, queue, now).await?;
            queues.push((queue, pending, seconds_since(oldest)));
        }
        let period_end_lag = seconds_since(stats::oldest_due_period_end(&self.db, now).await?);
        let numbers = match self.metrics.cached_numbers() {
            Some(n) => n,
            None => stats::numbers(&self.db).await?,
        };
        Ok(self.metrics.render(crate::metrics::Snapshot { queues, period_end_lag, numbers }))
    }
}
