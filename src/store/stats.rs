//! The figures `/metrics` computes when scraped, each from an index range.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::Db;
use crate::domain::clock::{from_micros, to_micros};
use crate::jobs::Queue;

/// Pending jobs of `queue`, and when the oldest of them that is due by `now` fell due (the
/// `jobs_ready` range).
pub async fn queue(db: &Db, queue: Queue, now: DateTime<Utc>) -> sqlx::Result<(i64, Option<DateTime<Utc>>)> {
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE queue = $1 AND status = 'pending'")
        .bind(queue.as_str())
        .fetch_one(&db.pool)
        .await?;
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT run_at FROM jobs WHERE queue = $1 AND status = 'pending' AND run_at <= $2 ORDER BY run_at LIMIT 1")
            .bind(queue.as_str())
            .bind(to_micros(now))
            .fetch_optional(&db.pool)
            .await?;
    Ok((pending, oldest.map(from_micros)))
}

/// The oldest period end of a live workspace that is due by `now` and not settled yet: the first
/// row of the period-end worker's own query.
pub async fn oldest_due_period_end(db: &Db, now: DateTime<Utc>) -> sqlx::Result<Option<DateTime<Utc>>> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT period_end FROM numbers n WHERE sub_status IN ('active', 'canceling') AND period_end <= $1 \
         AND (SELECT test_mode FROM workspaces w WHERE w.id = n.workspace_id) = 0 ORDER BY period_end LIMIT 1",
    )
    .bind(to_micros(now))
    .fetch_optional(&db.pool)
    .await?;
    Ok(due.map(from_micros))
}

/// Numbers in the inventory (not deleted) by kind and status.
pub async fn numbers(db: &Db) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query("SELECT kind, status, COUNT(*) AS n FROM numbers WHERE deleted_at IS NULL GROUP BY kind, status")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("kind")?, r.try_get("status")?, r.try_get("n")?))).collect()
}
