//! The pure domain core: identifiers, phone numbers, money, billing periods and the release policy.
//! Nothing in here performs I/O; storage, HTTP and carriers are built around it.

/// An enum stored and sent as one of a fixed set of strings: `ALL`, `as_str` and `parse`.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}
pub(crate) use text_enum;

pub mod caller_id;
pub mod clock;
pub mod events;
pub mod ids;
pub mod lifecycle;
pub mod money;
pub mod number;
pub mod order;
pub mod period;
pub mod phone;
pub mod record;
pub mod resources;
