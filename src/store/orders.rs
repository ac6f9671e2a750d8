//! Number orders and their items.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::numbers::price_cols;
use super::seq::{self, Counter};
use super::{column, in_list, parsed, parsed_opt, Bind, RowLock, Sql, IN_WORKSPACE};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{OrderId, OrderItemId, WorkspaceId};
use crate::domain::order::{ItemError, ItemRecord, ItemStage, ItemStatus, OrderRecord, OrderStatus};
use crate::domain::record::AccountKind;
use crate::domain::resources::Page;

const ORDER_COLUMNS: &str = "seq, id, workspace_id, carrier_account, carrier_kind, nickname, price_amount, price_exponent, \
    price_currency, status, idempotency_key, request_hash, created_at, updated_at";
const ITEM_COLUMNS: &str =
    "id, order_id, position, e164, status, stage, carrier_order_ref, carrier_ref, number_id, error_code, error_message, updated_at";

fn order_from_row(row: &AnyRow) -> sqlx::Result<OrderRecord> {
    Ok(OrderRecord {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        carrier_account: row.try_get("carrier_account")?,
        carrier_kind: column(row, "carrier_kind", AccountKind::parse)?,
        nickname: row.try_get("nickname")?,
        price: price_cols(row)?,
        status: column(row, "status", OrderStatus::parse)?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
        items: Vec::new(),
    })
}

fn item_from_row(row: &AnyRow) -> sqlx::Result<ItemRecord> {
    let error = match (row.try_get::<Option<String>, _>("error_code")?, row.try_get::<Option<String>, _>("error_message")?) {
        (Some(code), Some(message)) => Some(ItemError { code, message }),
        _ => None,
    };
    Ok(ItemRecord {
        id: parsed(row, "id")?,
        order_id: parsed(row, "order_id")?,
        position: row.try_get("position")?,
        e164: row.try_get("e164")?,
        status: column(row, "status", ItemStatus::parse)?,
        stage: column(row, "stage", ItemStage::parse)?,
        carrier_order_ref: row.try_get("carrier_order_ref")?,
        carrier_ref: row.try_get("carrier_ref")?,
        number_id: parsed_opt(row, "number_id")?,
        error,
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

/// Inserts an order and its items; the order's integer id comes from the workspace's counter.
pub async fn insert(conn: &mut AnyConnection, o: &OrderRecord) -> sqlx::Result<OrderRecord> {
    let seq = seq::next(conn, o.workspace_id, Counter::Order).await?;
    sqlx::query(&format!(
        "INSERT INTO number_orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(seq)
    .bind(o.id.to_string())
    .bind(o.workspace_id.to_string())
    .bind(&o.carrier_account)
    .bind(o.carrier_kind.as_str())
    .bind(o.nickname.as_deref())
    .bind(o.price.map(|p| p.amount))
    .bind(o.price.map(|p| i64::from(p.exponent)))
    .bind(o.price.map(|p| p.currency_code.as_str()))
    .bind(o.status.as_str())
    .bind(o.idempotency_key.as_deref())
    .bind(o.request_hash.as_deref())
    .bind(to_micros(o.created_at))
    .bind(to_micros(o.updated_at))
    .execute(&mut *conn)
    .await?;
    for item in &o.items {
        sqlx::query(&format!("INSERT INTO number_order_items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
            .bind(item.id.to_string())
            .bind(item.order_id.to_string())
            .bind(item.position)
            .bind(&item.e164)
            .bind(item.status.as_str())
            .bind(item.stage.as_str())
            .bind(item.carrier_order_ref.as_deref())
            .bind(item.carrier_ref.as_deref())
            .bind(item.number_id.map(|n| n.to_string()))
            .bind(item.error.as_ref().map(|e| e.code.clone()))
            .bind(item.error.as_ref().map(|e| e.message.clone()))
            .bind(to_micros(item.updated_at))
            .execute(&mut *conn)
            .await?;
    }
    Ok(OrderRecord { seq, ..o.clone() })
}

/// Writes back an item's saga state.
pub async fn update_item(conn: &mut AnyConnection, i: &ItemRecord) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE number_order_items SET status = $1, stage = $2, carrier_order_ref = $3, carrier_ref = $4, number_id = $5, \
         error_code = $6, error_message = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(i.status.as_str())
    .bind(i.stage.as_str())
    .bind(i.carrier_order_ref.as_deref())
    .bind(i.carrier_ref.as_deref())
    .bind(i.number_id.map(|n| n.to_string()))
    .bind(i.error.as_ref().map(|e| e.code.clone()))
    .bind(i.error.as_ref().map(|e| e.message.clone()))
    .bind(to_micros(i.updated_at))
    .bind(i.id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_status(conn: &mut AnyConnection, id: OrderId, status: OrderStatus, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE number_orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(to_micros(now))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Lets an expired idempotency key name a new order.
pub async fn clear_key(conn: &mut AnyConnection, id: OrderId) -> sqlx::Result<()> {
    sqlx::query("UPDATE number_orders SET idempotency_key = NULL WHERE id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    Ok(())
}

async fn with_items(conn: &mut AnyConnection, mut orders: Vec<OrderRecord>) -> sqlx::Result<Vec<OrderRecord>> {
    if orders.is_empty() {
        return Ok(orders);
    }
    let mut sql = Sql::new(format!("SELECT {ITEM_COLUMNS} FROM number_order_items WHERE order_id"));
    in_list(&mut sql, orders.iter().map(|o| o.id));
    sql.push(" ORDER BY order_id, position", []);
    for row in sql.query().fetch_all(&mut *conn).await? {
        let item = item_from_row(&row)?;
        if let Some(o) = orders.iter_mut().find(|o| o.id == item.order_id) {
            o.items.push(item);
        }
    }
    Ok(orders)
}

/// An order of the workspace with its items. Inside a write transaction, `lock` holds the order
/// row: every change to an order's items happens under it.
pub async fn get(conn: &mut AnyConnection, ws: WorkspaceId, id: OrderId, lock: RowLock) -> sqlx::Result<Option<OrderRecord>> {
    let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM number_orders WHERE id = $1 AND {IN_WORKSPACE} = $2{lock}"))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(order) = row.map(|r| order_from_row(&r)).transpose()? else { return Ok(None) };
    Ok(with_items(conn, vec![order]).await?.pop())
}

/// The order an idempotency key names in the workspace, if any.
pub async fn by_key(conn: &mut AnyConnection, ws: WorkspaceId, key: &str) -> sqlx::Result<Option<OrderRecord>> {
    let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM number_orders WHERE workspace_id = $1 AND idempotency_key = $2"))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(order) = row.map(|r| order_from_row(&r)).transpose()? else { return Ok(None) };
    Ok(with_items(conn, vec![order]).await?.pop())
}

/// The workspace's orders in creation order after `after_seq` (keyset pagination).
pub async fn list(conn: &mut AnyConnection, ws: WorkspaceId, after_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<OrderRecord>> {
    let mut sql = Sql::new(format!("SELECT {ORDER_COLUMNS} FROM number_orders WHERE workspace_id = "));
    sql.push("?", [Bind::Text(ws.to_string())]);
    Page::After { seq: after_seq, limit }.apply(&mut sql);
    let orders = sql.query().fetch_all(&mut *conn).await?.iter().map(order_from_row).collect::<sqlx::Result<Vec<_>>>()?;
    with_items(conn, orders).await
}

/// The workspace an item's order belongs to, for the job that works the item.
pub async fn item_workspace(conn: &mut AnyConnection, item: OrderItemId) -> sqlx::Result<Option<(WorkspaceId, OrderId)>> {
    let row =
        sqlx::query("SELECT o.workspace_id, o.id FROM number_order_items i JOIN number_orders o ON o.id = i.order_id WHERE i.id = $1")
            .bind(item.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| Ok((parsed(&r, "workspace_id")?, parsed(&r, "id")?))).transpose()
}
