//! The OpenAPI 3.1 document, generated from the handlers' annotations. A copy is committed as
//! `openapi.json`; a test fails when it is stale.

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Spec;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use crate::domain::number::CapabilityName;

mod errors;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "numberd",
        description = "Phone-number lifecycle: inventory, monthly billing periods, release by kind.",
        license(name = "MIT")
    ),
    // Types only query parameters name are not collected from the handlers.
    components(schemas(CapabilityName)),
    modifiers(&Security),
    security(("accessKey" = []), ("bearer" = [])),
    tags(
        (name = "numbers", description = "A workspace's number inventory and its release."),
        (name = "orders", description = "Searching carrier accounts for numbers and buying them."),
        (name = "subscriptions", description = "Endpoint subscriptions: a number's `main` subscription."),
        (name = "caller-ids", description = "Verifying caller IDs at a carrier account; verified, they join the inventory."),
        (name = "resources", description = "Assistants, campaigns and calls that use numbers."),
        (name = "test-clock", description = "Moving a test-mode workspace through time."),
        (name = "events", description = "The audit log: every change to a number, its subscription and the workspace's keys."),
        (name = "webhooks", description = "Endpoints that receive events, signed per Standard Webhooks; their deliveries."),
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
    let (router, mut spec) = r.split_for_parts();
    errors::document(&mut spec);
    vocabularies(&mut spec);
    (router, spec)
}

/// The values the core accepts for its free-text vocabularies, from the lists it checks them
/// against; `null` where the field is optional.
fn vocabularies(spec: &mut Spec) {
    use crate::domain::resources::{CallStatus, CampaignStatus, Direction};
    use utoipa::openapi::{RefOr, Schema};
    fn texts<T: Copy>(all: &[T], text: fn(T) -> &'static str) -> Vec<&'static str> {
        all.iter().map(|v| text(*v)).collect()
    }
    let directions = texts(Direction::ALL, Direction::as_str);
    let campaign_statuses = texts(CampaignStatus::ALL, CampaignStatus::as_str);
    let call_statuses = texts(CallStatus::ALL, CallStatus::as_str);
    let fields: [(&str, &str, &[&str], bool); 5] = [
        ("CreateAssistant", "direction", &directions, true),
        ("UpdateAssistant", "direction", &directions, true),
        ("UpdateCampaign", "status", &campaign_statuses, true),
        ("RecordCall", "direction", &directions, false),
        ("RecordCall", "status", &call_statuses, false),
    ];
    let schemas = &mut spec.components.get_or_insert_with(Default::default).schemas;
    for (schema, field, values, optional) in fields {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else { panic!("{schema} is documented") };
        let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field) else { panic!("{schema}.{field}") };
        let mut allowed: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
        if optional {
            allowed.push(serde_json::Value::Null);
        }
        property.enum_values = Some(allowed);
    }
}

/// The whole document, as served and as committed.
pub fn document() -> Spec {
    split(super::native::routes()).1
}

pub fn document_json() -> String {
    document().to_pretty_json().expect("the OpenAPI document serialises")
}
