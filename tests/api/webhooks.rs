//! Webhooks: Standard Webhooks signatures checked by an independent implementation (the
//! `standardwebhooks` crate), retries on schedule, per-number order, disabling, SSRF refusals,
//! manual retry. Receivers are small axum servers on 127.0.0.1 inside the test.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use chrono::Duration;
use numberd::jobs::Queue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};
use crate::events::all_events;

both_backends!(
    deliveries_are_signed_and_verify_across_a_rotation,
    a_failing_receiver_is_retried_on_schedule_then_failed_and_retried_by_hand,
    each_numbers_events_arrive_in_order,
    a_sweeps_events_reach_webhooks_in_order,
    an_endpoint_failing_for_five_days_is_disabled,
    webhook_urls_are_checked_against_ssrf,
    a_hanging_receiver_costs_only_the_timeout,
    webhooks_are_managed_per_workspace,
);

/// A webhook receiver: records every request and answers the scripted statuses (then 200).
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
    delay: Arc<Mutex<Option<StdDuration>>>,
}

impl Receiver {
    pub async fn spawn() -> (Receiver, String) {
        let r = Receiver::default();
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn answer(&self, statuses: impl IntoIterator<Item = u16>) {
        self.answers.lock().unwrap().extend(statuses);
    }

    pub fn requests(&self) -> Vec<(HeaderMap, String)> {
        self.got.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.requests().iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> AxumStatus {
    r.got.lock().unwrap().push((headers, body));
    let delay = *r.delay.lock().unwrap();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let status = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    AxumStatus::from_u16(status).unwrap()
}

pub async fn private_app(b: Backend) -> TestApp {
    TestApp::spawn_with(b, |c| c.webhooks.allow_private = true).await
}

/// Runs the webhooks queue once, as the worker's pass does.
pub async fn deliver(app: &TestApp) {
    app.running.core.work(Queue::Webhooks, &|| false).await.unwrap();
}

pub async fn create(ws: &Ws, url: &str, events: Value) -> Value {
    let (status, hook) = ws.post("./webhooks", json!({ "url": url, "events": events })).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

async fn deliveries(ws: &Ws, hook: &Value) -> Vec<Value> {
    let (status, body) = ws.get(&format!("./webhooks/{}/deliveries?limit=99", hook["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().clone()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap().to_str().unwrap()
}

async fn deliveries_are_signed_and_verify_across_a_rotation(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(false).await;
    let (rx, url) = Receiver::spawn().await;
    let hook = create(&ws, &url, json!(["*"])).await;
    let old = hook["secret"].as_str().unwrap().to_owned();
    assert!(old.starts_with("whsec_"), "{hook}");
    let hook_path = format!("./webhooks/{}", hook["id"].as_str().unwrap());
    assert!(ws.get(&hook_path).await.1.get("secret").is_none(), "the secret is shown once");

    let n = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    deliver(&app).await;
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    standardwebhooks::Webhook::new(&old).unwrap().verify(body.as_bytes(), headers).expect("signed with the secret");
    let event = &all_events(&ws, "type=number.registered").await[0];
    assert_eq!(header(headers, "webhook-id"), event["id"].as_str().unwrap());
    assert_eq!(&serde_json::from_str::<Value>(body).unwrap(), event, "the body is the event as the API lists it");
    assert_eq!(event["data"]["id"], n["id"]);
    assert!(standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap().verify(body.as_bytes(), headers).is_err());

    // Rotation: for 24 hours both secrets sign.
    let (status, rotated) = ws.post(&format!("{hook_path}/rotate-secret"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    ws.patch(&format!("./numbers/{}", n["id"].as_str().unwrap()), json!({ "nickname": "after rotation" })).await;
    deliver(&app).await;
    let (headers, body) = rx.requests()[1].clone();
    assert_eq!(header(&headers, "webhook-signature").split(' ').count(), 2);
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret).unwrap().verify(body.as_bytes(), &headers).expect("both secrets verify");
    }

    // After 24 hours only the new one. The library checks timestamps against real time, so the
    // signatures are compared with the library's own signing here.
    app.clock.shift(Duration::hours(25));
    ws.patch(&format!("./numbers/{}", n["id"].as_str().unwrap()), json!({ "nickname": "a day later" })).await;
    deliver(&app).await;
    let (headers, body) = rx.requests()[2].clone();
    let (id, ts) = (header(&headers, "webhook-id"), header(&headers, "webhook-timestamp").parse::<i64>().unwrap());
    let sign = |s: &str| standardwebhooks::Webhook::new(s).unwrap().sign(id, ts, body.as_bytes()).unwrap();
    assert_eq!(header(&headers, "webhook-signature"), sign(&new));
    assert_ne!(sign(&old), sign(&new));
}

async fn a_failing_receiver_is_retried_on_schedule_then_failed_and_retried_by_hand(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(false).await;
    let (rx, url) = Receiver::spawn().await;
    rx.answer([500; 100]);
    let hook = create(&ws, &url, json!(["number.registered"])).await;
    ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let first_id = all_events(&ws, "type=number.registered").await.last().unwrap()["id"].clone();
    deliver(&app).await;
    assert_eq!(rx.requests().len(), 2, "one attempt each");

    // The schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed. Nothing runs early.
    let delays = [
        Duration::seconds(5),
        Duration::minutes(5),
        Duration::minutes(30),
        Duration::hours(2),
        Duration::hours(5),
        Duration::hours(10),
        Duration::hours(10),
    ];
    for (i, d) in delays.iter().enumerate() {
        deliver(&app).await;
        assert_eq!(rx.requests().len(), 2 + i * 2, "nothing before the delay ({i})");
        app.clock.shift(*d - Duration::seconds(2));
        deliver(&app).await;
        assert_eq!(rx.requests().len(), 2 + i * 2, "nothing before the delay ({i})");
        app.clock.shift(Duration::seconds(3));
        deliver(&app).await;
        assert_eq!(rx.requests().len(), 2 + (i + 1) * 2, "one retry each after {d}");
    }
    let all = deliveries(&ws, &hook).await;
    assert_eq!(all.len(), 2);
    for d in &all {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["attempts"], 8);
        assert_eq!(d["responseStatus"], 500);
        assert_eq!(d["lastError"], "the endpoint answered 500");
    }
    // Every attempt of one event carried the same webhook-id.
    let ids: Vec<String> = rx.requests().iter().map(|(h, _)| header(h, "webhook-id").to_owned()).collect();
    assert_eq!(ids.iter().filter(|i| **i == first_id.as_str().unwrap()).count(), 8);
    app.clock.shift(Duration::days(1));
    deliver(&app).await;
    assert_eq!(rx.requests().len(), 16, "failed is final");

    // By hand, once the receiver is healthy: delivered; a second retry while it is queued is refused.
    rx.answers.lock().unwrap().clear();
    let failed = &all[0];
    let retry = format!("./webhooks/{}/deliveries/{}/retry", hook["id"].as_str().unwrap(), failed["id"].as_str().unwrap());
    let (status, d) = ws.post(&retry, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{d}");
    assert_eq!(d["status"], "pending");
    let (status, err) = ws.post(&retry, json!({})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("delivery_in_progress")), "{err}");
    deliver(&app).await;
    assert_eq!(rx.requests().len(), 17);
    let d = deliveries(&ws, &hook).await.into_iter().find(|d| d["id"] == failed["id"]).unwrap();
    assert_eq!((d["status"].as_str(), d["responseStatus"].as_i64()), (Some("delivered"), Some(200)), "{d}");
    let (status, err) =
        ws.post(&format!("./webhooks/{}/deliveries/{}/retry", hook["id"].as_str().unwrap(), uuid::Uuid::new_v4()), json!({})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("delivery_not_found")));
}

async fn each_numbers_events_arrive_in_order(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(false).await;
    let (rx, url) = Receiver::spawn().await;
    let hook = create(&ws, &url, json!(["*"])).await;
    rx.answer([503]);
    let x = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let x_path = format!("./numbers/{}", x["id"].as_str().unwrap());
    ws.patch(&x_path, json!({ "nickname": "one" })).await;
    ws.patch(&x_path, json!({ "nickname": "two" })).await;
    let y = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    deliver(&app).await;
    // X's first delivery failed, so its later events wait; Y's is not held back.
    let seen: Vec<(String, String)> =
        rx.bodies().iter().map(|e| (e["type"].as_str().unwrap().into(), e["data"]["number"].as_str().unwrap().into())).collect();
    assert_eq!(seen, [("number.registered".into(), "+14155550100".into()), ("number.registered".into(), "+14155550101".into())]);
    let waiting: Vec<Value> = deliveries(&ws, &hook).await.into_iter().filter(|d| d["status"] == "waiting").collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.iter().all(|d| d["attempts"] == 0 && d["numberId"] == x["id"]));

    app.clock.shift(Duration::seconds(6));
    deliver(&app).await;
    let x_events: Vec<Value> = rx.bodies().into_iter().filter(|e| e["data"]["id"] == x["id"]).collect();
    let order: Vec<(&str, &Value)> = x_events.iter().map(|e| (e["type"].as_str().unwrap(), &e["data"]["nickname"])).collect();
    assert_eq!(
        order,
        [
            ("number.registered", &Value::Null),
            ("number.registered", &Value::Null),
            ("number.updated", &json!("one")),
            ("number.updated", &json!("two"))
        ]
    );
    assert!(deliveries(&ws, &hook).await.iter().all(|d| d["status"] == "delivered"));
    assert_eq!(rx.bodies().iter().filter(|e| e["data"]["id"] == y["id"]).count(), 1, "Y once");
}

/// Period ends settled together in one batch reach a webhook like any other events: each
/// number's in the order they happened (two renewals of one number in one sweep arrive in turn).
async fn a_sweeps_events_reach_webhooks_in_order(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(true).await;
    let (rx, url) = Receiver::spawn().await;
    let hook = create(&ws, &url, json!(["subscription.renewed", "number.released"])).await;
    let price = json!({ "amount": 200, "exponent": -2, "currencyCode": "USD" });
    let mut numbers = Vec::new();
    for i in 0..3 {
        let body = json!({ "number": format!("+1415555{:04}", 3000 + i), "kind": "dedicated", "monthlyRecurringPrice": price });
        numbers.push(ws.register(body).await);
    }
    let gone = numbers[1]["number"].clone();
    assert_eq!(ws.delete(&format!("./numbers/{}", numbers[1]["id"].as_str().unwrap())).await.0, StatusCode::OK);
    // Two period ends pass in one advance.
    let end: chrono::DateTime<chrono::Utc> = numbers[0]["currentPeriod"]["endAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(ws.advance(&(end + Duration::days(40)).to_rfc3339()).await.0, StatusCode::OK);
    // Each staying number's second renewal waits behind its first, though both were queued in
    // the same statement batch.
    let waiting = deliveries(&ws, &hook).await.into_iter().filter(|d| d["status"] == "waiting").count();
    assert_eq!(waiting, 2);
    for _ in 0..10 {
        if rx.requests().len() >= 5 {
            break;
        }
        deliver(&app).await;
    }
    let seen: Vec<(Value, Value, Value)> =
        rx.bodies().iter().map(|e| (e["data"]["number"].clone(), e["type"].clone(), e["data"]["currentPeriod"]["index"].clone())).collect();
    for n in &numbers {
        let of_n: Vec<(&Value, &Value)> = seen.iter().filter(|(num, ..)| *num == n["number"]).map(|(_, t, i)| (t, i)).collect();
        let expected = if n["number"] == gone {
            vec![(json!("number.released"), Value::Null)]
        } else {
            vec![(json!("subscription.renewed"), json!(1)), (json!("subscription.renewed"), json!(2))]
        };
        assert_eq!(of_n, expected.iter().map(|(t, i)| (t, i)).collect::<Vec<_>>(), "{}: {seen:?}", n["number"]);
    }
    assert_eq!(seen.len(), 5, "each event once: {seen:?}");
    assert!(deliveries(&ws, &hook).await.iter().all(|d| d["status"] == "delivered"));
}

async fn an_endpoint_failing_for_five_days_is_disabled(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(false).await;
    let (bad, bad_url) = Receiver::spawn().await;
    let (good, good_url) = Receiver::spawn().await;
    bad.answer([500; 100]);
    let hook = create(&ws, &bad_url, json!(["*"])).await;
    let watcher = create(&ws, &good_url, json!(["webhook.disabled"])).await;
    let hook_path = format!("./webhooks/{}", hook["id"].as_str().unwrap());
    ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    deliver(&app).await;
    // Failing for four days is not enough.
    app.clock.shift(Duration::days(4));
    ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    deliver(&app).await;
    assert_eq!(ws.get(&hook_path).await.1["enabled"], true);
    app.clock.shift(Duration::days(1));
    ws.register(json!({ "number": "+14155550102", "kind": "sip" })).await;
    deliver(&app).await;
    let (_, h) = ws.get(&hook_path).await;
    assert_eq!(h["enabled"], false, "{h}");
    assert!(h["disabledAt"].is_string());
    let disabled = all_events(&ws, "type=webhook.disabled").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["data"]["id"], hook["id"]);
    assert_eq!(disabled[0]["actor"], json!({ "type": "system", "name": "worker" }));
    assert!(disabled[0]["data"].get("secret").is_none());
    deliver(&app).await;
    assert_eq!(good.bodies().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), ["webhook.disabled"]);
    assert_eq!(deliveries(&ws, &watcher).await.len(), 1);

    // Disabled: nothing new is queued, what was queued ends without a request.
    let attempts = bad.requests().len();
    ws.register(json!({ "number": "+14155550103", "kind": "sip" })).await;
    app.clock.shift(Duration::hours(1));
    deliver(&app).await;
    assert_eq!(bad.requests().len(), attempts);
    let ds = deliveries(&ws, &hook).await;
    assert_eq!(ds.len(), 3, "no delivery for the 4th number");
    assert!(ds.iter().all(|d| d["status"] == "failed"), "{ds:#?}");
    let retry = format!("{hook_path}/deliveries/{}/retry", ds[0]["id"].as_str().unwrap());
    let (status, err) = ws.post(&retry, json!({})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("webhook_disabled")));
    // Enabled again by hand, it receives again.
    bad.answers.lock().unwrap().clear();
    assert_eq!(ws.patch(&hook_path, json!({ "enabled": true })).await.1["enabled"], true);
    assert_eq!(ws.post(&retry, json!({})).await.0, StatusCode::ACCEPTED);
    deliver(&app).await;
    assert_eq!(bad.requests().len(), attempts + 1);
}

async fn webhook_urls_are_checked_against_ssrf(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let refused = [
        "http://hooks.example.com/numberd",
        "https://127.0.0.1/hook",
        "https://127.8.9.10:8443/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.100.100.200/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://user:pass@hooks.example.com/",
        "ftp://hooks.example.com/",
        "not a url",
    ];
    for url in refused {
        let (status, err) = ws.post("./webhooks", json!({ "url": url, "events": ["*"] })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_eq!((err["code"].as_str(), err["details"]["field"].as_str()), (Some("invalid_field"), Some("url")), "{url}: {err}");
    }
    for events in [json!([]), json!(["number.exploded"]), json!(["*", "number.released"])] {
        let (status, err) = ws.post("./webhooks", json!({ "url": "https://hooks.example.com/", "events": events })).await;
        assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("events")), "{events}: {err}");
    }
    create(&ws, "https://hooks.example.com/numberd", json!(["number.released"])).await;
    let (status, _) = ws.get("./webhooks").await;
    assert_eq!(status, StatusCode::OK);

    // Checked again at delivery: a webhook to a local receiver, made where private addresses
    // were allowed, is refused by a node where they are not, and nothing reaches it.
    let lax = app.another_node_with(|c| c.webhooks.allow_private = true).await;
    let lax_ws = lax.as_workspace(ws.id.clone(), ws.key.clone());
    let (rx, url) = Receiver::spawn().await;
    let hook = create(&lax_ws, &url, json!(["*"])).await;
    ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    deliver(&app).await;
    assert!(rx.requests().is_empty());
    let d = &deliveries(&ws, &hook).await[0];
    assert_eq!(d["attempts"], 1);
    assert!(d["lastError"].as_str().unwrap().contains("https"), "{d}");
    assert_eq!(d["responseStatus"], Value::Null);
    let (status, err) = ws.patch(&format!("./webhooks/{}", hook["id"].as_str().unwrap()), json!({ "url": "https://10.0.0.1/" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
}

async fn a_hanging_receiver_costs_only_the_timeout(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.webhooks.allow_private = true;
        c.webhooks.timeout_ms = 300;
    })
    .await;
    let ws = app.workspace(false).await;
    let (rx, url) = Receiver::spawn().await;
    *rx.delay.lock().unwrap() = Some(StdDuration::from_secs(30));
    let hook = create(&ws, &url, json!(["*"])).await;
    ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let started = std::time::Instant::now();
    deliver(&app).await;
    let took = started.elapsed();
    assert!(took < StdDuration::from_secs(3), "took {took:?}");
    let d = &deliveries(&ws, &hook).await[0];
    assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("pending"), Some(1)), "{d}");
    assert!(d["lastError"].as_str().unwrap().contains("timed out"), "{d}");
}

async fn webhooks_are_managed_per_workspace(b: Backend) {
    let app = private_app(b).await;
    let ws = app.workspace(false).await;
    let other = app.workspace(false).await;
    let hook = create(&ws, "https://hooks.example.com/a", json!(["number.released", "number.released"])).await;
    assert_eq!(hook["events"], json!(["number.released"]), "duplicates dropped");
    assert_eq!(hook["enabled"], true);
    let path = format!("./webhooks/{}", hook["id"].as_str().unwrap());
    let (status, patched) = ws.patch(&path, json!({ "description": "billing", "events": ["*"], "enabled": false })).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!((patched["description"].as_str(), patched["enabled"].as_bool()), (Some("billing"), Some(false)));
    assert_eq!(ws.patch(&path, json!({ "description": null })).await.1["description"], Value::Null);
    let (_, list) = ws.get("./webhooks").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    assert!(list["results"][0].get("secret").is_none());
    // Another workspace sees none of it.
    let other_path = format!("/workspaces/{}/webhooks/{}", ws.id, hook["id"].as_str().unwrap());
    assert_eq!(other.get(&other_path).await.0, StatusCode::NOT_FOUND);
    let (status, err) = other.get(&format!("./webhooks/{}", hook["id"].as_str().unwrap())).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("webhook_not_found")));
    assert!(other.get("./webhooks").await.1["results"].as_array().unwrap().is_empty());
    assert_eq!(ws.patch(&path, json!({ "colour": "red" })).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ws.delete(&path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(ws.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(ws.delete(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(ws.get("./webhooks/not-an-id").await.0, StatusCode::BAD_REQUEST);
}
