//! The number inventory, its `main` subscription (inlined: a number has at most one) and the
//! billing periods it was charged for.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::seq::{self, Counter};
use super::{column, in_list, parsed, run_values, Backend, Bind, Cells, Db, FromCells, RowLock, Sql, Tx, IN_WORKSPACE};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::domain::money::{Currency, Money};
use crate::domain::number::{NumberKind, NumberStatus, NumberType, SubscriptionStatus};
use crate::domain::period::{period, Period};
use crate::domain::record::{AccountKind, BilledPeriod, CarrierHolding, NumberFilter, NumberRecord, RenewalFields, SubscriptionRecord};
use crate::domain::resources::Page;

pub const COLUMNS: &str = "seq, id, workspace_id, e164, kind, number_type, country, capabilities, \
    price_amount, price_exponent, price_currency, configurations, nickname, status, sub_id, sub_status, \
    sub_anchor, period_index, subscribed_at, sub_updated_at, cancelled_at, activated_at, deactivated_at, \
    deleted_at, created_at, updated_at, carrier_account, carrier_kind, carrier_ref";

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {what} in the database: {value:?}").into())
}

fn json_col<T: serde::de::DeserializeOwned, R: Cells>(row: &R, col: &str) -> sqlx::Result<T> {
    let s: String = row.cell(col)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn ts<R: Cells>(row: &R, col: &str) -> sqlx::Result<Option<DateTime<Utc>>> {
    Ok(row.cell::<Option<i64>>(col)?.map(from_micros))
}

/// A price stored as three nullable columns (all set or none).
pub(crate) fn price_cols<R: Cells>(row: &R) -> sqlx::Result<Option<Money>> {
    match (
        row.cell::<Option<i64>>("price_amount")?,
        row.cell::<Option<i64>>("price_exponent")?,
        row.cell::<Option<String>>("price_currency")?,
    ) {
        (Some(amount), Some(exponent), Some(currency)) => Ok(Some(Money {
            amount,
            exponent: i32::try_from(exponent).map_err(|_| decode_err("price_exponent", &exponent.to_string()))?,
            currency_code: Currency::parse(&currency).ok_or_else(|| decode_err("price_currency", &currency))?,
        })),
        _ => Ok(None),
    }
}

impl FromCells for NumberRecord {
    // Cells are read in the order of `COLUMNS`: a reader looks each name up from the column it
    // found last.
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self> {
        let (seq, id, workspace_id, e164) = (row.cell("seq")?, parsed(row, "id")?, parsed(row, "workspace_id")?, row.cell("e164")?);
        let kind = column(row, "kind", NumberKind::parse)?;
        let number_type = column(row, "number_type", NumberType::parse)?;
        let (country, capabilities, price) = (row.cell("country")?, json_col(row, "capabilities")?, price_cols(row)?);
        let (configurations, nickname) = (json_col(row, "configurations")?, row.cell("nickname")?);
        let status = column(row, "status", NumberStatus::parse)?;
        let sub_id = row.cell::<Option<String>>("sub_id")?;
        let sub_status = column(row, "sub_status", SubscriptionStatus::parse)?;
        let subscription = match sub_id {
            Some(sub_id) => Some(SubscriptionRecord {
                id: sub_id.parse().map_err(|_| decode_err("sub_id", &sub_id))?,
                status: sub_status,
                anchor: from_micros(row.cell("sub_anchor")?),
                period_index: row.cell("period_index")?,
                subscribed_at: from_micros(row.cell("subscribed_at")?),
                updated_at: from_micros(row.cell("sub_updated_at")?),
                cancelled_at: ts(row, "cancelled_at")?,
            }),
            None => None,
        };
        Ok(NumberRecord {
            seq,
            id,
            workspace_id,
            e164,
            kind,
            number_type,
            country,
            capabilities,
            price,
            configurations,
            nickname,
            status,
            subscription,
            activated_at: ts(row, "activated_at")?,
            deactivated_at: ts(row, "deactivated_at")?,
            deleted_at: ts(row, "deleted_at")?,
            created_at: from_micros(row.cell("created_at")?),
            updated_at: from_micros(row.cell("updated_at")?),
            carrier: holding(row)?,
        })
    }
}

/// The carrier columns: all three set, or none.
fn holding<R: Cells>(row: &R) -> sqlx::Result<Option<CarrierHolding>> {
    let Some(account) = row.cell::<Option<String>>("carrier_account")? else { return Ok(None) };
    Ok(Some(CarrierHolding { account, kind: column(row, "carrier_kind", AccountKind::parse)?, carrier_ref: row.cell("carrier_ref")? }))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}

/// A number's stored view, kept in `number_views`: the JSON the API shows for the record with
/// holes where a renewal changes it, or `None` where the columns must be read whole (see the
/// migration that added the table). Given by the service layer, which owns the views.
pub type View = fn(&NumberRecord) -> Option<String>;

/// Keeps `template` as the number's stored view, or drops the one it had.
async fn store_view(conn: &mut AnyConnection, id: NumberId, template: Option<String>) -> sqlx::Result<()> {
    let query = match template {
        Some(t) => sqlx::query(
            "INSERT INTO number_views (number_id, template) VALUES ($1, $2) \
             ON CONFLICT (number_id) DO UPDATE SET template = excluded.template",
        )
        .bind(id.to_string())
        .bind(t),
        None => sqlx::query("DELETE FROM number_views WHERE number_id = $1").bind(id.to_string()),
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Inserts a new number and returns it with its integer id. Fails with a unique violation when
/// the workspace already holds the same E.164 number live.
pub async fn insert(conn: &mut AnyConnection, n: &NumberRecord, view: View) -> sqlx::Result<NumberRecord> {
    let seq = seq::next(conn, n.workspace_id, Counter::Number).await?;
    let n = NumberRecord { seq, ..n.clone() };
    let sub = n.subscription.as_ref();
    sqlx::query(
        "INSERT INTO numbers (id, workspace_id, e164, kind, number_type, country, capabilities, caps_mask, \
         price_amount, price_exponent, price_currency, configurations, nickname, status, sub_id, sub_status, \
         sub_anchor, period_index, period_end, subscribed_at, sub_updated_at, cancelled_at, activated_at, \
         deactivated_at, deleted_at, created_at, updated_at, seq, carrier_account, carrier_kind, carrier_ref) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)",
    )
    .bind(n.id.to_string())
    .bind(n.workspace_id.to_string())
    .bind(&n.e164)
    .bind(n.kind.as_str())
    .bind(n.number_type.as_str())
    .bind(&n.country)
    .bind(to_json(&n.capabilities))
    .bind(n.capabilities.mask())
    .bind(n.price.map(|p| p.amount))
    .bind(n.price.map(|p| i64::from(p.exponent)))
    .bind(n.price.map(|p| p.currency_code.as_str()))
    .bind(to_json(&n.configurations))
    .bind(n.nickname.as_deref())
    .bind(n.status.as_str())
    .bind(sub.map(|s| s.id.to_string()))
    .bind(n.subscription_status().as_str())
    .bind(sub.map(|s| to_micros(s.anchor)))
    .bind(sub.map(|s| s.period_index))
    .bind(sub.map(|s| to_micros(s.current_period().end)))
    .bind(sub.map(|s| to_micros(s.subscribed_at)))
    .bind(sub.map(|s| to_micros(s.updated_at)))
    .bind(sub.and_then(|s| s.cancelled_at).map(to_micros))
    .bind(n.activated_at.map(to_micros))
    .bind(n.deactivated_at.map(to_micros))
    .bind(n.deleted_at.map(to_micros))
    .bind(to_micros(n.created_at))
    .bind(to_micros(n.updated_at))
    .bind(seq)
    .bind(n.carrier.as_ref().map(|c| c.account.clone()))
    .bind(n.carrier.as_ref().map(|c| c.kind.as_str()))
    .bind(n.carrier.as_ref().map(|c| c.carrier_ref.clone()))
    .execute(&mut *conn)
    .await?;
    if let Some(template) = view(&n) {
        store_view(conn, n.id, Some(template)).await?;
    }
    Ok(n)
}

/// Where the period-end worker looks for a number: the end of its current period while it has
/// a subscription that renews or ends there.
fn due_at(n: &NumberRecord) -> Option<i64> {
    n.subscription
        .as_ref()
        .filter(|s| matches!(s.status, SubscriptionStatus::Active | SubscriptionStatus::Canceling))
        .map(|s| to_micros(s.current_period().end))
}

/// Writes back every mutable field of a number loaded (and locked) in the same transaction.
pub async fn update(conn: &mut AnyConnection, n: &NumberRecord, view: View) -> sqlx::Result<()> {
    let sub = n.subscription.as_ref();
    let row = vec![
        Bind::Text(n.id.to_string()),
        Bind::OptText(n.nickname.clone()),
        Bind::Text(to_json(&n.configurations)),
        Bind::Text(n.status.as_str().into()),
        Bind::Text(n.subscription_status().as_str().into()),
        Bind::OptInt(sub.map(|s| s.period_index)),
        Bind::OptInt(due_at(n)),
        Bind::OptInt(sub.map(|s| to_micros(s.updated_at))),
        Bind::OptInt(sub.and_then(|s| s.cancelled_at).map(to_micros)),
        Bind::OptInt(n.activated_at.map(to_micros)),
        Bind::OptInt(n.deactivated_at.map(to_micros)),
        Bind::OptInt(n.deleted_at.map(to_micros)),
        Bind::Int(to_micros(n.updated_at)),
    ];
    run_values(conn, UPDATE_HEAD, vec![row], UPDATE_TAIL).await?;
    store_view(conn, n.id, view(n)).await
}

/// The statement [`update`] runs, around its `VALUES` tuple.
pub const UPDATE_HEAD: &str = "UPDATE numbers SET nickname = v.column2, configurations = v.column3, status = v.column4, \
    sub_status = v.column5, period_index = v.column6, period_end = v.column7, sub_updated_at = v.column8, \
    cancelled_at = v.column9, activated_at = v.column10, deactivated_at = v.column11, deleted_at = v.column12, \
    updated_at = v.column13 FROM (";
pub const UPDATE_TAIL: &str = ") AS v WHERE numbers.id = v.column1";

/// Writes back what settling changed on many numbers, in one statement per group of a few
/// thousand: every settled number's period, and for those released their status. Only those
/// columns are set: SQLite rewrites a number's entry in every index whose columns (or partial
/// condition) the SET clause names, changed or not, and a renewal changes none but the due index.
/// A renewal changes only what a stored view leaves as holes, so its view stays; a released
/// number's goes (see [`View`]).
pub async fn update_settled<'a>(conn: &mut AnyConnection, numbers: impl IntoIterator<Item = &'a NumberRecord>) -> sqlx::Result<()> {
    let (mut renewed, mut released) = (Vec::new(), Vec::new());
    for n in numbers {
        let sub = n.subscription.as_ref();
        let mut row = vec![
            Bind::Text(n.id.to_string()),
            Bind::OptInt(sub.map(|s| s.period_index)),
            Bind::OptInt(due_at(n)),
            Bind::OptInt(sub.map(|s| to_micros(s.updated_at))),
            Bind::Int(to_micros(n.updated_at)),
        ];
        if n.status == NumberStatus::Active {
            renewed.push(row);
        } else {
            row.extend([
                Bind::Text(n.status.as_str().into()),
                Bind::Text(n.subscription_status().as_str().into()),
                Bind::OptInt(n.deactivated_at.map(to_micros)),
            ]);
            released.push(row);
        }
    }
    let gone: Vec<Vec<Bind>> = released.iter().map(|row| vec![row[0].clone()]).collect();
    run_values(conn, RENEWED_HEAD, renewed, UPDATE_TAIL).await?;
    run_values(conn, RELEASED_HEAD, released, UPDATE_TAIL).await?;
    run_values(conn, VIEWS_GONE_HEAD, gone, ")").await?;
    Ok(())
}

/// The statements [`update_settled`] runs for renewed and for released numbers.
pub const RENEWED_HEAD: &str = "UPDATE numbers SET period_index = v.column2, period_end = v.column3, \
    sub_updated_at = v.column4, updated_at = v.column5 FROM (";
pub const RELEASED_HEAD: &str = "UPDATE numbers SET period_index = v.column2, period_end = v.column3, \
    sub_updated_at = v.column4, updated_at = v.column5, status = v.column6, sub_status = v.column7, \
    deactivated_at = v.column8 FROM (";
/// The statement [`update_settled`] drops released numbers' views with, around its `VALUES`.
pub const VIEWS_GONE_HEAD: &str = "DELETE FROM number_views WHERE number_id IN (";

/// The statement [`lock_many`] runs for `count` ids. Deleted numbers are left out afterwards, not
/// in the SQL: offered `deleted_at IS NULL`, PostgreSQL without statistics walked a partial index
/// of live numbers whole instead of probing the unique key.
pub fn lock_many_sql(count: usize, lock: impl std::fmt::Display) -> String {
    let marks: Vec<String> = (1..=count).map(|i| format!("${i}")).collect();
    format!("SELECT {COLUMNS} FROM numbers WHERE id IN ({}) ORDER BY id{lock}", marks.join(", "))
}

/// The numbers named by `ids` that have not been deleted, in id order, held until `tx` ends,
/// which must not have written yet. PostgreSQL locks them with `lock` in id order, so two
/// transactions locking overlapping sets cannot deadlock. On SQLite `tx` already holds the
/// database's write lock, so nothing changes them before it ends and what `tx` would read is the
/// last commit: they are read in place on a reader (see [`Db::read_all`]), without sqlx's
/// row-by-row handoff, which took a fifth of the sweep's time.
pub async fn lock_many(db: &Db, tx: &mut Tx, ids: &[NumberId], lock: RowLock) -> sqlx::Result<Vec<NumberRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = Sql { text: lock_many_sql(ids.len(), lock), binds: ids.iter().map(|id| Bind::Text(id.to_string())).collect() };
    match db.backend {
        Backend::Sqlite => Ok(live(db.read_all(&sql).await?)),
        Backend::Postgres => locked(tx, &sql).await,
    }
}

/// The numbers `sql` reads whole and locks on PostgreSQL, deleted ones left out (see
/// [`lock_many_sql`] for why not in the SQL).
async fn locked(tx: &mut Tx, sql: &Sql) -> sqlx::Result<Vec<NumberRecord>> {
    let numbers = sql.query().fetch_all(&mut **tx).await?.iter().map(NumberRecord::from_cells).collect::<sqlx::Result<_>>()?;
    Ok(live(numbers))
}

fn live(numbers: Vec<NumberRecord>) -> Vec<NumberRecord> {
    numbers.into_iter().filter(|n| n.deleted_at.is_none()).collect()
}

/// The statement [`get`] (`live_only`) and [`get_any`] run. The number is found by its unique
/// `id` alone; the workspace is compared through an expression no index covers (see
/// [`super::IN_WORKSPACE`]), so there is one plan whatever the table statistics say.
pub fn by_id_sql(live_only: bool, lock: impl std::fmt::Display) -> String {
    let live = if live_only { " AND deleted_at IS NULL" } else { "" };
    format!("SELECT {COLUMNS} FROM numbers WHERE id = $1 AND {IN_WORKSPACE} = $2{live}{lock}")
}

/// The statement [`get_by_seq`] runs: integer ids count per workspace, so the primary key is
/// `(workspace_id, seq)` and both columns are needed to probe it.
pub fn by_seq_sql(lock: impl std::fmt::Display) -> String {
    format!("SELECT {COLUMNS} FROM numbers WHERE workspace_id = $2 AND seq = $1{lock}")
}

/// A number of the workspace that has not been deleted. Inside [`Db::begin_write`] pass
/// `lock = db.for_update()` to hold the row for the rest of the transaction.
pub async fn get(conn: &mut AnyConnection, ws: WorkspaceId, id: NumberId, lock: RowLock) -> sqlx::Result<Option<NumberRecord>> {
    sqlx::query(&by_id_sql(true, lock))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| NumberRecord::from_cells(&r))
        .transpose()
}

/// The statements PostgreSQL's coalesced reads run (see [`super::coalesce`]): the numbers among
/// the ids of a text array, each found by its unique `id`, read whole or as listed. Deleted
/// ones are left out by the caller: `deleted_at IS NULL` here made the generic plan, without
/// statistics, also read a partial index of every live number.
pub static BY_IDS_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {COLUMNS} FROM numbers WHERE id = ANY($1)"));
pub static LISTED_BY_IDS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {LISTED}, template, workspace_id, deleted_at FROM numbers {JOIN_VIEWS} WHERE id = ANY($1)")
});

/// The statement [`read_listed`] runs where reads are not coalesced.
static LISTED_BY_ID_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {LISTED}, template FROM numbers {JOIN_VIEWS} WHERE id = $1 AND {IN_WORKSPACE} = $2 AND deleted_at IS NULL")
});

/// [`get`] outside any transaction, what a read shows: coalesced with other reads on
/// PostgreSQL, through [`Db::read_optional`] on SQLite.
pub async fn read(db: &Db, ws: WorkspaceId, id: NumberId) -> sqlx::Result<Option<NumberRecord>> {
    if let Some(coalesced) = db.coalesced_numbers() {
        return coalesced.whole.get(ws, id).await;
    }
    db.read_optional(&by_id(by_id_sql(true, RowLock::None), ws, id)).await
}

/// A live number as a list reads it: a `GET` shows its stored view where it has one.
pub async fn read_listed(db: &Db, ws: WorkspaceId, id: NumberId) -> sqlx::Result<Option<Listed>> {
    if let Some(coalesced) = db.coalesced_numbers() {
        return coalesced.listed.get(ws, id).await;
    }
    db.read_optional(&by_id(LISTED_BY_ID_SQL.clone(), ws, id)).await
}

fn by_id(text: String, ws: WorkspaceId, id: NumberId) -> Sql {
    Sql { text, binds: vec![Bind::Text(id.to_string()), Bind::Text(ws.to_string())] }
}

/// Looks a number up by integer id, deleted ones included (call history still shows them).
pub async fn get_by_seq(conn: &mut AnyConnection, ws: WorkspaceId, seq: i64, lock: RowLock) -> sqlx::Result<Option<NumberRecord>> {
    sqlx::query(&by_seq_sql(lock))
        .bind(seq)
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| NumberRecord::from_cells(&r))
        .transpose()
}

/// The workspace's numbers (deleted ones included) named by uuid or integer id, in one query.
pub async fn get_many(conn: &mut AnyConnection, ws: WorkspaceId, ids: &[NumberId], seqs: &[i64]) -> sqlx::Result<Vec<NumberRecord>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM numbers WHERE workspace_id = "));
    sql.push("? AND (1 = 0", [Bind::Text(ws.to_string())]);
    if !ids.is_empty() {
        sql.push(" OR id", []);
        in_list(&mut sql, ids);
    }
    if !seqs.is_empty() {
        let marks = vec!["?"; seqs.len()].join(", ");
        sql.push(&format!(" OR seq IN ({marks})"), seqs.iter().map(|s| Bind::Int(*s)));
    }
    sql.push(")", []);
    sql.query().fetch_all(&mut *conn).await?.iter().map(NumberRecord::from_cells).collect()
}

/// Integer ids of the workspace's numbers among `ids`, deleted ones included, in one query.
pub async fn seqs_of(db: &Db, ws: WorkspaceId, ids: &[NumberId]) -> sqlx::Result<Vec<(NumberId, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id, seq FROM numbers WHERE workspace_id = ");
    sql.push("? AND id", [Bind::Text(ws.to_string())]);
    in_list(&mut sql, ids);
    let rows = sql.query().fetch_all(&db.pool).await?;
    rows.iter().map(|r| Ok((parsed(r, "id")?, r.try_get("seq")?))).collect()
}

/// Same as [`get`] but finds deleted numbers too (their calls still point at them).
pub async fn get_any(conn: &mut AnyConnection, ws: WorkspaceId, id: NumberId) -> sqlx::Result<Option<NumberRecord>> {
    sqlx::query(&by_id_sql(false, ""))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| NumberRecord::from_cells(&r))
        .transpose()
}

/// A number as a list reads it: its stored view and what fills it, or only its id where it has
/// none.
#[derive(Clone, Debug)]
pub struct Listed {
    pub seq: i64,
    pub id: NumberId,
    /// The stored view of the number (see [`View`]).
    pub template: Option<String>,
    pub renewal: RenewalFields,
    /// `period_end` while a period end is pending (active or canceling).
    due_at: Option<i64>,
}

impl Listed {
    /// [`NumberRecord::is_due`] from the due column alone.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.due_at.is_some_and(|end| end <= to_micros(now))
    }
}

impl FromCells for Listed {
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self> {
        let (seq, id, due_at) = (row.cell("seq")?, parsed(row, "id")?, row.cell("period_end")?);
        let (anchor, index) = (row.cell::<Option<i64>>("sub_anchor")?, row.cell::<Option<i64>>("period_index")?);
        let renewal = RenewalFields {
            updated_at: from_micros(row.cell("updated_at")?),
            sub_updated_at: ts(row, "sub_updated_at")?,
            period: anchor.zip(index).map(|(anchor, index)| period(from_micros(anchor), index)),
        };
        Ok(Listed { seq, id, due_at, renewal, template: row.cell("template")? })
    }
}

/// What a list or a GET reads of a number besides its stored view, in the order [`Listed`]
/// takes it.
const LISTED: &str = "seq, id, period_end, sub_anchor, period_index, updated_at, sub_updated_at";

/// The join that gives each row its stored view: one cursor on `number_views` for the page (as
/// a subquery per row, SQLite read a page 1.5 times as slowly).
const JOIN_VIEWS: &str = "LEFT JOIN number_views ON number_views.number_id = numbers.id";

/// A page of [`list`] is chosen from `numbers` alone and only its own rows are joined to their
/// views: joined before the sort a page needs under a selective filter, every match was (a
/// `numberPrefix` page of 0.1 % of a million joined and sorted 900 views, 3.7 times as slow as
/// an unfiltered page). What lies between the two parts is the page's `WHERE` and `LIMIT`; the
/// rows come back in no particular order ([`list`] sorts them).
static PAGE_HEAD: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {LISTED}, template FROM (SELECT {LISTED} FROM numbers"));
static PAGE_TAIL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(") AS numbers {JOIN_VIEWS}"));

/// The statement of a page of [`list`] whose `WHERE`, `ORDER BY` and `LIMIT` are
/// `filter_and_page` (for plan checks and the benchmark).
pub fn page_sql(filter_and_page: &str) -> String {
    format!("{}{filter_and_page}{}", *PAGE_HEAD, *PAGE_TAIL)
}

/// Numbers of a workspace in creation order, after `after_seq` (keyset pagination: stable under
/// inserts, an index range scan whatever the page), as a page shows them.
pub async fn list(db: &Db, ws: WorkspaceId, f: &NumberFilter, after_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<Listed>> {
    let mut sql = list_sql(db, &PAGE_HEAD, ws, f, after_seq, limit);
    sql.push(&PAGE_TAIL, []);
    let mut page: Vec<Listed> = db.read_all(&sql).await?;
    page.sort_unstable_by_key(|n| n.seq);
    Ok(page)
}

/// [`list`], each number read whole.
pub async fn list_whole(db: &Db, ws: WorkspaceId, f: &NumberFilter, after_seq: Option<i64>, limit: i64) -> sqlx::Result<Vec<NumberRecord>> {
    db.read_all(&list_sql(db, &format!("SELECT {COLUMNS} FROM numbers"), ws, f, after_seq, limit)).await
}

/// The statement [`list_whole`] runs, or the part of [`list`]'s that chooses the page.
fn list_sql(db: &Db, select: &str, ws: WorkspaceId, f: &NumberFilter, after_seq: Option<i64>, limit: i64) -> Sql {
    let mut sql = Sql::new(select);
    sql.push(" WHERE workspace_id = ? AND deleted_at IS NULL", [Bind::Text(ws.to_string())]);
    let text = |v: &str| [Bind::Text(v.to_owned())];
    if let Some(s) = f.status {
        sql.push(" AND status = ?", text(s.as_str()));
    }
    if let Some(k) = f.kind {
        sql.push(" AND kind = ?", text(k.as_str()));
    }
    if let Some(t) = f.number_type {
        sql.push(" AND number_type = ?", text(t.as_str()));
    }
    if let Some(c) = &f.country {
        sql.push(" AND country = ?", text(c));
    }
    if let Some(m) = f.capability_mask {
        sql.push(" AND 0 <> (caps_mask & ?)", [Bind::Int(m)]);
    }
    if let Some(p) = &f.number_prefix {
        // The prefix is `+` and ASCII digits, so it needs no LIKE escaping, and the first string
        // past every number starting with it is the prefix with its last character incremented.
        // PostgreSQL answers `LIKE 'p%'` from the `text_pattern_ops` index; SQLite's LIKE is
        // case-insensitive and cannot use its index, but the equivalent range can.
        match db.backend {
            Backend::Postgres => sql.push(" AND e164 LIKE ?", text(&format!("{p}%"))),
            Backend::Sqlite => sql.push(" AND e164 >= ? AND e164 < ?", [Bind::Text(p.clone()), Bind::Text(prefix_end(p))]),
        };
    }
    if let Some(s) = f.subscription_status {
        sql.push(" AND sub_status = ?", text(s.as_str()));
    }
    Page::After { seq: after_seq, limit }.apply(&mut sql);
    sql
}

/// The workspace's numbers among `ids` that have not been deleted, read whole (for those a list
/// found without a stored view).
pub async fn read_many(db: &Db, ws: WorkspaceId, ids: &[NumberId]) -> sqlx::Result<Vec<NumberRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Found by the unique key, whatever the statistics say (see `IN_WORKSPACE`, `lock_many_sql`).
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM numbers WHERE {IN_WORKSPACE} = "));
    sql.push("? AND id", [Bind::Text(ws.to_string())]);
    in_list(&mut sql, ids);
    let numbers: Vec<NumberRecord> = db.read_all(&sql).await?;
    Ok(numbers.into_iter().filter(|n| n.deleted_at.is_none()).collect())
}

/// The smallest string greater than every string that starts with `prefix` (ASCII).
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// Records billed periods, each at its number's price.
pub async fn insert_periods<'a>(
    conn: &mut AnyConnection,
    periods: impl IntoIterator<Item = (&'a NumberRecord, Period)>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let rows = periods
        .into_iter()
        .map(|(n, p)| {
            vec![
                Bind::Text(n.id.to_string()),
                Bind::Int(p.index),
                Bind::Int(to_micros(p.start)),
                Bind::Int(to_micros(p.end)),
                Bind::OptInt(n.price.map(|m| m.amount)),
                Bind::OptInt(n.price.map(|m| i64::from(m.exponent))),
                Bind::OptText(n.price.map(|m| m.currency_code.as_str().to_owned())),
                Bind::Int(to_micros(now)),
            ]
        })
        .collect();
    run_values(
        conn,
        "INSERT INTO billing_periods (number_id, period_index, start_at, end_at, price_amount, price_exponent, \
         price_currency, recorded_at)",
        rows,
        "",
    )
    .await?;
    Ok(())
}

pub async fn list_periods(db: &Db, number: NumberId) -> sqlx::Result<Vec<BilledPeriod>> {
    let rows = sqlx::query(
        "SELECT period_index, start_at, end_at, price_amount, price_exponent, price_currency \
         FROM billing_periods WHERE number_id = $1 ORDER BY period_index",
    )
    .bind(number.to_string())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let price = price_cols(row)?;
            Ok(BilledPeriod {
                period: Period {
                    index: row.try_get("period_index")?,
                    start: from_micros(row.try_get("start_at")?),
                    end: from_micros(row.try_get("end_at")?),
                },
                price,
            })
        })
        .collect()
}

/// What a sweep settles: the numbers of live workspaces due by real time, or those of one
/// workspace due by its clock (`due <= now`, so downtime is caught up), oldest due first.
#[derive(Clone, Copy, Debug)]
pub enum Due {
    Live(DateTime<Utc>),
    InWorkspace(WorkspaceId, DateTime<Utc>),
}

impl Due {
    /// The time they are due by.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Due::Live(at) | Due::InWorkspace(_, at) => *at,
        }
    }

    /// The statement that finds them, `select`ing those columns, `lock`ed; its binds are the
    /// workspace (of one workspace's), the time, then how many at most. For live workspaces the
    /// workspace's mode is a scalar subquery, which PostgreSQL never turns into a join: the plan
    /// is one range of `numbers_due` and a primary-key look at the workspace per due row. (As a
    /// join its plan followed guessed sizes: with few workspaces, without statistics, a probe of
    /// `numbers_workspace_due` per live workspace on every sweep.) One workspace's are a range
    /// of `numbers_workspace_due`.
    pub fn sql(&self, select: &str, lock: RowLock) -> String {
        match self {
            Due::Live(_) => format!(
                "SELECT {select} FROM numbers n WHERE sub_status IN ('active', 'canceling') AND period_end <= $1 \
                 AND (SELECT test_mode FROM workspaces w WHERE w.id = n.workspace_id) = 0 ORDER BY period_end LIMIT $2{lock}"
            ),
            Due::InWorkspace(..) => format!(
                "SELECT {select} FROM numbers WHERE workspace_id = $1 AND sub_status IN ('active', 'canceling') \
                 AND period_end <= $2 ORDER BY period_end LIMIT $3{lock}"
            ),
        }
    }

    fn statement(&self, select: &str, limit: i64, lock: RowLock) -> Sql {
        let mut binds = match self {
            Due::Live(at) => vec![Bind::Int(to_micros(*at))],
            Due::InWorkspace(ws, at) => vec![Bind::Text(ws.to_string()), Bind::Int(to_micros(*at))],
        };
        binds.push(Bind::Int(limit));
        Sql { text: self.sql(select, lock), binds }
    }
}

/// Up to `limit` numbers `due` finds, read without a lock.
pub async fn due(db: &Db, due: Due, limit: i64) -> sqlx::Result<Vec<NumberId>> {
    db.read_all(&due.statement("id", limit, RowLock::None)).await
}

/// PostgreSQL only: up to `limit` numbers `due` finds that no other transaction holds
/// (`FOR UPDATE SKIP LOCKED`), locked until `tx` ends and read whole, deleted ones left out. On
/// SQLite, one writer at a time, find them with [`due`] and read them with [`lock_many`].
pub async fn lock_due(tx: &mut Tx, due: Due, limit: i64) -> sqlx::Result<Vec<NumberRecord>> {
    locked(tx, &due.statement(COLUMNS, limit, RowLock::ForUpdateSkipLocked)).await
}

/// A due number, as the due queries find it.
impl FromCells for NumberId {
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self> {
        parsed(row, "id")
    }
}

/// The workspace's live (active) number with this E.164, if any: the one a new number would
/// collide with on `numbers_live_e164`.
pub async fn live_by_e164(conn: &mut AnyConnection, ws: WorkspaceId, e164: &str) -> sqlx::Result<Option<NumberRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM numbers WHERE workspace_id = $1 AND e164 = $2 AND status = 'active'"))
        .bind(ws.to_string())
        .bind(e164)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| NumberRecord::from_cells(&r))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_range_ends_past_every_number_with_the_prefix() {
        assert_eq!(prefix_end("+1415"), "+1416");
        // `9` is followed by `:` in ASCII: "+1419…" numbers sort below "+141:", "+1420" above.
        let end = prefix_end("+1419");
        assert!("+14199999999" < end.as_str() && end.as_str() < "+1420");
        assert_eq!(prefix_end("+"), ",");
    }
}
