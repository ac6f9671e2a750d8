//! What every response carries whatever the route: security headers, authentication challenges,
//! routing errors in the dialect's own shape, and a 413 the client always gets to read.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::common::{Backend, TestApp};

both_backends!(
    every_response_forbids_sniffing_and_caching,
    unauthorized_answers_name_the_scheme,
    autocalls_routing_errors_speak_laravel,
    oversized_bodies_always_get_their_413,
    slow_and_idle_clients_are_disconnected,
    page_urls_never_come_from_the_host_header,
);

async fn every_response_forbids_sniffing_and_caching(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let paths = [
        "/healthz".to_string(),
        "/openapi.json".into(),
        format!("/workspaces/{}/numbers", ws.id),
        "/nowhere".into(),
        "/api/user/phone-numbers/all".into(),
    ];
    for path in paths {
        for auth in [None, Some(format!("Bearer {}", ws.key))] {
            let mut req = app.http.get(format!("{}{path}", app.base));
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "GET {path} ({status})");
            assert_eq!(resp.headers()["cache-control"], "no-store", "GET {path} ({status})");
        }
    }
}

async fn unauthorized_answers_name_the_scheme(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    for (path, auth, challenge) in [
        (format!("/workspaces/{}/numbers", ws.id), None, "AccessKey realm=\"numberd\", Bearer realm=\"numberd\""),
        (format!("/workspaces/{}/numbers", ws.id), Some("AccessKey nope"), "AccessKey realm=\"numberd\", Bearer realm=\"numberd\""),
        ("/api/user/phone-numbers/all".to_string(), None, "Bearer realm=\"numberd\""),
        ("/api/user/assistants/get".to_string(), Some("Bearer nope"), "Bearer realm=\"numberd\""),
    ] {
        let mut req = app.http.get(format!("{}{path}", app.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "GET {path}");
        assert_eq!(resp.headers()["www-authenticate"], challenge, "GET {path}");
    }
}

async fn autocalls_routing_errors_speak_laravel(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let auth = format!("Bearer {}", ws.key);
    for (method, path, status) in [
        (Method::GET, "/api/user/no-such-thing", 404),
        (Method::GET, "/api/user", 404),
        (Method::PATCH, "/api/user/phone-numbers/all", 405),
    ] {
        let (got, text) = app.raw(method.clone(), path, Some(&auth), None).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        assert!(body["message"].as_str().is_some_and(|m| m.len() >= 5), "{method} {path}: {body}");
        assert!(body.get("code").is_none(), "{method} {path}: the native shape leaked: {body}");
    }
    // The native API keeps its own shape.
    let (got, text) = app.raw(Method::GET, "/workspaces", Some(&auth), None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["code"], "route_not_found");
}

/// The server used to answer before reading a too-large body and close the connection with the
/// rest unread, so the client sometimes saw a reset instead of the 413.
async fn oversized_bodies_always_get_their_413(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let auth = format!("AccessKey {}", ws.key);
    let big = format!("{{\"number\": \"+14155550100\", \"nickname\": \"{}\"}}", "x".repeat(400_000));
    for round in 0..30 {
        let (status, text) = app.raw(Method::POST, &format!("/workspaces/{}/numbers", ws.id), Some(&auth), Some(&big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "round {round}: {text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["code"], "payload_too_large");
    }
    let bearer = format!("Bearer {}", ws.key);
    let (status, text) = app.raw(Method::POST, "/api/user/assistant", Some(&bearer), Some(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
}

/// A client that stops sending (mid-headers, mid-body, or between requests on a keep-alive
/// connection) is disconnected after the configured timeout instead of holding a connection
/// for ever.
async fn slow_and_idle_clients_are_disconnected(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.http.header_timeout_ms = 300;
        c.http.body_timeout_ms = 300;
    })
    .await;
    let ws = app.workspace(false).await;
    let addr = app.running.addr;
    let partial_headers = "GET /healthz HTTP/1.1\r\nHost: numberd\r\nAccept: app".to_string();
    let partial_body = format!(
        "POST /workspaces/{}/numbers HTTP/1.1\r\nHost: numberd\r\nAuthorization: AccessKey {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"number\"",
        ws.id, ws.key
    );
    let idle_after_request = "GET /healthz HTTP/1.1\r\nHost: numberd\r\n\r\n".to_string();
    for (what, sent) in [("partial headers", partial_headers), ("partial body", partial_body), ("idle keep-alive", idle_after_request)] {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(sent.as_bytes()).await.unwrap();
        let started = Instant::now();
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "{what}: the connection is still open after 5 s");
        let got = String::from_utf8_lossy(&got);
        assert!(started.elapsed() >= Duration::from_millis(250), "{what}: closed before its timeout: {got}");
        assert!(!got.starts_with("HTTP/1.1 5"), "{what}: {got}");
        if what == "idle keep-alive" {
            assert!(got.starts_with("HTTP/1.1 200"), "the request before the idle wait was answered: {got}");
        }
    }
}

/// Paginator URLs used to echo whatever `Host` the client sent. They now come from `public_url`,
/// or from `X-Forwarded-*` sent by a trusted proxy, or else the address the server was reached on.
async fn page_urls_never_come_from_the_host_header(b: Backend) {
    async fn first_page_url(app: &TestApp, key: &str, headers: &[(&str, &str)]) -> String {
        let mut req = app.http.get(format!("{}/api/user/assistants/get", app.base)).header("authorization", format!("Bearer {key}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let page: Value = resp.json().await.unwrap();
        page["first_page_url"].as_str().unwrap().to_owned()
    }
    let spoof = [("host", "evil.example"), ("x-forwarded-host", "evil.example"), ("x-forwarded-proto", "https")];

    let plain = TestApp::spawn(b).await;
    let ws = plain.workspace(false).await;
    let url = first_page_url(&plain, &ws.key, &spoof).await;
    assert_eq!(url, format!("http://{}/api/user/assistants/get?page=1", plain.running.addr));

    let untrusted = TestApp::spawn_with(b, |c| c.trusted_proxies = vec!["10.0.0.0/8".into()]).await;
    let ws = untrusted.workspace(false).await;
    let url = first_page_url(&untrusted, &ws.key, &spoof).await;
    assert!(!url.contains("evil.example") && url.starts_with("http://127.0.0.1:"), "{url}");

    let behind_proxy = TestApp::spawn_with(b, |c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let ws = behind_proxy.workspace(false).await;
    let forwarded = [("x-forwarded-host", "numbers.example.com"), ("x-forwarded-proto", "https")];
    let url = first_page_url(&behind_proxy, &ws.key, &forwarded).await;
    assert_eq!(url, "https://numbers.example.com/api/user/assistants/get?page=1");

    let configured = TestApp::spawn_with(b, |c| {
        c.public_url = Some("https://numbers.example.com/".into());
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let ws = configured.workspace(false).await;
    let url = first_page_url(&configured, &ws.key, &spoof).await;
    assert_eq!(url, "https://numbers.example.com/api/user/assistants/get?page=1", "public_url wins over every header");
}
