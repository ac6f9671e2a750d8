//! Request bodies read field by field, so a malformed one is answered like Laravel's validator
//! (naming the field) rather than with a deserialiser's message. Fields Autocalls accepts but
//! numberd has no use for (voices, prompts, schedules...) are ignored, so existing clients work.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::http::extract::RawJson;
use crate::http::text;

pub struct Body(Map<String, Value>);

impl Body {
    /// The JSON object sent; transport problems (not JSON, wrong media type) keep the shared
    /// extractor's coded error.
    pub fn from(json: Result<RawJson, Error>) -> Result<Body, Error> {
        match json?.0 {
            Value::Object(map) => Ok(Body(map)),
            _ => Err(Error::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "The request body must be a JSON object.")),
        }
    }

    pub fn required<T: Field>(&self, key: &str) -> Result<T, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Err(Error::invalid_field(key, "field is required")),
            Some(v) => T::read(key, v),
        }
    }

    /// Absent and `null` both mean "not given".
    pub fn optional<T: Field>(&self, key: &str) -> Result<Option<T>, Error> {
        self.nullable(key).map(Option::flatten)
    }

    /// Absent is `None`; `null` is `Some(None)`, which clears the field.
    pub fn nullable<T: Field>(&self, key: &str) -> Result<Option<Option<T>>, Error> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => T::read(key, v).map(|t| Some(Some(t))),
        }
    }
}

pub trait Field: Sized {
    fn read(key: &str, v: &Value) -> Result<Self, Error>;
}

impl Field for String {
    fn read(key: &str, v: &Value) -> Result<Self, Error> {
        let s = v.as_str().ok_or_else(|| Error::invalid_field(key, "field must be a string"))?;
        text::check_field(key, s)?;
        Ok(s.to_owned())
    }
}

impl Field for i64 {
    fn read(key: &str, v: &Value) -> Result<Self, Error> {
        v.as_i64().ok_or_else(|| Error::invalid_field(key, "field must be an integer"))
    }
}

impl Field for Vec<i64> {
    fn read(key: &str, v: &Value) -> Result<Self, Error> {
        let items = v.as_array().ok_or_else(|| Error::invalid_field(key, "field must be an array"))?;
        items.iter().enumerate().map(|(i, item)| i64::read(&format!("{key}.{i}"), item)).collect()
    }
}

/// The meaning of a value that must be one of `allowed` (Laravel's `in` rule), for the
/// dialect's own vocabulary.
pub fn one_of<'a, T>(key: &str, value: &str, allowed: &'a [(&str, T)]) -> Result<&'a T, Error> {
    allowed.iter().find(|(name, _)| *name == value).map(|(_, meaning)| meaning).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
        Error::invalid_field(key, format!("field must be one of: {}", names.join(", ")))
    })
}

/// A query-string integer (Laravel's `integer` rule).
pub fn query_int(key: &str, value: Option<&str>) -> Result<Option<i64>, Error> {
    value.map(|v| v.trim().parse().map_err(|_| Error::invalid_field(key, "field must be an integer"))).transpose()
}

/// Refuses query parameters the endpoint does not document (`params` are its `IntoParams`), as
/// the native API does: a misspelt filter would otherwise silently list everything.
pub fn known_query(query: Option<&str>, params: &[Vec<utoipa::openapi::path::Parameter>]) -> Result<(), Error> {
    let known = |name: &str| params.iter().flatten().any(|p| p.name == name);
    match url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).find(|(name, _)| !known(name)) {
        None => Ok(()),
        Some((name, _)) => Err(Error::bad_request("invalid_query_parameter", format!("Unknown query parameter `{name}`."))
            .with_details(serde_json::json!({ "parameter": name }))),
    }
}
