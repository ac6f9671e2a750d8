//! Webhook endpoints and their deliveries. A delivery is queued in the transaction that records
//! its event; one for a number another delivery of that number to the same endpoint is still
//! working on waits (`waiting`) and is queued when the older one finishes, so each endpoint
//! receives a number's events in the order they happened.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{column, parsed, parsed_opt, Db, RowLock};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::events::{Delivery, DeliveryStatus, Event, Webhook};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::jobs::{self, WebhookDelivery};

const COLUMNS: &str = "seq, id, workspace_id, url, description, events, secret, previous_secret, previous_secret_until, enabled, \
                       failing_since, disabled_at, created_at, updated_at";

fn micros_opt(row: &AnyRow, col: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_micros))
}

fn from_row(row: &AnyRow) -> sqlx::Result<Webhook> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        events: serde_json::from_str(&events).map_err(|e| sqlx::Error::Decode(format!("webhook events: {e}").into()))?,
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        previous_secret_until: micros_opt(row, "previous_secret_until")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        failing_since: micros_opt(row, "failing_since")?,
        disabled_at: micros_opt(row, "disabled_at")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub async fn insert(conn: &mut AnyConnection, w: &Webhook) -> sqlx::Result<Webhook> {
    let row = sqlx::query(&format!(
        "INSERT INTO webhooks (id, workspace_id, url, description, events, secret, previous_secret, previous_secret_until, enabled, \
         failing_since, disabled_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING {COLUMNS}"
    ))
    .bind(w.id.to_string())
    .bind(w.workspace_id.to_string())
    .bind(w.url.clone())
    .bind(w.description.clone())
    .bind(serde_json::to_string(&w.events).expect("strings serialise"))
    .bind(w.secret.clone())
    .bind(w.previous_secret.clone())
    .bind(w.previous_secret_until.map(to_micros))
    .bind(i64::from(w.enabled))
    .bind(w.failing_since.map(to_micros))
    .bind(w.disabled_at.map(to_micros))
    .bind(to_micros(w.created_at))
    .bind(to_micros(w.updated_at))
    .fetch_one(&mut *conn)
    .await?;
    from_row(&row)
}

/// Writes every changeable field back.
pub async fn update(conn: &mut AnyConnection, w: &Webhook) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhooks SET url = $1, description = $2, events = $3, secret = $4, previous_secret = $5, previous_secret_until = $6, \
         enabled = $7, failing_since = $8, disabled_at = $9, updated_at = $10 WHERE id = $11",
    )
    .bind(w.url.clone())
    .bind(w.description.clone())
    .bind(serde_json::to_string(&w.events).expect("strings serialise"))
    .bind(w.secret.clone())
    .bind(w.previous_secret.clone())
    .bind(w.previous_secret_until.map(to_micros))
    .bind(i64::from(w.enabled))
    .bind(w.failing_since.map(to_micros))
    .bind(w.disabled_at.map(to_micros))
    .bind(to_micros(w.updated_at))
    .bind(w.id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, ws: WorkspaceId, id: uuid::Uuid, lock: RowLock) -> sqlx::Result<Option<Webhook>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND {} = $2{lock}", super::IN_WORKSPACE))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The workspace's webhooks in creation order, after `after_seq`.
pub async fn list(db: &Db, ws: WorkspaceId, after_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<Webhook>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"))
        .bind(ws.to_string())
        .bind(after_seq.unwrap_or(0))
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes a webhook and its deliveries; their queued jobs find nothing and end.
pub async fn delete(conn: &mut AnyConnection, id: uuid::Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "seq, id, webhook_id, workspace_id, event_id, number_id, status, attempts, response_status, last_error, \
                                last_attempt_at, created_at, updated_at";

fn delivery_from_row(row: &AnyRow) -> sqlx::Result<Delivery> {
    Ok(Delivery {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        webhook_id: parsed(row, "webhook_id")?,
        workspace_id: parsed(row, "workspace_id")?,
        event_id: parsed(row, "event_id")?,
        number_id: parsed_opt(row, "number_id")?,
        status: column(row, "status", DeliveryStatus::parse)?,
        attempts: row.try_get("attempts")?,
        response_status: row.try_get("response_status")?,
        last_error: row.try_get("last_error")?,
        last_attempt_at: micros_opt(row, "last_attempt_at")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

/// Queues each of `events`, in order, for every enabled webhook of its workspace that subscribes
/// to its type. Each workspace's webhooks are read once, however many of its events there are.
pub async fn fan_out(conn: &mut AnyConnection, events: &[Event], now: DateTime<Utc>) -> sqlx::Result<()> {
    let mut hooks: std::collections::HashMap<WorkspaceId, Vec<Webhook>> = std::collections::HashMap::new();
    for event in events {
        if let std::collections::hash_map::Entry::Vacant(e) = hooks.entry(event.workspace_id) {
            let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE workspace_id = $1 AND enabled = 1 ORDER BY seq"))
                .bind(event.workspace_id.to_string())
                .fetch_all(&mut *conn)
                .await?;
            e.insert(rows.iter().map(from_row).collect::<sqlx::Result<_>>()?);
        }
        for hook in &hooks[&event.workspace_id] {
            if !hook.subscribes_to(event.event_type) {
                continue;
            }
            let behind = match event.number_id {
                Some(n) => has_open(conn, hook.id, n).await?,
                None => false,
            };
            let id = crate::domain::ids::time_ordered();
            let status = if behind { DeliveryStatus::Waiting } else { DeliveryStatus::Pending };
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event_id, number_id, status, attempts, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
            )
            .bind(id.to_string())
            .bind(hook.id.to_string())
            .bind(event.workspace_id.to_string())
            .bind(event.id.to_string())
            .bind(event.number_id.map(|n| n.to_string()))
            .bind(status.as_str())
            .bind(to_micros(now))
            .execute(&mut *conn)
            .await?;
            if !behind {
                jobs::enqueue(conn, &WebhookDelivery { delivery_id: id }, now).await?;
            }
        }
    }
    Ok(())
}

/// Whether an older delivery of `number` to `webhook` is still waiting or pending.
async fn has_open(conn: &mut AnyConnection, webhook: uuid::Uuid, number: NumberId) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM webhook_deliveries WHERE webhook_id = $1 AND number_id = $2 AND status IN ('waiting', 'pending') LIMIT 1",
    )
    .bind(webhook.to_string())
    .bind(number.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Queues every waiting delivery that no older open delivery of its number to its endpoint holds
/// back (within one endpoint and number when `only` says so). Returns how many it queued.
pub async fn promote(conn: &mut AnyConnection, only: Option<(uuid::Uuid, NumberId)>, now: DateTime<Utc>) -> sqlx::Result<usize> {
    let mut sql = "SELECT d.id FROM webhook_deliveries d WHERE d.status = 'waiting' \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = d.webhook_id AND p.number_id = d.number_id \
                   AND p.status IN ('waiting', 'pending') AND p.seq < d.seq)"
        .to_owned();
    if only.is_some() {
        sql.push_str(" AND d.webhook_id = $1 AND d.number_id = $2");
    }
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    if let Some((w, n)) = only {
        query = query.bind(w.to_string()).bind(n.to_string());
    }
    let ready = query.fetch_all(&mut *conn).await?;
    let mut queued = 0;
    for id in ready {
        let moved = sqlx::query("UPDATE webhook_deliveries SET status = 'pending', updated_at = $1 WHERE id = $2 AND status = 'waiting'")
            .bind(to_micros(now))
            .bind(id.clone())
            .execute(&mut *conn)
            .await?;
        if moved.rows_affected() == 1 {
            let delivery_id = super::parse_text("webhook_deliveries.id", &id)?;
            jobs::enqueue(conn, &WebhookDelivery { delivery_id }, now).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

pub async fn any_waiting(db: &Db) -> sqlx::Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM webhook_deliveries WHERE status = 'waiting' LIMIT 1").fetch_optional(&db.pool).await?;
    Ok(found.is_some())
}

pub async fn get_delivery(conn: &mut AnyConnection, id: uuid::Uuid) -> sqlx::Result<Option<Delivery>> {
    sqlx::query(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| delivery_from_row(&r))
        .transpose()
}

/// A webhook's deliveries, newest first, older than `before_seq`.
pub async fn list_deliveries(db: &Db, webhook: uuid::Uuid, before_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<Delivery>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    ))
    .bind(webhook.to_string())
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(delivery_from_row).collect()
}

/// Records one attempt: the receiver's status (if it answered) and the error (if it failed).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    id: uuid::Uuid,
    delivered: bool,
    response_status: Option<u16>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = CASE WHEN $1 = 1 THEN 'delivered' ELSE status END, \
         response_status = $2, last_error = $3, last_attempt_at = $4, updated_at = $4 WHERE id = $5",
    )
    .bind(i64::from(delivered))
    .bind(response_status.map(i64::from))
    .bind(error)
    .bind(to_micros(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a delivery as given up (`error` says why, when it is news).
pub async fn fail_delivery(conn: &mut AnyConnection, id: uuid::Uuid, error: Option<&str>, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_deliveries SET status = 'failed', last_error = COALESCE($1, last_error), updated_at = $2 WHERE id = $3")
        .bind(error)
        .bind(to_micros(now))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Puts a finished delivery back in the queue with a fresh job. False if it is still open.
pub async fn requeue_delivery(conn: &mut AnyConnection, id: uuid::Uuid, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', updated_at = $1 WHERE id = $2 AND status IN ('delivered', 'failed')",
    )
    .bind(to_micros(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    jobs::enqueue(conn, &WebhookDelivery { delivery_id: id }, now).await?;
    Ok(true)
}
