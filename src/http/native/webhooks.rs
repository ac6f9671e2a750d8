//! `/workspaces/{workspaceId}/webhooks`: endpoints that receive the workspace's events, signed
//! the Standard Webhooks way, and their deliveries.

use crate::http::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::paging::{page, PageParams};
use crate::domain::events::{Delivery, DeliveryStatus, Webhook};
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, PathIds, Workspace};
use crate::http::AppState;
use crate::service::webhooks::{NewWebhook, WebhookPatch, WebhookView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https` only, and no loopback, private, link-local or metadata address (unless the
    /// operator sets `webhooks.allow_private`).
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types to deliver (e.g. `number.released`), or `["*"]` for all.
    #[schema(min_items = 1)]
    pub events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub description: Option<Option<String>>,
    /// `true` enables a disabled endpoint again (its failure streak starts afresh).
    pub enabled: Option<bool>,
}

/// A webhook with its signing secret: answered only when the secret is made (create, rotate).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64: verify deliveries with it (Standard Webhooks). Shown once.
    pub secret: String,
}

impl From<Webhook> for WebhookWithSecret {
    fn from(w: Webhook) -> Self {
        WebhookWithSecret { webhook: WebhookView::from(&w), secret: w.secret }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    pub results: Vec<WebhookView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// One event on its way to one endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event delivered; also its `webhook-id` header.
    pub event_id: Uuid,
    pub number_id: Option<Uuid>,
    /// `waiting` (behind an older delivery of the same number), `pending`, `delivered`, `failed`.
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The HTTP status of the last answer.
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            number_id: d.number_id.map(|n| n.0),
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            last_error: d.last_error.clone(),
            last_attempt_at: d.last_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub results: Vec<DeliveryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

fn webhook_id(ids: &PathIds) -> Result<Uuid> {
    ids.get("webhookId")
}

/// Add an endpoint; the answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/webhooks", tag = "webhooks",
    params(("workspaceId" = Uuid, Path)), request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 422, description = "Invalid or forbidden URL, unknown event type")))]
async fn create_webhook(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookWithSecret>)> {
    let new = NewWebhook { url: body.url, events: body.events, description: body.description };
    Ok((StatusCode::CREATED, Json(state.core.create_webhook(tenant, new).await?.into())))
}

/// The workspace's endpoints, oldest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/webhooks", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), PageParams), responses((status = 200, body = WebhookList)))]
async fn list_webhooks(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<WebhookList>> {
    let (after, limit) = q.parse()?;
    let rows = state.core.list_webhooks(tenant, after, limit + 1).await?;
    let (rows, next_page_token) = page(rows, limit, |w| w.seq);
    Ok(Json(WebhookList { results: rows.iter().map(WebhookView::from).collect(), next_page_token }))
}

#[utoipa::path(get, path = "/workspaces/{workspaceId}/webhooks/{webhookId}", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path)), responses((status = 200, body = WebhookView)))]
async fn get_webhook(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<WebhookView>> {
    Ok(Json(WebhookView::from(&state.core.get_webhook(tenant, webhook_id(&ids)?).await?)))
}

/// Change an endpoint's URL, events or description, or enable or disable it.
#[utoipa::path(patch, path = "/workspaces/{workspaceId}/webhooks/{webhookId}", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path)), request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView), (status = 422, description = "Invalid or forbidden URL, unknown event type")))]
async fn update_webhook(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<WebhookView>> {
    let patch = WebhookPatch { url: body.url, events: body.events, description: body.description, enabled: body.enabled };
    Ok(Json(WebhookView::from(&state.core.update_webhook(tenant, webhook_id(&ids)?, patch).await?)))
}

/// Remove an endpoint; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/workspaces/{workspaceId}/webhooks/{webhookId}", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path)), responses((status = 204)))]
async fn delete_webhook(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<StatusCode> {
    state.core.delete_webhook(tenant, webhook_id(&ids)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the previous one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/webhooks/{webhookId}/rotate-secret", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path)), responses((status = 200, body = WebhookWithSecret)))]
async fn rotate_secret(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<WebhookWithSecret>> {
    Ok(Json(state.core.rotate_webhook_secret(tenant, webhook_id(&ids)?).await?.into()))
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/webhooks/{webhookId}/deliveries", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path), PageParams), responses((status = 200, body = DeliveryList)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<DeliveryList>> {
    let (before, limit) = q.parse()?;
    let rows = state.core.list_deliveries(tenant, webhook_id(&ids)?, before, limit + 1).await?;
    let (rows, next_page_token) = page(rows, limit, |d| d.seq);
    Ok(Json(DeliveryList { results: rows.iter().map(DeliveryView::from).collect(), next_page_token }))
}

/// Send a delivered or failed delivery again now, with a fresh retry schedule.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/webhooks/{webhookId}/deliveries/{deliveryId}/retry", tag = "webhooks",
    params(("workspaceId" = Uuid, Path), ("webhookId" = Uuid, Path), ("deliveryId" = Uuid, Path)),
    responses((status = 202, body = DeliveryView), (status = 409, description = "Still queued or retrying, or the webhook is disabled")))]
async fn retry_delivery(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
) -> Result<(StatusCode, Json<DeliveryView>)> {
    let d = state.core.retry_delivery(tenant, webhook_id(&ids)?, ids.get("deliveryId")?).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&d))))
}
