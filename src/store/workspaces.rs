//! Workspaces (tenants), their test clocks, and access keys.

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{parsed, Db};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::events::{Event, EventActor, EventType};
use crate::domain::ids::{AccessKeyId, WorkspaceId};

const KEY_PREFIX: &str = "nbd_";

#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub test_mode: bool,
    /// A test-mode workspace's own clock; it only moves forward.
    pub clock_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct AccessKeyInfo {
    pub id: AccessKeyId,
    pub workspace_id: WorkspaceId,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly minted key: the secret exists only here and in the caller's hands.
pub struct NewKey {
    pub id: AccessKeyId,
    pub secret: String,
}

pub fn hash_key(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// Keys are 256 random bits, so a plain SHA-256 is a safe lookup hash (no password stretching
/// needed) and lets authentication be one indexed query.
fn mint_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether a presented key has the shape of one of ours, so garbage is told apart from an
/// unknown key without a database round trip.
pub fn looks_like_key(secret: &str) -> bool {
    secret.len() == KEY_PREFIX.len() + 43
        && secret.starts_with(KEY_PREFIX)
        && secret[KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn workspace_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Workspace> {
    Ok(Workspace {
        id: parsed(row, "id")?,
        name: row.try_get("name")?,
        test_mode: row.try_get::<i64, _>("test_mode")? != 0,
        clock_at: row.try_get::<Option<i64>, _>("clock_at")?.map(from_micros),
        created_at: from_micros(row.try_get("created_at")?),
    })
}

const WORKSPACE_COLUMNS: &str = "id, name, test_mode, clock_at, created_at";

pub async fn create_workspace(db: &Db, name: &str, test_mode: bool, now: DateTime<Utc>) -> anyhow::Result<(Workspace, NewKey)> {
    let mut tx = db.begin_write().await?;
    let id = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, name, test_mode, clock_at, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id.to_string())
        .bind(name)
        .bind(i64::from(test_mode))
        .bind(test_mode.then(|| to_micros(now)))
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
    let key = insert_key(&mut tx, id, now).await?;
    tx.commit().await?;
    let ws = Workspace { id, name: name.to_owned(), test_mode, clock_at: test_mode.then_some(now), created_at: now };
    Ok((ws, key))
}

async fn insert_key(conn: &mut AnyConnection, workspace: WorkspaceId, now: DateTime<Utc>) -> sqlx::Result<NewKey> {
    let id = AccessKeyId::new();
    let secret = mint_key();
    sqlx::query("INSERT INTO access_keys (id, workspace_id, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id.to_string())
        .bind(workspace.to_string())
        .bind(hash_key(&secret))
        .bind(&secret[..KEY_PREFIX.len() + 6])
        .bind(to_micros(now))
        .execute(&mut *conn)
        .await?;
    key_event(conn, EventType::AccessKeyCreated, workspace, id, &secret[..KEY_PREFIX.len() + 6], now).await?;
    Ok(NewKey { id, secret })
}

/// Keys are made and revoked by the operator's command line: the audit log says so.
async fn key_event(
    conn: &mut AnyConnection,
    event_type: EventType,
    workspace: WorkspaceId,
    key: AccessKeyId,
    prefix: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut event = Event::new(event_type, workspace, now, EventActor::cli());
    event.data = serde_json::value::to_raw_value(&serde_json::json!({ "id": key, "prefix": prefix })).expect("JSON values serialise");
    super::events::record(conn, &[event], now).await
}

pub async fn get_workspace(conn: &mut AnyConnection, id: WorkspaceId) -> sqlx::Result<Option<Workspace>> {
    sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| workspace_from_row(&r))
        .transpose()
}

pub async fn create_key(db: &Db, workspace: WorkspaceId, now: DateTime<Utc>) -> anyhow::Result<Option<NewKey>> {
    let mut tx = db.begin_write().await?;
    if get_workspace(&mut tx, workspace).await?.is_none() {
        return Ok(None);
    }
    let key = insert_key(&mut tx, workspace, now).await?;
    tx.commit().await?;
    Ok(Some(key))
}

/// Revokes a key; `false` if no such key exists. Revoking twice keeps the first time (and the
/// one event).
pub async fn revoke_key(db: &Db, key: AccessKeyId, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let Some(row) = sqlx::query("SELECT workspace_id, key_prefix FROM access_keys WHERE id = $1")
        .bind(key.to_string())
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(false);
    };
    let done = sqlx::query("UPDATE access_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(to_micros(now))
        .bind(key.to_string())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        let prefix: String = row.try_get("key_prefix")?;
        key_event(&mut tx, EventType::AccessKeyRevoked, parsed(&row, "workspace_id")?, key, &prefix, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn list_keys(db: &Db, workspace: WorkspaceId) -> sqlx::Result<Vec<AccessKeyInfo>> {
    let rows = sqlx::query(
        "SELECT id, workspace_id, key_prefix, created_at, revoked_at FROM access_keys WHERE workspace_id = $1 ORDER BY created_at, id",
    )
    .bind(workspace.to_string())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AccessKeyInfo {
                id: parsed(row, "id")?,
                workspace_id: parsed(row, "workspace_id")?,
                prefix: row.try_get("key_prefix")?,
                created_at: from_micros(row.try_get("created_at")?),
                revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_micros),
            })
        })
        .collect()
}

pub enum KeyLookup {
    Valid(Workspace, AccessKeyId),
    Revoked,
    Unknown,
}

/// The key whose secret hashes to `key_hash` ([`hash_key`]) and its workspace.
pub async fn authenticate(db: &Db, key_hash: &str) -> sqlx::Result<KeyLookup> {
    let row = sqlx::query(
        "SELECT k.id AS key_id, k.revoked_at, w.id, w.name, w.test_mode, w.clock_at, w.created_at \
         FROM access_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.key_hash = $1",
    )
    .bind(key_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(KeyLookup::Unknown) };
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Ok(KeyLookup::Revoked);
    }
    Ok(KeyLookup::Valid(workspace_from_row(&row)?, super::parsed(&row, "key_id")?))
}

/// Moves a test clock forward to `to`. Returns the clock before the move, or `None` when `to`
/// lies in the clock's past (clocks never go back).
pub async fn advance_clock(conn: &mut AnyConnection, ws: WorkspaceId, to: DateTime<Utc>) -> sqlx::Result<Option<DateTime<Utc>>> {
    let before: Option<i64> = sqlx::query_scalar("SELECT clock_at FROM workspaces WHERE id = $1 AND test_mode = 1")
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    let Some(before) = before else { return Ok(None) };
    let moved = sqlx::query("UPDATE workspaces SET clock_at = $1 WHERE id = $2 AND clock_at <= $1")
        .bind(to_micros(to))
        .bind(ws.to_string())
        .execute(&mut *conn)
        .await?;
    Ok((moved.rows_affected() == 1).then(|| from_micros(before)))
}

/// Test-mode workspaces and their clocks (the worker settles each by its own time).
pub async fn test_clocks(db: &Db) -> sqlx::Result<Vec<(WorkspaceId, DateTime<Utc>)>> {
    let rows = sqlx::query("SELECT id, clock_at FROM workspaces WHERE test_mode = 1 AND clock_at IS NOT NULL").fetch_all(&db.pool).await?;
    rows.iter().map(|r| Ok((parsed(r, "id")?, from_micros(r.try_get("clock_at")?)))).collect()
}
