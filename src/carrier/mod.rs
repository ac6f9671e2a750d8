//! The seam to the telephony carrier: what numberd needs of the outside world.

pub mod local;
pub mod scripted;

use async_trait::async_trait;

/// What a carrier needs to identify a number we hold with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierNumber {
    pub e164: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier no longer has it: for a removal this is success.
    #[error("the carrier does not know this number")]
    NotFound,
    #[error("carrier request failed: {0}")]
    Failed(String),
    #[error("carrier request timed out")]
    Timeout,
}

#[async_trait]
pub trait Carrier: Send + Sync + 'static {
    /// Gives a dedicated number back to the carrier (period-end release, via the outbox).
    async fn release_number(&self, number: &CarrierNumber) -> Result<(), CarrierError>;
    /// Removes a verified caller ID from the carrier account (synchronous, during the DELETE).
    async fn remove_caller_id(&self, number: &CarrierNumber) -> Result<(), CarrierError>;
}

/// Runs a carrier call with a deadline; `NotFound` counts as done because every operation here
/// is a removal, and removing what is already gone is the goal reached.
pub async fn removal<F>(timeout: std::time::Duration, call: F) -> Result<(), CarrierError>
where
    F: std::future::Future<Output = Result<(), CarrierError>>,
{
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Err(CarrierError::Timeout),
        Ok(Err(CarrierError::NotFound)) | Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
    }
}
