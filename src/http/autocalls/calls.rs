//! `/api/user/calls`: call history with Autocalls' filters. A call keeps showing the number it
//! used after that number has left the workspace.

use std::future::Future;

use crate::http::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{known_query, query_int};
use super::paginator::{PageQuery, PageRequest, Paginated};
use super::LaravelError;
use crate::domain::resources::{Call, CallFilter, Direction, Key};
use crate::error::{Error, Kind};
use crate::http::extract::{ApiQuery, Authed};
use crate::http::AppState;
use crate::service::Tenant;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_calls))
}

/// Core call statuses as Autocalls names them. Autocalls statuses with no core counterpart
/// (`ended`, `ended_by_customer`...) are valid filters that match nothing.
const STATUSES: [(&str, &str); 8] = [
    ("queued", "initiated"),
    ("ringing", "ringing"),
    ("in_progress", "in-progress"),
    ("completed", "completed"),
    ("busy", "busy"),
    ("no_answer", "no-answer"),
    ("failed", "failed"),
    ("canceled", "canceled"),
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// e.g. `completed`, `in-progress`, `no-answer`.
    pub status: Option<String>,
    /// `inbound`, `outbound` or `web`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub call_type: Option<String>,
    /// The client's or the assistant's number, E.164.
    pub phone_number: Option<String>,
    pub assistant_id: Option<String>,
    pub campaign_id: Option<String>,
    /// `YYYY-MM-DD`: calls started on or after this day (UTC).
    pub date_from: Option<String>,
    /// `YYYY-MM-DD`: calls started on or before this day (UTC).
    pub date_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::CallView)]
pub struct CallView {
    pub id: i64,
    pub assistant_name: Option<String>,
    pub campaign_name: Option<String>,
    /// `inbound` or `outbound`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds.
    pub duration: i64,
    /// The workspace number, as it was when the call was made.
    pub assistant_phone_number: Option<String>,
    pub client_phone_number: String,
    pub status: String,
    /// When the call started, `Y-m-d H:i:s` UTC.
    pub created_at: String,
    /// When the call ended.
    pub updated_at: String,
}

fn day(key: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                .map_err(|_| Error::invalid_field(key, "field must be a date in YYYY-MM-DD format"))
        })
        .transpose()
}

/// A lookup's result, with "not found" as `None`.
fn found<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == Kind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A filter naming a resource by integer id: `Ok(None)` when not given, `Err(None)` when there
/// is no such resource (so no call can match).
async fn by_seq<T, F: Future<Output = Result<T, Error>>>(seq: Option<i64>, get: impl FnOnce(i64) -> F) -> Result<Option<T>, Option<Error>> {
    let Some(seq) = seq else { return Ok(None) };
    match found(get(seq).await) {
        Ok(Some(t)) => Ok(Some(t)),
        Ok(None) => Err(None),
        Err(e) => Err(Some(e)),
    }
}

async fn views(state: &AppState, tenant: Tenant, calls: Vec<Call>) -> Result<Vec<CallView>, Error> {
    // One lookup per page for each kind of name; deleted assistants and campaigns have none.
    let assistant_ids: Vec<_> = calls.iter().filter_map(|c| c.assistant_id).collect();
    let campaign_ids: Vec<_> = calls.iter().filter_map(|c| c.campaign_id).collect();
    let assistants = state.core.assistant_names(tenant, &assistant_ids).await?;
    let campaigns = state.core.campaign_names(tenant, &campaign_ids).await?;
    let mut out = Vec::with_capacity(calls.len());
    for c in calls {
        let assistant_name = c.assistant_id.and_then(|id| assistants.iter().find(|(a, _)| *a == id)).map(|(_, n)| n.clone());
        let campaign_name = c.campaign_id.and_then(|id| campaigns.iter().find(|(a, _)| *a == id)).map(|(_, n)| n.clone());
        let ended = c.started_at + chrono::Duration::seconds(c.duration_seconds);
        let client = if c.direction == Direction::Inbound { c.from_e164 } else { c.to_e164 };
        out.push(CallView {
            id: c.seq,
            assistant_name,
            campaign_name,
            status: STATUSES.iter().find(|(core, _)| *core == c.status.as_str()).map_or(c.status.as_str(), |(_, d)| d).to_owned(),
            kind: c.direction.as_str().to_owned(),
            duration: c.duration_seconds,
            assistant_phone_number: c.number_e164,
            client_phone_number: client,
            created_at: c.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            updated_at: ended.format("%Y-%m-%d %H:%M:%S").to_string(),
        });
    }
    Ok(out)
}

/// List calls, oldest first, with filters.
#[utoipa::path(get, path = "/api/user/calls", tag = "autocalls", operation_id = "autocalls_list_calls",
    params(CallQuery, PageQuery), responses((status = 200, body = Paginated<CallView>),
        (status = 422, description = "`{\"message\", \"errors\": {field: [...]}}`")))]
async fn list_calls(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    query: Result<ApiQuery<CallQuery>, Error>,
    req: Result<PageRequest<15>, Error>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Paginated<CallView>>, LaravelError> {
    let Authed(tenant) = auth?;
    known_query(raw.as_deref(), &[CallQuery::into_params(|| None), PageQuery::into_params(|| None)])?;
    let q = query?.0;
    let req = req?;
    let started_from = day("date_from", q.date_from.as_deref())?;
    let started_before = day("date_to", q.date_to.as_deref())?.and_then(|d| d.checked_add_days(Days::new(1)));
    let assistant_seq = query_int("assistant_id", q.assistant_id.as_deref())?;
    let campaign_seq = query_int("campaign_id", q.campaign_id.as_deref())?;
    let ids = async {
        let assistant = by_seq(assistant_seq, |s| state.core.get_assistant(tenant, Key::Seq(s))).await?;
        let campaign = by_seq(campaign_seq, |s| state.core.get_campaign(tenant, Key::Seq(s))).await?;
        Ok::<_, Option<Error>>((assistant.map(|a| a.id), campaign.map(|c| c.id)))
    };
    let (assistant_id, campaign_id) = match ids.await {
        Ok(ids) => ids,
        Err(None) => return Ok(Json(req.paginate(Vec::new(), 0))),
        Err(Some(e)) => return Err(e.into()),
    };
    let filter = CallFilter {
        status: q.status.map(|s| STATUSES.iter().find(|(_, d)| *d == s).map_or(s.clone(), |(core, _)| (*core).to_owned())),
        direction: q.call_type,
        number_id: None,
        // A `+` sent unencoded in a query string arrives as a space.
        phone_number: q.phone_number.map(|p| format!("+{}", p.trim().trim_start_matches('+'))),
        assistant_id,
        campaign_id,
        started_from,
        started_before,
    };
    let calls = state.core.list_calls(tenant, &filter, req.slice()).await?;
    let total = state.core.count_calls(tenant, &filter).await?;
    Ok(Json(req.paginate(views(&state, tenant, calls).await?, total)))
}
