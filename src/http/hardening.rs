//! Response headers every answer carries, and a deterministic 413 for oversized bodies.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// API answers are per-caller data: never sniffed as another type, never kept by a cache; a 401
/// names the schemes the caller can answer with (RFC 9110 §11.6.1).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let autocalls = super::autocalls::owns(req.uri().path());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if resp.status() == StatusCode::UNAUTHORIZED && !resp.headers().contains_key(header::WWW_AUTHENTICATE) {
        let challenge = if autocalls { "Bearer realm=\"numberd\"" } else { "AccessKey realm=\"numberd\", Bearer realm=\"numberd\"" };
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    resp
}

/// Bodies up to this size are read in full even when over the limit, so the 413 reaches a
/// client that is still sending instead of a connection reset; larger ones are cut off.
const DRAIN_BYTES: usize = 1024 * 1024;

/// Reads a declared-oversized body (up to [`DRAIN_BYTES`]) before the handler rejects it: a
/// server that answers and closes with unread bytes pending resets the connection, and the client
/// then sees no answer at all (or not always). The extractors still answer the 413 in the
/// route's own error shape.
pub async fn drain_oversized(max_body_bytes: usize, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match declared {
        Some(len) if len > max_body_bytes && len <= DRAIN_BYTES => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, DRAIN_BYTES).await {
                Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                // The client stopped sending or lied about the length: nothing to answer.
                Err(_) => Error::new(StatusCode::BAD_REQUEST, "incomplete_body", "The request body ended before its declared length.")
                    .into_response(),
            }
        }
        _ => next.run(req).await,
    }
}
