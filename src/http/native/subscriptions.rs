//! Endpoint subscriptions: the number id is the endpoint id; its one subscription is `main`.

use crate::http::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{endpoint_subscription, EndpointSubscription};
use crate::domain::ids::NumberId;
use crate::domain::record::NumberRecord;
use crate::error::{Code, Error, Result};
use crate::http::extract::{PathIds, Workspace};
use crate::http::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions))
        .routes(routes!(get_subscription))
        .routes(routes!(cancel))
        .routes(routes!(resume))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub results: Vec<EndpointSubscription>,
}

fn not_found() -> Error {
    Error::new(Code::SubscriptionNotFound, "Subscription not found.")
}

/// The endpoint id and subscription name; only `main` exists.
fn target(ids: &PathIds) -> Result<NumberId> {
    let id = ids.get("endpointId")?;
    if ids.raw("name") != Some("main") {
        return Err(not_found());
    }
    Ok(id)
}

fn view(rec: &NumberRecord) -> Result<Json<EndpointSubscription>> {
    endpoint_subscription(rec).map(Json).ok_or_else(not_found)
}

/// List an endpoint's subscriptions: `main` for a dedicated number, none for SIP and caller IDs.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions", tag = "subscriptions",
    params(("workspaceId" = uuid::Uuid, Path), ("endpointId" = uuid::Uuid, Path, description = "The number id")),
    responses((status = 200, body = SubscriptionList), (status = 404, description = "Not found")))]
async fn list_subscriptions(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<SubscriptionList>> {
    let n = state.core.get_number(tenant, ids.get("endpointId")?).await?;
    Ok(Json(SubscriptionList { results: endpoint_subscription(&n.number).into_iter().collect() }))
}

/// Get a subscription by name.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{name}", tag = "subscriptions",
    params(("workspaceId" = uuid::Uuid, Path), ("endpointId" = uuid::Uuid, Path), ("name" = String, Path, example = "main")),
    responses((status = 200, body = EndpointSubscription), (status = 404, description = "Not found")))]
async fn get_subscription(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<EndpointSubscription>> {
    let n = state.core.get_number(tenant, target(&ids)?).await?;
    view(&n.number)
}

/// Cancel at the end of the current period (same as the number's cancel-subscription).
#[utoipa::path(post, path = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{name}/cancel", tag = "subscriptions",
    params(("workspaceId" = uuid::Uuid, Path), ("endpointId" = uuid::Uuid, Path), ("name" = String, Path, example = "main")),
    responses((status = 200, body = EndpointSubscription), (status = 404, description = "Not found"), (status = 409, description = "Already ended")))]
async fn cancel(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<EndpointSubscription>> {
    let rec = state.core.cancel_subscription(tenant, target(&ids)?).await.map_err(no_sub_is_404)?;
    view(&rec)
}

/// Undo a cancellation before the period ends; the number renews as if never cancelled.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{name}/resume", tag = "subscriptions",
    params(("workspaceId" = uuid::Uuid, Path), ("endpointId" = uuid::Uuid, Path), ("name" = String, Path, example = "main")),
    responses((status = 200, body = EndpointSubscription), (status = 404, description = "Not found"), (status = 409, description = "The period already ended")))]
async fn resume(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<EndpointSubscription>> {
    let rec = state.core.resume_subscription(tenant, target(&ids)?).await.map_err(no_sub_is_404)?;
    view(&rec)
}

/// Under `/subscriptions/main`, a number without a subscription has no such resource.
fn no_sub_is_404(e: Error) -> Error {
    if e.code == Code::NumberHasNoSubscription {
        not_found()
    } else {
        e
    }
}
