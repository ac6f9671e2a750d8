use async_trait::async_trait;

use super::{Carrier, CarrierError, CarrierNumber};

/// No outside carrier: numbers are registered by hand and releasing them needs nobody's consent.
pub struct LocalCarrier;

#[async_trait]
impl Carrier for LocalCarrier {
    async fn release_number(&self, number: &CarrierNumber) -> Result<(), CarrierError> {
        tracing::info!(number = %number.e164, "local carrier: number released");
        Ok(())
    }

    async fn remove_caller_id(&self, number: &CarrierNumber) -> Result<(), CarrierError> {
        tracing::info!(number = %number.e164, "local carrier: caller id removed");
        Ok(())
    }
}
