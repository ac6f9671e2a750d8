//! When this node last lost a connection to the database server. A restart or a failover ends
//! every connection at once, but each pooled one would find out only when next used: one failed
//! request per idle connection. Once one is found lost, those open since before are given up
//! unused instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether `err` says the connection itself is gone, not only its statement: the socket failed,
/// or the server ended the session (connection exceptions, shutdown, termination). A server short
/// of memory or disk keeps its connections; new ones would only cost it more.
pub(crate) fn ends_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Lost(Mutex<Option<Instant>>);

impl Lost {
    pub fn record(&self) {
        *self.0.lock().expect("not poisoned") = Some(Instant::now());
    }

    /// Whether a connection open for `age` was already open when the last one was lost.
    pub fn predates(&self, age: Duration) -> bool {
        self.0.lock().expect("not poisoned").is_some_and(|at| age >= at.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredFailure;

    fn server_error(code: &str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(StoredFailure { code: code.into(), message: String::new() }))
    }

    #[test]
    fn only_failures_that_end_the_session_count_as_lost() {
        for code in ["57P01", "57P03", "08006"] {
            assert!(ends_connection(&server_error(code)), "{code}");
            assert!(crate::store::unavailability(&server_error(code)).is_some(), "{code}");
        }
        // Out of memory or disk, too many connections: unavailable, but the connection stays.
        for code in ["53200", "53100", "53300"] {
            assert!(!ends_connection(&server_error(code)), "{code}");
            assert!(crate::store::unavailability(&server_error(code)).is_some(), "{code}");
        }
        assert!(!ends_connection(&server_error("23505")), "a unique violation leaves the connection as it was");
        assert!(ends_connection(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())));
        assert!(!ends_connection(&sqlx::Error::PoolTimedOut), "no connection was involved");
    }

    #[test]
    fn connections_open_before_a_loss_predate_it() {
        let lost = Lost::default();
        assert!(!lost.predates(Duration::from_secs(3600)), "nothing lost yet");
        std::thread::sleep(Duration::from_millis(5));
        lost.record();
        assert!(lost.predates(Duration::from_secs(1)), "opened a second ago, before the loss just now");
        std::thread::sleep(Duration::from_millis(20));
        assert!(!lost.predates(Duration::from_millis(10)), "opened after the loss");
    }
}
