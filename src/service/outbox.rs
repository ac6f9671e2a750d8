//! Delivery of queued carrier work with retries and exponential backoff.

use chrono::{DateTime, Duration, Utc};

use super::Core;
use crate::carrier::{removal, CarrierNumber};
use crate::error::Result;
use crate::store::jobs::{self, Job};

impl Core {
    /// Delivers every job that is due now. Returns how many reached a final or retry state.
    pub async fn deliver_outbox(&self) -> Result<usize> {
        let lease = Duration::milliseconds(self.outbox.lease_ms as i64);
        let mut handled = 0;
        while let Some(job) = jobs::claim(&self.db, self.clock.now(), lease).await? {
            self.deliver(&job).await?;
            handled += 1;
        }
        Ok(handled)
    }

    async fn deliver(&self, job: &Job) -> Result<()> {
        let number = CarrierNumber { e164: job.e164.clone() };
        let result = match job.kind.as_str() {
            jobs::CARRIER_RELEASE => removal(self.carrier_timeout, self.carrier.release_number(&number)).await,
            other => Err(crate::carrier::CarrierError::Failed(format!("unknown job kind {other}"))),
        };
        let now = self.clock.now();
        match result {
            Ok(()) => {
                tracing::info!(job = job.id, number_id = %job.number_id, "carrier release confirmed");
                jobs::finish(&self.db, job.id, Ok(()), now).await?;
            }
            Err(e) => {
                let msg = e.to_string();
                let retry_at = (job.attempts < self.outbox.max_attempts).then(|| self.retry_at(job.attempts, now));
                match retry_at {
                    Some(at) => tracing::warn!(job = job.id, attempts = job.attempts, error = %msg, retry_at = %at, "carrier release failed; will retry"),
                    None => tracing::error!(job = job.id, attempts = job.attempts, error = %msg, "carrier release failed for good; parked as failed"),
                }
                jobs::finish(&self.db, job.id, Err((&msg, retry_at)), now).await?;
            }
        }
        Ok(())
    }

    /// `base * 2^(attempts-1)`, capped.
    fn retry_at(&self, attempts: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        let exp = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(40);
        let delay = self.outbox.backoff_base_ms.saturating_mul(1u64 << exp).min(self.outbox.backoff_max_ms);
        now + Duration::milliseconds(delay as i64)
    }
}
