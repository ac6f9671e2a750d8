//! Number orders: buying numbers at a carrier account. An order is written (the intent) before
//! the carrier is called; each of its items is then driven to `purchased` or `failed` by the
//! purchase saga (`src/service/orders.rs`, `src/jobs/number_purchase.rs`).

use chrono::{DateTime, Duration, Utc};

use super::ids::{NumberId, OrderId, OrderItemId, WorkspaceId};
use super::money::Money;
use super::record::AccountKind;

/// How long an `Idempotency-Key` names its order.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// Numbers in one order.
pub const MAX_ITEMS: usize = 25;

super::text_enum!(
    /// An order as a whole, from its items.
    OrderStatus { Pending = "pending", Completed = "completed", Partial = "partial", Failed = "failed" }
);

super::text_enum!(ItemStatus { Pending = "pending", Purchased = "purchased", Failed = "failed" });

super::text_enum!(
    /// Where the saga stands for one item; only `Settled` items are `purchased` or `failed`.
    ItemStage {
        /// Nothing sent to the carrier yet.
        New = "new",
        /// A buy may have reached the carrier: look it up before buying again.
        Buying = "buying",
        /// The carrier took the order and settles it later (`carrier_order_ref`).
        Ordered = "ordered",
        /// The carrier holds it but numberd cannot keep it: release it there, then fail the item.
        Releasing = "releasing",
        Settled = "settled",
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ItemRecord {
    pub id: OrderItemId,
    pub order_id: OrderId,
    pub position: i64,
    pub e164: String,
    pub status: ItemStatus,
    pub stage: ItemStage,
    pub carrier_order_ref: Option<String>,
    /// The carrier's id for the number once it holds it.
    pub carrier_ref: Option<String>,
    pub number_id: Option<NumberId>,
    pub error: Option<ItemError>,
    pub updated_at: DateTime<Utc>,
}

impl ItemRecord {
    pub fn settle(&mut self, status: ItemStatus, error: Option<ItemError>, now: DateTime<Utc>) {
        self.status = status;
        self.stage = ItemStage::Settled;
        self.error = error;
        self.updated_at = now;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderRecord {
    pub seq: i64,
    pub id: OrderId,
    pub workspace_id: WorkspaceId,
    pub carrier_account: String,
    pub carrier_kind: AccountKind,
    pub nickname: Option<String>,
    pub price: Option<Money>,
    pub status: OrderStatus,
    pub idempotency_key: Option<String>,
    /// A digest of the request that created the order, to tell a retry from a different request.
    pub request_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<ItemRecord>,
}

/// An order's status from its items: pending while any is; otherwise completed, failed or partial.
pub fn order_status(items: &[ItemStatus]) -> OrderStatus {
    if items.contains(&ItemStatus::Pending) {
        OrderStatus::Pending
    } else if items.iter().all(|s| *s == ItemStatus::Purchased) {
        OrderStatus::Completed
    } else if items.iter().all(|s| *s == ItemStatus::Failed) {
        OrderStatus::Failed
    } else {
        OrderStatus::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ItemStatus::*;

    #[test]
    fn order_status_follows_its_items() {
        assert_eq!(order_status(&[Purchased, Pending]), OrderStatus::Pending);
        assert_eq!(order_status(&[Purchased, Purchased]), OrderStatus::Completed);
        assert_eq!(order_status(&[Failed]), OrderStatus::Failed);
        assert_eq!(order_status(&[Purchased, Failed]), OrderStatus::Partial);
    }
}
