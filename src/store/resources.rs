//! The resources a number serves: assistants, campaigns (with an ordered number rotation) and
//! call records. A number leaving the workspace is detached from the first two; calls keep it.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::seq::{self, Counter};
use super::{column, in_list, parse_text, parsed, parsed_opt, Backend, Bind, Db, Sql, IN_WORKSPACE};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{AssistantId, CampaignId, NumberId, WorkspaceId};
use crate::domain::resources::{Assistant, Call, CallFilter, CallStatus, Campaign, CampaignStatus, Direction, Key, Page};

/// Takes numbers out of every assistant and campaign rotation of their workspace; call history
/// is deliberately left alone. Runs in the transaction that releases or deletes the numbers.
pub async fn detach_numbers(conn: &mut AnyConnection, numbers: &[NumberId], now: DateTime<Utc>) -> sqlx::Result<()> {
    if numbers.is_empty() {
        return Ok(());
    }
    let at = || [Bind::Int(to_micros(now))];
    let mut assistants = Sql::new("");
    assistants.push("UPDATE assistants SET number_id = NULL, updated_at = ? WHERE number_id", at());
    in_list(&mut assistants, numbers);
    // Campaigns are the one kind of row numbers share, and the sweep's concurrent batches (or
    // nodes) may touch the same one: PostgreSQL locks them in id order first, so two of them
    // wait for each other instead of deadlocking.
    let lock = match Backend::of_conn(conn) {
        Backend::Postgres => " ORDER BY id FOR UPDATE",
        Backend::Sqlite => "",
    };
    let mut campaigns = Sql::new("");
    campaigns.push(
        "UPDATE campaigns SET updated_at = ? WHERE id IN (SELECT id FROM campaigns WHERE id IN \
         (SELECT campaign_id FROM campaign_numbers WHERE number_id",
        at(),
    );
    in_list(&mut campaigns, numbers);
    campaigns.push(&format!("){lock})"), []);
    let mut rotations = Sql::new("DELETE FROM campaign_numbers WHERE number_id");
    in_list(&mut rotations, numbers);
    for sql in [assistants, campaigns, rotations] {
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Assistants

const ASSISTANT_COLUMNS: &str = "seq, id, workspace_id, name, direction, number_id, created_at, updated_at";

fn assistant_from_row(row: &AnyRow) -> sqlx::Result<Assistant> {
    Ok(Assistant {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        name: row.try_get("name")?,
        direction: column(row, "direction", Direction::parse)?,
        number_id: parsed_opt(row, "number_id")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub async fn insert_assistant(conn: &mut AnyConnection, a: &Assistant) -> sqlx::Result<Assistant> {
    let seq = seq::next(conn, a.workspace_id, Counter::Assistant).await?;
    sqlx::query(
        "INSERT INTO assistants (id, workspace_id, name, direction, number_id, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.id.to_string())
    .bind(a.workspace_id.to_string())
    .bind(&a.name)
    .bind(a.direction.as_str())
    .bind(a.number_id.map(|n| n.to_string()))
    .bind(to_micros(a.created_at))
    .bind(to_micros(a.updated_at))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(Assistant { seq, ..a.clone() })
}

pub async fn update_assistant(conn: &mut AnyConnection, a: &Assistant) -> sqlx::Result<()> {
    sqlx::query("UPDATE assistants SET name = $1, direction = $2, number_id = $3, updated_at = $4 WHERE id = $5")
        .bind(&a.name)
        .bind(a.direction.as_str())
        .bind(a.number_id.map(|n| n.to_string()))
        .bind(to_micros(a.updated_at))
        .bind(a.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `SELECT columns FROM table` for one resource of the workspace, by its unique key.
async fn fetch_by_key<U: std::fmt::Display>(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    ws: WorkspaceId,
    key: &Key<U>,
) -> sqlx::Result<Option<AnyRow>> {
    let mut sql = Sql::new(format!("SELECT {columns} FROM {table}"));
    let ws = Bind::Text(ws.to_string());
    // A uuid is unique alone; integer ids count per workspace, so their key is (workspace, seq).
    match key {
        Key::Id(id) => sql.push(&format!(" WHERE id = ? AND {IN_WORKSPACE} = ?"), [Bind::Text(id.to_string()), ws]),
        Key::Seq(seq) => sql.push(" WHERE workspace_id = ? AND seq = ?", [ws, Bind::Int(*seq)]),
    };
    sql.query().fetch_optional(&mut *conn).await
}

/// Rows of a workspace's table, one page of them.
pub(crate) async fn list_page(db: &Db, table: &str, columns: &str, ws: WorkspaceId, page: Page) -> sqlx::Result<Vec<AnyRow>> {
    let mut sql = Sql::new(format!("SELECT {columns} FROM {table}"));
    sql.push(" WHERE workspace_id = ?", [Bind::Text(ws.to_string())]);
    page.apply(&mut sql);
    sql.query().fetch_all(&db.pool).await
}

pub async fn get_assistant(conn: &mut AnyConnection, ws: WorkspaceId, key: &Key<AssistantId>) -> sqlx::Result<Option<Assistant>> {
    fetch_by_key(conn, "assistants", ASSISTANT_COLUMNS, ws, key).await?.map(|r| assistant_from_row(&r)).transpose()
}

pub async fn list_assistants(db: &Db, ws: WorkspaceId, page: Page) -> sqlx::Result<Vec<Assistant>> {
    list_page(db, "assistants", ASSISTANT_COLUMNS, ws, page).await?.iter().map(assistant_from_row).collect()
}

pub async fn count(db: &Db, table: &str, ws: WorkspaceId) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE workspace_id = $1")).bind(ws.to_string()).fetch_one(&db.pool).await
}

pub async fn delete_assistant(conn: &mut AnyConnection, id: AssistantId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM assistants WHERE id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// The inbound assistant a number already serves, if any.
pub async fn inbound_assistant_of(conn: &mut AnyConnection, number: NumberId) -> sqlx::Result<Option<AssistantId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM assistants WHERE number_id = $1 AND direction = 'inbound'")
        .bind(number.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| parse_text("assistants.id", &s)).transpose()
}

/// Numbers of the workspace that serve an inbound assistant.
pub async fn inbound_numbers(db: &Db, ws: WorkspaceId) -> sqlx::Result<Vec<NumberId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT number_id FROM assistants WHERE workspace_id = $1 AND direction = 'inbound' AND number_id IS NOT NULL")
            .bind(ws.to_string())
            .fetch_all(&db.pool)
            .await?;
    ids.iter().map(|s| parse_text("assistants.number_id", s)).collect()
}

// ---------------------------------------------------------------------------------------------
// Campaigns

const CAMPAIGN_COLUMNS: &str = "seq, id, workspace_id, name, status, created_at, updated_at";

/// Campaigns from their rows, with every rotation loaded in one query.
async fn campaigns_from_rows(conn: &mut AnyConnection, rows: &[AnyRow]) -> sqlx::Result<Vec<Campaign>> {
    let mut campaigns = rows
        .iter()
        .map(|row| {
            Ok(Campaign {
                seq: row.try_get("seq")?,
                id: parsed(row, "id")?,
                workspace_id: parsed(row, "workspace_id")?,
                name: row.try_get("name")?,
                status: column(row, "status", CampaignStatus::parse)?,
                number_ids: Vec::new(),
                created_at: from_micros(row.try_get("created_at")?),
                updated_at: from_micros(row.try_get("updated_at")?),
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    if campaigns.is_empty() {
        return Ok(campaigns);
    }
    let mut sql = Sql::new("SELECT campaign_id, number_id FROM campaign_numbers WHERE campaign_id");
    in_list(&mut sql, campaigns.iter().map(|c| c.id));
    sql.push(" ORDER BY campaign_id, position", []);
    for row in sql.query().fetch_all(&mut *conn).await? {
        let campaign: CampaignId = parsed(&row, "campaign_id")?;
        let number: NumberId = parsed(&row, "number_id")?;
        if let Some(c) = campaigns.iter_mut().find(|c| c.id == campaign) {
            c.number_ids.push(number);
        }
    }
    Ok(campaigns)
}

/// Names of the workspace's assistants or campaigns among `ids`, in one query; ids that name
/// nothing (deleted since) are absent.
pub async fn names_of<U>(db: &Db, table: NamedTable, ws: WorkspaceId, ids: &[U]) -> sqlx::Result<Vec<(U, String)>>
where
    U: std::fmt::Display + std::str::FromStr + Copy,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let table = match table {
        NamedTable::Assistants => "assistants",
        NamedTable::Campaigns => "campaigns",
    };
    let mut sql = Sql::new(format!("SELECT id, name FROM {table} WHERE workspace_id = "));
    sql.push("? AND id", [Bind::Text(ws.to_string())]);
    in_list(&mut sql, ids.iter().copied());
    let rows = sql.query().fetch_all(&db.pool).await?;
    rows.iter().map(|r| Ok((parsed(r, "id")?, r.try_get("name")?))).collect()
}

/// The tables whose rows have a name.
#[derive(Clone, Copy, Debug)]
pub enum NamedTable {
    Assistants,
    Campaigns,
}

pub async fn insert_campaign(conn: &mut AnyConnection, c: &Campaign) -> sqlx::Result<Campaign> {
    let seq = seq::next(conn, c.workspace_id, Counter::Campaign).await?;
    sqlx::query(
        "INSERT INTO campaigns (id, workspace_id, name, status, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.id.to_string())
    .bind(c.workspace_id.to_string())
    .bind(&c.name)
    .bind(c.status.as_str())
    .bind(to_micros(c.created_at))
    .bind(to_micros(c.updated_at))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    set_rotation(conn, c.id, &c.number_ids).await?;
    Ok(Campaign { seq, ..c.clone() })
}

pub async fn set_rotation(conn: &mut AnyConnection, campaign: CampaignId, numbers: &[NumberId]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM campaign_numbers WHERE campaign_id = $1").bind(campaign.to_string()).execute(&mut *conn).await?;
    for (position, number) in numbers.iter().enumerate() {
        sqlx::query("INSERT INTO campaign_numbers (campaign_id, position, number_id) VALUES ($1, $2, $3)")
            .bind(campaign.to_string())
            .bind(position as i64)
            .bind(number.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn update_campaign(conn: &mut AnyConnection, c: &Campaign) -> sqlx::Result<()> {
    sqlx::query("UPDATE campaigns SET name = $1, status = $2, updated_at = $3 WHERE id = $4")
        .bind(&c.name)
        .bind(c.status.as_str())
        .bind(to_micros(c.updated_at))
        .bind(c.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get_campaign(conn: &mut AnyConnection, ws: WorkspaceId, key: &Key<CampaignId>) -> sqlx::Result<Option<Campaign>> {
    match fetch_by_key(conn, "campaigns", CAMPAIGN_COLUMNS, ws, key).await? {
        Some(row) => Ok(campaigns_from_rows(conn, std::slice::from_ref(&row)).await?.pop()),
        None => Ok(None),
    }
}

pub async fn list_campaigns(db: &Db, ws: WorkspaceId, page: Page) -> sqlx::Result<Vec<Campaign>> {
    let rows = list_page(db, "campaigns", CAMPAIGN_COLUMNS, ws, page).await?;
    campaigns_from_rows(&mut *db.pool.acquire().await?, &rows).await
}

// ---------------------------------------------------------------------------------------------
// Calls

const CALL_COLUMNS: &str = "seq, id, workspace_id, direction, from_e164, to_e164, number_id, number_e164, \
    assistant_id, campaign_id, status, started_at, duration_seconds, created_at";

fn call_from_row(row: &AnyRow) -> sqlx::Result<Call> {
    Ok(Call {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        direction: column(row, "direction", Direction::parse)?,
        from_e164: row.try_get("from_e164")?,
        to_e164: row.try_get("to_e164")?,
        number_id: parsed_opt(row, "number_id")?,
        number_e164: row.try_get("number_e164")?,
        assistant_id: parsed_opt(row, "assistant_id")?,
        campaign_id: parsed_opt(row, "campaign_id")?,
        status: column(row, "status", CallStatus::parse)?,
        started_at: from_micros(row.try_get("started_at")?),
        duration_seconds: row.try_get("duration_seconds")?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

pub async fn insert_call(conn: &mut AnyConnection, c: &Call) -> sqlx::Result<Call> {
    let seq = seq::next(conn, c.workspace_id, Counter::Call).await?;
    sqlx::query(
        "INSERT INTO calls (id, workspace_id, direction, from_e164, to_e164, number_id, number_e164, assistant_id, \
         campaign_id, status, started_at, duration_seconds, created_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(c.id.to_string())
    .bind(c.workspace_id.to_string())
    .bind(c.direction.as_str())
    .bind(&c.from_e164)
    .bind(&c.to_e164)
    .bind(c.number_id.map(|n| n.to_string()))
    .bind(c.number_e164.as_deref())
    .bind(c.assistant_id.map(|n| n.to_string()))
    .bind(c.campaign_id.map(|n| n.to_string()))
    .bind(c.status.as_str())
    .bind(to_micros(c.started_at))
    .bind(c.duration_seconds)
    .bind(to_micros(c.created_at))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(Call { seq, ..c.clone() })
}

/// `select` followed by the conditions of `f`.
fn calls_where(select: String, ws: WorkspaceId, f: &CallFilter) -> Sql {
    let mut sql = Sql::new(select);
    let text = |v: String| [Bind::Text(v)];
    sql.push(" WHERE workspace_id = ?", text(ws.to_string()));
    if let Some(s) = &f.status {
        sql.push(" AND status = ?", text(s.clone()));
    }
    if let Some(d) = &f.direction {
        sql.push(" AND direction = ?", text(d.clone()));
    }
    if let Some(n) = f.number_id {
        sql.push(" AND number_id = ?", text(n.to_string()));
    }
    if let Some(p) = &f.phone_number {
        let p = Bind::Text(p.clone());
        sql.push(" AND (number_e164 = ? OR from_e164 = ? OR to_e164 = ?)", [p.clone(), p.clone(), p]);
    }
    if let Some(a) = f.assistant_id {
        sql.push(" AND assistant_id = ?", text(a.to_string()));
    }
    if let Some(c) = f.campaign_id {
        sql.push(" AND campaign_id = ?", text(c.to_string()));
    }
    if let Some(t) = f.started_from {
        sql.push(" AND started_at >= ?", [Bind::Int(to_micros(t))]);
    }
    if let Some(t) = f.started_before {
        sql.push(" AND started_at < ?", [Bind::Int(to_micros(t))]);
    }
    sql
}

/// Calls matching `f`, one page of them.
pub async fn list_calls(db: &Db, ws: WorkspaceId, f: &CallFilter, page: Page) -> sqlx::Result<Vec<Call>> {
    let mut sql = calls_where(format!("SELECT {CALL_COLUMNS} FROM calls"), ws, f);
    page.apply(&mut sql);
    sql.query().fetch_all(&db.pool).await?.iter().map(call_from_row).collect()
}

/// How many calls match `f` in all (for page counts).
pub async fn count_calls(db: &Db, ws: WorkspaceId, f: &CallFilter) -> sqlx::Result<i64> {
    let sql = calls_where("SELECT COUNT(*) AS n FROM calls".into(), ws, f);
    sql.query().fetch_one(&db.pool).await?.try_get("n")
}
