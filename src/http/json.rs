//! JSON response bodies.

use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// First capacity of a body: one number fits; a page grows it a few times.
const FIRST_CAPACITY: usize = 2048;

/// A JSON response. `axum::Json` writes through a `BytesMut` writer grown from 128 bytes, a
/// buffer call per fragment serde_json emits (dozens per number); a plain `Vec` takes the
/// fragments inline, which made a page of numbers noticeably cheaper to write.
pub struct Json<T>(pub T);

/// A body already written as JSON.
pub fn json_body(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], Bytes::from(body)).into_response()
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(FIRST_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => json_body(body),
            // Only a `Serialize` impl that fails can get here; none of the bodies has one.
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write the response: {e}")).into_response(),
        }
    }
}

impl IntoResponse for crate::service::views::NumberList {
    fn into_response(self) -> Response {
        json_body(self.write())
    }
}

impl IntoResponse for crate::service::numbers::Shown {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.size_hint());
        self.write(&mut body);
        json_body(body)
    }
}
