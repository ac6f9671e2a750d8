use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Currencies the Bird `Money` schema admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Currency {
    EUR,
    USD,
    GBP,
    AUD,
    SGD,
    IDR,
    INR,
    MXN,
}

impl Currency {
    pub fn as_str(self) -> &'static str {
        match self {
            Currency::EUR => "EUR",
            Currency::USD => "USD",
            Currency::GBP => "GBP",
            Currency::AUD => "AUD",
            Currency::SGD => "SGD",
            Currency::IDR => "IDR",
            Currency::INR => "INR",
            Currency::MXN => "MXN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// An exact amount: `amount * 10^exponent` in `currencyCode`. Never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Money {
    pub currency_code: Currency,
    pub amount: i64,
    /// Usually negative: `1540 * 10^-2 = 15.40`. Bird's schema bounds it at -10.
    pub exponent: i32,
}

impl Money {
    pub const MIN_EXPONENT: i32 = -10;
    pub const MAX_EXPONENT: i32 = 10;

    /// Checks what the type system cannot: a price is never negative and its exponent is sane.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.amount < 0 {
            return Err("amount must not be negative");
        }
        if !(Self::MIN_EXPONENT..=Self::MAX_EXPONENT).contains(&self.exponent) {
            return Err("exponent must be between -10 and 10");
        }
        Ok(())
    }
}
