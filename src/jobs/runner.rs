//! Claiming, running and recording jobs, and the task that works one queue.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::watch;

use super::{CallerIdCheck, CarrierRelease, Job, JobFailure, JobKind, JobType, NumberPurchase, Queue, Retry, WebhookDelivery};
use crate::error::Result;
use crate::service::Core;
use crate::store::jobs::{self, Outcome};

impl Core {
    /// One pass over `queue`: the billing queue first settles every due period end; then every
    /// due job of the queue runs. `stopping` is checked between jobs, so a stop finishes the job
    /// in hand and leaves the rest queued. Returns how many numbers or jobs were handled.
    pub async fn work(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        let settled = match queue {
            Queue::Billing => self.sweep(None, self.batch).await?,
            Queue::Carrier => 0,
            Queue::Webhooks => self.webhook_housekeeping().await?,
        };
        Ok(settled + self.run_jobs(queue, stopping).await?)
    }

    /// Runs every job of `queue` that is due now: the carrier queue `carrier_concurrency` at a time
    /// (each account's request limit still applies), the rest one by one. Returns how many reached
    /// a final or retry state.
    pub async fn run_jobs(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        let lanes = match queue {
            Queue::Carrier => self.carrier_concurrency.max(1),
            // Webhook deliveries of one number keep their order; one lane is the simple way.
            Queue::Billing | Queue::Webhooks => 1,
        };
        let handled = futures::future::join_all((0..lanes).map(|_| self.run_lane(queue, stopping))).await;
        handled.into_iter().sum()
    }

    /// Claims and runs due jobs of `queue` one after another until none is left.
    async fn run_lane(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        let lease = Duration::milliseconds(self.outbox.lease_ms as i64);
        let mut handled = 0;
        while !stopping() {
            let Some(job) = jobs::claim(&self.db, queue, self.clock.now(), lease).await? else { break };
            self.run_job(&job).await?;
            handled += 1;
        }
        Ok(handled)
    }

    async fn run_job(&self, job: &Job) -> Result<()> {
        match job.kind {
            JobKind::CarrierRelease => self.run_as::<CarrierRelease>(job).await,
            JobKind::NumberPurchase => self.run_as::<NumberPurchase>(job).await,
            JobKind::CallerIdCheck => self.run_as::<CallerIdCheck>(job).await,
            JobKind::WebhookDelivery => self.run_as::<WebhookDelivery>(job).await,
        }
    }

    async fn run_as<T: JobType>(&self, job: &Job) -> Result<()> {
        let payload = serde_json::from_value::<T>(job.payload.clone());
        let failure = match &payload {
            Ok(p) => p.run(self).await.err(),
            // A payload this build cannot read would fail every time: park it for an operator.
            Err(e) => Some(JobFailure::new(format!("unreadable payload: {e}"), Retry::Never)),
        };
        let now = self.clock.now();
        let (kind, attempts) = (T::KIND.as_str(), job.attempts);
        let outcome = match &failure {
            None => Outcome::Done,
            Some(f) => {
                let error = f.message.as_ref();
                match (f.retry, &payload) {
                    (Retry::After(delay) | Retry::Poll(delay), _) => {
                        let at = now + Duration::from_std(delay).unwrap_or(Duration::MAX);
                        Outcome::Retry { at, error, counted: false }
                    }
                    (Retry::Backoff, Ok(p)) => match p.retry_at(attempts, &self.outbox, now) {
                        Some(at) => Outcome::Retry { at, error, counted: true },
                        None => Outcome::Park { error },
                    },
                    (Retry::Backoff | Retry::Never, _) => Outcome::Park { error },
                }
            }
        };
        match outcome {
            Outcome::Done => tracing::info!(job = job.id, kind, "job done"),
            Outcome::Retry { at, error, .. } if matches!(failure.as_ref().map(|f| f.retry), Some(Retry::Poll(_))) => {
                tracing::debug!(job = job.id, kind, error, next_check = %at, "job waiting; will look again")
            }
            Outcome::Retry { at, error, .. } => {
                tracing::warn!(job = job.id, kind, attempts, error, retry_at = %at, "job failed; will retry")
            }
            Outcome::Park { error } => tracing::error!(job = job.id, kind, attempts, error, "job failed for good; parked as failed"),
        }
        // The outcome and what follows from a final one (an event, say) are recorded together.
        let mut tx = self.db.begin_write().await?;
        jobs::finish(&mut tx, job.id, outcome, now).await?;
        if let Ok(p) = &payload {
            match outcome {
                Outcome::Done => p.finished(self, &mut tx, None).await?,
                Outcome::Park { error } => p.finished(self, &mut tx, Some(error)).await?,
                Outcome::Retry { .. } => {}
            }
        }
        tx.commit().await?;
        let recorded = match outcome {
            Outcome::Done => Ok(()),
            Outcome::Retry { .. } => Err(true),
            Outcome::Park { .. } => Err(false),
        };
        self.metrics.job_finished(T::KIND.queue(), &recorded);
        Ok(())
    }
}

/// Works `queue` every `interval` until `stop` turns true; a pass in progress finishes its
/// current job first. Several nodes may work the same queue: claims never overlap.
pub async fn work_queue(core: Arc<Core>, queue: Queue, interval: StdDuration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let stopping = || *stop.borrow();
        if let Err(e) = core.work(queue, &stopping).await {
            tracing::error!(queue = queue.as_str(), error = %e, "queue pass failed; retrying next tick");
        }
    }
}
