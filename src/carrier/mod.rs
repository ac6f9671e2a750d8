//! The seam to the telephony carrier: what numberd needs of the outside world.

pub mod account;
mod http;
pub mod local;
pub mod scripted;
pub mod telnyx;
pub mod twilio;

use async_trait::async_trait;

/// What a carrier needs to identify a number we hold with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierNumber {
    pub e164: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier no longer has it (Twilio 20404 / 404, Telnyx 404): for a removal this is success.
    #[error("the carrier does not know this number")]
    NotFound,
    /// A transient failure (5xx, connection refused or reset): safe to retry.
    #[error("carrier request failed: {0}")]
    Failed(String),
    #[error("carrier request timed out")]
    Timeout,
    /// Too many requests (Twilio 20429, Telnyx 10011): retry after the carrier's delay.
    #[error("carrier rate limit reached; retry after {retry_after:?}")]
    RateLimited { retry_after: std::time::Duration },
    /// 401/403: the account's credentials are wrong or revoked; retrying cannot help.
    #[error("carrier rejected the account credentials: {0}")]
    RejectedCredentials(String),
    /// Telnyx refuses to delete a number whose `deletion_lock_enabled` is set.
    #[error("the number is locked against deletion at the carrier: {0}")]
    Locked(String),
    /// Any other refusal (4xx), with the carrier's own code and message: retrying cannot help.
    #[error("carrier refused the request ({status}, code {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
    /// The carrier has no such operation (e.g. Twilio verifies caller IDs by phone call, not code).
    #[error("not supported by this carrier: {0}")]
    Unsupported(&'static str),
}

impl CarrierError {
    /// Whether the same request may succeed later (after `retry_after` for rate limits).
    pub fn is_transient(&self) -> bool {
        matches!(self, CarrierError::Failed(_) | CarrierError::Timeout | CarrierError::RateLimited { .. })
    }
}

#[async_trait]
pub trait Carrier: Send + Sync + 'static {
    /// Gives a dedicated number back to the carrier (period-end release, via the outbox).
    async fn release_number(&self, number: &CarrierNumber) -> Result<(), CarrierError>;
    /// Removes a verified caller ID from the carrier account (synchronous, during the DELETE).
    async fn remove_caller_id(&self, number: &CarrierNumber) -> Result<(), CarrierError>;
}

/// Runs a carrier call with a deadline.
pub async fn within<T, F>(timeout: std::time::Duration, call: F) -> Result<T, CarrierError>
where
    F: std::future::Future<Output = Result<T, CarrierError>>,
{
    tokio::time::timeout(timeout, call).await.unwrap_or(Err(CarrierError::Timeout))
}

/// Runs a carrier call with a deadline; `NotFound` counts as done because every operation here
/// is a removal, and removing what is already gone is the goal reached.
pub async fn removal<F>(timeout: std::time::Duration, call: F) -> Result<(), CarrierError>
where
    F: std::future::Future<Output = Result<(), CarrierError>>,
{
    match within(timeout, call).await {
        Err(CarrierError::NotFound) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}
