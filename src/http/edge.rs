//! What every request passes through once, outermost: its request id, a drained oversized body,
//! the headers every answer carries and the bookkeeping of a 503. One middleware rather than a
//! layer each: every layer wraps the request's future in one more, and moving those nested
//! futures was the largest single item of a `GET`'s profile.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::ids::time_ordered;
use crate::error::{Code, Error};
use crate::service::events::REQUEST_ID as CURRENT_REQUEST;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long a client should wait before retrying a 503; `/readyz` stays 503 that long after one.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Bodies up to this size are read in full even when over the limit, so the 413 reaches a
/// client that is still sending instead of a connection reset; larger ones are cut off.
const DRAIN_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Edge {
    pub state: AppState,
    pub max_body_bytes: usize,
}

/// Marks `/readyz` answers, whose 503 reports an earlier failure rather than being a new one.
#[derive(Clone, Copy)]
pub struct Readiness;

pub async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    // The client's `x-request-id` is kept; a request without one is given a UUID. Events the
    // request records carry it, and so does the answer.
    let id = match req.headers().get(&REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = new_request_id();
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let autocalls = super::autocalls::owns(req.uri().path());
    let current = id.to_str().unwrap_or_default().to_owned();
    let mut resp = CURRENT_REQUEST.scope(current, drain_oversized(edge.max_body_bytes, req, next)).await;

    let h = resp.headers_mut();
    h.entry(REQUEST_ID).or_insert(id);
    // API answers are per-caller data: never sniffed as another type, never kept by a cache; a
    // 401 names the schemes the caller can answer with (RFC 9110 §11.6.1).
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match resp.status() {
        StatusCode::UNAUTHORIZED if !resp.headers().contains_key(header::WWW_AUTHENTICATE) => {
            let challenge = if autocalls { "Bearer realm=\"numberd\"" } else { "AccessKey realm=\"numberd\", Bearer realm=\"numberd\"" };
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        // Every 503 (the database is unavailable, in either dialect) tells the client when to
        // retry and makes `/readyz` report it.
        StatusCode::SERVICE_UNAVAILABLE => {
            if resp.extensions().get::<Readiness>().is_none() {
                edge.state.core.db.mark_unavailable();
            }
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER.as_secs()));
        }
        _ => {}
    }
    resp
}

fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(time_ordered().hyphenated().encode_lower(&mut buf)).expect("a UUID is a valid header value")
}

/// Reads a declared-oversized body (up to [`DRAIN_BYTES`]) before the handler rejects it: a
/// server that answers and closes with unread bytes pending resets the connection, and the client
/// then sees no answer at all (or not always). The extractors still answer the 413 in the
/// route's own error shape.
async fn drain_oversized(max_body_bytes: usize, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match declared {
        Some(len) if len > max_body_bytes && len <= DRAIN_BYTES => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, DRAIN_BYTES).await {
                Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                // The client stopped sending or lied about the length: nothing to answer.
                Err(_) => Error::new(Code::IncompleteBody, "The request body ended before its declared length.").into_response(),
            }
        }
        _ => next.run(req).await,
    }
}
