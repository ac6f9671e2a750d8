//! Caller-ID verifications.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::resources::list_page;
use super::seq::{self, Counter};
use super::{column, parsed, parsed_opt, Db, RowLock, IN_WORKSPACE};
use crate::domain::caller_id::{CallerIdRecord, VerificationState};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{CallerIdId, WorkspaceId};
use crate::domain::record::AccountKind;
use crate::domain::resources::Page;

const COLUMNS: &str = "seq, id, workspace_id, e164, nickname, carrier_account, carrier_kind, status, validation_code, \
    expires_at, number_id, carrier_ref, failure, created_at, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<CallerIdRecord> {
    Ok(CallerIdRecord {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        workspace_id: parsed(row, "workspace_id")?,
        e164: row.try_get("e164")?,
        nickname: row.try_get("nickname")?,
        account: row.try_get("carrier_account")?,
        kind: column(row, "carrier_kind", AccountKind::parse)?,
        status: column(row, "status", VerificationState::parse)?,
        validation_code: row.try_get("validation_code")?,
        expires_at: from_micros(row.try_get("expires_at")?),
        number_id: parsed_opt(row, "number_id")?,
        carrier_ref: row.try_get("carrier_ref")?,
        failure: row.try_get("failure")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

/// Inserts a new verification and returns it with its integer id. Fails with a unique violation
/// when one is already pending for the number in the workspace.
pub async fn insert(conn: &mut AnyConnection, c: &CallerIdRecord) -> sqlx::Result<CallerIdRecord> {
    let seq = seq::next(conn, c.workspace_id, Counter::CallerId).await?;
    sqlx::query(&format!("INSERT INTO caller_ids ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"))
        .bind(seq)
        .bind(c.id.to_string())
        .bind(c.workspace_id.to_string())
        .bind(&c.e164)
        .bind(c.nickname.as_deref())
        .bind(&c.account)
        .bind(c.kind.as_str())
        .bind(c.status.as_str())
        .bind(c.validation_code.as_deref())
        .bind(to_micros(c.expires_at))
        .bind(c.number_id.map(|n| n.to_string()))
        .bind(c.carrier_ref.as_deref())
        .bind(c.failure.as_deref())
        .bind(to_micros(c.created_at))
        .bind(to_micros(c.updated_at))
        .execute(&mut *conn)
        .await?;
    Ok(CallerIdRecord { seq, ..c.clone() })
}

/// Writes back the fields a verification's progress changes.
pub async fn update(conn: &mut AnyConnection, c: &CallerIdRecord) -> sqlx::Result<()> {
    sqlx::query("UPDATE caller_ids SET status = $1, number_id = $2, carrier_ref = $3, failure = $4, updated_at = $5 WHERE id = $6")
        .bind(c.status.as_str())
        .bind(c.number_id.map(|n| n.to_string()))
        .bind(c.carrier_ref.as_deref())
        .bind(c.failure.as_deref())
        .bind(to_micros(c.updated_at))
        .bind(c.id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A verification of the workspace, found by its unique id (see [`super::IN_WORKSPACE`]).
pub async fn get(conn: &mut AnyConnection, ws: WorkspaceId, id: CallerIdId, lock: RowLock) -> sqlx::Result<Option<CallerIdRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM caller_ids WHERE id = $1 AND {IN_WORKSPACE} = $2{lock}"))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The verification under way for `e164` in the workspace, if any.
pub async fn pending_for(conn: &mut AnyConnection, ws: WorkspaceId, e164: &str) -> sqlx::Result<Option<CallerIdRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM caller_ids WHERE workspace_id = $1 AND e164 = $2 AND status = 'pending'"))
        .bind(ws.to_string())
        .bind(e164)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn list(db: &Db, ws: WorkspaceId, page: Page) -> sqlx::Result<Vec<CallerIdRecord>> {
    list_page(db, "caller_ids", COLUMNS, ws, page).await?.iter().map(from_row).collect()
}
