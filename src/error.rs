//! The one error type. Every failure a client can see carries an HTTP status, a stable
//! machine-readable `code` and a human message; each API dialect renders it in its own shape.

use std::borrow::Cow;

use axum::http::StatusCode;
use serde_json::Value;

#[derive(Debug)]
pub struct Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    pub details: Option<Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Error { status, code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// A request field that failed validation: 422, naming the field.
    pub fn invalid_field(field: &str, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", format!("`{field}` {message}"))
            .with_details(serde_json::json!({ "field": field, "reason": message }))
    }

    /// An unexpected failure: logged here with its context, answered with an opaque 500.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "An internal error occurred.")
    }

    pub fn number_not_found() -> Self {
        Self::not_found("number_not_found", "Phone number not found.")
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Error::internal("database error", err)
    }
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Error::internal("unexpected error", format!("{err:#}"))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for Error {}
