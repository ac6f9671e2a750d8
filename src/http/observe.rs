//! Observability around every request: `GET /metrics`, request counts and latency by route
//! template, and the request id events are tagged with.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// `GET /metrics`: Prometheus/OpenMetrics text, no authentication (bind `metrics_listen` to an
/// internal address to keep it private).
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.core.metrics_text().await {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Only `/metrics`, for the separate `metrics_listen` address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// Counts a routed request by its route template (never the raw path, whose ids would explode
/// the label set), method and status, and observes its latency.
pub async fn track(State(state): State<AppState>, path: MatchedPath, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    state.core.metrics.http_request(path.as_str(), method.as_str(), response.status().as_u16(), start.elapsed());
    response
}
