//! `/api/user/campaign`, `/api/user/campaigns` and `/api/user/campaigns/update-status`:
//! campaigns and their phone-number rotation.

use crate::http::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bodies::{CreateCampaign, UpdateCampaignStatus};
use super::input::{one_of, Body};
use super::{laravel_time, number_seqs, seq_of, LaravelError};
use crate::domain::resources::{Campaign, Key, Page};
use crate::error::Error;
use crate::http::extract::{Authed, RawJson};
use crate::http::AppState;
use crate::service::resources::NumberRef;
use crate::service::Tenant;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_campaign)).routes(routes!(list_campaigns)).routes(routes!(update_status))
}

/// Core campaign statuses as Autocalls names them.
const STATUSES: [(&str, &str); 4] = [("draft", "draft"), ("in_progress", "in-progress"), ("paused", "stopped"), ("completed", "completed")];

/// `action`: the core status it sets and what the client is told.
const ACTIONS: [(&str, (&str, &str)); 2] =
    [("start", ("in_progress", "Campaign started successfully.")), ("stop", ("paused", "Campaign stopped successfully."))];

fn dialect_status(core: &str) -> String {
    STATUSES.iter().find(|(c, _)| *c == core).map_or(core, |(_, d)| d).to_owned()
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::CampaignView)]
pub struct CampaignView {
    pub id: i64,
    pub name: String,
    /// `draft`, `in-progress`, `stopped` or `completed`.
    pub status: String,
    /// The rotation, in order: only numbers still in the workspace.
    pub phone_number_ids: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

async fn views(state: &AppState, tenant: Tenant, campaigns: &[Campaign]) -> Result<Vec<CampaignView>, Error> {
    let seqs = number_seqs(state, tenant, campaigns.iter().flat_map(|c| c.number_ids.clone()).collect()).await?;
    Ok(campaigns
        .iter()
        .map(|c| CampaignView {
            id: c.seq,
            name: c.name.clone(),
            status: dialect_status(c.status.as_str()),
            phone_number_ids: c.number_ids.iter().filter_map(|n| seq_of(&seqs, *n)).collect(),
            created_at: laravel_time(c.created_at),
            updated_at: laravel_time(c.updated_at),
        })
        .collect())
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::CampaignCreated)]
pub struct CampaignCreated {
    pub message: &'static str,
    pub data: CampaignView,
}

/// Create a campaign (as a draft). `name` is required; `phone_number_ids` is the rotation:
/// distinct numbers of the workspace. Other Autocalls settings are accepted and ignored.
#[utoipa::path(post, path = "/api/user/campaign", tag = "autocalls", operation_id = "autocalls_create_campaign",
    request_body = CreateCampaign,
    responses((status = 201, body = CampaignCreated), (status = 422, description = "`{\"message\", \"errors\": {field: [...]}}`")))]
async fn create_campaign(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<CampaignCreated>), LaravelError> {
    let Authed(tenant) = auth?;
    let body = Body::from(body)?;
    let name: String = body.required("name")?;
    let numbers: Vec<NumberRef> =
        body.optional::<Vec<i64>>("phone_number_ids")?.unwrap_or_default().into_iter().map(NumberRef::Seq).collect();
    let c = state.core.create_campaign(tenant, &name, &numbers).await?;
    let data = views(&state, tenant, &[c]).await?.remove(0);
    Ok((StatusCode::CREATED, Json(CampaignCreated { message: "Campaign created successfully", data })))
}

/// List campaigns, oldest first (a plain array, as Autocalls answers).
#[utoipa::path(get, path = "/api/user/campaigns", tag = "autocalls", operation_id = "autocalls_list_campaigns",
    responses((status = 200, body = [CampaignView])))]
async fn list_campaigns(State(state): State<AppState>, auth: Result<Authed, Error>) -> Result<Json<Vec<CampaignView>>, LaravelError> {
    let Authed(tenant) = auth?;
    let campaigns = state.core.list_campaigns(tenant, Page::After { seq: None, limit: i64::MAX }).await?;
    Ok(Json(views(&state, tenant, &campaigns).await?))
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::StatusData)]
pub struct StatusData {
    pub campaign_id: i64,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::StatusUpdated)]
pub struct StatusUpdated {
    pub message: &'static str,
    pub success: bool,
    pub data: StatusData,
}

/// Start (`in-progress`) or stop (`stopped`) a campaign.
#[utoipa::path(post, path = "/api/user/campaigns/update-status", tag = "autocalls", operation_id = "autocalls_update_status",
    request_body = UpdateCampaignStatus,
    responses((status = 200, body = StatusUpdated), (status = 404, description = "`{\"message\": \"Campaign not found.\"}`"),
        (status = 422, description = "`{\"message\", \"errors\": {field: [...]}}`")))]
async fn update_status(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    body: Result<RawJson, Error>,
) -> Result<Json<StatusUpdated>, LaravelError> {
    let Authed(tenant) = auth?;
    let body = Body::from(body)?;
    let campaign_id: i64 = body.required("campaign_id")?;
    let action: String = body.required("action")?;
    let (status, message) = *one_of("action", &action, &ACTIONS)?;
    let c = state.core.update_campaign(tenant, Key::Seq(campaign_id), None, Some(status), None).await?;
    Ok(Json(StatusUpdated { message, success: true, data: StatusData { campaign_id: c.seq, status: dialect_status(c.status.as_str()) } }))
}
