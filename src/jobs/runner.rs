//! Claiming, running and recording jobs, and the task that works one queue.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::watch;

use super::{CarrierRelease, Job, JobKind, JobType, Queue, WebhookDelivery};
use crate::error::Result;
use crate::service::Core;
use crate::store::jobs;

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

    /// Runs every job of `queue` that is due now. Returns how many reached a final or retry state.
    pub async fn run_jobs(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
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
            JobKind::WebhookDelivery => self.run_as::<WebhookDelivery>(job).await,
        }
    }

    async fn run_as<T: JobType>(&self, job: &Job) -> Result<()> {
        let payload = serde_json::from_value::<T>(job.payload.clone());
        let now = || self.clock.now();
        let outcome = match &payload {
            Ok(p) => p.run(self).await.map_err(|e| (e.into_owned(), p.retry_at(job.attempts, &self.outbox, now()))),
            // A payload this build cannot read would fail every time: park it for an operator.
            Err(e) => Err((format!("unreadable payload: {e}"), None)),
        };
        match &outcome {
            Ok(()) => tracing::info!(job = job.id, kind = T::KIND.as_str(), "job done"),
            Err((msg, Some(at))) => {
                tracing::warn!(job = job.id, kind = T::KIND.as_str(), attempts = job.attempts, error = %msg, retry_at = %at, "job failed; will retry")
            }
            Err((msg, None)) => {
                tracing::error!(job = job.id, kind = T::KIND.as_str(), attempts = job.attempts, error = %msg, "job failed for good; parked as failed")
            }
        }
        let mut tx = self.db.begin_write().await?;
        jobs::finish(&mut tx, job.id, outcome.as_ref().map(|_| ()).map_err(|(m, at)| (m.as_str(), *at)), now()).await?;
        if let Ok(p) = &payload {
            match &outcome {
                Ok(()) => p.finished(self, &mut tx, None).await?,
                Err((msg, None)) => p.finished(self, &mut tx, Some(msg)).await?,
                Err((_, Some(_))) => {}
            }
        }
        tx.commit().await?;
        self.metrics.job_finished(T::KIND.queue(), &outcome.as_ref().map(|_| ()).map_err(|(_, at)| at.is_some()));
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
