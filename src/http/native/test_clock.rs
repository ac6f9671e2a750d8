//! Test clocks: a test-mode workspace's own time, moved forward on request.

use crate::http::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Result;
use crate::http::extract::{ApiJson, Workspace};
use crate::http::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_clock)).routes(routes!(advance))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// RFC 3339; must not be before the clock's current time.
    pub to: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestClock {
    pub test_mode: bool,
    /// The workspace's current time (real time for live workspaces).
    pub now: DateTime<Utc>,
}

/// The workspace's clock.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/test-clock", tag = "test-clock",
    params(("workspaceId" = uuid::Uuid, Path)), responses((status = 200, body = TestClock)))]
async fn get_clock(State(state): State<AppState>, Workspace(tenant): Workspace) -> Result<Json<TestClock>> {
    let mut conn = state.core.db.pool.acquire().await?;
    let now = state.core.now(&mut conn, tenant).await?;
    Ok(Json(TestClock { test_mode: tenant.test_mode, now }))
}

/// Move a test-mode workspace's clock forward; every renewal and release that falls due runs
/// before this returns.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/test-clock/advance", tag = "test-clock",
    params(("workspaceId" = uuid::Uuid, Path)), request_body = Advance,
    responses((status = 200, body = TestClock), (status = 409, description = "Live workspace"),
        (status = 422, description = "The clock would go back")))]
async fn advance(State(state): State<AppState>, Workspace(tenant): Workspace, ApiJson(body): ApiJson<Advance>) -> Result<Json<TestClock>> {
    let now = state.core.advance_clock(tenant, body.to).await?;
    Ok(Json(TestClock { test_mode: true, now }))
}
