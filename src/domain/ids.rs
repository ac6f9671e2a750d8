use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Text that is not an id in canonical UUID form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id in canonical UUID form")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the canonical hyphenated form is an id; simple, braced and urn forms are not.
                if s.len() != 36 {
                    return Err(InvalidId);
                }
                Uuid::try_parse(s).map(Self).map_err(|_| InvalidId)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A tenant: every resource and access key belongs to exactly one workspace.
    WorkspaceId
);
uuid_id!(
    /// A number in a workspace's inventory; also its endpoint id and subscription correlation id.
    NumberId
);
uuid_id!(
    /// The `main` subscription of a dedicated number.
    SubscriptionId
);
uuid_id!(AccessKeyId);
uuid_id!(AssistantId);
uuid_id!(CampaignId);
uuid_id!(CallId);
uuid_id!(
    /// A number order: the numbers a request asked to buy at a carrier account.
    OrderId
);
uuid_id!(
    /// One number of an order; Telnyx keeps it as the carrier order's `customer_reference`.
    OrderItemId
);
uuid_id!(
    /// A caller-ID verification (not the number it becomes once verified).
    CallerIdId
);
