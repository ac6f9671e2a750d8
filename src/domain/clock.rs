use chrono::{DateTime, Utc};

/// Wall-clock source, injectable so tests and test-mode workspaces can control time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate(Utc::now())
    }
}

/// Drops sub-microsecond precision, which storage would drop anyway, so a response written from
/// memory shows the same instant as a later read.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    from_micros(to_micros(t))
}

/// Timestamps are stored as integer microseconds since the Unix epoch so both backends
/// compare and index them the same way.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).expect("stored timestamps are in range")
}
