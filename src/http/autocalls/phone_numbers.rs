//! `/api/user/phone-numbers`: list, nickname, release; and the assistant number picker.

use crate::http::Json;
use axum::extract::{RawQuery, State};
use axum::routing::put;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bodies::UpdatePhoneNumber;
use super::input::{known_query, one_of, Body};
use super::{laravel_time, number_by_seq, path_seq, LaravelError, PhoneError};
use crate::domain::ids::NumberId;
use crate::domain::number::{NumberKind, NumberStatus, SubscriptionStatus};
use crate::domain::record::NumberRecord;
use crate::error::{Error, Kind};
use crate::http::extract::{ApiQuery, Authed, PathIds, RawJson};
use crate::http::native::numbers::{DELETED_MESSAGE, RELEASED_MESSAGE};
use crate::http::AppState;
use crate::service::lifecycle::{Released, CARRIER_FAILED_MESSAGE};
use crate::service::Tenant;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_phone_numbers))
        .routes(routes!(update_phone_number, release_phone_number))
        // `all` is no id, yet a PUT or DELETE on it must get this dialect's 404, not a 405.
        .route("/api/user/phone-numbers/all", put(update_phone_number).delete(release_phone_number))
        .routes(routes!(assignable_numbers))
        .merge(super::purchase::routes())
        // Like `all`: no id, yet a PUT or DELETE on them gets this dialect's 404.
        .route("/api/user/phone-numbers/search", put(update_phone_number).delete(release_phone_number))
        .route("/api/user/phone-numbers/purchase", put(update_phone_number).delete(release_phone_number))
}

/// How Autocalls names each kind: `type`, the label of `phone-numbers/all`, and the label of
/// the assistant number picker (the two lists label differently in Autocalls too).
fn names(kind: NumberKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        NumberKind::Dedicated => ("normal", "Dedicated Number", "Normal"),
        NumberKind::Sip => ("sip", "SIP Trunk", "SIP"),
        NumberKind::CallerId => ("caller_id", "Caller ID", "Caller ID"),
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberView)]
pub struct PhoneNumberView {
    pub id: i64,
    pub phone_number: String,
    pub country_code: String,
    /// `normal` (a dedicated number), `sip` or `caller_id`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_label: &'static str,
    pub sms_capable: bool,
    /// Autocalls' telephony region; numberd has none.
    pub region: Option<String>,
    /// False once a release is scheduled.
    pub has_active_subscription: bool,
    pub nickname: Option<String>,
    pub created_at: String,
}

impl From<&NumberRecord> for PhoneNumberView {
    fn from(n: &NumberRecord) -> Self {
        let (kind, type_label, _) = names(n.kind);
        PhoneNumberView {
            id: n.seq,
            phone_number: n.e164.clone(),
            country_code: n.country.clone(),
            kind,
            type_label,
            sms_capable: n.capabilities.sms.inbound || n.capabilities.sms.outbound,
            region: None,
            has_active_subscription: n.subscription_status() == SubscriptionStatus::Active,
            nickname: n.nickname.clone(),
            created_at: laravel_time(n.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberList)]
pub struct PhoneNumberList {
    pub data: Vec<PhoneNumberView>,
}

/// Every number still in the workspace, oldest first.
async fn live_numbers(state: &AppState, tenant: Tenant) -> Result<Vec<NumberRecord>, Error> {
    state.core.live_numbers(tenant).await
}

/// List the phone numbers in the workspace.
#[utoipa::path(get, path = "/api/user/phone-numbers/all", tag = "autocalls", operation_id = "autocalls_list_phone_numbers",
    responses((status = 200, body = PhoneNumberList), (status = 401, description = "`{\"message\": \"Unauthenticated.\"}`")))]
async fn list_phone_numbers(State(state): State<AppState>, auth: Result<Authed, Error>) -> Result<Json<PhoneNumberList>, PhoneError> {
    let Authed(tenant) = auth?;
    let data = live_numbers(&state, tenant).await?.iter().map(PhoneNumberView::from).collect();
    Ok(Json(PhoneNumberList { data }))
}

/// The number a path names: an integer id of a number not deleted from the workspace.
async fn path_number(state: &AppState, tenant: Tenant, ids: Result<PathIds, Error>) -> Result<NumberId, Error> {
    let seq = path_seq(ids?.raw("id").unwrap_or_default(), Error::number_not_found)?;
    Ok(number_by_seq(state, tenant, seq).await?.id)
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberSummary)]
pub struct PhoneNumberSummary {
    pub id: i64,
    pub phone_number: String,
    pub nickname: Option<String>,
    pub country_code: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::PhoneNumberUpdated)]
pub struct PhoneNumberUpdated {
    pub message: &'static str,
    pub data: PhoneNumberSummary,
}

/// Change a number's nickname.
#[utoipa::path(put, path = "/api/user/phone-numbers/{id}", tag = "autocalls", operation_id = "autocalls_update_phone_number",
    params(("id" = i64, Path)),
    request_body = UpdatePhoneNumber,
    responses((status = 200, body = PhoneNumberUpdated), (status = 404, description = "`{\"error\": \"Phone number not found.\"}`"),
        (status = 422, description = "`{\"error\": \"The nickname must be at most 50 characters.\"}`")))]
async fn update_phone_number(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    ids: Result<PathIds, Error>,
    body: Result<RawJson, Error>,
) -> Result<Json<PhoneNumberUpdated>, PhoneError> {
    let Authed(tenant) = auth?;
    let id = path_number(&state, tenant, ids).await?;
    let nickname = Body::from(body)?.nullable::<String>("nickname")?;
    // Reading first applies a period end that fell due: a number that has left is not found.
    if state.core.get_number(tenant, id).await?.number.status != NumberStatus::Active {
        return Err(Error::number_not_found().into());
    }
    let n = state.core.update_number(tenant, id, nickname, None).await?.number;
    let (kind, _, _) = names(n.kind);
    let data = PhoneNumberSummary { id: n.seq, phone_number: n.e164, nickname: n.nickname, country_code: n.country, kind };
    Ok(Json(PhoneNumberUpdated { message: "Phone number updated successfully.", data }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::MessageBody)]
pub struct MessageBody {
    pub message: &'static str,
}

/// Release a number: a dedicated one at the end of its billing period, SIP numbers and caller
/// IDs at once.
#[utoipa::path(delete, path = "/api/user/phone-numbers/{id}", tag = "autocalls", operation_id = "autocalls_release_phone_number",
    params(("id" = i64, Path)),
    responses((status = 200, body = MessageBody),
        (status = 400, description = "`{\"error\": \"Phone number is already scheduled for release.\"}`"),
        (status = 404, description = "`{\"error\": \"Phone number not found.\"}`"),
        (status = 500, description = "`{\"error\": \"Failed to release phone number. Please try again or contact support.\"}`")))]
async fn release_phone_number(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    ids: Result<PathIds, Error>,
) -> Result<Json<MessageBody>, PhoneError> {
    let Authed(tenant) = auth?;
    let id = path_number(&state, tenant, ids).await?;
    let released = state.core.release(tenant, id).await.map_err(|e| {
        // The release page promises one message for every failure on our side.
        if matches!(e.kind(), Kind::CarrierFailure | Kind::Internal | Kind::Unavailable) {
            Error { message: CARRIER_FAILED_MESSAGE.into(), ..e }
        } else {
            e
        }
    })?;
    let message = match released {
        Released::Scheduled(_) => RELEASED_MESSAGE,
        Released::Deleted => DELETED_MESSAGE,
    };
    Ok(Json(MessageBody { message }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignableQuery {
    /// `inbound` hides caller IDs and numbers already serving an inbound assistant.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub assistant_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AssignableNumber)]
pub struct AssignableNumber {
    pub id: i64,
    pub phone_number: String,
    pub country_code: String,
    pub type_label: &'static str,
    /// Not serving an inbound assistant yet.
    pub is_available: bool,
}

/// Numbers that can be given to an assistant.
#[utoipa::path(get, path = "/api/user/assistants/phone-numbers", tag = "autocalls", operation_id = "autocalls_assignable_numbers",
    params(AssignableQuery), responses((status = 200, body = [AssignableNumber])))]
async fn assignable_numbers(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    query: Result<ApiQuery<AssignableQuery>, Error>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<AssignableNumber>>, LaravelError> {
    let Authed(tenant) = auth?;
    known_query(raw.as_deref(), &[AssignableQuery::into_params(|| None)])?;
    let inbound_only = match query?.0.assistant_type {
        Some(t) => *one_of("type", &t, &[("inbound", true), ("outbound", false)])?,
        None => false,
    };
    let taken = state.core.inbound_numbers(tenant).await?;
    let numbers = live_numbers(&state, tenant).await?;
    let listed = numbers
        .iter()
        .map(|n| (n, !taken.contains(&n.id)))
        .filter(|(n, available)| !inbound_only || (*available && n.kind != NumberKind::CallerId))
        .map(|(n, is_available)| AssignableNumber {
            id: n.seq,
            phone_number: n.e164.clone(),
            country_code: n.country.clone(),
            type_label: names(n.kind).2,
            is_available,
        })
        .collect();
    Ok(Json(listed))
}
