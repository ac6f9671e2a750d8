//! The carrier-neutral face of a real carrier account (Twilio, Telnyx): what the purchase saga and
//! the caller-ID flow call, in numberd's terms rather than either carrier's.

use async_trait::async_trait;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::CarrierError;

pub use crate::domain::record::AccountKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberType {
    Local,
    TollFree,
    Mobile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    Voice,
    Sms,
    Mms,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

impl From<Capabilities> for crate::domain::number::Capabilities {
    fn from(c: Capabilities) -> Self {
        crate::domain::number::Capabilities::from_carrier(c.voice, c.sms, c.mms)
    }
}

/// A search for numbers to buy. `country` is ISO 3166 alpha-2 (`US`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    pub country: String,
    pub number_type: NumberType,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub capability: Option<Capability>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailableNumber {
    pub e164: String,
    pub country: String,
    pub number_type: NumberType,
    pub capabilities: Capabilities,
    pub locality: Option<String>,
    pub region: Option<String>,
}

/// A number the account holds. `carrier_ref` is the carrier's id for it: Twilio's `PN…` sid,
/// Telnyx's phone-number id; it is what `release` takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedNumber {
    pub carrier_ref: String,
    pub e164: String,
    /// Twilio reports them on the owned number; Telnyx only on the search result (`None`).
    pub capabilities: Option<Capabilities>,
}

/// Where a purchase stands. Twilio answers `Owned` within the request; Telnyx answers `Pending`
/// with its order id, and `poll_order` follows it until it is `Owned` or `Failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purchase {
    Owned(OwnedNumber),
    Pending { order_ref: String },
    Failed { reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationStatus {
    Pending,
    Verified,
}

/// A caller-ID verification. `validation_code` is set where the owner types it in on the
/// carrier's call (Twilio); `None` where the carrier sends the owner a code (Telnyx), which is
/// then passed to `submit_code`. `carrier_ref` is the carrier's id once known (Twilio `PN…` of
/// the verified caller ID; Telnyx keys caller IDs by E.164).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdVerification {
    pub carrier_ref: Option<String>,
    pub e164: String,
    pub validation_code: Option<String>,
    pub status: VerificationStatus,
}

/// One configured account at a real carrier. [`AccountCarrier`] makes it a [`Carrier`] too.
#[async_trait]
pub trait CarrierAccount: Send + Sync + std::fmt::Debug + 'static {
    fn kind(&self) -> AccountKind;
    async fn search(&self, query: &SearchQuery) -> Result<Vec<AvailableNumber>, CarrierError>;
    /// Buys one number. `reference` is numberd's id for the purchase (the order item): Telnyx
    /// stores it as `customer_reference` so an ambiguous order can be found again; Twilio takes no
    /// key, so after a timeout or 5xx call `find_purchase` before any retry.
    async fn buy(&self, e164: &str, reference: &str) -> Result<Purchase, CarrierError>;
    /// After an ambiguous `buy`: what the carrier did with it, or `None` if it never arrived.
    async fn find_purchase(&self, e164: &str, reference: &str) -> Result<Option<Purchase>, CarrierError>;
    /// Follows a `Pending` purchase.
    async fn poll_order(&self, order_ref: &str, e164: &str) -> Result<Purchase, CarrierError>;
    async fn find_owned(&self, e164: &str) -> Result<Option<OwnedNumber>, CarrierError>;
    /// Gives an owned number back; `NotFound` means it is already gone.
    async fn release(&self, carrier_ref: &str) -> Result<(), CarrierError>;
    async fn start_verification(&self, e164: &str, friendly_name: Option<&str>) -> Result<CallerIdVerification, CarrierError>;
    async fn submit_code(&self, e164: &str, code: &str) -> Result<CallerIdVerification, CarrierError>;
    /// The caller ID's state at the carrier; `None` if the carrier has no verification for it.
    async fn caller_id(&self, e164: &str) -> Result<Option<CallerIdVerification>, CarrierError>;
    /// Removes a verified caller ID; `NotFound` means it is already gone. `carrier_ref` is the
    /// carrier's id for it as `caller_id` reported it at verification, when numberd kept one
    /// (Twilio deletes by that sid; Telnyx is keyed by the number).
    async fn remove_caller_id(&self, e164: &str, carrier_ref: Option<&str>) -> Result<(), CarrierError>;
}

/// The configured carrier accounts by name, and the default one numbers are bought from.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    by_name: BTreeMap<String, Arc<dyn CarrierAccount>>,
    default: Option<String>,
}

/// Why no account could be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoAccount {
    #[error("no carrier account is configured")]
    NoneConfigured,
    #[error("no carrier account is named {name:?} (configured: {configured})")]
    Unknown { name: String, configured: String },
}

impl Accounts {
    pub fn new(by_name: BTreeMap<String, Arc<dyn CarrierAccount>>, default: Option<String>) -> Self {
        Accounts { by_name, default }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn CarrierAccount>> {
        self.by_name.get(name)
    }

    /// The account named `name`, or the default one when `name` is `None`.
    pub fn choose(&self, name: Option<&str>) -> Result<(&str, &Arc<dyn CarrierAccount>), NoAccount> {
        let Some(name) = name.or(self.default.as_deref()) else { return Err(NoAccount::NoneConfigured) };
        match self.by_name.get_key_value(name) {
            Some((name, account)) => Ok((name.as_str(), account)),
            None if self.by_name.is_empty() => Err(NoAccount::NoneConfigured),
            None => {
                Err(NoAccount::Unknown { name: name.to_owned(), configured: self.by_name.keys().cloned().collect::<Vec<_>>().join(", ") })
            }
        }
    }
}
