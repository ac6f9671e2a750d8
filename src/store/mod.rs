//! Storage: one set of portable SQL over `sqlx::Any`, run on SQLite (embedded default) or
//! PostgreSQL (production). The few places the dialects differ are methods on [`Db`].

pub mod caller_ids;
mod checkpoint;
mod coalesce;
pub mod events;
mod held;
pub mod jobs;
mod lost;
pub mod numbers;
pub mod orders;
mod readers;
pub mod resources;
mod seq;
mod sqlite_lib;
pub mod stats;
pub mod webhooks;
pub mod workspaces;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::resources::Page;
use readers::Readers;

/// A write transaction. On SQLite it also holds this node's writer turn: writers queue for it in
/// order instead of polling for the file lock in SQLite's busy handler, whose sleeps (up to 100 ms
/// each) made the tail latency of writes under concurrency.
pub struct Tx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Numbers a sweep moves before it analyzes the tables it changed (see [`Db::analyze_after_sweep`]).
pub const ANALYZE_AFTER: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// When a request last found the database unavailable; `/readyz` reports it for a while,
    /// since a ping alone passes while writes fail (a full disk, a held lock).
    last_unavailable: Arc<Mutex<Option<Instant>>>,
    /// SQLite's one writer turn per node (see [`Tx`]).
    writer: Arc<Semaphore>,
    acquire_timeout: Duration,
    /// Where the reads that run most go (see [`Db::read_all`]).
    reads: Reads,
    /// SQLite's background checkpoints, stopped with the last clone.
    _checkpoints: Option<Arc<checkpoint::Checkpointer>>,
}

#[derive(Clone, Debug)]
enum Reads {
    /// Read-only connections run in place (see [`readers`]).
    Sqlite(Arc<Readers>),
    /// A pool of its own, typed, beside the pool of writes, its connections held between reads;
    /// single numbers by id coalesced.
    Postgres(held::HeldReads, Arc<coalesce::Coalesced>),
}

#[derive(Clone, Debug)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: Duration,
    pub acquire_timeout: Duration,
    /// How much of a SQLite file each reader maps (see `database.sqlite_mmap_mb`).
    pub sqlite_mmap_bytes: u64,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("database url must start with sqlite:// or postgres://")
        }
    }

    /// The backend a connection of the `Any` pool talks to, for SQL that differs between them.
    pub(crate) fn of_conn(conn: &sqlx::AnyConnection) -> Self {
        match conn.backend_name() {
            "SQLite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// SQLite files are created on first start unless the URL says otherwise.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

impl Db {
    pub async fn connect(opts: &DbOptions) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&opts.url)?;
        let url = match backend {
            Backend::Sqlite => with_create_mode(&opts.url),
            Backend::Postgres => opts.url.clone(),
        };
        let connect = AnyConnectOptions::from_str(&url).context("invalid database url")?;
        let lost = Arc::new(lost::Lost::default());
        let (reads, checkpoints) = match backend {
            Backend::Sqlite => {
                sqlite_lib::configure();
                let sqlite = sqlx::sqlite::SqliteConnectOptions::from_str(&url).context("invalid database url")?;
                let file = sqlite.get_filename();
                let checkpoints = checkpoint::Checkpointer::start(file.to_owned()).context("cannot start SQLite's checkpoints")?;
                (Reads::Sqlite(Arc::new(Readers::new(file, opts.busy_timeout, opts.sqlite_mmap_bytes))), Some(Arc::new(checkpoints)))
            }
            // Reads never open a transaction, so their connections need neither the after-release
            // check nor sqlx::Any's row conversion; kept out of the pool between reads, they skip
            // the ping sqlx adds on every release too (see [`held`]).
            Backend::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .test_before_acquire(false)
                    .connect_lazy(&url)
                    .context("invalid database url")?;
                let held = held::HeldReads::new(pool, opts.acquire_timeout, lost.clone());
                let numbers = coalesce::Coalesced::start(held.clone(), opts.acquire_timeout);
                (Reads::Postgres(held, Arc::new(numbers)), None)
            }
        };
        let busy_ms = opts.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed beside the single writer; the busy timeout
                        // makes writers queue instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(&*format!("PRAGMA busy_timeout = {busy_ms}")).await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        let backstop = checkpoint::BACKSTOP_PAGES;
                        conn.execute(&*format!("PRAGMA wal_autocheckpoint = {backstop}")).await?;
                    }
                    Ok(())
                })
            })
            // sqlx pings every connection it takes back, so a ping when handing one out again
            // only costs a round trip. Connections open since before one was found lost are
            // presumed lost with it (see [`lost`]) and closed instead.
            .test_before_acquire(false)
            .before_acquire({
                let lost = lost.clone();
                move |_conn, meta| {
                    let lost = lost.clone();
                    Box::pin(async move { Ok(!lost.predates(meta.age)) })
                }
            })
            // A connection must never go back to the pool inside a transaction: a request dropped
            // just as its `BEGIN` was answered, or a `COMMIT` that failed (SQLITE_FULL rolls back
            // by itself, so sqlx's own rollback fails too), leaves sqlx's transaction depth above
            // 0, and every later `BEGIN IMMEDIATE` on it would fail while it may hold the write
            // lock. The ping first runs any rollback a dropped transaction queued and lets a
            // `BEGIN` still in flight land, so the depth read after it is the real one.
            .after_release(move |conn, _meta| {
                let lost = lost.clone();
                Box::pin(async move {
                    if let Err(e) = conn.ping().await {
                        lost.record();
                        return Err(e);
                    }
                    if conn.is_in_transaction() {
                        tracing::warn!("closing a database connection released inside a transaction");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .context("cannot connect to the database")?;
        Ok(Db {
            pool,
            backend,
            last_unavailable: Arc::default(),
            writer: Arc::new(Semaphore::new(1)),
            acquire_timeout: opts.acquire_timeout,
            reads,
            _checkpoints: checkpoints,
        })
    }

    /// Applies pending migrations, each in its own transaction. On PostgreSQL sqlx holds an
    /// advisory lock meanwhile, so several nodes starting at once migrate once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.context("migrations failed")?;
        Ok(())
    }

    /// Starts a transaction that will write. SQLite takes the write lock up front (a deferred
    /// transaction that reads and then writes can fail with SQLITE_BUSY instead of waiting);
    /// PostgreSQL serialises on row locks taken with [`Db::for_update`].
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => {
                // Waiting for the turn counts against the acquire timeout, as waiting for a
                // connection does: past it the request is answered 503, not queued forever.
                let turn = tokio::time::timeout(self.acquire_timeout, self.writer.clone().acquire_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?
                    .expect("the writer semaphore is never closed");
                Ok(Tx { tx: self.pool.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn) })
            }
            Backend::Postgres => Ok(Tx { tx: self.pool.begin().await?, _turn: None }),
        }
    }

    /// Row lock for a SELECT inside [`Db::begin_write`]; SQLite already holds the lock.
    pub fn for_update(&self) -> RowLock {
        match self.backend {
            Backend::Sqlite => RowLock::None,
            Backend::Postgres => RowLock::ForUpdate,
        }
    }

    /// Like [`Db::for_update`] but passes over rows another worker holds.
    pub fn for_update_skip_locked(&self) -> RowLock {
        match self.backend {
            Backend::Sqlite => RowLock::None,
            Backend::Postgres => RowLock::ForUpdateSkipLocked,
        }
    }

    /// Refreshes PostgreSQL's statistics after a sweep that moved at least [`ANALYZE_AFTER`]
    /// numbers, rather than planning on stale ones until autoanalyze comes round. SQLite keeps
    /// no statistics unless asked and plans these queries by their unique keys without them.
    pub async fn analyze_after_sweep(&self, moved: usize) -> sqlx::Result<()> {
        if self.backend == Backend::Postgres && moved >= ANALYZE_AFTER {
            sqlx::query("ANALYZE numbers, billing_periods, jobs").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Runs a read outside any transaction and decodes its rows: on SQLite in place on a reader,
    /// on PostgreSQL through the pool of reads.
    pub(crate) async fn read_all<T: FromCells>(&self, sql: &Sql) -> sqlx::Result<Vec<T>> {
        match &self.reads {
            Reads::Sqlite(readers) => readers.all(sql),
            Reads::Postgres(held, _) => {
                held.run(async |conn| sql.query_on::<sqlx::Postgres>().fetch_all(conn).await).await?.iter().map(T::from_cells).collect()
            }
        }
    }

    /// PostgreSQL's coalesced reads of single numbers (see [`coalesce`]); `None` on SQLite.
    pub(crate) fn coalesced_numbers(&self) -> Option<&coalesce::Coalesced> {
        match &self.reads {
            Reads::Postgres(_, numbers) => Some(numbers),
            Reads::Sqlite(_) => None,
        }
    }

    /// [`Db::read_all`] for a statement that finds at most one row.
    pub(crate) async fn read_optional<T: FromCells>(&self, sql: &Sql) -> sqlx::Result<Option<T>> {
        Ok(self.read_all(sql).await?.into_iter().next())
    }

    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub fn mark_unavailable(&self) {
        *self.last_unavailable.lock().expect("not poisoned") = Some(Instant::now());
    }

    /// True when a request found the database unavailable within `window`.
    pub fn unavailable_within(&self, window: Duration) -> bool {
        self.last_unavailable.lock().expect("not poisoned").is_some_and(|at| at.elapsed() < window)
    }
}

/// How a SELECT holds the rows it reads; written after the query as its SQL clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLock {
    None,
    ForUpdate,
    ForUpdateSkipLocked,
}

impl std::fmt::Display for RowLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RowLock::None => "",
            RowLock::ForUpdate => " FOR UPDATE",
            RowLock::ForUpdateSkipLocked => " FOR UPDATE SKIP LOCKED",
        })
    }
}

/// A database failure kept by its code and message, so one failure can be reported to several
/// readers and still be told apart by [`unavailability`].
#[derive(Debug)]
pub(crate) struct StoredFailure {
    code: String,
    message: String,
}

impl StoredFailure {
    /// `err` again, as far as its handling goes: the same kind, code and message.
    pub fn copy(err: &sqlx::Error) -> sqlx::Error {
        match err {
            sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(e) => sqlx::Error::Io(std::io::Error::new(e.kind(), e.to_string())),
            sqlx::Error::Tls(e) => sqlx::Error::Tls(e.to_string().into()),
            sqlx::Error::Database(db) => sqlx::Error::Database(Box::new(StoredFailure {
                code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
                message: db.message().to_owned(),
            })),
            other => sqlx::Error::Protocol(other.to_string()),
        }
    }
}

impl std::fmt::Display for StoredFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for StoredFailure {}

impl sqlx::error::DatabaseError for StoredFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        (!self.code.is_empty()).then(|| self.code.as_str().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

/// True when a write failed on a unique index.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Why the database cannot serve right now, when that is the failure: no connection within the
/// acquire timeout, the server unreachable or shutting down, the SQLite lock still held after the
/// busy timeout, or no space left. These pass once the fault does; anything else is a bug.
pub fn unavailability(err: &sqlx::Error) -> Option<&'static str> {
    match err {
        sqlx::Error::PoolTimedOut => Some("no database connection became free within the acquire timeout"),
        sqlx::Error::PoolClosed => Some("the connection pool is closed"),
        // PostgreSQL: connection exceptions, shutdown, termination.
        sqlx::Error::Database(_) if lost::ends_connection(err) => Some("the database server is unavailable"),
        e if lost::ends_connection(e) => Some("the database connection failed"),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            match code.as_ref() {
                // PostgreSQL: out of disk, memory or connections.
                c if c.starts_with("53") => Some("the database server is unavailable"),
                // SQLite primary result codes (the extended code's low byte).
                c => match c.parse::<u32>().ok()? & 0xff {
                    5 | 6 => Some("the database is locked by another writer"),
                    13 => Some("the database storage is full"),
                    10 | 14 => Some("the database file cannot be read or written"),
                    _ => None,
                },
            }
        }
        _ => None,
    }
}

/// `workspace_id` as a lookup by unique key compares it: through an expression no index covers.
/// Without table statistics (a fresh import before autoanalyze) PostgreSQL rates every index at
/// one row and, offered `workspace_id = $n`, may pick a workspace index and filter the whole
/// workspace instead of probing the unique key. Rows of other workspaces are filtered out before
/// `FOR UPDATE` locks anything.
pub(crate) const IN_WORKSPACE: &str = "workspace_id || ''";

/// A value bound to a query built at run time.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    /// Nullable values keep their type, so PostgreSQL can type a `VALUES` list of them.
    OptText(Option<String>),
    OptInt(Option<i64>),
}

/// Binds one statement may carry: SQLite takes at most 32,766, PostgreSQL 65,535.
const MAX_BINDS: usize = 32_000;

/// Runs `head`, then ` VALUES (…), (…)` with one tuple per row, then `tail`, in as few statements
/// as the bind limit allows: a multi-row INSERT (`tail` empty or `ON CONFLICT …`), or an
/// `UPDATE … FROM (VALUES …) AS v` whose rows are read as `v.column1`, `v.column2`, … (both
/// backends name a VALUES list's columns so). Every row has the same number of binds; `head` and
/// `tail` take none. Returns the rows affected.
pub(crate) async fn run_values(conn: &mut sqlx::AnyConnection, head: &str, rows: Vec<Vec<Bind>>, tail: &str) -> sqlx::Result<u64> {
    let mut affected = 0;
    for sql in values_statements(conn, head, rows, tail) {
        affected += sql.query().execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

/// [`run_values`] for a statement whose `tail` ends in `RETURNING …`: the rows it returned.
pub(crate) async fn fetch_values<T: FromCells>(
    conn: &mut sqlx::AnyConnection,
    head: &str,
    rows: Vec<Vec<Bind>>,
    tail: &str,
) -> sqlx::Result<Vec<T>> {
    let mut out = Vec::new();
    for sql in values_statements(conn, head, rows, tail) {
        for row in sql.query().fetch_all(&mut *conn).await? {
            out.push(T::from_cells(&row)?);
        }
    }
    Ok(out)
}

fn values_statements(conn: &sqlx::AnyConnection, head: &str, rows: Vec<Vec<Bind>>, tail: &str) -> Vec<Sql> {
    use std::fmt::Write;
    let Some(width) = rows.first().map(Vec::len) else { return Vec::new() };
    // SQLite gets anonymous `?` placeholders: sqlx looks each numbered one up by name, and
    // SQLite finds a name by walking all of them, which made a batch's statements quadratic
    // in their binds (half the sweep's time went there).
    let anonymous = Backend::of_conn(conn) == Backend::Sqlite;
    rows.chunks((MAX_BINDS / width).max(1))
        .map(|chunk| {
            let mut text = format!("{head} VALUES ");
            for (i, row) in chunk.iter().enumerate() {
                text.push_str(if i == 0 { "(" } else { ", (" });
                for j in 0..row.len() {
                    text.push_str(if j == 0 { "" } else { ", " });
                    if anonymous {
                        text.push('?');
                    } else {
                        write!(text, "${}", i * width + j + 1).expect("writing to a String cannot fail");
                    }
                }
                text.push(')');
            }
            text.push_str(tail);
            Sql { text, binds: chunk.concat() }
        })
        .collect()
}

/// SQL assembled at run time: every `?` pushed becomes the next numbered placeholder (`$n`, which
/// both backends accept) and takes the next bind, so conditions can be added in any order.
pub(crate) struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql { text: text.into(), binds: Vec::new() }
    }

    pub fn push(&mut self, fragment: &str, binds: impl IntoIterator<Item = Bind>) -> &mut Self {
        let binds: Vec<Bind> = binds.into_iter().collect();
        debug_assert_eq!(binds.len(), fragment.matches('?').count(), "one bind per `?` in {fragment:?}");
        let mut n = self.binds.len();
        for c in fragment.chars() {
            if c == '?' {
                n += 1;
                self.text.push_str(&format!("${n}"));
            } else {
                self.text.push(c);
            }
        }
        self.binds.extend(binds);
        self
    }

    /// The statement with its binds, as sqlx runs it on `DB`.
    pub fn query_on<'q, DB: sqlx::Database>(&'q self) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
    where
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        // Text is lent, not copied: an event's data is a kilobyte or more.
        self.binds.iter().fold(sqlx::query(&self.text), |q, b| match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::OptText(s) => q.bind(s.as_deref()),
            Bind::OptInt(i) => q.bind(*i),
        })
    }

    pub fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        self.query_on()
    }
}

/// Appends ` IN (?, ?, ...)` with one text bind per value; `values` must not be empty.
pub(crate) fn in_list<T: std::fmt::Display>(sql: &mut Sql, values: impl IntoIterator<Item = T>) {
    let binds: Vec<Bind> = values.into_iter().map(|v| Bind::Text(v.to_string())).collect();
    let marks = vec!["?"; binds.len()].join(", ");
    sql.push(&format!(" IN ({marks})"), binds);
}

impl Page {
    /// Appends the ordering and slice (after the WHERE conditions). A keyset page's size is
    /// written into the statement, not bound: PostgreSQL's generic plan for `LIMIT $n` assumes
    /// a third of the rows, and for a page of numbers with their views it then planned two
    /// parallel workers per page (6.6 ms instead of 0.6 ms). Page sizes are few, so are the
    /// statements.
    pub(crate) fn apply(self, sql: &mut Sql) {
        match self {
            Page::After { seq: Some(seq), limit } => sql.push(&format!(" AND seq > ? ORDER BY seq LIMIT {limit}"), [Bind::Int(seq)]),
            Page::After { seq: None, limit } => sql.push(&format!(" ORDER BY seq LIMIT {limit}"), []),
            Page::Offset { offset, limit } => sql.push(" ORDER BY seq LIMIT ? OFFSET ?", [Bind::Int(limit), Bind::Int(offset)]),
        };
    }
}

/// The value types rows are read as, on every path.
pub(crate) trait Cell:
    for<'r> sqlx::Decode<'r, Any>
    + sqlx::Type<Any>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
    + rusqlite::types::FromSql
{
}
impl Cell for String {}
impl Cell for Option<String> {}
impl Cell for i64 {}
impl Cell for Option<i64> {}

/// A row read through sqlx (`AnyRow`, PostgreSQL's read pool's `PgRow`) or on a SQLite reader,
/// by column name.
pub(crate) trait Cells {
    fn cell<T: Cell>(&self, col: &str) -> sqlx::Result<T>;
}

impl Cells for sqlx::any::AnyRow {
    fn cell<T: Cell>(&self, col: &str) -> sqlx::Result<T> {
        sqlx::Row::try_get(self, col)
    }
}

impl Cells for sqlx::postgres::PgRow {
    fn cell<T: Cell>(&self, col: &str) -> sqlx::Result<T> {
        sqlx::Row::try_get(self, col)
    }
}

/// A record decoded from a row of any of those paths.
pub(crate) trait FromCells: Sized {
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self>;
}

/// A text column read with `parse`; a value the code cannot read is a decode error naming it.
pub(crate) fn column<T, R: Cells>(row: &R, col: &str, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let s: String = row.cell(col)?;
    parse(&s).ok_or_else(|| sqlx::Error::Decode(format!("unexpected {col} in the database: {s:?}").into()))
}

/// An id (or any `FromStr`) stored as text.
pub(crate) fn parsed<T: FromStr, R: Cells>(row: &R, col: &str) -> sqlx::Result<T> {
    column(row, col, |s| s.parse().ok())
}

/// A text value fetched on its own, read with `FromStr`; one the code cannot read is a decode
/// error naming its column, never skipped.
pub(crate) fn parse_text<T: FromStr>(col: &str, s: &str) -> sqlx::Result<T> {
    s.parse().map_err(|_| sqlx::Error::Decode(format!("unexpected {col} in the database: {s:?}").into()))
}

pub(crate) fn parsed_opt<T: FromStr, R: Cells>(row: &R, col: &str) -> sqlx::Result<Option<T>> {
    match row.cell::<Option<String>>(col)? {
        Some(_) => parsed(row, col).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_push_order() {
        let mut sql = Sql::new("SELECT 1 FROM t");
        sql.push(" WHERE a = ?", [Bind::Text("x".into())]);
        sql.push(" AND (b = ? OR c = ?)", [Bind::Int(1), Bind::Int(2)]);
        Page::Offset { offset: 20, limit: 10 }.apply(&mut sql);
        assert_eq!(sql.text, "SELECT 1 FROM t WHERE a = $1 AND (b = $2 OR c = $3) ORDER BY seq LIMIT $4 OFFSET $5");
        assert_eq!(sql.binds.len(), 5);
        assert!(matches!(sql.binds[3], Bind::Int(10)) && matches!(sql.binds[4], Bind::Int(20)));
        let mut keyset = Sql::new("SELECT 1 FROM t");
        keyset.push(" WHERE a = ?", [Bind::Int(1)]);
        Page::After { seq: Some(7), limit: 100 }.apply(&mut keyset);
        assert_eq!(keyset.text, "SELECT 1 FROM t WHERE a = $1 AND seq > $2 ORDER BY seq LIMIT 100");
        assert_eq!(keyset.binds.len(), 2);
    }
}
