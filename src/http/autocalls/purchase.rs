//! `/api/user/phone-numbers/search` and `/api/user/phone-numbers/purchase`: buying a number the
//! Autocalls way, through the same orders as the native API (one number, the default account).

use crate::http::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bodies::PurchasePhoneNumber;
use super::input::{known_query, Body};
use super::PhoneError;
use crate::carrier::account::NumberType;
use crate::domain::order::ItemStatus;
use crate::domain::phone::E164;
use crate::error::{Code, Error};
use crate::http::extract::{ApiQuery, Authed, RawJson};
use crate::http::native::orders::{idempotency_key, search_request};
use crate::http::AppState;
use crate::service::orders::NewOrder;

pub const PURCHASED_MESSAGE: &str = "Phone number purchased successfully.";
pub const PENDING_MESSAGE: &str = "Phone number purchase is pending at the carrier; it appears in your numbers once confirmed.";
pub const IN_USE_MESSAGE: &str = "This phone number is already in use.";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_phone_numbers)).routes(routes!(purchase_phone_number))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// ISO 3166-1 alpha-2 (default `US`).
    #[param(min_length = 2, max_length = 2)]
    pub country_code: Option<String>,
    /// 1–10 digits the number must contain.
    #[param(pattern = "^[0-9]{1,10}$")]
    pub contains: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AvailablePhoneNumber)]
pub struct AvailablePhoneNumber {
    pub phone_number: String,
    /// `+1 415-555-0100`.
    pub phone_number_formatted: String,
    pub country_code: String,
    /// numberd does not know the carrier's price: `null`.
    pub price: Option<f64>,
    /// numberd bills no Stripe prices: `null`.
    pub stripe_price_id: Option<String>,
    /// Not reported by the carrier search numberd makes: `null`.
    pub address_requirements: Option<String>,
    pub sms_capable: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AvailablePhoneNumberList)]
pub struct AvailablePhoneNumberList {
    pub data: Vec<AvailablePhoneNumber>,
}

/// The core names search parameters as the native API does; here they are Autocalls'.
fn dialect_parameter(e: Error) -> Error {
    Error { message: e.message.replace("`country`", "`country_code`").into(), ..e }
}

/// Numbers for sale at the default carrier account (local numbers).
#[utoipa::path(get, path = "/api/user/phone-numbers/search", tag = "autocalls", operation_id = "autocalls_search_phone_numbers",
    params(SearchParams),
    responses((status = 200, body = AvailablePhoneNumberList),
        (status = 422, description = "`{\"error\": \"...\"}`: no carrier account is configured"),
        (status = 502, description = "`{\"error\": \"...\"}`: the carrier account failed or timed out")))]
async fn search_phone_numbers(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    query: Result<ApiQuery<SearchParams>, Error>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AvailablePhoneNumberList>, PhoneError> {
    let Authed(_) = auth?;
    known_query(raw.as_deref(), &[SearchParams::into_params(|| None)])?;
    let q = query?.0;
    let request = search_request(q.country_code.unwrap_or_else(|| "US".into()), NumberType::Local, None, q.contains);
    let found = state.core.search_numbers(None, request).await.map_err(dialect_parameter)?;
    let data = found
        .numbers
        .into_iter()
        .map(|n| AvailablePhoneNumber {
            phone_number_formatted: E164::parse(&n.e164, None).map(|e| e.international()).unwrap_or_else(|_| n.e164.clone()),
            phone_number: n.e164,
            country_code: n.country,
            price: None,
            stripe_price_id: None,
            address_requirements: None,
            sms_capable: n.capabilities.sms,
        })
        .collect();
    Ok(Json(AvailablePhoneNumberList { data }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PurchasedPhoneNumber)]
pub struct PurchasedPhoneNumber {
    pub id: i64,
    pub phone_number: String,
    pub country_code: String,
    /// Always `normal`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub sms_capable: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberPurchased)]
pub struct PhoneNumberPurchased {
    pub message: &'static str,
    pub data: PurchasedPhoneNumber,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PendingPurchase)]
pub struct PendingPurchase {
    pub phone_number: String,
    /// Always `pending`.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberPurchasePending)]
pub struct PhoneNumberPurchasePending {
    pub message: &'static str,
    pub data: PendingPurchase,
}

/// An error about the order's one number, named as Autocalls names it.
fn on_phone_number(e: Error) -> Error {
    let about_numbers = e.details.as_ref().and_then(|d| d.get("field")).and_then(|f| f.as_str()).is_some_and(|f| f.starts_with("numbers"));
    match e.details.as_ref().and_then(|d| d.get("reason")).and_then(|r| r.as_str()) {
        Some(reason) if about_numbers => Error::invalid_field("phone_number", reason.to_owned()),
        _ => e,
    }
}

/// Buy a number at the default carrier account. A carrier that settles later (Telnyx) answers
/// 202; the number joins the workspace once the carrier confirms.
///
/// Optional header `Idempotency-Key`, as for the native `number-orders`.
#[utoipa::path(post, path = "/api/user/phone-numbers/purchase", tag = "autocalls", operation_id = "autocalls_purchase_phone_number",
    request_body = PurchasePhoneNumber,
    responses((status = 201, body = PhoneNumberPurchased), (status = 202, body = PhoneNumberPurchasePending),
        (status = 400, description = "`{\"error\": \"This phone number is already in use.\"}`, or the carrier refused to sell it"),
        (status = 422, description = "`{\"error\": \"The phone number field is required.\"}`")))]
async fn purchase_phone_number(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    headers: HeaderMap,
    body: Result<RawJson, Error>,
) -> Result<Response, PhoneError> {
    let Authed(tenant) = auth?;
    let phone_number = Body::from(body)?.required::<String>("phone_number")?;
    let new =
        NewOrder { numbers: vec![phone_number], carrier: None, nickname: None, price: None, idempotency_key: idempotency_key(&headers)? };
    let order = state.core.order_numbers(tenant, new).await.map_err(on_phone_number)?;
    let item = order.items.into_iter().next().ok_or_else(|| Error::internal("purchase", "an order without its number"))?;
    match (item.status, item.number_id) {
        (ItemStatus::Purchased, Some(id)) => {
            let n = state.core.get_number(tenant, id).await?.number;
            let data = PurchasedPhoneNumber {
                id: n.seq,
                phone_number: n.e164,
                country_code: n.country,
                kind: "normal",
                sms_capable: n.capabilities.sms.inbound || n.capabilities.sms.outbound,
            };
            Ok((StatusCode::CREATED, Json(PhoneNumberPurchased { message: PURCHASED_MESSAGE, data })).into_response())
        }
        (ItemStatus::Pending, _) => {
            let data = PendingPurchase { phone_number: item.e164, status: "pending" };
            Ok((StatusCode::ACCEPTED, Json(PhoneNumberPurchasePending { message: PENDING_MESSAGE, data })).into_response())
        }
        _ => {
            let error = item.error.unwrap_or_else(|| crate::domain::order::ItemError { code: String::new(), message: String::new() });
            let message = if error.code == "number_already_exists" { IN_USE_MESSAGE.to_owned() } else { error.message };
            Err(Error::new(Code::NumberUnavailable, message).into())
        }
    }
}
