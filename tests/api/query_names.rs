//! Query parameters an endpoint does not document are refused in both dialects (found by
//! schemathesis): a misspelt Autocalls filter used to list everything unfiltered.
//! Autocalls' `page` is checked like `per_page`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::both_backends;
use crate::common::{Backend, TestApp};

both_backends!(unknown_query_parameters_are_refused);

async fn unknown_query_parameters_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let auth = format!("Bearer {}", ws.key);
    for path in [
        "/api/user/calls?phone_numer=%2B14155550100",
        "/api/user/assistants/get?page=1&sort=name",
        "/api/user/assistants/phone-numbers?kind=inbound",
        &format!("/workspaces/{}/numbers?nickname=Sales", ws.id),
    ] {
        let (status, text) = app.raw(Method::GET, path, Some(&auth), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("query"), "{path}: {text}");
    }
    // `page` is an integer of at least 1, as documented (Laravel would quietly show page 1).
    for path in ["/api/user/assistants/get?page=0", "/api/user/calls?page=abc"] {
        let (status, text) = app.raw(Method::GET, path, Some(&auth), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(body["errors"]["page"].is_array(), "{path}: {text}");
    }
    // The documented ones still work, paging included.
    for path in ["/api/user/calls?phone_number=%2B14155550100&per_page=5&page=2", "/api/user/assistants/get?page=1&per_page=5"] {
        let (status, text) = app.raw(Method::GET, path, Some(&auth), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
    }
}
