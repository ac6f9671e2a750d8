//! The outbox: carrier work written in the same transaction as the state change that needs it,
//! then delivered at least once by whichever worker claims it (the carrier side is idempotent).

use chrono::{DateTime, Duration, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{column, parsed, Db};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{NumberId, WorkspaceId};

pub const CARRIER_RELEASE: &str = "carrier_release";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Done,
    /// Gave up after the configured attempts; kept for an operator to see and retry.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobStatus::Pending, JobStatus::Done, JobStatus::Failed].into_iter().find(|j| j.as_str() == s)
    }
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub workspace_id: WorkspaceId,
    pub number_id: NumberId,
    pub e164: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, workspace_id, number_id, e164, status, attempts, run_at, last_error, created_at, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Job> {
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        workspace_id: parsed(row, "workspace_id")?,
        number_id: parsed(row, "number_id")?,
        e164: row.try_get("e164")?,
        status: column(row, "status", JobStatus::parse)?,
        attempts: row.try_get("attempts")?,
        run_at: from_micros(row.try_get("run_at")?),
        last_error: row.try_get("last_error")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub async fn enqueue(conn: &mut AnyConnection, kind: &str, ws: WorkspaceId, number: NumberId, e164: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, workspace_id, number_id, e164, status, attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
    )
    .bind(kind)
    .bind(ws.to_string())
    .bind(number.to_string())
    .bind(e164)
    .bind(to_micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims the oldest due job for `lease`: the attempt is counted up front, and a worker that dies
/// mid-delivery lets the lease lapse so another picks the job up. The outer conditions are
/// re-checked on the locked row, so two workers never hold one lease.
pub async fn claim(db: &Db, now: DateTime<Utc>, lease: Duration) -> sqlx::Result<Option<Job>> {
    let skip = db.for_update_skip_locked();
    let ready = "status = 'pending' AND run_at <= $1 AND (locked_until IS NULL OR locked_until <= $1)";
    let sql = format!(
        "UPDATE jobs SET attempts = attempts + 1, locked_until = $2, updated_at = $1 \
         WHERE id = (SELECT id FROM jobs WHERE {ready} ORDER BY run_at, id LIMIT 1{skip}) AND {ready} \
         RETURNING {COLUMNS}"
    );
    sqlx::query(&sql)
        .bind(to_micros(now))
        .bind(to_micros(now + lease))
        .fetch_optional(&db.pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Records the outcome of an attempt: done, retry at `retry_at`, or (no retry) parked as failed.
pub async fn finish(db: &Db, id: i64, outcome: Result<(), (&str, Option<DateTime<Utc>>)>, now: DateTime<Utc>) -> sqlx::Result<()> {
    let (status, run_at, error) = match outcome {
        Ok(()) => (JobStatus::Done, None, None),
        Err((err, Some(retry_at))) => (JobStatus::Pending, Some(retry_at), Some(err)),
        Err((err, None)) => (JobStatus::Failed, None, Some(err)),
    };
    sqlx::query(
        "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = COALESCE($3, last_error), \
         locked_until = NULL, updated_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(run_at.map(to_micros))
    .bind(error)
    .bind(to_micros(now))
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn latest_for_number(conn: &mut AnyConnection, number: NumberId) -> sqlx::Result<Option<Job>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE number_id = $1 ORDER BY id DESC LIMIT 1"))
        .bind(number.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn list(db: &Db, status: Option<JobStatus>) -> sqlx::Result<Vec<Job>> {
    let rows = match status {
        Some(s) => {
            sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE status = $1 ORDER BY id"))
                .bind(s.as_str())
                .fetch_all(&db.pool)
                .await?
        }
        None => sqlx::query(&format!("SELECT {COLUMNS} FROM jobs ORDER BY id")).fetch_all(&db.pool).await?,
    };
    rows.iter().map(from_row).collect()
}

/// Puts a parked job back in the queue with a fresh set of attempts.
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
