//! The pure domain core: identifiers, phone numbers, money, billing periods and the release policy.
//! Nothing in here performs I/O; storage, HTTP and carriers are built around it.

pub mod clock;
pub mod ids;
pub mod lifecycle;
pub mod money;
pub mod number;
pub mod period;
pub mod phone;
pub mod record;
pub mod resources;
