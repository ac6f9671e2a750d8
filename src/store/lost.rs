//! When this node last lost a connection to the database server. A restart or a failover ends
//! every connection at once, but each pooled one would find out only when next used: one failed
//! request per idle connection. Once one is found lost, those open since before are given up
//! unused instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

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
