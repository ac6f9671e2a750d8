//! Documents the error answers every route can give, with their bodies, from the rules the
//! extractors and dialects follow (one place, so no annotation can forget one): authentication
//! (401), path, query and body problems (400/404/413/415/422), and the database or an internal
//! failure (500/503, with `Retry-After` on 503). Statuses a handler documents itself (409, ...)
//! keep their description and get the dialect's body schema.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi as Spec, Ref, RefOr, Response, ResponseBuilder};

/// How a family of routes shapes its errors (see `http::autocalls` for the dialect's).
#[derive(Clone, Copy)]
enum Shape {
    /// Native: `{code, message, details?}`.
    Native,
    /// Autocalls phone-number endpoints: `{"error"}` (but Sanctum's 401).
    Phone,
    /// Everything else under `/api/user`: Laravel's `{"message", "errors"?}`.
    Laravel,
}

const NATIVE: &str = "Error";
const PHONE: &str = "autocalls.PhoneError";
const LARAVEL: &str = "autocalls.LaravelError";

pub fn document(spec: &mut Spec) {
    let components = spec.components.get_or_insert_with(Default::default);
    let string = || ObjectBuilder::new().schema_type(Type::String);
    components.schemas.insert(
        NATIVE.into(),
        ObjectBuilder::new()
            .description(Some("Every native error: a stable machine-readable `code`, a message, sometimes `details`."))
            .property("code", string())
            .required("code")
            .property("message", string())
            .required("message")
            .property("details", ObjectBuilder::new().schema_type(Type::Object))
            .into(),
    );
    components.schemas.insert(PHONE.into(), ObjectBuilder::new().property("error", string()).required("error").into());
    components.schemas.insert(
        LARAVEL.into(),
        ObjectBuilder::new()
            .description(Some("Laravel's error; a validation error (422) names each field in `errors`."))
            .property("message", string())
            .required("message")
            .property(
                "errors",
                ObjectBuilder::new().additional_properties(Some(ArrayBuilder::new().items(string()))),
            )
            .into(),
    );
    for (path, item) in spec.paths.paths.iter_mut() {
        let shape = if !path.starts_with("/api/user/") {
            Shape::Native
        } else if path.starts_with("/api/user/phone-numbers") {
            Shape::Phone
        } else {
            Shape::Laravel
        };
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            document_operation(op, shape, path.contains('{'));
        }
    }
}

fn document_operation(op: &mut Operation, shape: Shape, has_path_params: bool) {
    let has_body = op.request_body.is_some();
    let has_query =
        op.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let native = matches!(shape, Shape::Native);
    let mut statuses = vec![
        (401, "The access key is missing, malformed, unknown or revoked."),
        (500, "An internal error; nothing was changed unless the route says otherwise."),
        (503, "The database is unavailable or busy; retry after `Retry-After` seconds."),
    ];
    // Native paths always carry `{workspaceId}`: a malformed id is 400, another workspace 404.
    if native || has_body || has_query {
        statuses.push((400, "A malformed path or query parameter, or a body that is not JSON."));
    }
    if native || has_path_params {
        statuses.push((404, "Not found in this workspace."));
    }
    if has_body {
        statuses.push((413, "The request body is too large."));
        statuses.push((415, "The body is not sent as `application/json`."));
    }
    if has_body || (!native && has_query) {
        statuses.push((422, "A field is invalid: wrong type, missing, unknown or out of range."));
    }
    for (status, description) in statuses {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| Response::new(description).into());
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let (RefOr::T(response), Ok(code)) = (response, status.parse::<u16>()) else { continue };
        if code < 400 || !response.content.is_empty() {
            continue;
        }
        let schema = match (shape, code) {
            (Shape::Native, _) => NATIVE,
            // Sanctum answers 401 the Laravel way on every route.
            (_, 401) | (Shape::Laravel, _) => LARAVEL,
            (Shape::Phone, _) => PHONE,
        };
        let mut built = ResponseBuilder::new()
            .description(std::mem::take(&mut response.description))
            .content("application/json", Content::new(Some(Ref::from_schema_name(schema))));
        if code == 503 {
            built = built.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
                    .description(Some("Seconds to wait before retrying."))
                    .build(),
            );
        }
        *response = built.build();
    }
}
