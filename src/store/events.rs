//! The audit log: events written in the transaction of the change they record, listed newest
//! first, pruned after the retention period.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{column, parsed, parsed_opt, run_values, Bind, Db, Sql};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::events::{Event, EventActor, EventFilter, EventType};
use crate::domain::ids::WorkspaceId;

const COLUMNS: &str = "seq, id, workspace_id, type, number_id, occurred_at, actor_type, actor_id, request_id, data";

fn from_row(row: &AnyRow) -> sqlx::Result<Event> {
    let (kind, id): (String, String) = (row.try_get("actor_type")?, row.try_get("actor_id")?);
    let actor = EventActor::from_columns(&kind, &id).ok_or_else(|| sqlx::Error::Decode(format!("unexpected actor {kind}:{id}").into()))?;
    let data: String = row.try_get("data")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        event_type: column(row, "type", EventType::parse)?,
        number_id: parsed_opt(row, "number_id")?,
        occurred_at: from_micros(row.try_get("occurred_at")?),
        actor,
        request_id: row.try_get("request_id")?,
        data: serde_json::value::RawValue::from_string(data).map_err(|e| sqlx::Error::Decode(format!("event data: {e}").into()))?,
    })
}

/// Records `events` in order in the caller's transaction and queues a delivery of each to every
/// enabled webhook of its workspace that subscribes to its type. `now` is real time (retention,
/// job timing).
pub async fn record(conn: &mut AnyConnection, events: &[Event], now: DateTime<Utc>) -> sqlx::Result<()> {
    let rows = events
        .iter()
        .map(|event| {
            let (actor_type, actor_id) = event.actor.columns();
            vec![
                Bind::Text(event.id.to_string()),
                Bind::Text(event.workspace_id.to_string()),
                Bind::Text(event.event_type.as_str().into()),
                Bind::OptText(event.number_id.map(|n| n.to_string())),
                Bind::Int(to_micros(event.occurred_at)),
                Bind::Text(actor_type.into()),
                Bind::Text(actor_id),
                Bind::OptText(event.request_id.clone()),
                Bind::Text(event.data.get().to_owned()),
                Bind::Int(to_micros(now)),
            ]
        })
        .collect();
    // Rows of one statement are numbered (`seq`) in the order they are listed.
    run_values(
        conn,
        "INSERT INTO events (id, workspace_id, type, number_id, occurred_at, actor_type, actor_id, request_id, data, created_at)",
        rows,
        "",
    )
    .await?;
    super::webhooks::fan_out(conn, events, now).await
}

/// A page of the workspace's events, newest first, strictly older than `before_seq`.
pub async fn list(db: &Db, ws: WorkspaceId, filter: &EventFilter, before_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<Event>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM events WHERE"));
    sql.push(" workspace_id = ?", [Bind::Text(ws.to_string())]);
    if let Some(t) = filter.event_type {
        sql.push(" AND type = ?", [Bind::Text(t.as_str().into())]);
    }
    if let Some(n) = filter.number_id {
        sql.push(" AND number_id = ?", [Bind::Text(n.to_string())]);
    }
    if let Some(at) = filter.after {
        sql.push(" AND occurred_at > ?", [Bind::Int(to_micros(at))]);
    }
    if let Some(at) = filter.before {
        sql.push(" AND occurred_at < ?", [Bind::Int(to_micros(at))]);
    }
    if let Some(seq) = before_seq {
        sql.push(" AND seq < ?", [Bind::Int(seq)]);
    }
    sql.push(" ORDER BY seq DESC LIMIT ?", [Bind::Int(limit)]);
    let rows = sql.query().fetch_all(&db.pool).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(conn: &mut AnyConnection, id: uuid::Uuid) -> sqlx::Result<Option<Event>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM events WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Deletes events recorded before `cutoff`, with the finished deliveries of that age. Returns
/// how many events went.
pub async fn prune(db: &Db, cutoff: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM events WHERE created_at < $1").bind(to_micros(cutoff)).execute(&db.pool).await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1 AND status IN ('delivered', 'failed')")
        .bind(to_micros(cutoff))
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}
