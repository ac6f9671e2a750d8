//! Control characters in text input: NUL (a 500 on PostgreSQL, silently stored on SQLite before)
//! and the other controls are a coded 4xx in every body field and query filter, in both
//! dialects, and nothing is stored.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(native_bodies_reject_control_characters, queries_reject_control_characters, autocalls_bodies_reject_control_characters);

fn assert_invalid_field(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_field", "{body}");
    assert_eq!(body["details"]["field"], field, "{body}");
}

async fn native_bodies_reject_control_characters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    for (body, field) in [
        (json!({ "number": "+14155550100", "nickname": "Sales\u{0}" }), "nickname"),
        (json!({ "number": "+14155550100", "country": "U\u{0}S" }), "country"),
        (json!({ "number": "+1415555\u{0}0100" }), "number"),
        (json!({ "number": "+14155550100", "nickname": "two\nlines" }), "nickname"),
        (
            json!({ "number": "+14155550100", "configurations": { "whatsapp": { "connectorTemplateRef": "x\u{1b}[31m" } } }),
            "configurations.whatsapp.connectorTemplateRef",
        ),
    ] {
        let (status, err) = ws.post("./numbers", body).await;
        assert_invalid_field(status, &err, field);
    }
    assert_eq!(ws.get("./numbers").await.1["results"], json!([]), "nothing was registered");

    let n = ws.register(json!({ "number": "+14155550100", "nickname": "Sales" })).await;
    let (status, err) = ws.patch(&format!("./numbers/{}", n["id"].as_str().unwrap()), json!({ "nickname": "Sa\u{0}les" })).await;
    assert_invalid_field(status, &err, "nickname");
    assert_eq!(ws.get(&format!("./numbers/{}", n["id"].as_str().unwrap())).await.1["nickname"], "Sales");

    let (status, err) = ws.post("./assistants", json!({ "name": "Front\u{0}desk" })).await;
    assert_invalid_field(status, &err, "name");
    assert_eq!(ws.get("./assistants").await.1["results"], json!([]));
    let (status, err) = ws.post("./campaigns", json!({ "name": "Spring\u{7f}" })).await;
    assert_invalid_field(status, &err, "name");
    assert_eq!(ws.get("./campaigns").await.1["results"], json!([]));
    let call = json!({ "direction": "inbound", "from": "+14155550199\u{0}", "to": "+14155550100", "status": "completed" });
    let (status, err) = ws.post("./calls", call).await;
    assert_invalid_field(status, &err, "from");
    assert_eq!(ws.get("./calls").await.1["results"], json!([]));
}

async fn queries_reject_control_characters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    ws.register(json!({ "number": "+14155550100" })).await;
    let auth = format!("Bearer {}", ws.key);
    for (path, parameter) in [
        (format!("/workspaces/{}/numbers?country=U%00S", ws.id), "country"),
        (format!("/workspaces/{}/numbers?numberPrefix=%2B1%0A", ws.id), "numberPrefix"),
        (format!("/workspaces/{}/calls?phoneNumber=%2B1415%00", ws.id), "phoneNumber"),
        (format!("/workspaces/{}/calls?status=completed%00", ws.id), "status"),
        ("/api/user/calls?phone_number=%2B1415%00".to_owned(), "phone_number"),
        ("/api/user/calls?status=%1B".to_owned(), "status"),
        ("/api/user/assistants/phone-numbers?type=inbound%00".to_owned(), "type"),
    ] {
        let (status, text) = app.raw(Method::GET, &path, Some(&auth), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        if path.starts_with("/workspaces") {
            let err: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (err["code"].as_str(), err["details"]["parameter"].as_str()),
                (Some("invalid_query_parameter"), Some(parameter)),
                "{path}"
            );
        } else {
            assert!(text.contains("control characters") && text.contains(parameter), "{path}: {text}");
        }
    }
}

async fn autocalls(ws: &Ws, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    ws.call(method, path, Some(body)).await
}

async fn autocalls_bodies_reject_control_characters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = ws.register(json!({ "number": "+14155550100", "nickname": "Sales" })).await;

    let (status, err) = autocalls(&ws, Method::POST, "/api/user/assistant", json!({ "name": "Front\u{0}desk", "type": "inbound" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["errors"]["name"][0].as_str().unwrap().contains("control characters"), "{err}");
    let (status, err) = autocalls(&ws, Method::POST, "/api/user/assistant", json!({ "name": "Desk", "type": "in\u{0}bound" })).await;
    assert_eq!((status, err["errors"]["type"].is_array()), (StatusCode::UNPROCESSABLE_ENTITY, true), "{err}");
    assert_eq!(ws.get("/api/user/assistants/get").await.1["data"], json!([]), "no assistant stored");
    // Settings numberd ignores (a prompt, which is multi-line) are not read, so not refused.
    let prompt = json!({ "name": "Desk", "type": "inbound", "system_prompt": "Greet the caller.\nBe brief." });
    assert_eq!(autocalls(&ws, Method::POST, "/api/user/assistant", prompt).await.0, StatusCode::CREATED);

    let (status, err) = autocalls(&ws, Method::POST, "/api/user/campaign", json!({ "name": "Spring\u{0}" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["errors"]["name"].is_array(), "{err}");
    assert_eq!(ws.get("/api/user/campaigns").await.1, json!([]), "no campaign stored");

    let path = format!("/api/user/phone-numbers/{}", n["autocallsId"]);
    let (status, err) = autocalls(&ws, Method::PUT, &path, json!({ "nickname": "Sa\u{0}les" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"].as_str().unwrap().contains("control characters"), "{err}");
    assert_eq!(ws.get(&format!("./numbers/{}", n["id"].as_str().unwrap())).await.1["nickname"], "Sales");
}
