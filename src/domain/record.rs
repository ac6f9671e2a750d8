//! A number as the core sees it: inventory fields, its `main` subscription and the rules that
//! read them. `src/store` maps rows to these.

use chrono::{DateTime, Utc};

use super::ids::{NumberId, SubscriptionId, WorkspaceId};
use super::lifecycle::Billing;
use super::money::Money;
use super::number::{Capabilities, NumberConfigurations, NumberKind, NumberStatus, NumberType, SubscriptionStatus};
use super::period::Period;

#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRecord {
    pub id: SubscriptionId,
    pub status: SubscriptionStatus,
    /// Start of the first period; every period boundary is computed from it.
    pub anchor: DateTime<Utc>,
    pub period_index: i64,
    pub subscribed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl SubscriptionRecord {
    pub fn billing(&self) -> Billing {
        Billing { status: self.status, anchor: self.anchor, period_index: self.period_index }
    }

    pub fn current_period(&self) -> Period {
        self.billing().current()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NumberRecord {
    /// Integer id: the Autocalls dialect's `id`.
    pub seq: i64,
    pub id: NumberId,
    pub workspace_id: WorkspaceId,
    pub e164: String,
    pub kind: NumberKind,
    pub number_type: NumberType,
    pub country: String,
    pub capabilities: Capabilities,
    pub price: Option<Money>,
    pub configurations: NumberConfigurations,
    pub nickname: Option<String>,
    pub status: NumberStatus,
    pub subscription: Option<SubscriptionRecord>,
    pub activated_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where the number is held, when a carrier account manages it (bought, adopted, or a caller
    /// ID verified there); `None` for numbers registered by hand.
    pub carrier: Option<CarrierHolding>,
}

super::text_enum!(
    /// The kind of a carrier account.
    AccountKind { Twilio = "twilio", Telnyx = "telnyx" }
);

/// The carrier account holding a number and the carrier's own id for it: Twilio's `PN…` sid,
/// Telnyx's phone-number id (for a caller ID at Telnyx, the E.164 number itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierHolding {
    /// The account's name in the configuration (`[carriers.NAME]`).
    pub account: String,
    pub kind: AccountKind,
    pub carrier_ref: String,
}

impl NumberRecord {
    pub fn subscription_status(&self) -> SubscriptionStatus {
        self.subscription.as_ref().map_or(SubscriptionStatus::None, |s| s.status)
    }

    /// Whether a period end has fallen due by `now` and not been applied yet.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.subscription.as_ref().is_some_and(|s| {
            matches!(s.status, SubscriptionStatus::Active | SubscriptionStatus::Canceling) && s.current_period().end <= now
        })
    }

    /// When a canceling number will leave: the end of its paid period.
    pub fn deactivates_at(&self) -> Option<DateTime<Utc>> {
        self.subscription.as_ref().filter(|s| s.status == SubscriptionStatus::Canceling).map(|s| s.current_period().end)
    }
}

/// What a renewal changes in a number (and all it changes): the period, and when the number and
/// its subscription were updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenewalFields {
    pub updated_at: DateTime<Utc>,
    pub sub_updated_at: Option<DateTime<Utc>>,
    /// The current period, while there is a subscription.
    pub period: Option<Period>,
}

#[derive(Clone, Debug, Default)]
pub struct NumberFilter {
    pub status: Option<NumberStatus>,
    pub kind: Option<NumberKind>,
    pub number_type: Option<NumberType>,
    pub country: Option<String>,
    /// Bits of [`Capabilities::mask`] of which at least one must be set.
    pub capability_mask: Option<i64>,
    /// `+digits`; the number must start with it.
    pub number_prefix: Option<String>,
    pub subscription_status: Option<SubscriptionStatus>,
}

#[derive(Clone, Debug)]
pub struct BilledPeriod {
    pub period: Period,
    pub price: Option<Money>,
}
