//! Access keys and tenant scoping.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp};

both_backends!(
    every_bad_credential_is_a_json_401,
    both_schemes_work_everywhere,
    other_workspaces_are_404,
    revoked_keys_stop_working,
    a_revocation_reaches_a_caching_node_within_its_bound
);

async fn every_bad_credential_is_a_json_401(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let path = format!("/workspaces/{}/numbers", ws.id);
    let cases: [(Option<&str>, &str); 6] = [
        (None, "missing_access_key"),
        (Some("Basic dXNlcjpwYXNz"), "malformed_authorization"),
        (Some("AccessKey"), "malformed_access_key"),
        (Some("AccessKey not-a-key"), "malformed_access_key"),
        (Some("Bearer nbd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "invalid_access_key"),
        (Some("AccessKey nbd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "invalid_access_key"),
    ];
    for (auth, code) in cases {
        let (status, body) = app.raw(Method::GET, &path, auth, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], code, "{auth:?}: {body}");
        assert!(body["message"].as_str().unwrap().len() >= 5);
    }
}

async fn both_schemes_work_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    for scheme in ["AccessKey", "Bearer", "accesskey", "bearer"] {
        let auth = format!("{scheme} {}", ws.key);
        let (status, _) = app.raw(Method::GET, &format!("/workspaces/{}/numbers", ws.id), Some(&auth), None).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
    }
}

async fn other_workspaces_are_404(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mine = app.workspace(false).await;
    let theirs = app.workspace(false).await;
    let their_number = theirs.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let their_id = their_number["id"].as_str().unwrap();

    // Their workspace id in the path: 404, not 403, and none of their data.
    let (status, body) = mine.get(&format!("/workspaces/{}/numbers", theirs.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "workspace_not_found");
    assert!(!body.to_string().contains("+14155550100"));
    let (status, _) = mine.get(&format!("/workspaces/{}/numbers/{their_id}", theirs.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Their number id under my workspace: 404 for every verb.
    for (method, path) in [
        (Method::GET, format!("./numbers/{their_id}")),
        (Method::PATCH, format!("./numbers/{their_id}")),
        (Method::DELETE, format!("./numbers/{their_id}")),
        (Method::POST, format!("./numbers/{their_id}/cancel-subscription")),
        (Method::GET, format!("./endpoints/{their_id}/subscriptions")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "nickname": "mine now" }));
        let (status, resp) = mine.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
    }
    // And it is untouched for its owner.
    let (status, n) = theirs.get(&format!("./numbers/{their_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(n["nickname"], Value::Null);
    assert_eq!(n["status"], "active");
    // My listing does not show it.
    let (_, list) = mine.get("./numbers").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 0);
}

async fn revoked_keys_stop_working(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let db = &app.running.core.db;
    let ws_id = ws.id.parse().unwrap();
    let second = numberd::store::workspaces::create_key(db, ws_id, chrono::Utc::now()).await.unwrap().unwrap();
    let auth = format!("Bearer {}", second.secret);
    let path = format!("/workspaces/{}/numbers", ws.id);
    assert_eq!(app.raw(Method::GET, &path, Some(&auth), None).await.0, StatusCode::OK);
    assert!(numberd::store::workspaces::revoke_key(db, second.id, chrono::Utc::now()).await.unwrap());
    let (status, body) = app.raw(Method::GET, &path, Some(&auth), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("access_key_revoked"), "{body}");
    // The first key is unaffected.
    assert_eq!(ws.get("./numbers").await.0, StatusCode::OK);
}

/// A node caches the keys it checked for `auth.key_cache_ms`: a key revoked elsewhere (another
/// node, the CLI) keeps working there at most that long, then answers 401.
async fn a_revocation_reaches_a_caching_node_within_its_bound(b: Backend) {
    const BOUND_MS: u64 = 1_500;
    let app = TestApp::spawn_with(b, |c| c.auth.key_cache_ms = BOUND_MS).await;
    let ws = app.workspace(false).await;
    let db = &app.running.core.db;
    let key = numberd::store::workspaces::create_key(db, ws.id.parse().unwrap(), chrono::Utc::now()).await.unwrap().unwrap();
    let auth = format!("Bearer {}", key.secret);
    let path = format!("/workspaces/{}/numbers", ws.id);
    assert_eq!(app.raw(Method::GET, &path, Some(&auth), None).await.0, StatusCode::OK, "a new key works at once");
    let revoked_at = std::time::Instant::now();
    // Revoked straight in the database, as another node or `numberd key revoke` does.
    assert!(numberd::store::workspaces::revoke_key(db, key.id, chrono::Utc::now()).await.unwrap());
    assert_eq!(app.raw(Method::GET, &path, Some(&auth), None).await.0, StatusCode::OK, "still trusted from the cache");
    loop {
        let (status, body) = app.raw(Method::GET, &path, Some(&auth), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert!(body.contains("access_key_revoked"), "{body}");
            break;
        }
        assert!(revoked_at.elapsed().as_millis() < u128::from(BOUND_MS) + 200, "still accepted after the bound");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(revoked_at.elapsed().as_millis() >= u128::from(BOUND_MS / 2), "refused only once the cached check expired");
}
