//! The release policy and subscription state machine (see `shared/design/lifecycle.md`).
//! Pure decisions: callers load the state under a lock, ask here what to do, and write the answer.

use chrono::{DateTime, Utc};

use super::number::{NumberKind, SubscriptionStatus};
use super::period::{period, Period};

/// Why an operation cannot proceed; each maps to one client-visible error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A dedicated number whose subscription is already canceling.
    AlreadyScheduled,
    /// A dedicated number that has reached the end of its last period.
    AlreadyReleased,
    /// SIP numbers and caller IDs are not billed, so they have no subscription to cancel.
    NoSubscription,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Cancel the subscription; the number stays until its paid period ends.
    ScheduleAtPeriodEnd,
    /// Leave the workspace now; a caller ID must first be removed at the carrier.
    DeleteNow { remove_from_carrier: bool },
}

pub fn release(kind: NumberKind, sub: SubscriptionStatus) -> Result<Release, Refusal> {
    match kind {
        NumberKind::Sip => Ok(Release::DeleteNow { remove_from_carrier: false }),
        NumberKind::CallerId => Ok(Release::DeleteNow { remove_from_carrier: true }),
        NumberKind::Dedicated => match sub {
            SubscriptionStatus::Active => Ok(Release::ScheduleAtPeriodEnd),
            SubscriptionStatus::Canceling => Err(Refusal::AlreadyScheduled),
            SubscriptionStatus::Canceled => Err(Refusal::AlreadyReleased),
            SubscriptionStatus::None => Err(Refusal::NoSubscription),
        },
    }
}

/// Outcome of an idempotent transition: either it changes something or it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Apply,
    Unchanged,
}

/// cancel-subscription: `active` → `canceling`; again → nothing moves.
pub fn cancel(sub: SubscriptionStatus) -> Result<Change, Refusal> {
    match sub {
        SubscriptionStatus::Active => Ok(Change::Apply),
        SubscriptionStatus::Canceling => Ok(Change::Unchanged),
        SubscriptionStatus::Canceled => Err(Refusal::AlreadyReleased),
        SubscriptionStatus::None => Err(Refusal::NoSubscription),
    }
}

/// resume: `canceling` → `active` (only before the period ends, which the caller guarantees by
/// settling due periods first); an active subscription is left as it is.
pub fn resume(sub: SubscriptionStatus) -> Result<Change, Refusal> {
    match sub {
        SubscriptionStatus::Canceling => Ok(Change::Apply),
        SubscriptionStatus::Active => Ok(Change::Unchanged),
        SubscriptionStatus::Canceled => Err(Refusal::AlreadyReleased),
        SubscriptionStatus::None => Err(Refusal::NoSubscription),
    }
}

/// What a subscription looks like to the period-end logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Billing {
    pub status: SubscriptionStatus,
    pub anchor: DateTime<Utc>,
    pub period_index: i64,
}

impl Billing {
    pub fn current(&self) -> Period {
        period(self.anchor, self.period_index)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The subscription renewed into this period.
    Renewed(Period),
    /// A canceling subscription reached its period end: the number leaves at `at`.
    Released { at: DateTime<Utc> },
}

/// Every period end that has fallen due by `now`, in order. A long outage yields one renewal per
/// missed period (each is billed), and a cancellation ends the chain.
pub fn settle(billing: Billing, now: DateTime<Utc>) -> (Billing, Vec<Step>) {
    let mut b = billing;
    let mut steps = Vec::new();
    loop {
        let current = b.current();
        if current.end > now {
            break;
        }
        match b.status {
            SubscriptionStatus::Active => {
                b.period_index += 1;
                steps.push(Step::Renewed(b.current()));
            }
            SubscriptionStatus::Canceling => {
                b.status = SubscriptionStatus::Canceled;
                steps.push(Step::Released { at: current.end });
                break;
            }
            SubscriptionStatus::Canceled | SubscriptionStatus::None => break,
        }
    }
    (b, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn release_by_kind() {
        use SubscriptionStatus as S;
        assert_eq!(release(NumberKind::Dedicated, S::Active), Ok(Release::ScheduleAtPeriodEnd));
        assert_eq!(release(NumberKind::Dedicated, S::Canceling), Err(Refusal::AlreadyScheduled));
        assert_eq!(release(NumberKind::Dedicated, S::Canceled), Err(Refusal::AlreadyReleased));
        assert_eq!(release(NumberKind::Sip, S::None), Ok(Release::DeleteNow { remove_from_carrier: false }));
        assert_eq!(release(NumberKind::CallerId, S::None), Ok(Release::DeleteNow { remove_from_carrier: true }));
    }

    #[test]
    fn cancel_and_resume_are_idempotent() {
        use SubscriptionStatus as S;
        assert_eq!(cancel(S::Active), Ok(Change::Apply));
        assert_eq!(cancel(S::Canceling), Ok(Change::Unchanged));
        assert_eq!(cancel(S::None), Err(Refusal::NoSubscription));
        assert_eq!(resume(S::Canceling), Ok(Change::Apply));
        assert_eq!(resume(S::Active), Ok(Change::Unchanged));
        assert_eq!(resume(S::Canceled), Err(Refusal::AlreadyReleased));
    }

    #[test]
    fn settle_renews_each_missed_period_then_stops() {
        let b = Billing { status: SubscriptionStatus::Active, anchor: t(1, 31), period_index: 0 };
        let (after, steps) = settle(b, t(4, 1));
        assert_eq!(after.period_index, 2);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1], Step::Renewed(period(t(1, 31), 2)));
        assert_eq!(after.current().end, t(4, 30));
        let (same, none) = settle(after, t(4, 1));
        assert_eq!((same, none.len()), (after, 0));
    }

    #[test]
    fn settle_releases_a_canceling_subscription_at_its_period_end() {
        let b = Billing { status: SubscriptionStatus::Canceling, anchor: t(1, 31), period_index: 0 };
        assert!(settle(b, t(2, 27)).1.is_empty());
        let (after, steps) = settle(b, t(9, 1));
        assert_eq!(steps, vec![Step::Released { at: t(2, 28) }]);
        assert_eq!(after.status, SubscriptionStatus::Canceled);
    }
}
