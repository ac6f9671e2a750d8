//! HTTP: the native (Bird-shaped) API under `/workspaces/{workspaceId}`, the Autocalls-compatible
//! dialect under `/api/user`, health checks and the OpenAPI document. Dialects are thin skins over
//! [`crate::service::Core`].

pub mod autocalls;
mod edge;
pub mod extract;
mod json;
pub mod native;
pub mod observe;
pub mod openapi;
pub mod origin;
mod text;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::error::{Code, Error, Kind};
use crate::service::Core;
pub use json::Json;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
}

/// The HTTP status of each error, shared by both dialects: by kind, with the few codes whose
/// status HTTP names more exactly.
pub fn status_of(code: Code) -> StatusCode {
    match (code, code.kind()) {
        (Code::PayloadTooLarge, _) => StatusCode::PAYLOAD_TOO_LARGE,
        (Code::UnsupportedMediaType, _) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        (Code::MethodNotAllowed, _) => StatusCode::METHOD_NOT_ALLOWED,
        (Code::CarrierUnavailable, _) => StatusCode::BAD_GATEWAY,
        (_, Kind::Malformed | Kind::Refused) => StatusCode::BAD_REQUEST,
        (_, Kind::InvalidInput) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, Kind::NotFound) => StatusCode::NOT_FOUND,
        (_, Kind::Conflict) => StatusCode::CONFLICT,
        (_, Kind::Unauthorized) => StatusCode::UNAUTHORIZED,
        (_, Kind::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        (_, Kind::CarrierFailure | Kind::Internal) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Native error shape: Bird's `Error` (`code`, `message`, optional `details`).
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(d) = self.details {
            body["details"] = d;
        }
        (status_of(self.code), Json(body)).into_response()
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (api, _spec) = openapi::split(native::routes());
    let edge = edge::Edge { state: state.clone(), max_body_bytes };
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi_json))
        .route("/metrics", get(observe::metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), observe::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            Error::new(Code::InternalError, "An internal error occurred.").into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(edge::REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(axum::middleware::from_fn_with_state(edge, edge::edge))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.core.db.ping()).await;
    let mut response = match ping {
        Ok(Ok(())) if state.core.db.unavailable_within(edge::RETRY_AFTER) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "failing" }))).into_response()
        }
        Ok(Ok(())) => Json(json!({ "status": "ok", "database": "ok" })).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "unreachable" }))).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "timeout" }))).into_response(),
    };
    response.extensions_mut().insert(edge::Readiness);
    response
}

async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi::document_json()).into_response()
}

async fn not_found(uri: Uri) -> Response {
    in_dialect(&uri, Error::new(Code::RouteNotFound, "No such endpoint."))
}

async fn method_not_allowed(uri: Uri) -> Response {
    in_dialect(&uri, Error::new(Code::MethodNotAllowed, "This endpoint does not support that method."))
}

/// A routing error in the error shape of the API the path belongs to.
fn in_dialect(uri: &Uri, e: Error) -> Response {
    if autocalls::owns(uri.path()) {
        autocalls::route_error(e)
    } else {
        e.into_response()
    }
}
