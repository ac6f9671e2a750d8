//! Job rows: background work written in the same transaction as the state change that needs it,
//! then run at least once by whichever worker of its queue claims it (every kind is idempotent).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{column, fetch_values, in_list, parsed_opt, Backend, Bind, Cells, Db, FromCells, Sql};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::jobs::{Job, JobKind, JobStatus, Queue};

/// A job to insert; `workspace_id`/`number_id` name what it is about, for lookups.
pub struct NewJob {
    pub kind: JobKind,
    pub payload: serde_json::Value,
    pub dedupe_key: Option<String>,
    pub workspace_id: Option<WorkspaceId>,
    pub number_id: Option<NumberId>,
    pub run_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, kind, queue, payload, dedupe_key, workspace_id, number_id, status, attempts, run_at, last_error, created_at, updated_at";

impl FromCells for Job {
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self> {
        let payload: String = row.cell("payload")?;
        Ok(Job {
            id: row.cell("id")?,
            kind: column(row, "kind", JobKind::parse)?,
            queue: column(row, "queue", Queue::parse)?,
            payload: serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(format!("job payload: {e}").into()))?,
            dedupe_key: row.cell("dedupe_key")?,
            workspace_id: parsed_opt(row, "workspace_id")?,
            number_id: parsed_opt(row, "number_id")?,
            status: column(row, "status", JobStatus::parse)?,
            attempts: row.cell("attempts")?,
            run_at: from_micros(row.cell("run_at")?),
            last_error: row.cell("last_error")?,
            created_at: from_micros(row.cell("created_at")?),
            updated_at: from_micros(row.cell("updated_at")?),
        })
    }
}

/// Inserts pending jobs in the caller's transaction. A job whose dedupe key is already held by
/// a live (pending) job is not added. Returns the jobs added.
pub async fn insert(conn: &mut AnyConnection, jobs: impl IntoIterator<Item = NewJob>, now: DateTime<Utc>) -> sqlx::Result<Vec<Job>> {
    let rows = jobs
        .into_iter()
        .map(|job| {
            vec![
                Bind::Text(job.kind.as_str().into()),
                Bind::Text(job.kind.queue().as_str().into()),
                Bind::Text(job.payload.to_string()),
                Bind::OptText(job.dedupe_key),
                Bind::OptText(job.workspace_id.map(|w| w.to_string())),
                Bind::OptText(job.number_id.map(|n| n.to_string())),
                Bind::Text(JobStatus::Pending.as_str().into()),
                Bind::Int(0),
                Bind::Int(to_micros(job.run_at)),
                Bind::Int(to_micros(now)),
                Bind::Int(to_micros(now)),
            ]
        })
        .collect();
    fetch_values(
        conn,
        "INSERT INTO jobs (kind, queue, payload, dedupe_key, workspace_id, number_id, status, attempts, run_at, created_at, updated_at)",
        rows,
        &format!(" ON CONFLICT DO NOTHING RETURNING {COLUMNS}"),
    )
    .await
}

/// The statement [`claim_batch`] runs: the oldest ready jobs of the queue from the `jobs_ready`
/// range, then those jobs by primary key.
pub fn claim_sql(db: &Db) -> String {
    let skip = db.for_update_skip_locked();
    let due = "run_at <= $1 AND (locked_until IS NULL OR locked_until <= $1)";
    let batch = format!("SELECT id FROM jobs WHERE queue = $3 AND status = 'pending' AND {due} ORDER BY run_at, id LIMIT $4{skip}");
    // PostgreSQL: an array computed once, then probed by primary key. Offered `id IN (...)`, the
    // generic plan of a statement run many times joins the batch against a scan of every job.
    let ids = match db.backend {
        Backend::Postgres => format!("= ANY(ARRAY({batch}))"),
        Backend::Sqlite => format!("IN ({batch})"),
    };
    // The re-check on the locked rows spells `status` so that no partial index on pending jobs
    // applies: the outer rows are then found by primary key, never by a scan of the ready range.
    format!(
        "UPDATE jobs SET attempts = attempts + 1, locked_until = $2, updated_at = $1 \
         WHERE id {ids} AND queue = $3 AND status || '' = 'pending' AND {due} \
         RETURNING {COLUMNS}"
    )
}

/// Claims up to `limit` of the oldest due jobs of `queue` until `lease_end`, in one statement,
/// and returns them oldest first. Each attempt is counted up front, and a worker that dies mid-run
/// lets the lease lapse so another picks the job up. The outer conditions are re-checked on the
/// locked rows, so two workers never hold one lease.
pub async fn claim_batch(db: &Db, queue: Queue, now: DateTime<Utc>, lease_end: DateTime<Utc>, limit: i64) -> sqlx::Result<Vec<Job>> {
    let rows = sqlx::query(&claim_sql(db))
        .bind(to_micros(now))
        .bind(to_micros(lease_end))
        .bind(queue.as_str())
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    let mut jobs = rows.iter().map(Job::from_cells).collect::<sqlx::Result<Vec<Job>>>()?;
    // RETURNING follows no order.
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

/// What became of one attempt at a job.
#[derive(Clone, Debug)]
pub enum Outcome {
    Done,
    /// Try again at `at`; an attempt that was not `counted` (a carrier's rate limit) is given back.
    Retry {
        at: DateTime<Utc>,
        error: Cow<'static, str>,
        counted: bool,
    },
    /// Parked as failed for an operator to see and retry.
    Park {
        error: Cow<'static, str>,
    },
}

/// Records the outcome of an attempt.
pub async fn finish(conn: &mut AnyConnection, id: i64, outcome: &Outcome, now: DateTime<Utc>) -> sqlx::Result<()> {
    let (status, run_at, error, refund) = match outcome {
        Outcome::Done => (JobStatus::Done, None, None, 0),
        Outcome::Retry { at, error, counted } => (JobStatus::Pending, Some(*at), Some(error.as_ref()), i64::from(!counted)),
        Outcome::Park { error } => (JobStatus::Failed, None, Some(error.as_ref()), 0),
    };
    sqlx::query(
        "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = COALESCE($3, last_error), \
         locked_until = NULL, updated_at = $4, attempts = attempts - $6 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(run_at.map(to_micros))
    .bind(error)
    .bind(to_micros(now))
    .bind(id)
    .bind(refund)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Hands back a job claimed until `lease_end` but never started: due as before, its attempt not
/// counted. A job whose lease lapsed and that another worker took over is left to that worker.
pub async fn give_back(conn: &mut AnyConnection, id: i64, lease_end: DateTime<Utc>, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET locked_until = NULL, attempts = attempts - 1, updated_at = $1 \
         WHERE id = $2 AND status = 'pending' AND locked_until = $3",
    )
    .bind(to_micros(now))
    .bind(id)
    .bind(to_micros(lease_end))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The statement [`latest_for_number`] runs. It has no `ORDER BY id ... LIMIT`: without
/// statistics PostgreSQL answered that by walking the primary key backwards through every job.
/// A number has a handful of jobs; the `jobs_number` range is all there is to read.
pub fn for_number_sql() -> String {
    format!("SELECT {COLUMNS} FROM jobs WHERE number_id = $1 AND kind = $2")
}

pub async fn latest_for_number(conn: &mut AnyConnection, kind: JobKind, number: NumberId) -> sqlx::Result<Option<Job>> {
    let rows = sqlx::query(&for_number_sql()).bind(number.to_string()).bind(kind.as_str()).fetch_all(&mut *conn).await?;
    let jobs = rows.iter().map(Job::from_cells).collect::<sqlx::Result<Vec<Job>>>()?;
    Ok(jobs.into_iter().max_by_key(|j| j.id))
}

/// The latest job of `kind` for each of `numbers`, in one query however many a page holds.
pub async fn latest_for_numbers(conn: &mut AnyConnection, kind: JobKind, numbers: &[NumberId]) -> sqlx::Result<Vec<Job>> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let rows = for_numbers_sql(kind, numbers).query().fetch_all(&mut *conn).await?;
    latest(rows.iter().map(Job::from_cells).collect::<sqlx::Result<_>>()?)
}

/// [`latest_for_numbers`] outside any transaction, through [`Db::read_all`]: what a read shows.
pub async fn read_latest_for_numbers(db: &Db, kind: JobKind, numbers: &[NumberId]) -> sqlx::Result<Vec<Job>> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    latest(db.read_all(&for_numbers_sql(kind, numbers)).await?)
}

fn for_numbers_sql(kind: JobKind, numbers: &[NumberId]) -> Sql {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM jobs"));
    sql.push(" WHERE kind = ? AND number_id", [Bind::Text(kind.as_str().into())]);
    in_list(&mut sql, numbers);
    sql
}

/// The job of each number with the highest id.
fn latest(jobs: Vec<Job>) -> sqlx::Result<Vec<Job>> {
    let mut latest: std::collections::HashMap<NumberId, Job> = std::collections::HashMap::new();
    for job in jobs {
        let Some(number) = job.number_id else { continue };
        if latest.get(&number).is_none_or(|j| j.id < job.id) {
            latest.insert(number, job);
        }
    }
    Ok(latest.into_values().collect())
}

pub async fn list(db: &Db, status: Option<JobStatus>) -> sqlx::Result<Vec<Job>> {
    let rows = match status {
        Some(s) => {
            sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE status = $1 ORDER BY id")).bind(s.as_str()).fetch_all(&db.pool).await?
        }
        None => sqlx::query(&format!("SELECT {COLUMNS} FROM jobs ORDER BY id")).fetch_all(&db.pool).await?,
    };
    rows.iter().map(Job::from_cells).collect()
}

/// Puts a parked job back in its queue with a fresh set of attempts.
pub async fn requeue(db: &Db, id: i64, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, locked_until = NULL, updated_at = $1 \
         WHERE id = $2 AND status = 'failed'",
    )
    .bind(to_micros(now))
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// After a job's first attempt ran inline (in the request that queued it): moves the pending job
/// keyed `key` to `run_at`, or marks it done when there is nothing left for it (`None`). A job a
/// worker holds under a live lease is left to that worker.
pub async fn after_inline_attempt(db: &Db, key: &str, run_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> sqlx::Result<()> {
    let status = if run_at.is_some() { JobStatus::Pending } else { JobStatus::Done };
    sqlx::query(
        "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), updated_at = $3 \
         WHERE dedupe_key = $4 AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $3)",
    )
    .bind(status.as_str())
    .bind(run_at.map(to_micros))
    .bind(to_micros(now))
    .bind(key)
    .execute(&db.pool)
    .await?;
    Ok(())
}
