//! The OpenAPI document: generated from the code, served, and committed as `openapi.json`.

use serde_json::Value;

use crate::common::{Backend, TestApp};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn committed_document_is_current() {
    let current = numberd::http::openapi::document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, format!("{current}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(committed.trim_end() == current, "openapi.json is stale; regenerate it with `UPDATE_OPENAPI=1 cargo test --test api openapi`");
}

#[tokio::test]
async fn served_document_is_the_generated_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = app.raw(reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let served: Value = serde_json::from_str(&body).unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let generated: Value = serde_json::from_str(&numberd::http::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    for path in [
        "/workspaces/{workspaceId}/numbers",
        "/workspaces/{workspaceId}/numbers/{numberId}/cancel-subscription",
        "/workspaces/{workspaceId}/endpoints/{endpointId}/subscriptions/{name}/resume",
        "/workspaces/{workspaceId}/test-clock/advance",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }
    // The Number schema carries Bird's enums.
    let kinds = &served["components"]["schemas"]["NumberType"]["enum"];
    assert_eq!(kinds, &serde_json::json!(["local", "national", "tollfree", "mobile", "shortcode"]));
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = app.raw(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "{\"status\":\"ok\"}"));
    let (status, body) = app.raw(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    // With the database gone, readiness says so (and health does not care).
    app.running.core.db.pool.close().await;
    let (status, body) = app.raw(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(app.raw(reqwest::Method::GET, "/healthz", None, None).await.0, 200);
}

/// Every operation documents the errors any route can give, each with a body schema, and every
/// `$ref` in the document resolves (a dangling one made validators and generated clients fail).
#[test]
fn every_operation_documents_its_errors_and_every_ref_resolves() {
    let doc: Value = serde_json::from_str(&numberd::http::openapi::document_json()).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["401", "500", "503"] {
                assert!(responses.contains_key(status), "{method} {path} documents {status}");
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} documents {status}");
                }
            }
            for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert!(schema.is_string(), "{method} {path} {status} has a body schema: {response}");
            }
            assert!(responses["503"]["headers"].get("Retry-After").is_some(), "{method} {path} 503 says Retry-After");
            operations += 1;
        }
    }
    assert!(operations > 30, "{operations} operations");
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => out.push(r),
                _ => refs(v, out),
            }),
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected ref {r}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r} resolves");
    }
}
