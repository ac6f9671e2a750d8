//! `/workspaces/{workspaceId}/numbers`: register, list, get, edit, release, cancel-subscription.

use crate::http::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{page, PageParams};
use super::views::{NumberList, NumberView, PeriodView};
use crate::domain::ids::NumberId;
use crate::domain::money::Money;
use crate::domain::number::{Capabilities, CapabilityName, NumberConfigurations, NumberKind, NumberStatus, NumberType, SubscriptionStatus};
use crate::domain::phone::normalise_prefix;
use crate::domain::record::NumberFilter;
use crate::error::{Code, Error, Result};
use crate::http::extract::{ApiJson, ApiQuery, PathIds, Workspace};
use crate::http::AppState;
use crate::service::lifecycle::Released;
use crate::service::numbers::{NewNumber, Shown};

pub const RELEASED_MESSAGE: &str = "Phone number released successfully. It will be removed at the end of the billing period.";
pub const DELETED_MESSAGE: &str = "Phone number deleted successfully.";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_number, list_numbers))
        .routes(routes!(get_number, update_number, release_number))
        .routes(routes!(cancel_subscription))
        .routes(routes!(list_periods))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterNumber {
    /// Any common notation, e.g. `+1 (415) 555-0100`; stored as E.164.
    pub number: String,
    /// How the number is held, which decides how it is released. Default `dedicated`.
    #[serde(default)]
    pub kind: Option<NumberKind>,
    /// Derived from the number where possible.
    #[serde(rename = "type", default)]
    pub number_type: Option<NumberType>,
    /// ISO 3166-1 alpha-2; derived from the number if absent.
    #[serde(default)]
    pub country: Option<String>,
    /// Default depends on `kind`.
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub monthly_recurring_price: Option<Money>,
    #[serde(default)]
    pub configurations: Option<NumberConfigurations>,
    /// At most 50 characters.
    #[serde(default)]
    #[schema(max_length = 50)]
    pub nickname: Option<String>,
    /// Adopt a number this carrier account (a name from the configuration) already holds: it is
    /// looked up there (422 `number_not_at_carrier` if absent) and released there. Dedicated only.
    #[serde(default)]
    pub carrier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateNumber {
    /// `null` clears it; at most 50 characters.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub nickname: Option<Option<String>>,
    pub configurations: Option<NumberConfigurations>,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListNumbersQuery {
    pub status: Option<NumberStatus>,
    pub kind: Option<NumberKind>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub number_type: Option<NumberType>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Numbers that support this capability inbound or outbound.
    pub capability: Option<CapabilityName>,
    /// E.164 prefix, e.g. `+1415`.
    pub number_prefix: Option<String>,
    pub subscription_status: Option<SubscriptionStatus>,
    /// Results per page, 1–99 (default 10).
    #[param(minimum = 1, maximum = 99)]
    pub limit: Option<i64>,
    /// `nextPageToken` of the previous page.
    pub page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReleaseResponse {
    pub message: &'static str,
    /// The number as it stands after a scheduled release (dedicated only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<NumberView>,
}

fn number_id(ids: &PathIds) -> Result<NumberId> {
    ids.get("numberId")
}

/// Register a number in the workspace.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/numbers", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path)),
    request_body = RegisterNumber,
    responses((status = 201, body = NumberView), (status = 409, description = "Already in the workspace"), (status = 422, description = "Invalid field, or the carrier does not hold the number"),
        (status = 502, description = "The carrier account failed or timed out; nothing changed")))]
async fn register_number(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ApiJson(body): ApiJson<RegisterNumber>,
) -> Result<(StatusCode, Json<NumberView>)> {
    let new = NewNumber {
        number: body.number,
        kind: body.kind.unwrap_or(NumberKind::Dedicated),
        number_type: body.number_type,
        country: body.country,
        capabilities: body.capabilities,
        price: body.monthly_recurring_price,
        configurations: body.configurations.unwrap_or_default(),
        nickname: body.nickname,
        carrier: body.carrier,
    };
    let rec = state.core.register_number(tenant, new).await?;
    Ok((StatusCode::CREATED, Json(NumberView::new(&rec, None))))
}

/// List the workspace's numbers, oldest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/numbers", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ListNumbersQuery),
    responses((status = 200, body = NumberList)))]
async fn list_numbers(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(q): ApiQuery<ListNumbersQuery>,
) -> Result<NumberList> {
    let (after, limit) = PageParams { limit: q.limit, page_token: q.page_token.clone() }.parse()?;
    let number_prefix = match &q.number_prefix {
        Some(p) => Some(normalise_prefix(p).ok_or_else(|| {
            Error::new(Code::InvalidQueryParameter, "`numberPrefix` must be digits, optionally after a +.")
                .with_details(serde_json::json!({ "parameter": "numberPrefix" }))
        })?),
        None => None,
    };
    let filter = NumberFilter {
        status: q.status,
        kind: q.kind,
        number_type: q.number_type,
        country: q.country.map(|c| c.to_ascii_uppercase()),
        capability_mask: q.capability.map(Capabilities::mask_of),
        number_prefix,
        subscription_status: q.subscription_status,
    };
    let rows = state.core.list_numbers(tenant, &filter, after, limit + 1).await?;
    let (rows, next_page_token) = page(rows, limit, |r| r.seq);
    Ok(NumberList { results: state.core.shown(tenant, rows).await?, next_page_token })
}

/// Get one number.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/numbers/{numberId}", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ("numberId" = uuid::Uuid, Path)),
    responses((status = 200, body = NumberView), (status = 404, description = "Not found")))]
async fn get_number(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
) -> Result<Shown> {
    state.core.show_number(tenant, number_id(&ids)?).await
}

/// Change a number's nickname or configurations.
#[utoipa::path(patch, path = "/workspaces/{workspaceId}/numbers/{numberId}", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ("numberId" = uuid::Uuid, Path)),
    request_body = UpdateNumber,
    responses((status = 200, body = NumberView), (status = 404, description = "Not found")))]
async fn update_number(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
    ApiJson(body): ApiJson<UpdateNumber>,
) -> Result<Json<NumberView>> {
    let id = number_id(&ids)?;
    Ok(Json(state.core.update_number(tenant, id, body.nickname, body.configurations).await?.into()))
}

/// Release a number: dedicated at the end of its period, SIP at once, caller ID at once and at
/// the carrier.
#[utoipa::path(delete, path = "/workspaces/{workspaceId}/numbers/{numberId}", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ("numberId" = uuid::Uuid, Path)),
    responses((status = 200, body = ReleaseResponse), (status = 400, description = "Already scheduled for release"),
        (status = 404, description = "Not found"), (status = 409, description = "Already released"),
        (status = 500, description = "The carrier did not confirm; nothing changed")))]
async fn release_number(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
) -> Result<Json<ReleaseResponse>> {
    let id = number_id(&ids)?;
    Ok(Json(match state.core.release(tenant, id).await? {
        Released::Scheduled(rec) => ReleaseResponse { message: RELEASED_MESSAGE, number: Some(NumberView::new(&rec, None)) },
        Released::Deleted => ReleaseResponse { message: DELETED_MESSAGE, number: None },
    }))
}

/// Cancel a number's subscription (deprecated in favour of `subscriptions/main/cancel`).
#[utoipa::path(post, path = "/workspaces/{workspaceId}/numbers/{numberId}/cancel-subscription", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ("numberId" = uuid::Uuid, Path)),
    responses((status = 200, body = NumberView), (status = 400, description = "No subscription"),
        (status = 404, description = "Not found"), (status = 409, description = "Already released")))]
async fn cancel_subscription(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
) -> Result<Json<NumberView>> {
    let rec = state.core.cancel_subscription(tenant, number_id(&ids)?).await?;
    Ok(Json(NumberView::new(&rec, None)))
}

#[derive(Serialize, ToSchema)]
pub struct PeriodList {
    pub results: Vec<PeriodView>,
}

/// Every billing period the number was charged for, oldest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/numbers/{numberId}/periods", tag = "numbers",
    params(("workspaceId" = uuid::Uuid, Path), ("numberId" = uuid::Uuid, Path)),
    responses((status = 200, body = PeriodList), (status = 404, description = "Not found")))]
async fn list_periods(
    axum::extract::State(state): axum::extract::State<AppState>,
    Workspace(tenant): Workspace,
    ids: PathIds,
) -> Result<Json<PeriodList>> {
    let periods = state.core.billed_periods(tenant, number_id(&ids)?).await?;
    Ok(Json(PeriodList { results: periods.iter().map(PeriodView::from).collect() }))
}
