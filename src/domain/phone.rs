//! E.164 phone numbers, parsed and classified with libphonenumber's metadata.

use std::fmt;

use phonenumber::{country, Mode, PhoneNumber};

use super::number::NumberType;

/// A phone number in E.164 form (`+14155550100`), valid for its country.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct E164 {
    e164: String,
    parsed: PhoneNumber,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("is not a phone number")]
    Unparseable,
    #[error("is not a valid number for its country")]
    Invalid,
    #[error("needs an international prefix (+) or a country")]
    NoCountry,
}

impl E164 {
    /// Parses free-form input such as `+1 (415) 555-0100`. Without a leading `+`, `country`
    /// (ISO 3166-1 alpha-2) says which national plan the digits belong to.
    pub fn parse(input: &str, country: Option<&str>) -> Result<Self, PhoneError> {
        let input = input.trim();
        let region = match country {
            Some(c) => Some(c.parse::<country::Id>().map_err(|_| PhoneError::NoCountry)?),
            None => None,
        };
        if region.is_none() && !input.starts_with('+') && !input.starts_with("00") {
            return Err(PhoneError::NoCountry);
        }
        let parsed = phonenumber::parse(region, input).map_err(|_| PhoneError::Unparseable)?;
        if parsed.extension().is_some() {
            return Err(PhoneError::Unparseable);
        }
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::Invalid);
        }
        let e164 = parsed.format().mode(Mode::E164).to_string();
        Ok(Self { e164, parsed })
    }

    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The number as people write it internationally: `+1 415-555-0100`.
    pub fn international(&self) -> String {
        self.parsed.format().mode(Mode::International).to_string()
    }

    /// The ISO 3166-1 alpha-2 country the number belongs to, where the plan says.
    pub fn country(&self) -> Option<String> {
        self.parsed.country().id().map(|id| format!("{id:?}"))
    }

    /// Bird's number type, where libphonenumber can tell.
    pub fn number_type(&self) -> Option<NumberType> {
        use phonenumber::metadata::DATABASE;
        use phonenumber::Type as T;
        match self.parsed.number_type(&DATABASE) {
            T::FixedLine | T::FixedLineOrMobile | T::Voip => Some(NumberType::Local),
            T::Mobile | T::Pager => Some(NumberType::Mobile),
            T::TollFree => Some(NumberType::Tollfree),
            T::ShortCode => Some(NumberType::Shortcode),
            T::PremiumRate | T::SharedCost | T::PersonalNumber | T::Uan | T::StandardRate => Some(NumberType::National),
            _ => None,
        }
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// Normalises a number-prefix filter to `+digits`; `None` if it holds anything but digits,
/// spaces, dashes, dots and parentheses after an optional `+`.
pub fn normalise_prefix(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '+')).collect();
    let plus_ok = input.trim_start().strip_prefix('+').map_or(!input.contains('+'), |rest| !rest.contains('+'));
    if digits.is_empty() || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) || !plus_ok {
        return None;
    }
    Some(format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_formatted_input() {
        let n = E164::parse("+1 (415) 555-0100", None).unwrap();
        assert_eq!(n.as_str(), "+14155550100");
        assert_eq!(n.country().as_deref(), Some("US"));
        let uk = E164::parse("020 7946 0018", Some("GB")).unwrap();
        assert_eq!(uk.as_str(), "+442079460018");
        assert_eq!(uk.number_type(), Some(NumberType::Local));
    }

    #[test]
    fn classifies_types() {
        assert_eq!(E164::parse("+18005550199", None).unwrap().number_type(), Some(NumberType::Tollfree));
        assert_eq!(E164::parse("+447400123456", None).unwrap().number_type(), Some(NumberType::Mobile));
    }

    #[test]
    fn rejects_garbage_and_invalid() {
        assert_eq!(E164::parse("hello", None), Err(PhoneError::NoCountry));
        assert_eq!(E164::parse("+1 555", None), Err(PhoneError::Invalid));
        assert!(E164::parse("4155550100", None).is_err());
        assert!(E164::parse("+999 1234567", None).is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(normalise_prefix("+1 415").as_deref(), Some("+1415"));
        assert_eq!(normalise_prefix("44").as_deref(), Some("+44"));
        assert_eq!(normalise_prefix("+1+2"), None);
        assert_eq!(normalise_prefix("abc"), None);
    }
}
