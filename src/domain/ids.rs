use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Text that is not an id in canonical UUID form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id in canonical UUID form")]
pub struct InvalidId;

/// A new id: a version 7 UUID, its leading bits the current time and the rest random. Rows are
/// mostly written in the order they are created, so a new id lands at the end of its table's
/// unique index instead of on a random page of it (on a large table, a page read and rewritten
/// per insert). The time is the real one whatever a workspace's test clock says: it only places
/// the row. The random bits come from the thread's generator, not a system call each.
pub fn time_ordered() -> Uuid {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random()).into_uuid()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(time_ordered())
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
