//! Monthly billing periods anchored on the subscription start.
//!
//! Period `n` runs from `anchor + n months` to `anchor + (n + 1) months`, each clamped to the last
//! day of a shorter month. Computing every boundary from the anchor (never from the previous end)
//! means a clamp in February does not drag every later period to the 28th.

use chrono::{DateTime, Months, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub index: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn boundary(anchor: DateTime<Utc>, months: i64) -> DateTime<Utc> {
    let months = u32::try_from(months).expect("period index is never negative");
    anchor
        .checked_add_months(Months::new(months))
        .expect("billing periods stay within chrono's range")
}

pub fn period(anchor: DateTime<Utc>, index: i64) -> Period {
    Period {
        index,
        start: boundary(anchor, index),
        end: boundary(anchor, index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn month_ends_clamp_without_drifting() {
        let anchor = at(2025, 1, 31, 10);
        let ends: Vec<_> = (0..4).map(|i| period(anchor, i).end).collect();
        assert_eq!(
            ends,
            vec![at(2025, 2, 28, 10), at(2025, 3, 31, 10), at(2025, 4, 30, 10), at(2025, 5, 31, 10)]
        );
    }

    #[test]
    fn leap_year_february_has_the_29th() {
        let anchor = at(2024, 1, 31, 10);
        assert_eq!(period(anchor, 0).end, at(2024, 2, 29, 10));
        assert_eq!(period(anchor, 1).start, at(2024, 2, 29, 10));
        assert_eq!(period(anchor, 1).end, at(2024, 3, 31, 10));
    }

    #[test]
    fn periods_are_contiguous() {
        let anchor = at(2023, 8, 30, 23);
        for i in 0..40 {
            assert_eq!(period(anchor, i).end, period(anchor, i + 1).start);
            assert!(period(anchor, i).start < period(anchor, i).end);
        }
    }

    #[test]
    fn time_of_day_is_kept() {
        let anchor = Utc.with_ymd_and_hms(2025, 3, 15, 13, 45, 7).unwrap();
        assert_eq!(period(anchor, 11).end, Utc.with_ymd_and_hms(2026, 3, 15, 13, 45, 7).unwrap());
    }
}
