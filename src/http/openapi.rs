//! The OpenAPI 3.1 document, generated from the handlers' annotations. A copy is committed as
//! `openapi.json`; a test fails when it is stale.

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Spec;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "numberd",
        description = "Phone-number lifecycle: inventory, monthly billing periods, release by kind.",
        license(name = "MIT")
    ),
    modifiers(&Security),
    security(("accessKey" = []), ("bearer" = [])),
    tags(
        (name = "numbers", description = "A workspace's number inventory and its release."),
        (name = "subscriptions", description = "Endpoint subscriptions: a number's `main` subscription."),
        (name = "resources", description = "Assistants, campaigns and calls that use numbers."),
        (name = "test-clock", description = "Moving a test-mode workspace through time."),
        (name = "autocalls", description = "The Autocalls-compatible dialect under `/api/user` (see docs/autocalls.md).")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, spec: &mut Spec) {
        let components = spec.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "accessKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`AccessKey <key>` (Bird's convention); `Bearer <key>` works too.",
            ))),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn base() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
}

/// Separates the routes from their documentation.
pub fn split(r: OpenApiRouter<AppState>) -> (Router<AppState>, Spec) {
    r.split_for_parts()
}

/// The whole document, as served and as committed.
pub fn document() -> Spec {
    split(super::native::routes()).1
}

pub fn document_json() -> String {
    document().to_pretty_json().expect("the OpenAPI document serialises")
}
