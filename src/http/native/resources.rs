//! Assistants, campaigns and calls under `/workspaces/{workspaceId}`.

use crate::http::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::paging::{page, PageParams};
use crate::domain::ids::{AssistantId, CampaignId, NumberId};
use crate::domain::resources::{Assistant, Call, CallFilter, Campaign, Key, Page};
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, PathIds, Workspace};
use crate::http::AppState;
use crate::service::resources::{AssistantChange, NumberRef};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_assistant, list_assistants))
        .routes(routes!(get_assistant, update_assistant, delete_assistant))
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign, update_campaign))
        .routes(routes!(record_call, list_calls))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantView {
    pub id: Uuid,
    pub autocalls_id: i64,
    pub name: String,
    /// `inbound` answers calls to its number; `outbound` calls from it.
    pub direction: String,
    pub number_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Assistant> for AssistantView {
    fn from(a: &Assistant) -> Self {
        AssistantView {
            id: a.id.0,
            autocalls_id: a.seq,
            name: a.name.clone(),
            direction: a.direction.as_str().to_owned(),
            number_id: a.number_id.map(|n| n.0),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignView {
    pub id: Uuid,
    pub autocalls_id: i64,
    pub name: String,
    /// `draft`, `in_progress`, `paused` or `completed`.
    pub status: String,
    /// The phone-number rotation, in order.
    pub number_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Campaign> for CampaignView {
    fn from(c: &Campaign) -> Self {
        CampaignView {
            id: c.id.0,
            autocalls_id: c.seq,
            name: c.name.clone(),
            status: c.status.as_str().to_owned(),
            number_ids: c.number_ids.iter().map(|n| n.0).collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    pub id: Uuid,
    pub autocalls_id: i64,
    pub direction: String,
    pub from: String,
    pub to: String,
    /// The workspace number used; it stays here after the number is released.
    pub number_id: Option<Uuid>,
    pub number: Option<String>,
    pub assistant_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub duration_seconds: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&Call> for CallView {
    fn from(c: &Call) -> Self {
        CallView {
            id: c.id.0,
            autocalls_id: c.seq,
            direction: c.direction.as_str().to_owned(),
            from: c.from_e164.clone(),
            to: c.to_e164.clone(),
            number_id: c.number_id.map(|n| n.0),
            number: c.number_e164.clone(),
            assistant_id: c.assistant_id.map(|a| a.0),
            campaign_id: c.campaign_id.map(|a| a.0),
            status: c.status.as_str().to_owned(),
            started_at: c.started_at,
            duration_seconds: c.duration_seconds,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub results: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

fn listed<R, V>(rows: Vec<R>, limit: i64, seq: impl Fn(&R) -> i64) -> Json<List<V>>
where
    V: for<'a> From<&'a R>,
{
    let (rows, next_page_token) = page(rows, limit, seq);
    Json(List { results: rows.iter().map(V::from).collect(), next_page_token })
}

fn keyset(p: &PageParams) -> Result<(Page, i64)> {
    let (after, limit) = p.parse()?;
    Ok((Page::After { seq: after, limit: limit + 1 }, limit))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAssistant {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Default `inbound`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub number_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAssistant {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    pub direction: Option<String>,
    /// `null` unassigns the number.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub number_id: Option<Option<Uuid>>,
}

fn assistant_key(ids: &PathIds) -> Result<Key<AssistantId>> {
    Ok(Key::Id(ids.get("assistantId")?))
}

fn campaign_key(ids: &PathIds) -> Result<Key<CampaignId>> {
    Ok(Key::Id(ids.get("campaignId")?))
}

/// Create an assistant, optionally attached to a number.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/assistants", tag = "resources",
    params(("workspaceId" = Uuid, Path)), request_body = CreateAssistant,
    responses((status = 201, body = AssistantView), (status = 409, description = "Number serves another inbound assistant")))]
async fn create_assistant(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(b): ApiJson<CreateAssistant>,
) -> Result<(StatusCode, Json<AssistantView>)> {
    let number = b.number_id.map(|n| NumberRef::Id(NumberId(n)));
    let a = state.core.create_assistant(tenant, &b.name, b.direction.as_deref().unwrap_or("inbound"), number).await?;
    Ok((StatusCode::CREATED, Json((&a).into())))
}

/// List assistants.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/assistants", tag = "resources",
    params(("workspaceId" = Uuid, Path), PageParams), responses((status = 200, body = List<AssistantView>)))]
async fn list_assistants(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<List<AssistantView>>> {
    let (page_, limit) = keyset(&p)?;
    Ok(listed(state.core.list_assistants(tenant, page_).await?, limit, |a| a.seq))
}

/// Get an assistant.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/assistants/{assistantId}", tag = "resources",
    params(("workspaceId" = Uuid, Path), ("assistantId" = Uuid, Path)), responses((status = 200, body = AssistantView)))]
async fn get_assistant(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<AssistantView>> {
    Ok(Json((&state.core.get_assistant(tenant, assistant_key(&ids)?).await?).into()))
}

/// Rename an assistant or change its number.
#[utoipa::path(patch, path = "/workspaces/{workspaceId}/assistants/{assistantId}", tag = "resources",
    params(("workspaceId" = Uuid, Path), ("assistantId" = Uuid, Path)), request_body = UpdateAssistant,
    responses((status = 200, body = AssistantView)))]
async fn update_assistant(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiJson(b): ApiJson<UpdateAssistant>,
) -> Result<Json<AssistantView>> {
    let change =
        AssistantChange { name: b.name, direction: b.direction, number: b.number_id.map(|n| n.map(|n| NumberRef::Id(NumberId(n)))) };
    Ok(Json((&state.core.update_assistant(tenant, assistant_key(&ids)?, change).await?).into()))
}

/// Delete an assistant.
#[utoipa::path(delete, path = "/workspaces/{workspaceId}/assistants/{assistantId}", tag = "resources",
    params(("workspaceId" = Uuid, Path), ("assistantId" = Uuid, Path)), responses((status = 204)))]
async fn delete_assistant(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<StatusCode> {
    state.core.delete_assistant(tenant, assistant_key(&ids)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The rotation, in order; distinct numbers of this workspace.
    #[serde(default)]
    pub number_ids: Vec<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCampaign {
    /// Not blank; at most 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    pub status: Option<String>,
    pub number_ids: Option<Vec<Uuid>>,
}

fn refs(ids: &[Uuid]) -> Vec<NumberRef> {
    ids.iter().map(|n| NumberRef::Id(NumberId(*n))).collect()
}

/// Create a campaign with a phone-number rotation.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/campaigns", tag = "resources",
    params(("workspaceId" = Uuid, Path)), request_body = CreateCampaign, responses((status = 201, body = CampaignView)))]
async fn create_campaign(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(b): ApiJson<CreateCampaign>,
) -> Result<(StatusCode, Json<CampaignView>)> {
    let c = state.core.create_campaign(tenant, &b.name, &refs(&b.number_ids)).await?;
    Ok((StatusCode::CREATED, Json((&c).into())))
}

/// List campaigns.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/campaigns", tag = "resources",
    params(("workspaceId" = Uuid, Path), PageParams), responses((status = 200, body = List<CampaignView>)))]
async fn list_campaigns(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<List<CampaignView>>> {
    let (page_, limit) = keyset(&p)?;
    Ok(listed(state.core.list_campaigns(tenant, page_).await?, limit, |c| c.seq))
}

/// Get a campaign.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/campaigns/{campaignId}", tag = "resources",
    params(("workspaceId" = Uuid, Path), ("campaignId" = Uuid, Path)), responses((status = 200, body = CampaignView)))]
async fn get_campaign(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<CampaignView>> {
    Ok(Json((&state.core.get_campaign(tenant, campaign_key(&ids)?).await?).into()))
}

/// Rename, start/stop or change the rotation of a campaign.
#[utoipa::path(patch, path = "/workspaces/{workspaceId}/campaigns/{campaignId}", tag = "resources",
    params(("workspaceId" = Uuid, Path), ("campaignId" = Uuid, Path)), request_body = UpdateCampaign,
    responses((status = 200, body = CampaignView)))]
async fn update_campaign(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiJson(b): ApiJson<UpdateCampaign>,
) -> Result<Json<CampaignView>> {
    let numbers = b.number_ids.as_deref().map(refs);
    let c = state.core.update_campaign(tenant, campaign_key(&ids)?, b.name.as_deref(), b.status.as_deref(), numbers.as_deref()).await?;
    Ok(Json((&c).into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordCall {
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub number_id: Option<Uuid>,
    pub assistant_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    /// `queued`, `ringing`, `in_progress`, `completed`, `busy`, `no_answer`, `failed`, `canceled`.
    pub status: String,
    /// Default: now.
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub duration_seconds: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    pub status: Option<String>,
    pub direction: Option<String>,
    pub number_id: Option<Uuid>,
    /// E.164 of the workspace number or the other party.
    pub phone_number: Option<String>,
    pub assistant_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    /// Calls started at or after this time.
    pub started_from: Option<DateTime<Utc>>,
    /// Calls started before this time.
    pub started_before: Option<DateTime<Utc>>,
    /// Results per page, 1–99 (default 10).
    #[param(minimum = 1, maximum = 99)]
    pub limit: Option<i64>,
    pub page_token: Option<String>,
}

/// Record a call.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/calls", tag = "resources",
    params(("workspaceId" = Uuid, Path)), request_body = RecordCall, responses((status = 201, body = CallView)))]
async fn record_call(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(b): ApiJson<RecordCall>,
) -> Result<(StatusCode, Json<CallView>)> {
    let call = state
        .core
        .record_call(
            tenant,
            &b.direction,
            &b.from,
            &b.to,
            b.number_id.map(|n| NumberRef::Id(NumberId(n))),
            b.assistant_id.map(AssistantId),
            b.campaign_id.map(CampaignId),
            &b.status,
            b.started_at,
            b.duration_seconds,
        )
        .await?;
    Ok((StatusCode::CREATED, Json((&call).into())))
}

/// List calls, newest last, with filters.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/calls", tag = "resources",
    params(("workspaceId" = Uuid, Path), CallQuery), responses((status = 200, body = List<CallView>)))]
async fn list_calls(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(q): ApiQuery<CallQuery>,
) -> Result<Json<List<CallView>>> {
    let (page_, limit) = keyset(&PageParams { limit: q.limit, page_token: q.page_token.clone() })?;
    let filter = CallFilter {
        status: q.status,
        direction: q.direction,
        number_id: q.number_id.map(NumberId),
        phone_number: q.phone_number,
        assistant_id: q.assistant_id.map(AssistantId),
        campaign_id: q.campaign_id.map(CampaignId),
        started_from: q.started_from,
        started_before: q.started_before,
    };
    let calls = state.core.list_calls(tenant, &filter, page_).await?;
    Ok(listed(calls, limit, |c| c.seq))
}
