//! Every documented route, fed garbage ids and bodies, answers a JSON 4xx (or a success): never
//! a 500, never an HTML or plain-text error page.

use reqwest::Method;
use serde_json::Value;

use crate::both_backends;
use crate::common::{Backend, TestApp};

both_backends!(no_route_answers_garbage_with_a_500);

async fn no_route_answers_garbage_with_a_500(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let real = ws.register(serde_json::json!({ "number": "+14155550100" })).await;
    let real_id = real["id"].as_str().unwrap().to_owned();
    let doc: Value = serde_json::from_str(&numberd::http::openapi::document_json()).unwrap();
    let auth = format!("Bearer {}", ws.key);
    let ids = ["garbage", "-1", "99999999999999999999", "00000000-0000-0000-0000-000000000000", real_id.as_str(), "%F0%9F%93%9E"];
    let bodies: [Option<&str>; 6] = [None, Some("{"), Some("[]"), Some("null"), Some("{\"name\": 5, \"number\": {}}"), Some("\"\u{0}\"")];
    let mut checked = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for id in ids {
                let path = fill(template, &ws.id, id);
                for body in bodies {
                    let (status, text) = app.raw(method.clone(), &path, Some(&auth), body).await;
                    assert!(!status.is_server_error(), "{method} {path} {body:?} → {status}: {text}");
                    if !text.is_empty() {
                        assert!(serde_json::from_str::<Value>(&text).is_ok(), "{method} {path} {body:?} → {status}: not JSON: {text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "the document lists the routes ({checked} requests)");
}

/// Puts the workspace's own id in `{workspaceId}` (so requests get past tenancy) and `id` in every
/// other parameter.
fn fill(template: &str, ws: &str, id: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        out.push_str(if &rest[start + 1..end] == "workspaceId" { ws } else { id });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
