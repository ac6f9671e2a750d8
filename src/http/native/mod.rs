//! The native API, shaped like Bird's: `/workspaces/{workspaceId}/...`.

pub mod caller_ids;
pub mod events;
pub mod numbers;
pub mod orders;
pub mod paging;
pub mod resources;
pub mod subscriptions;
pub mod test_clock;
pub mod webhooks;
// The views moved to the service (events carry them too); the old path still names them.
pub use crate::service::views;

use utoipa_axum::router::OpenApiRouter;

use super::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    super::openapi::base()
        .merge(numbers::routes())
        .merge(orders::routes())
        .merge(caller_ids::routes())
        .merge(subscriptions::routes())
        .merge(resources::routes())
        .merge(test_clock::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(crate::http::autocalls::routes())
}
