//! Request extractors that turn every malformed input into a coded 4xx in our error shape.

use std::str::FromStr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{text, AppState};
use crate::error::Error;
use crate::service::Tenant;
use crate::store::workspaces::{self, KeyLookup};

/// The caller's workspace, from `Authorization: AccessKey <key>` or `Bearer <key>`.
#[derive(Clone, Copy, Debug)]
pub struct Authed(pub Tenant);

impl FromRequestParts<AppState> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Error::unauthorized("missing_access_key", "Send `Authorization: AccessKey <key>` or `Bearer <key>`."))?;
        let value = header
            .to_str()
            .map_err(|_| Error::unauthorized("malformed_authorization", "The Authorization header is not valid text."))?;
        let (scheme, key) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !(scheme.eq_ignore_ascii_case("accesskey") || scheme.eq_ignore_ascii_case("bearer")) {
            return Err(Error::unauthorized("malformed_authorization", "Use the AccessKey or Bearer scheme."));
        }
        let key = key.trim();
        if !workspaces::looks_like_key(key) {
            return Err(Error::unauthorized("malformed_access_key", "The access key is not in numberd's format."));
        }
        match workspaces::authenticate(&state.core.db, key).await? {
            KeyLookup::Valid(ws) => Ok(Authed(Tenant { id: ws.id, test_mode: ws.test_mode })),
            KeyLookup::Revoked => Err(Error::unauthorized("access_key_revoked", "This access key has been revoked.")),
            KeyLookup::Unknown => Err(Error::unauthorized("invalid_access_key", "The access key is not valid.")),
        }
    }
}

/// An authenticated request under `/workspaces/{workspaceId}`: the path must name the key's own
/// workspace; any other (existing or not) is 404, so keys learn nothing about other tenants.
#[derive(Clone, Copy, Debug)]
pub struct Workspace(pub Tenant);

impl FromRequestParts<AppState> for Workspace {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let Authed(tenant) = Authed::from_request_parts(parts, state).await?;
        let ids = PathIds::from_request_parts(parts, state).await?;
        let ws: crate::domain::ids::WorkspaceId = ids.get("workspaceId")?;
        if ws != tenant.id {
            return Err(Error::not_found("workspace_not_found", "Workspace not found."));
        }
        Ok(Workspace(tenant))
    }
}

/// Path parameters, parsed on demand so a malformed one is named in the error.
pub struct PathIds(Vec<(String, String)>);

impl PathIds {
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn get<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        self.raw(name).and_then(|v| v.parse().ok()).ok_or_else(|| {
            Error::bad_request("invalid_path_parameter", format!("Path parameter `{name}` is not a valid id."))
                .with_details(serde_json::json!({ "parameter": name }))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::bad_request("invalid_path_parameter", "The path is not valid UTF-8."))?;
        Ok(PathIds(raw.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()))
    }
}

/// The JSON value of a body, with coded errors for transport problems: 400 malformed, 415 wrong
/// media type, 413 too large. Its text is not checked: for bodies read field by field.
pub struct RawJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(RawJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

/// JSON body with coded errors: those of [`RawJson`], then 422 for control characters in any
/// string, wrong types, unknown fields and enum values.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let RawJson(value) = RawJson::from_request(req, state).await?;
        text::check_body(&value)?;
        serde_path_to_error::deserialize(value).map(ApiJson).map_err(|e| data_error(e.to_string()))
    }
}

/// serde's message names the path and the problem; the code says which problem.
fn data_error(detail: String) -> Error {
    let code = if detail.contains("unknown variant") {
        "invalid_enum_value"
    } else if detail.contains("unknown field") {
        "unknown_field"
    } else if detail.contains("missing field") {
        "missing_field"
    } else if detail.contains("invalid type") || detail.contains("invalid value") || detail.contains("invalid length") {
        "invalid_type"
    } else {
        "invalid_body"
    };
    Error::new(StatusCode::UNPROCESSABLE_ENTITY, code, format!("Invalid request body: {detail}"))
}

fn json_rejection(r: JsonRejection) -> Error {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(e) => data_error(std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or(text)),
        JsonRejection::JsonSyntaxError(_) => Error::bad_request("malformed_json", "The request body is not valid JSON."),
        JsonRejection::MissingJsonContentType(_) => Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large.")
        }
        _ => Error::bad_request("invalid_body", format!("The request body could not be read: {text}")),
    }
}

/// Query string with a coded 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        text::check_query(parts.uri.query().unwrap_or(""))?;
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(Error::bad_request("invalid_query_parameter", format!("Invalid query string: {}", e.body_text())))
            }
            Err(e) => Err(Error::bad_request("invalid_query_parameter", e.body_text())),
        }
    }
}

/// For PATCH bodies, where present-and-null differs from absent: with `#[serde(default)]`,
/// absent is `None` and `null` is `Some(None)` (clear the field).
pub fn double_option<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
