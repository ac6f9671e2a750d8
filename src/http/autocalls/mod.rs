//! The Autocalls-compatible dialect under `/api/user`: integer ids, snake_case fields, Laravel's
//! paginator and error shapes. A thin skin: every rule lives in [`crate::service::Core`]; this
//! module only translates requests in and [`Error`]s and records out (see `docs/autocalls.md`).

mod assistants;
mod bodies;
mod calls;
mod campaigns;
mod input;
mod paginator;
mod phone_numbers;
mod purchase;

use crate::http::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use crate::domain::ids::NumberId;
use crate::domain::record::NumberRecord;
use crate::error::{Code, Error, Kind};
use crate::http::status_of;
use crate::service::Tenant;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(phone_numbers::routes()).merge(assistants::routes()).merge(campaigns::routes()).merge(calls::routes())
}

/// Whether a request path belongs to this dialect (its unknown routes answer in its shape too).
pub fn owns(path: &str) -> bool {
    path == "/api/user" || path.starts_with("/api/user/")
}

/// A routing error (404/405) under `/api/user`, answered as Laravel does.
pub fn route_error(e: Error) -> Response {
    render(e, Shape::Laravel)
}

/// How an endpoint family answers errors: the phone-number endpoints say `{"error": "..."}`,
/// everything else speaks Laravel (`{"message": "..."}`, validation as 422 with `errors`).
#[derive(Clone, Copy)]
enum Shape {
    Phone,
    Laravel,
}

/// An [`Error`] rendered in the phone-number endpoints' shape.
pub struct PhoneError(Error);

/// An [`Error`] rendered in Laravel's shape.
pub struct LaravelError(Error);

impl From<Error> for PhoneError {
    fn from(e: Error) -> Self {
        PhoneError(e)
    }
}

impl From<Error> for LaravelError {
    fn from(e: Error) -> Self {
        LaravelError(e)
    }
}

impl IntoResponse for PhoneError {
    fn into_response(self) -> Response {
        render(self.0, Shape::Phone)
    }
}

impl IntoResponse for LaravelError {
    fn into_response(self) -> Response {
        render(self.0, Shape::Laravel)
    }
}

fn render(e: Error, shape: Shape) -> Response {
    if e.kind() == Kind::Unauthorized {
        // Sanctum's answer, whatever was wrong with the key.
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Unauthenticated." }))).into_response();
    }
    // Autocalls forgets a number once it has left; the native API explains why (409).
    let e = if e.code == Code::NumberAlreadyReleased { Error::number_not_found() } else { e };
    let status = status_of(e.code);
    let (status, body) = match (shape, invalid_field(&e)) {
        (Shape::Phone, Some((_, message))) => (status, json!({ "error": message })),
        (Shape::Phone, None) => (status, json!({ "error": e.message })),
        (Shape::Laravel, Some((field, message))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, json!({ "message": message, "errors": { field: [message] } }))
        }
        (Shape::Laravel, None) => (status, json!({ "message": e.message })),
    };
    (status, Json(body)).into_response()
}

/// The dialect's field name and message for an error about one request field: Laravel's
/// "The phone number id ..." built from the core's `reason`, or the core's whole message.
fn invalid_field(e: &Error) -> Option<(String, String)> {
    let details = e.details.as_ref()?;
    let field = dialect_field(details.get("field")?.as_str()?);
    let message = match details.get("reason").and_then(Value::as_str) {
        Some(reason) => format!("The {} {reason}.", field.replace('_', " ")),
        None => e.message.to_string(),
    };
    Some((field, message))
}

/// The core names fields as the native API does; Autocalls clients know them by these names.
fn dialect_field(core: &str) -> String {
    if let Some(index) = core.strip_prefix("numbers.") {
        return format!("phone_number_ids.{index}");
    }
    match core {
        "number" | "numberId" => "phone_number_id",
        "direction" => "type",
        other => other,
    }
    .to_owned()
}

/// Laravel's JSON timestamp: `2025-01-08T10:30:00.000000Z`.
fn laravel_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// An integer id from the path; anything else names no resource.
fn path_seq(raw: &str, not_found: fn() -> Error) -> Result<i64, Error> {
    raw.parse().map_err(|_| not_found())
}

/// A number of the workspace by integer id, deleted ones excepted.
async fn number_by_seq(state: &AppState, tenant: Tenant, seq: i64) -> Result<NumberRecord, Error> {
    state.core.number_by_seq(tenant, seq).await
}

/// Integer ids of numbers known by uuid, for views that show which number a resource uses;
/// numbers deleted since keep their id.
async fn number_seqs(state: &AppState, tenant: Tenant, ids: Vec<NumberId>) -> Result<Vec<(NumberId, i64)>, Error> {
    state.core.number_seqs(tenant, &ids).await
}

fn seq_of(seqs: &[(NumberId, i64)], id: NumberId) -> Option<i64> {
    seqs.iter().find(|(n, _)| *n == id).map(|(_, s)| *s)
}
