//! SQLite's checkpoints, in the background. In WAL mode every commit appends to the log, and the
//! log is copied back into the database file by a checkpoint; by default the write that commits
//! past a threshold runs it, inside its own request and while holding the node's writer turn (a
//! fifth of the period-end sweep's time). Here a thread of its own checkpoints every
//! [`INTERVAL`] beside the writer, and writes checkpoint themselves only past [`BACKSTOP_PAGES`],
//! should this thread fall behind.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

const INTERVAL: Duration = Duration::from_millis(100);

/// The log size, in pages, past which a commit checkpoints by itself: far above what a busy
/// [`INTERVAL`] appends (a sweep batch is about a thousand pages), so it only acts as a backstop.
pub(crate) const BACKSTOP_PAGES: u32 = 16_384;

/// Checkpoints `file` until dropped (with the last clone of its [`super::Db`]).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    _stop: SyncSender<()>,
}

impl Checkpointer {
    pub fn start(file: PathBuf) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::sync_channel::<()>(0);
        std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || {
            let mut conn = None;
            // Nothing is ever sent: the channel disconnects when the checkpointer is dropped.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                if let Err(e) = checkpoint(&mut conn, &file) {
                    // A full disk or an unreadable file: the next write reports it to its client;
                    // the connection is opened afresh next time.
                    tracing::debug!(error = %e, "background checkpoint failed");
                    conn = None;
                }
            }
        })?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn checkpoint(conn: &mut Option<Connection>, file: &Path) -> rusqlite::Result<()> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?),
    };
    // PASSIVE copies what no reader still needs and never waits for a lock; it runs beside the
    // writer, and the log starts over at the first commit after it caught up.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
