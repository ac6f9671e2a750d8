//! Buying one number of an order at its carrier account: the purchase saga's durable step. Each
//! run moves the item on from where it stands (see [`crate::domain::order::ItemStage`]) until it
//! is `purchased` or `failed`; a run cut short anywhere is taken over when its lease lapses.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{backoff, JobFailure, JobKind, JobType, Retry};
use crate::config::OutboxConfig;
use crate::domain::ids::{OrderId, OrderItemId, WorkspaceId};
use crate::service::orders::Attempt;
use crate::service::{Actor, Core};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberPurchase {
    pub workspace_id: WorkspaceId,
    pub order_id: OrderId,
    pub item_id: OrderItemId,
}

impl NumberPurchase {
    pub fn key(item: OrderItemId) -> String {
        format!("number_purchase:{item}")
    }
}

#[async_trait]
impl JobType for NumberPurchase {
    const KIND: JobKind = JobKind::NumberPurchase;

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::key(self.item_id))
    }

    async fn run(&self, core: &Core) -> Result<(), JobFailure> {
        match core.advance_item(self, Actor::Worker).await? {
            Attempt::Settled => Ok(()),
            // Not a failure: the carrier settles the order later. Looking again is not counted.
            Attempt::Waiting(delay) => Err(JobFailure::new("the carrier's order is still pending", Retry::Poll(delay))),
        }
    }

    /// Never given up on transient failures (timeouts, 5xx, crashes mid-run): the carrier may
    /// already hold the number, and only a later attempt, which looks it up first, brings it into
    /// the inventory or releases it. Giving up would leave a billed number nobody knows about.
    /// What retrying cannot fix (rejected credentials) still parks the job, for an operator.
    fn retry_at(&self, attempts: i64, policy: &OutboxConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(now + backoff(attempts, policy))
    }
}
