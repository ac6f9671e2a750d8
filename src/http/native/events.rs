//! `GET /workspaces/{workspaceId}/events`: the audit log, newest first.

use crate::http::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{page, PageParams};
use crate::domain::events::{Event, EventFilter, EventType};
use crate::domain::ids::NumberId;
use crate::error::{Code, Error, Result};
use crate::http::extract::{ApiQuery, Workspace};
use crate::http::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<EventType>,
    /// Only events about this number.
    #[param(value_type = Option<uuid::Uuid>)]
    pub number_id: Option<String>,
    /// Only events that occurred after this time (RFC 3339, exclusive).
    pub after: Option<DateTime<Utc>>,
    /// Only events that occurred before this time (RFC 3339, exclusive).
    pub before: Option<DateTime<Utc>>,
    /// Results per page, 1–99 (default 10).
    #[param(minimum = 1, maximum = 99)]
    pub limit: Option<i64>,
    /// `nextPageToken` of the previous page.
    pub page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    pub results: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The workspace's events, newest first (kept for `events.retention_days`).
#[utoipa::path(get, path = "/workspaces/{workspaceId}/events", tag = "events",
    params(("workspaceId" = uuid::Uuid, Path), ListEventsQuery),
    responses((status = 200, body = EventList)))]
async fn list_events(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(q): ApiQuery<ListEventsQuery>,
) -> Result<Json<EventList>> {
    let (before_seq, limit) = PageParams { limit: q.limit, page_token: q.page_token.clone() }.parse()?;
    let number_id = match &q.number_id {
        Some(raw) => Some(raw.parse::<NumberId>().map_err(|_| {
            Error::new(Code::InvalidQueryParameter, "`numberId` must be a number id.")
                .with_details(serde_json::json!({ "parameter": "numberId" }))
        })?),
        None => None,
    };
    let filter = EventFilter { event_type: q.event_type, number_id, after: q.after, before: q.before };
    let rows = state.core.list_events(tenant, &filter, before_seq, limit + 1).await?;
    let (results, next_page_token) = page(rows, limit, |e| e.seq);
    Ok(Json(EventList { results, next_page_token }))
}
