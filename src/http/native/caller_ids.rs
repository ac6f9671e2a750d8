//! `/workspaces/{workspaceId}/caller-ids`: verify a number the platform's user owns, so calls can
//! be placed from it. Verified, it is a `callerId` number in the inventory.

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
use crate::domain::caller_id::{CallerIdRecord, VerificationState};
use crate::domain::ids::CallerIdId;
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, PathIds, Workspace};
use crate::http::AppState;
use crate::service::caller_ids::NewCallerId;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_caller_id, list_caller_ids)).routes(routes!(get_caller_id)).routes(routes!(verify_caller_id))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartCallerId {
    /// The number to verify, in any common notation with its country code (`+1 415 555 0100`).
    pub number: String,
    /// At most 50 characters; becomes the number's nickname.
    #[serde(default)]
    #[schema(max_length = 50)]
    pub nickname: Option<String>,
    /// The carrier account (a name from the configuration) to verify at; default: `default_carrier`.
    #[serde(default)]
    pub carrier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCallerId {
    /// The code the carrier sent the number's owner (Telnyx).
    #[schema(min_length = 1, max_length = 16)]
    pub code: String,
}

/// Where a verification stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallerIdStatus {
    /// Waiting for the owner.
    Pending,
    /// Verified; `numberId` is the `callerId` number.
    Verified,
    /// Not verified before `expiresAt`.
    Expired,
    /// The carrier refused it; `failure` says why.
    Failed,
}

impl From<VerificationState> for CallerIdStatus {
    fn from(s: VerificationState) -> Self {
        match s {
            VerificationState::Pending => CallerIdStatus::Pending,
            VerificationState::Verified => CallerIdStatus::Verified,
            VerificationState::Expired => CallerIdStatus::Expired,
            VerificationState::Failed => CallerIdStatus::Failed,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallerIdView {
    pub id: Uuid,
    /// E.164.
    pub number: String,
    pub nickname: Option<String>,
    /// The carrier account verifying it.
    pub carrier: String,
    pub status: CallerIdStatus,
    /// Twilio: the code the owner types in when Twilio calls the number. `null` where the carrier
    /// sends the owner a code to pass to `verify` (Telnyx).
    pub validation_code: Option<String>,
    /// The verification's deadline (real time, also in test-mode workspaces).
    pub expires_at: DateTime<Utc>,
    /// The `callerId` number, once verified.
    pub number_id: Option<Uuid>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CallerIdView {
    fn new(c: &CallerIdRecord, now: DateTime<Utc>) -> Self {
        CallerIdView {
            id: c.id.0,
            number: c.e164.clone(),
            nickname: c.nickname.clone(),
            carrier: c.account.clone(),
            status: c.status_at(now).into(),
            validation_code: c.validation_code.clone(),
            expires_at: c.expires_at,
            number_id: c.number_id.map(|n| n.0),
            failure: c.failure.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallerIdList {
    pub results: Vec<CallerIdView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

fn caller_id(ids: &PathIds) -> Result<CallerIdId> {
    ids.get("callerIdId")
}

/// Start verifying a caller ID at a carrier account.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/caller-ids", tag = "caller-ids",
    params(("workspaceId" = Uuid, Path)), request_body = StartCallerId,
    responses((status = 201, body = CallerIdView),
        (status = 409, description = "The number is already in the workspace, or already being verified"),
        (status = 422, description = "Invalid number or nickname, or no such carrier account"),
        (status = 502, description = "The carrier account failed or timed out; nothing changed")))]
async fn start_caller_id(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(b): ApiJson<StartCallerId>,
) -> Result<(StatusCode, Json<CallerIdView>)> {
    let rec = state.core.start_caller_id(tenant, NewCallerId { number: b.number, nickname: b.nickname, carrier: b.carrier }).await?;
    Ok((StatusCode::CREATED, Json(CallerIdView::new(&rec, state.core.clock.now()))))
}

/// List caller-ID verifications, oldest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/caller-ids", tag = "caller-ids",
    params(("workspaceId" = Uuid, Path), PageParams), responses((status = 200, body = CallerIdList)))]
async fn list_caller_ids(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<CallerIdList>> {
    let (after, limit) = p.parse()?;
    let rows = state.core.list_caller_ids(tenant, crate::domain::resources::Page::After { seq: after, limit: limit + 1 }).await?;
    let (rows, next_page_token) = page(rows, limit, |c| c.seq);
    let now = state.core.clock.now();
    Ok(Json(CallerIdList { results: rows.iter().map(|c| CallerIdView::new(c, now)).collect(), next_page_token }))
}

/// Get a caller-ID verification.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/caller-ids/{callerIdId}", tag = "caller-ids",
    params(("workspaceId" = Uuid, Path), ("callerIdId" = Uuid, Path)),
    responses((status = 200, body = CallerIdView), (status = 404, description = "Not found")))]
async fn get_caller_id(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<CallerIdView>> {
    let rec = state.core.get_caller_id(tenant, caller_id(&ids)?).await?;
    Ok(Json(CallerIdView::new(&rec, state.core.clock.now())))
}

/// Pass the code the carrier sent the owner (Telnyx). Twilio verifies by phone call instead (400
/// `verification_by_call`): numberd sees the result by itself.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/caller-ids/{callerIdId}/verify", tag = "caller-ids",
    params(("workspaceId" = Uuid, Path), ("callerIdId" = Uuid, Path)), request_body = VerifyCallerId,
    responses((status = 200, body = CallerIdView),
        (status = 400, description = "This carrier verifies by phone call, not by code"),
        (status = 404, description = "Not found"),
        (status = 409, description = "The verification expired or failed"),
        (status = 422, description = "The carrier did not accept the code, or it is malformed"),
        (status = 502, description = "The carrier account failed or timed out; nothing changed")))]
async fn verify_caller_id(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiJson(b): ApiJson<VerifyCallerId>,
) -> Result<Json<CallerIdView>> {
    let rec = state.core.verify_caller_id(tenant, caller_id(&ids)?, &b.code).await?;
    Ok(Json(CallerIdView::new(&rec, state.core.clock.now())))
}
