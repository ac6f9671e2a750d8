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

/// Timestamps in JSON bodies, written exactly as chrono's `Serialize` writes them (RFC 3339 with
/// `Z` and a fraction of 0, 3, 6 or 9 digits) but as one string: chrono hands serde_json one
/// character at a time, each escaped on its own, which was a fifth of the time to write a page.
/// For `#[serde(serialize_with = "...")]`.
pub mod json {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    use serde::{Serialize, Serializer};

    pub fn ts<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 30];
        match write(t, &mut buf) {
            Some(len) => s.serialize_str(std::str::from_utf8(&buf[..len]).expect("ASCII")),
            None => t.serialize(s),
        }
    }

    pub fn opt_ts<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => ts(t, s),
            None => s.serialize_none(),
        }
    }

    /// Appends `t` as a JSON string, as [`ts`] writes it.
    pub fn push(t: &DateTime<Utc>, out: &mut Vec<u8>) {
        let mut buf = [0u8; 30];
        match write(t, &mut buf) {
            Some(len) => {
                out.push(b'"');
                out.extend_from_slice(&buf[..len]);
                out.push(b'"');
            }
            None => serde_json::to_writer(out, t).expect("timestamps serialise"),
        }
    }

    /// Writes `t` into `buf`, returning its length; `None` (chrono's own path) for years outside
    /// 0–9999 and leap seconds, which need signs, more digits or a 60th second.
    fn write(t: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
        // Each accessor of a `DateTime` converts it to local time again; a naive one does not.
        let (date, time) = (t.naive_utc().date(), t.naive_utc().time());
        let (year, nanos) = (date.year(), time.nanosecond());
        if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
            return None;
        }
        let mut at = 0;
        let mut put = |value: u32, width: u32, then: u8| {
            for i in 0..width {
                buf[at + i as usize] = b'0' + (value / 10u32.pow(width - 1 - i) % 10) as u8;
            }
            at += width as usize;
            if then != 0 {
                buf[at] = then;
                at += 1;
            }
        };
        put(year as u32, 4, b'-');
        put(date.month(), 2, b'-');
        put(date.day(), 2, b'T');
        put(time.hour(), 2, b':');
        put(time.minute(), 2, b':');
        match nanos {
            0 => put(time.second(), 2, b'Z'),
            n if n % 1_000_000 == 0 => {
                put(time.second(), 2, b'.');
                put(n / 1_000_000, 3, b'Z');
            }
            n if n % 1_000 == 0 => {
                put(time.second(), 2, b'.');
                put(n / 1_000, 6, b'Z');
            }
            n => {
                put(time.second(), 2, b'.');
                put(n, 9, b'Z');
            }
        }
        Some(at)
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, Utc};

        #[derive(serde::Serialize)]
        struct Both {
            #[serde(serialize_with = "super::ts")]
            ours: DateTime<Utc>,
            chrono: DateTime<Utc>,
            #[serde(serialize_with = "super::opt_ts")]
            some: Option<DateTime<Utc>>,
            #[serde(serialize_with = "super::opt_ts")]
            none: Option<DateTime<Utc>>,
        }

        #[test]
        fn timestamps_are_written_as_chrono_writes_them() {
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next = || {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                seed >> 11
            };
            let edges = [
                (0, 0),
                (-1, 999_999_999),
                (253_402_300_799, 999_000_000),
                (-62_167_219_200, 0),
                (-62_167_219_201, 0),
                (253_402_300_800, 0),
            ];
            let random = (0..20_000).map(|i| {
                let secs = (next() % 300_000_000_000) as i64 - 62_000_000_000;
                // Whole seconds, milli-, micro- and nanosecond fractions, evenly.
                let nanos = (next() % 1_000_000_000) as u32 / [1_000_000_000, 1_000_000, 1_000, 1][i % 4]
                    * [1_000_000_000, 1_000_000, 1_000, 1][i % 4];
                (secs, nanos % 1_000_000_000)
            });
            for (secs, nanos) in edges.into_iter().chain(random) {
                let t = DateTime::from_timestamp(secs, nanos).unwrap();
                let v = serde_json::to_value(Both { ours: t, chrono: t, some: Some(t), none: None }).unwrap();
                assert_eq!(v["ours"], v["chrono"], "{secs} s {nanos} ns");
                assert_eq!(v["some"], v["chrono"]);
                assert!(v["none"].is_null());
            }
        }
    }
}
