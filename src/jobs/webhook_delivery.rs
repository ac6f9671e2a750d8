//! Delivering one event to one webhook endpoint (Standard Webhooks), retried on a fixed schedule.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::{JobFailure, JobKind, JobType};
use crate::config::OutboxConfig;
use crate::error::Result;
use crate::service::Core;
use crate::store::webhooks;

/// Pause after each failed attempt; after the last the delivery is marked failed.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub delivery_id: uuid::Uuid,
}

#[async_trait]
impl JobType for WebhookDelivery {
    const KIND: JobKind = JobKind::WebhookDelivery;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("webhook_delivery:{}", self.delivery_id))
    }

    async fn run(&self, core: &Core) -> Result<(), JobFailure> {
        Ok(core.attempt_delivery(self.delivery_id).await?)
    }

    /// The delivery is over (delivered or given up): mark a give-up, and let the next delivery
    /// of the same number to the same endpoint go.
    async fn finished(&self, core: &Core, conn: &mut AnyConnection, failure: Option<&str>) -> Result<()> {
        let Some(d) = webhooks::get_delivery(conn, self.delivery_id).await? else { return Ok(()) };
        let now = core.clock.now();
        if failure.is_some() {
            webhooks::fail_delivery(conn, d.id, None, now).await?;
        }
        if let Some(number) = d.number_id {
            webhooks::promote(conn, Some((d.webhook_id, number)), now).await?;
        }
        Ok(())
    }

    fn retry_at(&self, attempts: i64, _policy: &OutboxConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let i = usize::try_from(attempts.checked_sub(1)?).ok()?;
        RETRY_DELAYS.get(i).map(|d| now + *d)
    }
}
