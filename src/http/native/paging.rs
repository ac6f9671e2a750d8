//! Keyset pagination with Bird's conventions: `limit` (1–99, default 10) and an opaque
//! `pageToken`; `nextPageToken` is absent on the last page.

use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 99;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Results per page, 1–99 (default 10).
    #[param(minimum = 1, maximum = 99)]
    pub limit: Option<i64>,
    /// `nextPageToken` of the previous page.
    pub page_token: Option<String>,
}

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl PageParams {
    /// The integer key to continue after, and the page size.
    pub fn parse(&self) -> Result<(Option<i64>, i64)> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::bad_request("invalid_query_parameter", format!("`limit` must be between 1 and {MAX_LIMIT}."))
                .with_details(serde_json::json!({ "parameter": "limit" })));
        }
        let after = match &self.page_token {
            None => None,
            Some(t) => Some(decode(t).ok_or_else(|| {
                Error::bad_request("invalid_page_token", "`pageToken` is not a token this API issued.")
                    .with_details(serde_json::json!({ "parameter": "pageToken" }))
            })?),
        };
        Ok((after, limit))
    }
}

fn decode(token: &str) -> Option<i64> {
    let bytes = ENGINE.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("k1:")?.parse().ok().filter(|n: &i64| *n >= 0)
}

pub fn encode(seq: i64) -> String {
    ENGINE.encode(format!("k1:{seq}"))
}

/// Trims a `limit + 1` fetch to `limit` and says where the next page starts.
pub fn page<T>(mut rows: Vec<T>, limit: i64, seq: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| encode(seq(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        assert_eq!(decode(&encode(42)), Some(42));
        assert_eq!(decode("not-a-token"), None);
        assert_eq!(decode(&ENGINE.encode("k1:-5")), None);
    }
}
