//! cancel, resume and release, period ends (renew or release), test clocks and the sweep.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::events::number_event;
use super::{views, Core, Tenant};
use crate::carrier::{removal, CarrierError, CarrierNumber};
use crate::domain::events::{EventActor, EventType};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::domain::lifecycle::{self, Change, Refusal, Release, Step};
use crate::domain::number::{NumberStatus, SubscriptionStatus};
use crate::domain::record::NumberRecord;
use crate::error::{Code, Error, Result};
use crate::jobs::{self, CarrierRelease, JobKind};
use crate::store::numbers::Due;
use crate::store::{self, numbers, resources, workspaces};

pub const CARRIER_FAILED_MESSAGE: &str = "Failed to release phone number. Please try again or contact support.";

/// The client-facing error for each refusal of the release policy.
pub fn refused(r: Refusal) -> Error {
    match r {
        Refusal::AlreadyScheduled => Error::new(Code::ReleaseAlreadyScheduled, "Phone number is already scheduled for release."),
        Refusal::AlreadyReleased => Error::new(Code::NumberAlreadyReleased, "Phone number has already been released."),
        Refusal::NoSubscription => {
            Error::new(Code::NumberHasNoSubscription, "Phone number has no subscription: only dedicated numbers are billed by period.")
        }
    }
}

#[derive(Debug)]
pub enum Released {
    /// Dedicated: canceled, leaves at the end of the period.
    Scheduled(Box<NumberRecord>),
    /// SIP or caller ID: gone from the workspace now.
    Deleted,
}

impl Core {
    /// Applies every period end that has fallen due by `now` to numbers loaded under lock:
    /// renewals record their period; a canceling subscription releases its number, detaches it
    /// and queues the carrier release, all in the caller's transaction and in a few statements
    /// however many numbers there are. Returns how many numbers anything fell due for.
    pub(crate) async fn settle(&self, conn: &mut AnyConnection, recs: &mut [NumberRecord], now: DateTime<Utc>) -> Result<usize> {
        let (mut periods, mut events, mut released, mut changed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, rec) in recs.iter_mut().enumerate() {
            let Some(billing) = rec.subscription.as_ref().map(|s| s.billing()) else { continue };
            let (after, steps) = lifecycle::settle(billing, now);
            if steps.is_empty() {
                continue;
            }
            for step in steps {
                match step {
                    Step::Renewed(period) => {
                        let sub = rec.subscription.as_mut().expect("checked above");
                        periods.push((i, period));
                        (sub.period_index, sub.updated_at, rec.updated_at) = (period.index, now, now);
                        events.push(number_event(EventType::SubscriptionRenewed, EventActor::worker(), rec, None, period.start)?);
                    }
                    Step::Released { at } => {
                        rec.status = NumberStatus::Inactive;
                        rec.deactivated_at = Some(at);
                        // Its event is made below, once the subscription's end state is set and
                        // the carrier release it shows is queued.
                        released.push((i, at));
                    }
                }
            }
            let sub = rec.subscription.as_mut().expect("checked above");
            (sub.status, sub.period_index, sub.updated_at, rec.updated_at) = (after.status, after.period_index, now, now);
            changed.push(i);
        }
        if changed.is_empty() {
            return Ok(0);
        }
        numbers::insert_periods(conn, periods.iter().map(|&(i, p)| (&recs[i], p)), now).await?;
        if !released.is_empty() {
            let ids: Vec<NumberId> = released.iter().map(|&(i, _)| recs[i].id).collect();
            resources::detach_numbers(conn, &ids, now).await?;
            let release_jobs: Vec<CarrierRelease> = released
                .iter()
                .map(|&(i, _)| {
                    let rec = &recs[i];
                    CarrierRelease {
                        workspace_id: rec.workspace_id,
                        number_id: rec.id,
                        e164: rec.e164.clone(),
                        carrier_account: rec.carrier.as_ref().map(|c| c.account.clone()),
                        carrier_ref: rec.carrier.as_ref().map(|c| c.carrier_ref.clone()),
                    }
                })
                .collect();
            // Delivery runs on real time whatever the workspace's clock says.
            let mut queued = jobs::enqueue_many(conn, &release_jobs, self.clock.now()).await?;
            // A number whose release a pending job already holds (its dedupe key) shows that job.
            let new: std::collections::HashSet<NumberId> = queued.iter().filter_map(|j| j.number_id).collect();
            let held: Vec<NumberId> = ids.iter().filter(|id| !new.contains(id)).copied().collect();
            queued.extend(store::jobs::latest_for_numbers(conn, JobKind::CarrierRelease, &held).await?);
            for &(i, at) in &released {
                let rec = &recs[i];
                let job = queued.iter().find(|j| j.number_id == Some(rec.id));
                events.push(number_event(EventType::NumberReleased, EventActor::worker(), rec, job, at)?);
            }
        }
        numbers::update_settled(conn, changed.iter().map(|&i| &recs[i])).await?;
        self.record_events(conn, events).await?;
        Ok(changed.len())
    }

    /// Loads a number for change: row-locked, with due period ends already applied.
    async fn load_settled(&self, conn: &mut AnyConnection, tenant: Tenant, id: NumberId, now: DateTime<Utc>) -> Result<NumberRecord> {
        let mut rec = numbers::get(conn, tenant.id, id, self.db.for_update()).await?.ok_or_else(Error::number_not_found)?;
        self.settle(conn, std::slice::from_mut(&mut rec), now).await?;
        Ok(rec)
    }

    /// Bird's cancel-subscription (and `subscriptions/main/cancel`): idempotent.
    pub async fn cancel_subscription(&self, tenant: Tenant, id: NumberId) -> Result<NumberRecord> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut rec = self.load_settled(&mut tx, tenant, id, now).await?;
        let change = lifecycle::cancel(rec.subscription_status());
        if let Err(r) = change {
            // Settling may have released the number; keep that even though the cancel is refused.
            tx.commit().await?;
            return Err(refused(r));
        }
        if change == Ok(Change::Apply) {
            schedule_cancel(&mut rec, now);
            numbers::update(&mut tx, &rec, views::template).await?;
            self.record_number_event(&mut tx, EventType::SubscriptionCanceled, tenant.actor.into(), &rec, now).await?;
        }
        tx.commit().await?;
        Ok(rec)
    }

    /// Undoes a cancellation before the period ends; afterwards the number is gone (409).
    pub async fn resume_subscription(&self, tenant: Tenant, id: NumberId) -> Result<NumberRecord> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut rec = self.load_settled(&mut tx, tenant, id, now).await?;
        match lifecycle::resume(rec.subscription_status()) {
            Err(r) => {
                tx.commit().await?;
                return Err(match r {
                    Refusal::AlreadyReleased => Error::new(
                        Code::SubscriptionAlreadyEnded,
                        "The subscription has ended and the number was released; it cannot be resumed.",
                    ),
                    other => refused(other),
                });
            }
            Ok(Change::Apply) => {
                let sub = rec.subscription.as_mut().expect("resume applies to subscriptions");
                sub.status = SubscriptionStatus::Active;
                sub.cancelled_at = None;
                sub.updated_at = now;
                rec.updated_at = now;
                numbers::update(&mut tx, &rec, views::template).await?;
                self.record_number_event(&mut tx, EventType::SubscriptionResumed, tenant.actor.into(), &rec, now).await?;
            }
            Ok(Change::Unchanged) => {}
        }
        tx.commit().await?;
        Ok(rec)
    }

    /// The Autocalls release: by kind, see [`lifecycle::release`].
    pub async fn release(&self, tenant: Tenant, id: NumberId) -> Result<Released> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        let mut rec = self.load_settled(&mut tx, tenant, id, now).await?;
        let decision = lifecycle::release(rec.kind, rec.subscription_status());
        let decision = match decision {
            Ok(d) => d,
            Err(r) => {
                tx.commit().await?;
                return Err(refused(r));
            }
        };
        match decision {
            Release::ScheduleAtPeriodEnd => {
                schedule_cancel(&mut rec, now);
                numbers::update(&mut tx, &rec, views::template).await?;
                self.record_number_event(&mut tx, EventType::NumberReleaseScheduled, tenant.actor.into(), &rec, now).await?;
                tx.commit().await?;
                Ok(Released::Scheduled(Box::new(rec)))
            }
            Release::DeleteNow { remove_from_carrier: false } => {
                delete_now(&mut tx, &mut rec, now).await?;
                self.record_number_event(&mut tx, EventType::NumberReleased, tenant.actor.into(), &rec, now).await?;
                tx.commit().await?;
                Ok(Released::Deleted)
            }
            Release::DeleteNow { remove_from_carrier: true } => {
                // No lock is held across the carrier call: removal is idempotent, so a retry (or a
                // concurrent twin) after a failure or a crash simply asks again.
                tx.commit().await?;
                if let Err(e) = self.remove_caller_id(&rec).await {
                    tracing::warn!(number_id = %id, error = %e, "carrier refused caller id removal; nothing changed");
                    return Err(Error::new(Code::CarrierReleaseFailed, CARRIER_FAILED_MESSAGE));
                }
                let mut tx = self.db.begin_write().await?;
                let now = self.now(&mut tx, tenant).await?;
                let mut rec = numbers::get(&mut tx, tenant.id, id, self.db.for_update()).await?.ok_or_else(Error::number_not_found)?;
                delete_now(&mut tx, &mut rec, now).await?;
                self.record_number_event(&mut tx, EventType::NumberReleased, tenant.actor.into(), &rec, now).await?;
                tx.commit().await?;
                Ok(Released::Deleted)
            }
        }
    }

    /// Removes a caller ID from the carrier account it was verified at (or, registered by hand,
    /// from the service's own carrier), within the carrier deadline.
    async fn remove_caller_id(&self, rec: &NumberRecord) -> std::result::Result<(), CarrierError> {
        let timeout = self.carrier_timeout;
        match &rec.carrier {
            None => removal(timeout, self.carrier.remove_caller_id(&CarrierNumber { e164: rec.e164.clone() })).await,
            Some(held) => {
                let account = self
                    .accounts
                    .get(&held.account)
                    .ok_or_else(|| CarrierError::Failed(format!("carrier account {:?} is not configured", held.account)))?;
                removal(timeout, account.remove_caller_id(&rec.e164, Some(&held.carrier_ref))).await
            }
        }
    }

    /// Settles one number of the workspace in its own transaction, waiting for its lock; a number
    /// deleted meanwhile is not found.
    pub async fn settle_one(&self, tenant: Tenant, id: NumberId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let now = self.now(&mut tx, tenant).await?;
        self.load_settled(&mut tx, tenant, id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One pass of the period-end worker: settles every number due by its workspace's clock.
    /// `only` restricts it to one workspace. Returns how many numbers moved.
    pub async fn sweep(&self, only: Option<WorkspaceId>, batch: i64) -> Result<usize> {
        let (db, now) = (&self.db, self.clock.now());
        let moved = match only {
            Some(ws) => {
                let mut conn = db.pool.acquire().await?;
                let Some(w) = workspaces::get_workspace(&mut conn, ws).await? else { return Ok(0) };
                drop(conn);
                let at = if w.test_mode { w.clock_at.unwrap_or(now) } else { now };
                self.settle_waiting(Due::InWorkspace(ws, at), batch).await?
            }
            None => {
                let mut moved = self.settle_skipping(Due::Live(now), batch).await?;
                for (ws, clock) in workspaces::test_clocks(db).await? {
                    moved += self.settle_skipping(Due::InWorkspace(ws, clock), batch).await?;
                }
                moved
            }
        };
        if let Err(e) = db.analyze_after_sweep(moved).await {
            // Only the planner loses by it; autoanalyze catches up later.
            tracing::warn!(error = %e, moved, "ANALYZE after a large sweep failed");
        }
        Ok(moved)
    }

    /// Settles what `due` finds (at most `batch` numbers per transaction), waiting for the locks
    /// of numbers others hold, until nothing is due: every number found is settled, by it or by
    /// whoever held the lock, which is what the test clock promises whatever the worker does.
    /// Each number is re-checked under its lock, so none is settled twice.
    async fn settle_waiting(&self, due: Due, batch: i64) -> Result<usize> {
        self.settle_found(due, batch, true).await
    }

    /// The worker's sweep: settles what `due` finds, passing over numbers other workers hold, and
    /// stops when nothing is due or everything left is held.
    ///
    /// On PostgreSQL [`SWEEP_LANES`] transactions run at once, each finding and locking its own
    /// batch in one statement (`FOR UPDATE SKIP LOCKED`), so no lane waits for another: a batch
    /// alternates between numberd's work and the server's, and batches found together and
    /// committed together left a third of the two cores idle (a lane done early waited for the
    /// other, and the next batches for the query finding them).
    async fn settle_skipping(&self, due: Due, batch: i64) -> Result<usize> {
        if self.db.backend == store::Backend::Sqlite {
            // One writer at a time: nothing to pass over.
            return self.settle_found(due, batch, false).await;
        }
        let lane = || async move {
            let mut moved = 0;
            loop {
                let mut tx = self.db.begin_write().await?;
                let mut recs = numbers::lock_due(&mut tx, due, batch).await?;
                let found = recs.len();
                let settled = self.settle(&mut tx, &mut recs, due.at()).await?;
                tx.commit().await?;
                moved += settled;
                if found < batch as usize || settled == 0 {
                    return Ok::<_, Error>(moved);
                }
            }
        };
        Ok(futures::future::try_join_all((0..SWEEP_LANES).map(|_| lane())).await?.into_iter().sum())
    }

    /// Settles what `due` finds, a batch per transaction, each locked once found: `waiting` for
    /// numbers others hold (then it goes on while anything is due, though others may have
    /// settled all it found), or passing over them.
    async fn settle_found(&self, due: Due, batch: i64, waiting: bool) -> Result<usize> {
        let lock = if waiting { self.db.for_update() } else { self.db.for_update_skip_locked() };
        let mut moved = 0;
        loop {
            let found = numbers::due(&self.db, due, batch).await?;
            if found.is_empty() {
                return Ok(moved);
            }
            let mut tx = self.db.begin_write().await?;
            let mut recs = numbers::lock_many(&self.db, &mut tx, &found, lock).await?;
            let settled = self.settle(&mut tx, &mut recs, due.at()).await?;
            tx.commit().await?;
            moved += settled;
            if found.len() < batch as usize || (!waiting && settled == 0) {
                return Ok(moved);
            }
        }
    }

    /// Moves a test-mode workspace's clock forward and runs everything that fell due.
    pub async fn advance_clock(&self, tenant: Tenant, to: DateTime<Utc>) -> Result<DateTime<Utc>> {
        if !tenant.test_mode {
            return Err(Error::new(
                Code::WorkspaceNotInTestMode,
                "Only test-mode workspaces have a test clock; live workspaces follow real time.",
            ));
        }
        let to = crate::domain::clock::truncate(to);
        let mut tx = self.db.begin_write().await?;
        let current = self.now(&mut tx, tenant).await?;
        if workspaces::advance_clock(&mut tx, tenant.id, to).await?.is_none() {
            return Err(Error::new(
                Code::TestClockCannotGoBack,
                format!("The test clock only moves forward; it is at {}.", current.to_rfc3339()),
            )
            .with_details(serde_json::json!({ "field": "to", "now": current })));
        }
        tx.commit().await?;
        self.sweep(Some(tenant.id), self.batch).await?;
        self.run_jobs(jobs::Queue::Carrier, &|| false).await?;
        Ok(to)
    }
}

/// Batches of the worker's sweep in flight at once on PostgreSQL (see [`Core::settle_skipping`]).
const SWEEP_LANES: usize = 3;

fn schedule_cancel(rec: &mut NumberRecord, now: DateTime<Utc>) {
    let sub = rec.subscription.as_mut().expect("only subscriptions are canceled");
    sub.status = SubscriptionStatus::Canceling;
    sub.cancelled_at = Some(now);
    sub.updated_at = now;
    rec.updated_at = now;
}

async fn delete_now(conn: &mut AnyConnection, rec: &mut NumberRecord, now: DateTime<Utc>) -> Result<()> {
    rec.status = NumberStatus::Inactive;
    rec.deactivated_at = Some(now);
    rec.deleted_at = Some(now);
    rec.updated_at = now;
    numbers::update(conn, rec, views::template).await?;
    resources::detach_numbers(conn, &[rec.id], now).await?;
    Ok(())
}
