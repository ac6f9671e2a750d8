//! PostgreSQL's read connections, kept out of the pool between reads.
//!
//! sqlx pings every connection given back to its pool (a `Sync` and its answer), whatever the
//! pool's options say: one more round trip after every read, waking a server process and then
//! this one. A read that ends cleanly leaves its connection idle here instead, ready for the next
//! read; one that fails or is dropped half-way gives it back to the pool, whose ping then drains
//! or discards it.
//!
//! A held connection also goes back once it has been held a [`REFRESH`], so the pool's own
//! lifetime and idle limits still apply, and once a connection of this node has been found lost
//! since it was taken (see [`super::lost`]).
//!
//! Connections idle here are out of the pool's reach, so reads queue for a turn here (as many
//! turns as the pool has connections), never inside the pool: a turn always finds an idle
//! connection or room in the pool.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::Semaphore;

use super::lost::Lost;

/// How long a connection stays out of the pool.
const REFRESH: Duration = Duration::from_secs(60);

/// Idle connections, each with the time it was taken from the pool.
type Idle = Mutex<Vec<(PoolConnection<Postgres>, Instant)>>;

#[derive(Clone, Debug)]
pub(crate) struct HeldReads {
    pool: PgPool,
    turns: Arc<Semaphore>,
    wait: Duration,
    idle: Arc<Idle>,
    lost: Arc<Lost>,
}

impl HeldReads {
    /// `pool` is used by nothing else; a read waits at most `wait` for its turn.
    pub fn new(pool: PgPool, wait: Duration, lost: Arc<Lost>) -> Self {
        let turns = Arc::new(Semaphore::new(pool.options().get_max_connections() as usize));
        HeldReads { pool, turns, wait, idle: Arc::default(), lost }
    }

    /// Runs `read` on an idle connection, or a new one from the pool. A failure that ends the
    /// connection is recorded as a loss: the idle ones, taken before it, then go back to the pool,
    /// whose check discards the broken ones, so one read fails, not one per idle connection.
    pub async fn run<T>(&self, read: impl AsyncFnOnce(&mut PgConnection) -> sqlx::Result<T>) -> sqlx::Result<T> {
        let turn = match tokio::time::timeout(self.wait, self.turns.acquire()).await {
            Ok(turn) => turn.expect("never closed"),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = {
            let mut idle = self.idle.lock().expect("not poisoned");
            idle.retain(|(_, since)| !self.lost.predates(since.elapsed()));
            idle.pop()
        };
        let (mut conn, since) = match idle {
            Some(held) => held,
            None => (self.pool.acquire().await?, Instant::now()),
        };
        // Dropped half-way, or not kept below, `conn` goes back to the pool, which drains it.
        let out = read(&mut conn).await;
        match &out {
            // Idle before the turn ends, so the next turn finds it.
            Ok(_) if since.elapsed() < REFRESH => self.idle.lock().expect("not poisoned").push((conn, since)),
            Err(e) if super::lost::ends_connection(e) => self.lost.record(),
            _ => {}
        }
        drop(turn);
        out
    }
}
