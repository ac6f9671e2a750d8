//! Text input is single-line: no control characters (NUL, newlines, escapes...) anywhere a
//! client's text reaches numberd. PostgreSQL cannot store NUL (a 500 before this check) and
//! SQLite stored it silently; the other controls are never meaningful in a name, a number or a
//! filter. No field numberd stores is multi-line; the Autocalls settings that are (prompts) are
//! accepted and ignored unread, so they are not checked.

use serde_json::Value;

use crate::error::Error;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A body field's text; the 422 names the field.
pub fn check_field(field: &str, value: &str) -> Result<(), Error> {
    if has_control(value) {
        return Err(Error::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Every string in a JSON body, named by its path (`configurations.voice.x`, `numberIds.0`).
pub fn check_body(value: &Value) -> Result<(), Error> {
    fn walk(path: &mut String, v: &Value) -> Result<(), Error> {
        let at = path.len();
        let enter = |path: &mut String, key: &str, v: &Value| {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            let r = walk(path, v);
            path.truncate(at);
            r
        };
        match v {
            Value::String(s) => check_field(path, s),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| enter(path, &i.to_string(), item)),
            Value::Object(map) => map.iter().try_for_each(|(k, item)| enter(path, k, item)),
            _ => Ok(()),
        }
    }
    walk(&mut String::new(), value)
}

/// Every parameter of a query string (names and values, after percent-decoding); the 400 names
/// the parameter.
pub fn check_query(query: &str) -> Result<(), Error> {
    match url::form_urlencoded::parse(query.as_bytes()).find(|(k, v)| has_control(k) || has_control(v)) {
        None => Ok(()),
        Some((name, _)) => Err(Error::bad_request(
            "invalid_query_parameter",
            format!("Query parameter `{}` must not contain control characters.", name.escape_debug()),
        )
        .with_details(serde_json::json!({ "parameter": name }))),
    }
}
