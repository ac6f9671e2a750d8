//! Buying numbers: `/workspaces/{workspaceId}/available-numbers` (search a carrier account) and
//! `/workspaces/{workspaceId}/number-orders` (buy, with an optional `Idempotency-Key`).

use crate::http::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{page, PageParams};
use super::views::{AccountView, OrderView};
use crate::carrier::account::{AvailableNumber, Capability, NumberType as SearchType};
use crate::domain::money::Money;
use crate::domain::number::{Capabilities, NumberType};
use crate::error::{Error, Result};
use crate::http::extract::{ApiJson, ApiQuery, PathIds, Workspace};
use crate::http::AppState;
use crate::service::orders::{NewOrder, SearchRequest};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_numbers)).routes(routes!(create_order, list_orders)).routes(routes!(get_order))
}

/// A number type a carrier sells.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchNumberType {
    Local,
    Tollfree,
    Mobile,
}

#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchCapability {
    Sms,
    Voice,
    Mms,
}

impl From<SearchCapability> for Capability {
    fn from(c: SearchCapability) -> Self {
        match c {
            SearchCapability::Sms => Capability::Sms,
            SearchCapability::Voice => Capability::Voice,
            SearchCapability::Mms => Capability::Mms,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// ISO 3166-1 alpha-2, e.g. `US`.
    #[param(min_length = 2, max_length = 2)]
    pub country: String,
    /// Default `local`.
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    pub number_type: Option<SearchNumberType>,
    /// 1–6 digits.
    #[param(pattern = "^[0-9]{1,6}$")]
    pub area_code: Option<String>,
    /// 1–10 digits the number must contain.
    #[param(pattern = "^[0-9]{1,10}$")]
    pub contains: Option<String>,
    /// Only numbers with this capability.
    #[param(inline)]
    pub capability: Option<SearchCapability>,
    /// Results, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
    /// The carrier account to search (a name from the configuration); default: `default_carrier`.
    pub carrier: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableNumberView {
    /// E.164.
    pub number: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    #[serde(rename = "type")]
    pub number_type: NumberType,
    pub capabilities: Capabilities,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub carrier: AccountView,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableNumberList {
    pub results: Vec<AvailableNumberView>,
}

pub fn search_request(country: String, number_type: SearchType, area_code: Option<String>, contains: Option<String>) -> SearchRequest {
    SearchRequest { country, number_type, area_code, contains, capability: None, limit: None }
}

fn bird_type(t: SearchType) -> NumberType {
    match t {
        SearchType::Local => NumberType::Local,
        SearchType::TollFree => NumberType::Tollfree,
        SearchType::Mobile => NumberType::Mobile,
    }
}

fn available(n: AvailableNumber, carrier: &AccountView) -> AvailableNumberView {
    AvailableNumberView {
        number: n.e164,
        country: n.country,
        number_type: bird_type(n.number_type),
        capabilities: n.capabilities.into(),
        locality: n.locality,
        region: n.region,
        carrier: AccountView { name: carrier.name.clone(), kind: carrier.kind },
    }
}

/// Numbers a carrier account has for sale.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/available-numbers", tag = "orders",
    params(("workspaceId" = uuid::Uuid, Path), SearchQuery),
    responses((status = 200, body = AvailableNumberList), (status = 422, description = "No such carrier account, or none is configured"),
        (status = 502, description = "The carrier account failed or timed out")))]
async fn search_numbers(
    State(state): State<AppState>,
    _tenant: Workspace,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<AvailableNumberList>> {
    let number_type = match q.number_type.unwrap_or(SearchNumberType::Local) {
        SearchNumberType::Local => SearchType::Local,
        SearchNumberType::Tollfree => SearchType::TollFree,
        SearchNumberType::Mobile => SearchType::Mobile,
    };
    let request = SearchRequest {
        capability: q.capability.map(Into::into),
        limit: q.limit,
        ..search_request(q.country, number_type, q.area_code, q.contains)
    };
    let found = state.core.search_numbers(q.carrier.as_deref(), request).await?;
    let carrier = AccountView::new(&found.account, found.kind);
    Ok(Json(AvailableNumberList { results: found.numbers.into_iter().map(|n| available(n, &carrier)).collect() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrder {
    /// 1–25 distinct numbers, E.164 (`+14155550100`).
    #[schema(min_items = 1, max_items = 25)]
    pub numbers: Vec<String>,
    /// The carrier account to buy from (a name from the configuration); default: `default_carrier`.
    #[serde(default)]
    pub carrier: Option<String>,
    /// Given to every number bought; at most 50 characters.
    #[serde(default)]
    #[schema(max_length = 50)]
    pub nickname: Option<String>,
    /// Recorded on every number bought and on its billing periods.
    #[serde(default)]
    pub monthly_recurring_price: Option<Money>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    pub results: Vec<OrderView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The `Idempotency-Key` header, if sent.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => {
            v.to_str().map(|s| Some(s.to_owned())).map_err(|_| Error::invalid_field("Idempotency-Key", "must be visible ASCII text"))
        }
    }
}

/// Buy numbers. Numbers the carrier confirms within the request are `purchased` (Twilio); the
/// rest stay `pending` and settle in the background (Telnyx orders).
///
/// Optional header `Idempotency-Key` (1–255 visible ASCII characters): the same key with the same
/// body within 24 hours returns the same order and buys nothing again; with another body, 422
/// `idempotency_key_reused`.
#[utoipa::path(post, path = "/workspaces/{workspaceId}/number-orders", tag = "orders",
    params(("workspaceId" = uuid::Uuid, Path)),
    request_body = CreateOrder,
    responses((status = 201, body = OrderView),
        (status = 422, description = "Invalid field, unknown carrier account, or an Idempotency-Key reused for another request")))]
async fn create_order(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<(StatusCode, Json<OrderView>)> {
    let new = NewOrder {
        numbers: body.numbers,
        carrier: body.carrier,
        nickname: body.nickname,
        price: body.monthly_recurring_price,
        idempotency_key: idempotency_key(&headers)?,
    };
    let order = state.core.order_numbers(tenant, new).await?;
    Ok((StatusCode::CREATED, Json(OrderView::from(&order))))
}

/// The workspace's orders, oldest first.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/number-orders", tag = "orders",
    params(("workspaceId" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = OrderList)))]
async fn list_orders(
    State(state): State<AppState>,
    Workspace(tenant): Workspace,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<OrderList>> {
    let (after, limit) = q.parse()?;
    let rows = state.core.list_orders(tenant, after, limit + 1).await?;
    let (rows, next_page_token) = page(rows, limit, |o| o.seq);
    Ok(Json(OrderList { results: rows.iter().map(OrderView::from).collect(), next_page_token }))
}

/// One order and where each of its numbers stands.
#[utoipa::path(get, path = "/workspaces/{workspaceId}/number-orders/{orderId}", tag = "orders",
    params(("workspaceId" = uuid::Uuid, Path), ("orderId" = uuid::Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 404, description = "Not found")))]
async fn get_order(State(state): State<AppState>, Workspace(tenant): Workspace, ids: PathIds) -> Result<Json<OrderView>> {
    let order = state.core.get_order(tenant, ids.get("orderId")?).await?;
    Ok(Json(OrderView::from(&order)))
}
