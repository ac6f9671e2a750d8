//! The vocabulary of a number: its kind, Bird type, status and capabilities.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),+
        }

        // Written by hand: utoipa's derive does not see a `serde(rename)` that arrives through a
        // macro fragment, and the documented values must be the wire values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(
    /// How a number is held, which decides how it is released.
    NumberKind { Dedicated = "dedicated", Sip = "sip", CallerId = "callerId" }
);
str_enum!(
    /// Bird's `NumberInventoryType`.
    NumberType { Local = "local", National = "national", Tollfree = "tollfree", Mobile = "mobile", Shortcode = "shortcode" }
);
str_enum!(
    /// Bird's `NumberStatus`.
    NumberStatus { Active = "active", Inactive = "inactive" }
);
str_enum!(
    /// The subset of Bird's `AccountingSubscriptionStatus` that numberd produces.
    SubscriptionStatus { None = "none", Active = "active", Canceling = "canceling", Canceled = "canceled" }
);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    pub inbound: bool,
    pub outbound: bool,
}

impl Capability {
    const BOTH: Capability = Capability { inbound: true, outbound: true };
    const OUTBOUND: Capability = Capability { inbound: false, outbound: true };
}

/// Bird's `NumberInventoryCapabilities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub sms: Capability,
    pub voice: Capability,
    pub mms: Capability,
    pub fax: Capability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<Capability>,
}

str_enum!(
    /// A capability name, as used by the `capability` list filter.
    CapabilityName { Sms = "sms", Voice = "voice", Mms = "mms", Fax = "fax", Whatsapp = "whatsapp" }
);

impl Capabilities {
    /// What a number can do when registration does not say: a dedicated number does voice and
    /// SMS both ways, a SIP trunk number voice both ways, a verified caller ID only places calls.
    pub fn default_for(kind: NumberKind) -> Self {
        let none = Capability::default();
        let (sms, voice) = match kind {
            NumberKind::Dedicated => (Capability::BOTH, Capability::BOTH),
            NumberKind::Sip => (none, Capability::BOTH),
            NumberKind::CallerId => (none, Capability::OUTBOUND),
        };
        Capabilities { sms, voice, mms: none, fax: none, whatsapp: None }
    }

    /// What a carrier reports a number it holds can do: each service both ways, or not at all.
    pub fn from_carrier(voice: bool, sms: bool, mms: bool) -> Self {
        let both = |on: bool| if on { Capability::BOTH } else { Capability::default() };
        Capabilities { sms: both(sms), voice: both(voice), mms: both(mms), fax: Capability::default(), whatsapp: None }
    }

    fn get(&self, name: CapabilityName) -> Capability {
        match name {
            CapabilityName::Sms => self.sms,
            CapabilityName::Voice => self.voice,
            CapabilityName::Mms => self.mms,
            CapabilityName::Fax => self.fax,
            CapabilityName::Whatsapp => self.whatsapp.unwrap_or_default(),
        }
    }

    /// Two bits per capability (inbound, outbound), stored beside the JSON so lists can filter
    /// with one integer comparison on both backends.
    pub fn mask(&self) -> i64 {
        CapabilityName::ALL.iter().enumerate().fold(0, |acc, (i, name)| {
            let c = self.get(*name);
            acc | (i64::from(c.inbound) << (2 * i)) | (i64::from(c.outbound) << (2 * i + 1))
        })
    }

    /// The mask bits meaning "supports `name` in some direction".
    pub fn mask_of(name: CapabilityName) -> i64 {
        let i = CapabilityName::ALL.iter().position(|n| *n == name).expect("listed");
        0b11 << (2 * i)
    }
}

/// Bird's `ConnectorConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_template_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_template_ref: Option<String>,
}

/// Bird's `NumberConfigOptions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberConfigOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<ConnectorConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<ConnectorConfiguration>,
}

/// Bird's `NumberConfigurations`: which connector handles each capability and direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberConfigurations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<NumberConfigOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<NumberConfigOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mms: Option<NumberConfigOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fax: Option<NumberConfigOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<ConnectorConfiguration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_masks_select_their_capability() {
        let caller = Capabilities::default_for(NumberKind::CallerId);
        assert_ne!(caller.mask() & Capabilities::mask_of(CapabilityName::Voice), 0);
        assert_eq!(caller.mask() & Capabilities::mask_of(CapabilityName::Sms), 0);
        let dedicated = Capabilities::default_for(NumberKind::Dedicated);
        assert_ne!(dedicated.mask() & Capabilities::mask_of(CapabilityName::Sms), 0);
        assert_eq!(dedicated.mask() & Capabilities::mask_of(CapabilityName::Whatsapp), 0);
    }
}
