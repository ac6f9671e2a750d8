//! Claiming, running and recording jobs, and the task that works one queue.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use sqlx::AnyConnection;
use tokio::sync::watch;

use super::{CallerIdCheck, CarrierRelease, Job, JobFailure, JobKind, JobType, NumberPurchase, Queue, Retry, WebhookDelivery};
use crate::error::{Kind, Result};
use crate::service::Core;
use crate::store::jobs::{self, Outcome};

impl Core {
    /// One pass over `queue`: the billing queue first settles every due period end; then every
    /// due job of the queue runs. `stopping` is checked before each claim and before each job
    /// that waited for a lane, so a stop lets the jobs in hand finish and gives the rest of their
    /// batch back. Returns how many numbers or jobs were handled.
    pub async fn work(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        let settled = match queue {
            Queue::Billing => self.sweep(None, self.batch).await?,
            Queue::Carrier => 0,
            Queue::Webhooks => self.webhook_housekeeping().await?,
        };
        Ok(settled + self.run_jobs(queue, stopping).await?)
    }

    /// Runs every job of `queue` that is due now, a batch (`worker.job_batch`) at a time: each
    /// batch is claimed in one statement and recorded in one write transaction. The carrier
    /// queue runs `carrier_concurrency` jobs at once (each account's request limit still
    /// applies), the others one by one in claim order. Returns how many reached a final or retry
    /// state.
    pub async fn run_jobs(&self, queue: Queue, stopping: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        let lanes = match queue {
            Queue::Carrier => self.carrier_concurrency.max(1),
            // Webhook deliveries of one number keep their order; one lane is the simple way.
            Queue::Billing | Queue::Webhooks => 1,
        };
        let lease = Duration::milliseconds(self.outbox.lease_ms as i64);
        let mut handled = 0;
        while !stopping() {
            let claimed_at = self.clock.now();
            let lease_end = claimed_at + lease;
            let batch = jobs::claim_batch(&self.db, queue, claimed_at, lease_end, self.job_batch).await?;
            if batch.is_empty() {
                break;
            }
            // A job still waiting for a lane then is given back rather than started: whatever
            // started before has the other half of the lease to finish and be recorded (carrier
            // and webhook calls time out well within it).
            let start_by = claimed_at + lease / 2;
            let mut turns: Vec<(usize, Job, Turn)> = futures::stream::iter(batch.into_iter().enumerate())
                .map(|(i, job)| async move {
                    // The first `lanes` start as the claim returns: they are in hand, as a job
                    // claimed alone was (the stop was checked just before the claim).
                    let waited = i >= lanes;
                    let turn =
                        if waited && (stopping() || self.clock.now() > start_by) { Turn::GivenBack } else { self.run_job(&job).await };
                    (i, job, turn)
                })
                .buffer_unordered(lanes)
                .collect()
                .await;
            turns.sort_unstable_by_key(|(i, ..)| *i);
            let given_back = turns.iter().filter(|(.., t)| matches!(t, Turn::GivenBack)).count();
            if given_back > 0 {
                tracing::info!(queue = queue.as_str(), given_back, "jobs given back unstarted");
            }
            handled += self.record_batch(queue, &turns, lease_end).await?;
        }
        Ok(handled)
    }

    async fn run_job(&self, job: &Job) -> Turn {
        match job.kind {
            JobKind::CarrierRelease => self.run_as::<CarrierRelease>(job).await,
            JobKind::NumberPurchase => self.run_as::<NumberPurchase>(job).await,
            JobKind::CallerIdCheck => self.run_as::<CallerIdCheck>(job).await,
            JobKind::WebhookDelivery => self.run_as::<WebhookDelivery>(job).await,
        }
    }

    async fn run_as<T: JobType + 'static>(&self, job: &Job) -> Turn {
        let payload = serde_json::from_value::<T>(job.payload.clone());
        let failure = match &payload {
            Ok(p) => p.run(self).await.err(),
            // A payload this build cannot read would fail every time: park it for an operator.
            Err(e) => Some(JobFailure::new(format!("unreadable payload: {e}"), Retry::Never)),
        };
        let now = self.clock.now();
        let (kind, attempts) = (T::KIND.as_str(), job.attempts);
        let polling = matches!(failure, Some(JobFailure { retry: Retry::Poll(_), .. }));
        let outcome = match failure {
            None => Outcome::Done,
            Some(JobFailure { message: error, retry }) => match (retry, &payload) {
                (Retry::After(delay) | Retry::Poll(delay), _) => {
                    let at = now + Duration::from_std(delay).unwrap_or(Duration::MAX);
                    Outcome::Retry { at, error, counted: false }
                }
                (Retry::Backoff, Ok(p)) => match p.retry_at(attempts, &self.outbox, now) {
                    Some(at) => Outcome::Retry { at, error, counted: true },
                    None => Outcome::Park { error },
                },
                (Retry::Backoff | Retry::Never, _) => Outcome::Park { error },
            },
        };
        match &outcome {
            Outcome::Done => tracing::info!(job = job.id, kind, "job done"),
            Outcome::Retry { at, error, .. } if polling => {
                tracing::debug!(job = job.id, kind, error = error.as_ref(), next_check = %at, "job waiting; will look again")
            }
            Outcome::Retry { at, error, .. } => {
                tracing::warn!(job = job.id, kind, attempts, error = error.as_ref(), retry_at = %at, "job failed; will retry")
            }
            Outcome::Park { error } => {
                tracing::error!(job = job.id, kind, attempts, error = error.as_ref(), "job failed for good; parked as failed")
            }
        }
        Turn::Ran { outcome, hook: payload.ok().map(|p| Box::new(p) as Box<dyn Finish>) }
    }

    /// Records a batch in one transaction. Should that fail on one job's account (a `finished`
    /// hook its data breaks), each job is recorded alone, so that one job never holds the rest
    /// of its batch back to be run again; an unavailable database fails the pass at once, and
    /// the leases lapse.
    async fn record_batch(&self, queue: Queue, turns: &[(usize, Job, Turn)], lease_end: DateTime<Utc>) -> Result<usize> {
        let e = match self.record(queue, turns, lease_end).await {
            Ok(handled) => return Ok(handled),
            Err(e) if e.kind() == Kind::Unavailable || turns.len() == 1 => return Err(e),
            Err(e) => e,
        };
        tracing::warn!(queue = queue.as_str(), jobs = turns.len(), error = %e, "recording a batch of jobs failed; recording them one by one");
        let (mut ran, mut failed) = (0, None);
        for turn in turns {
            match self.record(queue, std::slice::from_ref(turn), lease_end).await {
                Ok(n) => ran += n,
                Err(e) => {
                    tracing::error!(job = turn.1.id, error = %e, "recording a job failed; it runs again once its lease lapses");
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(ran), Err)
    }

    /// Records `turns` in one transaction: each outcome, with what follows from a final one (an
    /// event, say), and the jobs given back. Returns how many ran.
    async fn record(&self, queue: Queue, turns: &[(usize, Job, Turn)], lease_end: DateTime<Utc>) -> Result<usize> {
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        for (_, job, turn) in turns {
            let Turn::Ran { outcome, hook } = turn else {
                jobs::give_back(&mut tx, job.id, lease_end, now).await?;
                continue;
            };
            jobs::finish(&mut tx, job.id, outcome, now).await?;
            let failure = match outcome {
                Outcome::Done => None,
                Outcome::Park { error } => Some(error.as_ref()),
                Outcome::Retry { .. } => continue,
            };
            if let Some(hook) = hook {
                hook.finish(self, &mut tx, failure).await?;
            }
        }
        tx.commit().await?;
        let mut ran = 0;
        for (.., turn) in turns {
            let Turn::Ran { outcome, .. } = turn else { continue };
            let recorded = match outcome {
                Outcome::Done => Ok(()),
                Outcome::Retry { .. } => Err(true),
                Outcome::Park { .. } => Err(false),
            };
            self.metrics.job_finished(queue, &recorded);
            ran += 1;
        }
        Ok(ran)
    }
}

/// A job's turn in its batch.
enum Turn {
    /// It ran: the outcome to record, and the payload whose `finished` hook follows a final one
    /// (none when the payload could not be read).
    Ran { outcome: Outcome, hook: Option<Box<dyn Finish>> },
    /// Not started (the node is stopping, or it waited half its lease): back to its queue as it was.
    GivenBack,
}

/// [`JobType::finished`] of whichever kind a job of the batch is.
#[async_trait]
trait Finish: Send + Sync {
    async fn finish(&self, core: &Core, conn: &mut AnyConnection, failure: Option<&str>) -> Result<()>;
}

#[async_trait]
impl<T: JobType> Finish for T {
    async fn finish(&self, core: &Core, conn: &mut AnyConnection, failure: Option<&str>) -> Result<()> {
        self.finished(core, conn, failure).await
    }
}

/// Works `queue` every `interval` until `stop` turns true; a pass in progress finishes its
/// jobs in hand first. Several nodes may work the same queue: claims never overlap.
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
