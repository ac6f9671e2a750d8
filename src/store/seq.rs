//! Integer ids (`seq`: the Autocalls `id`, the native `autocallsId`, the keyset page token) count
//! per workspace, so a tenant's ids say nothing about how busy the rest of the deployment is.

use sqlx::AnyConnection;

use crate::domain::ids::WorkspaceId;

/// The per-workspace counter a table draws its integer ids from (a column of `workspaces`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    Number,
    Assistant,
    Campaign,
    Call,
    Order,
    CallerId,
}

impl Counter {
    fn column(self) -> &'static str {
        match self {
            Counter::Number => "number_seq",
            Counter::Assistant => "assistant_seq",
            Counter::Campaign => "campaign_seq",
            Counter::Call => "call_seq",
            Counter::Order => "order_seq",
            Counter::CallerId => "caller_id_seq",
        }
    }
}

/// Hands out the workspace's next id for `counter`, in the caller's transaction: the update locks
/// the workspace row until commit on PostgreSQL (SQLite writers already hold the write lock), so
/// concurrent inserts of one workspace take distinct ids, and a rolled-back insert returns its id.
pub(crate) async fn next(conn: &mut AnyConnection, ws: WorkspaceId, counter: Counter) -> sqlx::Result<i64> {
    let col = counter.column();
    sqlx::query_scalar(&format!("UPDATE workspaces SET {col} = {col} + 1 WHERE id = $1 RETURNING {col}"))
        .bind(ws.to_string())
        .fetch_one(&mut *conn)
        .await
}
