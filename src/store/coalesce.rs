//! PostgreSQL: concurrent reads of single numbers by id, sent together as one query.
//!
//! A query costs a round trip that wakes a server process and then this one; with many requests
//! in flight that handoff, not the lookup, was most of a GET's time. Reads that arrive while
//! earlier ones are being answered go together as one `id = ANY($1)`; a read that finds nothing
//! in flight goes at once, alone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::held::HeldReads;
use super::numbers::{Listed, BY_IDS_SQL, LISTED_BY_IDS_SQL};
use super::{Cells, FromCells, StoredFailure};
use crate::domain::ids::{NumberId, WorkspaceId};
use crate::domain::record::NumberRecord;

/// How long reads wait for the query ahead of them before a second one goes out beside it. One
/// query at a time lets reads gather into few, large queries, each a round trip that wakes a
/// server process; a second keeps one slow query from holding up every read.
const SLOW: Duration = Duration::from_millis(2);

/// Reads one query carries at most.
const MAX_BATCH: usize = 128;

/// The coalesced reads: numbers read whole, and as a list reads them (a `GET` of the native API).
#[derive(Debug)]
pub(crate) struct Coalesced {
    pub whole: NumberReads<NumberRecord>,
    pub listed: NumberReads<Listed>,
}

impl Coalesced {
    pub fn start(conns: HeldReads, wait: Duration) -> Self {
        Coalesced {
            whole: NumberReads::start(conns.clone(), wait, BY_IDS_SQL.as_str()),
            listed: NumberReads::start(conns, wait, LISTED_BY_IDS_SQL.as_str()),
        }
    }
}

type Reply<T> = oneshot::Sender<sqlx::Result<Option<T>>>;

/// Reads of numbers as `T`, each answered from a statement over `$1`, a text array of ids, whose
/// rows carry `id`, `workspace_id` and `deleted_at` beside what `T` reads.
#[derive(Debug)]
pub(crate) struct NumberReads<T> {
    queue: mpsc::UnboundedSender<(WorkspaceId, NumberId, Reply<T>)>,
    /// How long a read waits for its answer, queued or sent: the acquire timeout, as for any
    /// read, so reads piling up behind queries that hang still answer 503 in time.
    wait: Duration,
}

impl<T: FromCells + Clone + Send + 'static> NumberReads<T> {
    /// Starts the task that sends the reads; it ends when the last handle is dropped.
    pub fn start(conns: HeldReads, wait: Duration, sql: &'static str) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<(WorkspaceId, NumberId, Reply<T>)>();
        tokio::spawn(async move {
            let (first_slot, second_slot) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
            loop {
                // Waiting for a free slot first is what lets reads gather meanwhile.
                let slot = tokio::select! {
                    slot = first_slot.clone().acquire_owned() => slot,
                    slot = async {
                        tokio::time::sleep(SLOW).await;
                        second_slot.clone().acquire_owned().await
                    } => slot,
                }
                .expect("never closed");
                let Some(first) = waiting.recv().await else { return };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(read) => batch.push(read),
                        Err(_) => break,
                    }
                }
                let conns = conns.clone();
                tokio::spawn(async move {
                    answer(&conns, sql, batch).await;
                    drop(slot);
                });
            }
        });
        NumberReads { queue, wait }
    }

    /// The live number `id` of workspace `ws`, if any.
    pub async fn get(&self, ws: WorkspaceId, id: NumberId) -> sqlx::Result<Option<T>> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((ws, id, reply)).map_err(|_| sqlx::Error::PoolClosed)?;
        match tokio::time::timeout(self.wait, answer).await {
            Ok(answered) => answered.map_err(|_| sqlx::Error::PoolClosed)?,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// A row found, with what tells whether the read that asked for it may see it.
struct Found<T> {
    id: NumberId,
    ws: WorkspaceId,
    live: bool,
    row: T,
}

impl<T: FromCells> FromCells for Found<T> {
    fn from_cells<R: Cells>(row: &R) -> sqlx::Result<Self> {
        Ok(Found {
            id: super::parsed(row, "id")?,
            ws: super::parsed(row, "workspace_id")?,
            live: row.cell::<Option<i64>>("deleted_at")?.is_none(),
            row: T::from_cells(row)?,
        })
    }
}

async fn answer<T: FromCells + Clone>(conns: &HeldReads, sql: &str, batch: Vec<(WorkspaceId, NumberId, Reply<T>)>) {
    let ids: Vec<String> = batch.iter().map(|(_, id, _)| id.to_string()).collect();
    let found = match conns.run(async |conn| sqlx::query(sql).bind(&ids).fetch_all(conn).await).await {
        Ok(rows) => rows.iter().map(Found::<T>::from_cells).collect::<sqlx::Result<Vec<_>>>(),
        Err(e) => Err(e),
    };
    for (ws, id, reply) in batch {
        // A reader that hung up is simply not answered.
        let _ = reply.send(match &found {
            // Another workspace's number is not found, nor a deleted one, as by `get`.
            Ok(rows) => Ok(rows.iter().find(|f| f.id == id && f.ws == ws && f.live).map(|f| f.row.clone())),
            Err(e) => Err(StoredFailure::copy(e)),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A server that accepts connections and never answers, as behind a dropped route, and the
    /// count of connections it accepted.
    async fn silent_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        (addr, accepted)
    }

    fn reads_from(addr: std::net::SocketAddr, wait: Duration) -> NumberReads<NumberRecord> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(wait)
            .connect_lazy(&format!("postgres://postgres@{addr}/numberd"))
            .unwrap();
        NumberReads::start(HeldReads::new(pool, wait, Arc::default()), wait, BY_IDS_SQL.as_str())
    }

    #[tokio::test]
    async fn reads_queued_behind_hanging_queries_time_out_together() {
        let wait = Duration::from_millis(300);
        let reads = reads_from(silent_server().await.0, wait);
        let started = std::time::Instant::now();
        // Enough reads for several rounds of full batches behind the two hanging queries.
        let all = (0..1000).map(|_| reads.get(WorkspaceId::new(), NumberId::new()));
        for result in futures::future::join_all(all).await {
            assert!(matches!(result, Err(sqlx::Error::PoolTimedOut)), "{result:?}");
        }
        assert!(started.elapsed() < wait * 3, "every read gave up after the wait, not after its turn: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_read_goes_out_beside_a_query_that_hangs() {
        let (addr, accepted) = silent_server().await;
        let wait = Duration::from_millis(500);
        let reads = Arc::new(reads_from(addr, wait));
        let read = || {
            let reads = reads.clone();
            tokio::spawn(async move { reads.get(WorkspaceId::new(), NumberId::new()).await })
        };
        // Well before the hanging query gives up (`wait`), however busy the machine.
        let reaches = |n: usize| {
            let accepted = accepted.clone();
            async move {
                let deadline = std::time::Instant::now() + wait / 2;
                while accepted.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                accepted.load(Ordering::SeqCst)
            }
        };
        let first = read();
        assert_eq!(reaches(1).await, 1, "one read, one query");
        let second = read();
        assert_eq!(reaches(2).await, 2, "the next read went out beside the hanging query, not after it");
        for read in [first, second] {
            assert!(matches!(read.await.unwrap(), Err(sqlx::Error::PoolTimedOut)));
        }
    }
}
