//! `/api/user/assistants/get` and `/api/user/assistant[/{id}]`: assistants and the number each
//! one uses.

use crate::http::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bodies::{CreateAssistant, UpdateAssistant};
use super::input::{known_query, Body};
use super::paginator::{PageQuery, PageRequest, Paginated};
use super::phone_numbers::MessageBody;
use super::{laravel_time, number_seqs, path_seq, seq_of, LaravelError};
use crate::domain::ids::AssistantId;
use crate::domain::resources::{Assistant, Key};
use crate::error::Error;
use crate::http::extract::{Authed, PathIds, RawJson};
use crate::http::AppState;
use crate::service::resources::{assistant_not_found, AssistantChange, NumberRef};
use crate::service::Tenant;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_assistants)).routes(routes!(create_assistant)).routes(routes!(
        get_assistant,
        update_assistant,
        delete_assistant
    ))
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AssistantView)]
pub struct AssistantView {
    pub id: i64,
    pub name: String,
    /// `inbound` or `outbound`.
    #[serde(rename = "type")]
    pub kind: String,
    pub phone_number_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

async fn views(state: &AppState, tenant: Tenant, assistants: &[Assistant]) -> Result<Vec<AssistantView>, Error> {
    let seqs = number_seqs(state, tenant, assistants.iter().filter_map(|a| a.number_id).collect()).await?;
    Ok(assistants
        .iter()
        .map(|a| AssistantView {
            id: a.seq,
            name: a.name.clone(),
            kind: a.direction.as_str().to_owned(),
            phone_number_id: a.number_id.and_then(|n| seq_of(&seqs, n)),
            created_at: laravel_time(a.created_at),
            updated_at: laravel_time(a.updated_at),
        })
        .collect())
}

async fn view(state: &AppState, tenant: Tenant, a: Assistant) -> Result<AssistantView, Error> {
    Ok(views(state, tenant, &[a]).await?.remove(0))
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AssistantData)]
pub struct AssistantData {
    pub data: AssistantView,
}

#[derive(Serialize, ToSchema)]
#[schema(as = autocalls::AssistantSaved)]
pub struct AssistantSaved {
    pub message: &'static str,
    pub data: AssistantView,
}

fn assistant_key(ids: Result<PathIds, Error>) -> Result<Key<AssistantId>, Error> {
    Ok(Key::Seq(path_seq(ids?.raw("id").unwrap_or_default(), assistant_not_found)?))
}

/// List assistants, oldest first.
#[utoipa::path(get, path = "/api/user/assistants/get", tag = "autocalls", operation_id = "autocalls_list_assistants",
    params(PageQuery), responses((status = 200, body = Paginated<AssistantView>)))]
async fn list_assistants(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    req: Result<PageRequest<10>, Error>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Paginated<AssistantView>>, LaravelError> {
    let Authed(tenant) = auth?;
    known_query(raw.as_deref(), &[PageQuery::into_params(|| None)])?;
    let req = req?;
    let total = state.core.count_assistants(tenant).await?;
    let rows = state.core.list_assistants(tenant, req.slice()).await?;
    Ok(Json(req.paginate(views(&state, tenant, &rows).await?, total)))
}

/// Create an assistant. `name` and `type` (`inbound` or `outbound`) are required;
/// `phone_number_id` is a number of the workspace (not a caller ID for an inbound assistant,
/// nor one already serving another inbound assistant). Other Autocalls settings are accepted
/// and ignored.
#[utoipa::path(post, path = "/api/user/assistant", tag = "autocalls", operation_id = "autocalls_create_assistant",
    request_body = CreateAssistant,
    responses((status = 201, body = AssistantSaved), (status = 422, description = "`{\"message\", \"errors\": {field: [...]}}`")))]
async fn create_assistant(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<AssistantSaved>), LaravelError> {
    let Authed(tenant) = auth?;
    let body = Body::from(body)?;
    let name: String = body.required("name")?;
    let kind: String = body.required("type")?;
    let number = body.optional::<i64>("phone_number_id")?.map(NumberRef::Seq);
    let a = state.core.create_assistant(tenant, &name, &kind, number).await?;
    let data = view(&state, tenant, a).await?;
    Ok((StatusCode::CREATED, Json(AssistantSaved { message: "Assistant created successfully", data })))
}

/// Get an assistant.
#[utoipa::path(get, path = "/api/user/assistant/{id}", tag = "autocalls", operation_id = "autocalls_get_assistant",
    params(("id" = i64, Path)),
    responses((status = 200, body = AssistantData), (status = 404, description = "`{\"message\": \"Assistant not found.\"}`")))]
async fn get_assistant(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    ids: Result<PathIds, Error>,
) -> Result<Json<AssistantData>, LaravelError> {
    let Authed(tenant) = auth?;
    let a = state.core.get_assistant(tenant, assistant_key(ids)?).await?;
    Ok(Json(AssistantData { data: view(&state, tenant, a).await? }))
}

/// Change an assistant's `name`, `type` or `phone_number_id` (`null` unassigns the number).
#[utoipa::path(put, path = "/api/user/assistant/{id}", tag = "autocalls", operation_id = "autocalls_update_assistant",
    params(("id" = i64, Path)),
    request_body = UpdateAssistant,
    responses((status = 200, body = AssistantSaved), (status = 404, description = "`{\"message\": \"Assistant not found.\"}`"),
        (status = 422, description = "`{\"message\", \"errors\": {field: [...]}}`")))]
async fn update_assistant(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    ids: Result<PathIds, Error>,
    body: Result<RawJson, Error>,
) -> Result<Json<AssistantSaved>, LaravelError> {
    let Authed(tenant) = auth?;
    let key = assistant_key(ids)?;
    let body = Body::from(body)?;
    let change = AssistantChange {
        name: body.optional("name")?,
        direction: body.optional("type")?,
        number: body.nullable::<i64>("phone_number_id")?.map(|n| n.map(NumberRef::Seq)),
    };
    let a = state.core.update_assistant(tenant, key, change).await?;
    let data = view(&state, tenant, a).await?;
    Ok(Json(AssistantSaved { message: "Assistant updated successfully", data }))
}

/// Delete an assistant.
#[utoipa::path(delete, path = "/api/user/assistant/{id}", tag = "autocalls", operation_id = "autocalls_delete_assistant",
    params(("id" = i64, Path)),
    responses((status = 200, body = MessageBody), (status = 404, description = "`{\"message\": \"Assistant not found.\"}`")))]
async fn delete_assistant(
    State(state): State<AppState>,
    auth: Result<Authed, Error>,
    ids: Result<PathIds, Error>,
) -> Result<Json<MessageBody>, LaravelError> {
    let Authed(tenant) = auth?;
    state.core.delete_assistant(tenant, assistant_key(ids)?).await?;
    Ok(Json(MessageBody { message: "Assistant deleted successfully" }))
}
