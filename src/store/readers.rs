//! SQLite's readers: read-only connections that run a short read in place, on the task that asks.
//!
//! sqlx-sqlite runs every statement on a worker thread of its own and hands rows back over a
//! channel; for a lookup by key that handoff (futex wakes and context switches on both sides)
//! cost several times the query. A reader skips it: the statement runs on the calling thread, so
//! at most one reader per runtime thread is ever in use and the idle ones are simply kept. The
//! reads sent here are index lookups and ranges of a page or so, a few to a few hundred
//! microseconds, short enough to run on the runtime; WAL lets them proceed beside the writer.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Bind, Cells, FromCells, Sql, StoredFailure};

/// The longest a reader waits for a lock: it blocks its runtime thread meanwhile.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// Statements a reader keeps prepared: the few shapes of numberd's reads, with each list filter.
const PREPARED: usize = 64;

#[derive(Debug)]
pub(crate) struct Readers {
    file: PathBuf,
    busy_timeout: Duration,
    mmap_bytes: u64,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// `file` is the database file sqlx opened; each reader maps up to `mmap_bytes` of it.
    pub fn new(file: &Path, busy_timeout: Duration, mmap_bytes: u64) -> Self {
        // A reader waits only while the WAL index is being rebuilt after a crash, and since it
        // waits on a runtime thread, not for long: past that the read answers 503.
        Readers { file: file.to_owned(), busy_timeout: busy_timeout.min(MAX_WAIT), mmap_bytes, idle: Mutex::default() }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(&self.file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        // Mapped, a lookup reads the pages the OS holds in place; otherwise each one it misses in
        // the reader's 2 MB cache is copied in by a system call. At 1,000,000 numbers that made
        // GET 0.47-0.53x of the bare handler instead of 0.58-0.69x. (SQLite caps the size at
        // the limit it was built with.)
        conn.pragma_update(None, "mmap_size", i64::try_from(self.mmap_bytes).unwrap_or(i64::MAX))?;
        Ok(conn)
    }

    /// Runs `sql` on an idle reader (a new one if none is idle) and decodes every row.
    pub fn all<T: FromCells>(&self, sql: &Sql) -> sqlx::Result<Vec<T>> {
        let taken = self.idle.lock().expect("not poisoned").pop();
        let conn = match taken {
            Some(c) => c,
            None => self.open().map_err(to_sqlx)?,
        };
        let out = run(&conn, sql);
        // A reader whose statement failed is kept too: it holds no transaction once the
        // statement is reset, and a broken file fails the next open just the same.
        self.idle.lock().expect("not poisoned").push(conn);
        out
    }
}

fn run<T: FromCells>(conn: &Connection, sql: &Sql) -> sqlx::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(&sql.text).map_err(to_sqlx)?;
    // `$n` placeholders are named parameters to SQLite, numbered by first appearance. `Sql`
    // writes them in order, so `$n` is the n-th; that is checked by name (looking each one up
    // instead walks them all, quadratic in a long IN list).
    if stmt.parameter_count() != sql.binds.len() {
        return Err(sqlx::Error::Protocol(format!("{} binds for {}", sql.binds.len(), sql.text)));
    }
    for (i, bind) in sql.binds.iter().enumerate() {
        let at = i + 1;
        if stmt.parameter_name(at).and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok()) != Some(at) {
            return Err(sqlx::Error::Protocol(format!("parameter {at} of {} is not ${at}", sql.text)));
        }
        stmt.raw_bind_parameter(at, bind).map_err(to_sqlx)?;
    }
    let names = Names::of(&stmt);
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(to_sqlx)? {
        out.push(T::from_cells(&Named { row, names: &names, next: Cell::new(0) })?);
    }
    Ok(out)
}

/// A statement's column names, copied once per query into one buffer: asking SQLite for a name
/// on every cell was a twelfth of a page of numbers, and a `String` per name a tenth of a GET.
struct Names {
    text: String,
    ends: Vec<usize>,
}

impl Names {
    fn of(stmt: &rusqlite::Statement<'_>) -> Self {
        let mut names = Names { text: String::with_capacity(512), ends: Vec::with_capacity(stmt.column_count()) };
        for name in stmt.column_names() {
            names.text.push_str(name);
            names.ends.push(names.text.len());
        }
        names
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// A reader's row, its columns found by name. Records are read mostly in the order they were
/// selected, so the search starts just past the column found last and usually ends at its first
/// name.
struct Named<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r Names,
    next: Cell<usize>,
}

impl Cells for Named<'_, '_> {
    fn cell<T: super::Cell>(&self, col: &str) -> sqlx::Result<T> {
        let (n, start) = (self.names.ends.len(), self.next.get());
        let at = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.names.get(i) == col)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(col.to_owned()))?;
        self.next.set(at + 1);
        self.row.get(at).map_err(to_sqlx)
    }
}

impl rusqlite::ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Bind::Text(s) => s.to_sql(),
            Bind::Int(i) => i.to_sql(),
            Bind::OptText(s) => s.to_sql(),
            Bind::OptInt(i) => i.to_sql(),
        }
    }
}

/// SQLite's own failures keep their result code, so a locked, full or unreadable database is
/// told apart from a bug as on the sqlx path (see [`super::unavailability`]).
fn to_sqlx(err: rusqlite::Error) -> sqlx::Error {
    match err {
        rusqlite::Error::SqliteFailure(e, message) => sqlx::Error::Database(Box::new(StoredFailure {
            code: e.extended_code.to_string(),
            message: message.unwrap_or_else(|| e.to_string()),
        })),
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => sqlx::Error::Decode(Box::new(err)),
        rusqlite::Error::InvalidColumnName(name) => sqlx::Error::ColumnNotFound(name),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::NumberRecord;

    #[test]
    fn readers_map_as_much_of_the_file_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("numberd.db");
        Connection::open(&file).unwrap().execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        for bytes in [0, 1 << 20] {
            let reader = Readers::new(&file, Duration::from_millis(10), bytes).open().unwrap();
            let mapped: i64 = reader.pragma_query_value(None, "mmap_size", |row| row.get(0)).unwrap();
            assert_eq!(mapped, bytes as i64);
        }
    }

    #[test]
    fn a_file_a_reader_cannot_open_is_unavailability_not_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let readers = Readers::new(&dir.path().join("gone").join("numberd.db"), Duration::from_millis(10), 1 << 20);
        let err = readers.all::<NumberRecord>(&Sql::new("SELECT 1")).unwrap_err();
        assert_eq!(super::super::unavailability(&err), Some("the database file cannot be read or written"), "{err}");
    }
}
