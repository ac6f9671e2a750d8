//! Buying numbers through the API, on both backends and both carriers: search, number orders
//! (Twilio confirms within the request, Telnyx settles in the background), the bought number's
//! whole life up to its release at the carrier, idempotent orders, rate-limit storms, 5xx after
//! the purchase went through, compensation, and a crash drill. Every exchange with a fake is
//! checked against the carrier's official document.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::FutureExt;
use numberd::config::{CarrierAccountConfig, Config, Secret};
use numberd::jobs::Queue;
use numberd::service::orders::NewOrder;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::fake_telnyx::{self, FakeTelnyx};
use super::fake_twilio::{self, FakeTwilio};
use super::{Dialect, FakeServer, Fault, ForSale};
use crate::both_backends;
use crate::common::{assert_bird_number, bird_number_validator, Backend, TestApp, Ws};
use crate::events::all_events;

both_backends!(
    twilio_number_bought_used_and_released,
    telnyx_number_bought_used_and_released,
    search_validates_and_reports_carrier_failures,
    orders_validate_and_page,
    idempotent_orders_twilio,
    idempotent_orders_telnyx,
    rate_limit_storm_survived_twilio,
    rate_limit_storm_survived_telnyx,
    server_error_after_purchase_twilio,
    server_error_after_purchase_telnyx,
    compensation_releases_what_cannot_be_kept,
    a_purchase_in_doubt_outlasts_max_attempts,
    crash_drill_twilio,
    crash_drill_telnyx,
);

/// What the tests need of either fake.
pub trait Books: Dialect {
    fn held_numbers(&self) -> Vec<String>;
    const KIND: &'static str;
    /// The path fragment of the carrier's purchase request.
    const BUY: &'static str;
    /// The carrier's word for a local number in its stock.
    const LOCAL: &'static str;
    fn account(base_url: &str) -> CarrierAccountConfig;
}

impl Books for FakeTwilio {
    fn held_numbers(&self) -> Vec<String> {
        self.held()
    }
    const KIND: &'static str = "twilio";
    const BUY: &'static str = "IncomingPhoneNumbers.json";
    const LOCAL: &'static str = "Local";
    fn account(base_url: &str) -> CarrierAccountConfig {
        CarrierAccountConfig::Twilio {
            account_sid: fake_twilio::ACCOUNT_SID.into(),
            auth_token: Secret::new(fake_twilio::AUTH_TOKEN),
            base_url: base_url.to_owned(),
            max_concurrent_requests: 4,
        }
    }
}

impl Books for FakeTelnyx {
    fn held_numbers(&self) -> Vec<String> {
        self.held()
    }
    const KIND: &'static str = "telnyx";
    const BUY: &'static str = "number_orders";
    const LOCAL: &'static str = "local";
    fn account(base_url: &str) -> CarrierAccountConfig {
        CarrierAccountConfig::Telnyx {
            api_key: Secret::new(fake_telnyx::API_KEY),
            base_url: base_url.to_owned(),
            max_concurrent_requests: 4,
        }
    }
}

/// `count` local San Francisco numbers for sale, `+1415555{from..}`, every other one without SMS.
fn stock<D: Books>(from: usize, count: usize) -> Vec<ForSale> {
    (from..from + count)
        .map(|i| {
            let e164: &'static str = Box::leak(format!("+1415555{i:04}").into_boxed_str());
            ForSale::us(e164, D::LOCAL, i % 2 == 0)
        })
        .collect()
}

async fn twilio(stock: Vec<ForSale>) -> FakeServer<FakeTwilio> {
    FakeTwilio::spawn(stock).await
}

/// Telnyx orders settle after `polls` more looks.
async fn telnyx(stock: Vec<ForSale>, polls: u32) -> FakeServer<FakeTelnyx> {
    FakeTelnyx::spawn(stock, polls).await
}

/// numberd with one carrier account, `us`, the default.
async fn app_with<D: Books>(backend: Backend, fake: &FakeServer<D>) -> TestApp {
    let account = D::account(&fake.base_url);
    TestApp::spawn_with(backend, |c: &mut Config| {
        c.carriers.insert("us".into(), account);
        c.default_carrier = Some("us".into());
    })
    .await
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

async fn order(ws: &Ws, body: Value, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/workspaces/{}/number-orders", ws_base(ws), ws.id))
        .header("authorization", format!("AccessKey {}", ws.key))
        .json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// The server's base URL, from the workspace's own calls.
fn ws_base(ws: &Ws) -> &str {
    ws.base()
}

/// Runs the carrier queue until the order has settled (every number purchased or failed).
async fn settle(app: &TestApp, ws: &Ws, id: &str) -> Value {
    for _ in 0..400 {
        app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
        let (status, o) = ws.get(&format!("./number-orders/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{o}");
        if o["status"] != "pending" {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("order {id} never settled");
}

fn buys<D: Books>(fake: &FakeServer<D>) -> usize {
    fake.state.common().seen().iter().filter(|r| r.starts_with("POST") && r.ends_with(D::BUY)).count()
}

/// Search → buy → the number is in the inventory with its carrier identity and a subscription
/// from the confirmation → an assistant uses it → cancel → period end (test clock) → released at
/// the carrier, by the carrier's id.
async fn bought_used_and_released<D: Books>(backend: Backend, fake: FakeServer<D>, answers: &str) {
    let app = app_with(backend, &fake).await;
    let ws = app.workspace(true).await;
    let (status, found) = ws.get("./available-numbers?country=US&type=local&areaCode=415&contains=555&capability=sms&limit=20").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "only the SMS-capable numbers: {found}");
    let pick = results[0]["number"].as_str().unwrap().to_owned();
    assert_eq!(results[0]["country"], "US");
    assert_eq!(results[0]["type"], "local");
    assert_eq!(results[0]["capabilities"]["sms"], json!({"inbound": true, "outbound": true}), "{found}");
    assert_eq!(results[0]["carrier"], json!({"name": "us", "kind": D::KIND}));
    assert!(results[0]["locality"].is_string() && results[0]["region"].is_string(), "{found}");

    let price = json!({"amount": 115, "exponent": -2, "currencyCode": "USD"});
    let (status, o) = order(&ws, json!({"numbers": [pick], "nickname": "Sales", "monthlyRecurringPrice": price}), None).await;
    assert_eq!(status, StatusCode::CREATED, "{o}");
    assert_eq!(o["status"], answers, "{o}");
    assert_eq!(o["carrier"], json!({"name": "us", "kind": D::KIND}));
    let o = settle(&app, &ws, o["id"].as_str().unwrap()).await;
    assert_eq!(o["status"], "completed", "{o}");
    assert_eq!(o["numbers"][0]["status"], "purchased", "{o}");
    let id = o["numbers"][0]["numberId"].as_str().expect("the bought number's id").to_owned();
    assert_eq!(fake.state.held_numbers(), vec![pick.clone()]);

    let (_, n) = ws.get(&format!("./numbers/{id}")).await;
    assert_bird_number(&bird_number_validator(), &n);
    assert_eq!((n["number"].as_str(), n["kind"].as_str(), n["nickname"].as_str()), (Some(pick.as_str()), Some("dedicated"), Some("Sales")));
    assert_eq!(n["carrier"]["name"], "us");
    assert_eq!(n["carrier"]["kind"], D::KIND);
    let carrier_ref = n["carrier"]["ref"].as_str().expect("the carrier's id").to_owned();
    assert_eq!(n["endpoint"]["provisioningStatus"], "provisioned");
    assert_eq!(n["subscription"]["status"], "active", "{n}");
    assert_eq!(n["monthlyRecurringPrice"], price);
    let start: chrono::DateTime<chrono::Utc> = n["currentPeriod"]["startAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, ws.clock().await, "anchored at the confirmation, in the workspace's clock: {n}");

    let (status, a) = ws.post("./assistants", json!({"name": "Front desk", "direction": "inbound", "numberId": id})).await;
    assert_eq!(status, StatusCode::CREATED, "the bought number is usable: {a}");
    let (status, _) = ws.post(&format!("./numbers/{id}/cancel-subscription"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let before = fake.state.common().seen().len();
    let (status, _) = ws.advance(n["currentPeriod"]["endAt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    let deletes: Vec<String> = fake.state.common().seen()[before..].iter().filter(|r| r.starts_with("DELETE")).cloned().collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].contains(&carrier_ref), "released by the carrier's id: {deletes:?}");
    assert!(fake.state.held_numbers().is_empty(), "the carrier no longer holds it");
    let (_, gone) = ws.get(&format!("./numbers/{id}")).await;
    assert_eq!(gone["endpoint"]["provisioningStatus"], "deprovisioned", "{gone}");
    fake.assert_faithful();
}

async fn twilio_number_bought_used_and_released(b: Backend) {
    bought_used_and_released(b, twilio(stock::<FakeTwilio>(100, 4)).await, "completed").await;
}

async fn telnyx_number_bought_used_and_released(b: Backend) {
    bought_used_and_released(b, telnyx(stock::<FakeTelnyx>(100, 4), 2).await, "pending").await;
}

/// Every search parameter is checked before the carrier is asked; a failing carrier is a 502.
async fn search_validates_and_reports_carrier_failures(b: Backend) {
    let fake = twilio(stock::<FakeTwilio>(100, 2)).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    for (query, status, expected) in [
        ("", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=ZZ", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&type=premium", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&areaCode=41a", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&contains=12345678901", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&capability=telepathy", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&limit=0", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&limit=51", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&limit=x", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&sort=asc", StatusCode::BAD_REQUEST, "invalid_query_parameter"),
        ("?country=US&carrier=eu", StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
    ] {
        let (got, body) = ws.get(&format!("./available-numbers{query}")).await;
        assert_eq!((got, code(&body)), (status, expected), "{query}: {body}");
    }
    assert!(fake.state.common().seen().is_empty(), "nothing invalid reached the carrier");
    fake.state.common().inject(Method::GET, "AvailablePhoneNumbers", Fault::ServerError);
    let (status, body) = ws.get("./available-numbers?country=US").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "{body}");
    fake.state.common().inject(Method::GET, "AvailablePhoneNumbers", Fault::Hang);
    let (status, body) = ws.get("./available-numbers?country=US").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "a hang costs the deadline: {body}");
    let (status, body) = ws.get("./available-numbers?country=us&type=tollfree").await;
    assert_eq!((status, body["results"].clone()), (StatusCode::OK, json!([])), "lower-case country accepted");
    fake.assert_faithful();
}

/// Bad orders are refused before anything is written or bought; orders page like numbers.
async fn orders_validate_and_page(b: Backend) {
    let fake = twilio(stock::<FakeTwilio>(100, 4)).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    let many: Vec<String> = (0..26).map(|i| format!("+1415555{i:04}")).collect();
    for (body, field) in [
        (json!({"numbers": []}), "numbers"),
        (json!({"numbers": many}), "numbers"),
        (json!({"numbers": ["+1415555010"]}), "numbers.0"),
        (json!({"numbers": ["+14155550100", "+1 415 555 0100"]}), "numbers.1"),
        (json!({"numbers": ["+14155550100"], "carrier": "eu"}), "carrier"),
        (json!({"numbers": ["+14155550100"], "nickname": "x".repeat(51)}), "nickname"),
        (
            json!({"numbers": ["+14155550100"], "monthlyRecurringPrice": {"amount": -1, "exponent": -2, "currencyCode": "USD"}}),
            "monthlyRecurringPrice",
        ),
    ] {
        let (status, e) = order(&ws, body.clone(), None).await;
        assert_eq!(
            (status, code(&e), e["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some(field)),
            "{body}: {e}"
        );
    }
    let (status, e) = order(&ws, json!({"numbers": ["+14155550100"]}), Some(&"k".repeat(256))).await;
    assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("Idempotency-Key")), "{e}");
    let (status, e) = order(&ws, json!({"numbers": "+14155550100"}), None).await;
    assert_eq!((status, code(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_type"), "{e}");
    assert!(fake.state.common().seen().is_empty(), "nothing was bought");

    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, o) = order(&ws, json!({"numbers": [format!("+1415555{:04}", 100 + i)]}), None).await;
        assert_eq!((status, o["status"].as_str()), (StatusCode::CREATED, Some("completed")), "{o}");
        ids.push(o["id"].clone());
    }
    let (_, page1) = ws.get("./number-orders?limit=2").await;
    let (_, page2) = ws.get(&format!("./number-orders?limit=2&pageToken={}", page1["nextPageToken"].as_str().unwrap())).await;
    let listed: Vec<Value> =
        page1["results"].as_array().unwrap().iter().chain(page2["results"].as_array().unwrap()).map(|o| o["id"].clone()).collect();
    assert_eq!(listed, ids, "oldest first, across pages");
    assert!(page2.get("nextPageToken").is_none(), "{page2}");
    let (status, e) = ws.get("./number-orders?pageToken=garbage").await;
    assert_eq!((status, code(&e)), (StatusCode::BAD_REQUEST, "invalid_page_token"));
    let (status, e) = ws.get(&format!("./number-orders/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((status, code(&e)), (StatusCode::NOT_FOUND, "order_not_found"));
    let other = app.workspace(false).await;
    let (status, _) = other.get(&format!("./number-orders/{}", ids[0].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another workspace's order is not found");
    // A number already in the workspace is not bought again: its item fails at once.
    let (status, o) = order(&ws, json!({"numbers": ["+14155550100", "+14155550103"]}), None).await;
    assert_eq!((status, o["status"].as_str()), (StatusCode::CREATED, Some("partial")), "{o}");
    assert_eq!(o["numbers"][0]["error"]["code"], "number_already_exists", "{o}");
    assert_eq!(buys(&fake), 4);
    fake.assert_faithful();
}

/// The same key and body return the same order and buy nothing again, sequentially and when the
/// requests race; another body with the key is refused.
async fn idempotent_orders<D: Books>(b: Backend, fake: FakeServer<D>) {
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    let body = json!({"numbers": ["+14155550100", "+14155550101"]});
    let (status, first) = order(&ws, body.clone(), Some("order-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = order(&ws, body.clone(), Some("order-1")).await;
    assert_eq!((status, &again["id"]), (StatusCode::CREATED, &first["id"]), "{again}");
    let (status, e) = order(&ws, json!({"numbers": ["+14155550102"]}), Some("order-1")).await;
    assert_eq!((status, code(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{e}");
    let (status, other_ws) = order(&app.workspace(false).await, json!({"numbers": ["+14155550102"]}), Some("order-1")).await;
    assert_eq!(status, StatusCode::CREATED, "keys are per workspace: {other_ws}");
    settle(&app, &ws, first["id"].as_str().unwrap()).await;

    let racing = json!({"numbers": ["+14155550103", "+14155550104"]});
    let answers = futures::future::join_all((0..8).map(|_| order(&ws, racing.clone(), Some("order-2")))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, o)| {
            assert_eq!(*status, StatusCode::CREATED, "{o}");
            o["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every racing request got the same order: {ids:?}");
    let settled = settle(&app, &ws, ids.first().unwrap()).await;
    assert_eq!(settled["status"], "completed", "{settled}");
    assert_eq!(buys(&fake), 5, "each number bought once");
    let (_, list) = ws.get("./number-orders").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 2, "two orders in the workspace: {list}");
    let (_, numbers) = ws.get("./numbers").await;
    assert_eq!(numbers["results"].as_array().unwrap().len(), 4, "{numbers}");
    fake.assert_faithful();
}

async fn idempotent_orders_twilio(b: Backend) {
    idempotent_orders(b, twilio(stock::<FakeTwilio>(100, 5)).await).await;
}

async fn idempotent_orders_telnyx(b: Backend) {
    idempotent_orders(b, telnyx(stock::<FakeTelnyx>(100, 5), 1).await).await;
}

/// A storm of 429s on the purchase delays the order but never fails it or buys twice.
async fn rate_limit_storm<D: Books>(b: Backend, fake: FakeServer<D>) {
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    for _ in 0..12 {
        fake.state.common().inject(Method::POST, D::BUY, Fault::RateLimited(0));
    }
    let (status, o) = order(&ws, json!({"numbers": ["+14155550100", "+14155550101", "+14155550102"]}), None).await;
    assert_eq!((status, o["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{o}");
    let o = settle(&app, &ws, o["id"].as_str().unwrap()).await;
    assert_eq!(o["status"], "completed", "{o}");
    let mut held = fake.state.held_numbers();
    held.sort();
    assert_eq!(held, vec!["+14155550100", "+14155550101", "+14155550102"]);
    assert_eq!(buys(&fake), 15, "12 refused, then one each");
    let failed = numberd::store::jobs::list(&app.running.core.db, Some(numberd::jobs::JobStatus::Failed)).await.unwrap();
    assert!(failed.is_empty(), "no purchase was parked: {failed:?}");
    fake.assert_faithful();
}

async fn rate_limit_storm_survived_twilio(b: Backend) {
    rate_limit_storm(b, twilio(stock::<FakeTwilio>(100, 3)).await).await;
}

async fn rate_limit_storm_survived_telnyx(b: Backend) {
    rate_limit_storm(b, telnyx(stock::<FakeTelnyx>(100, 3), 0).await).await;
}

/// The carrier bought the number but answered 500: the next attempt finds the purchase there
/// (Twilio by number, Telnyx by the order's customer_reference) instead of buying again.
async fn server_error_after_purchase<D: Books>(b: Backend, fake: FakeServer<D>) {
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    fake.state.common().inject(Method::POST, D::BUY, Fault::ServerErrorAfterward);
    let (status, o) = order(&ws, json!({"numbers": ["+14155550100"]}), None).await;
    assert_eq!((status, o["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{o}");
    assert_eq!(fake.state.held_numbers(), vec!["+14155550100"], "the carrier did buy it");
    let o = settle(&app, &ws, o["id"].as_str().unwrap()).await;
    assert_eq!(o["numbers"][0]["status"], "purchased", "{o}");
    assert_eq!(buys(&fake), 1, "found again, not bought again: {:?}", fake.state.common().seen());
    let (_, n) = ws.get(&format!("./numbers/{}", o["numbers"][0]["numberId"].as_str().unwrap())).await;
    assert_eq!(n["carrier"]["kind"], D::KIND, "{n}");
    // The request's attempt failed; the job that found the purchase recorded it, once.
    let events = all_events(&ws, "").await;
    let actors = |t: &str| events.iter().filter(|e| e["type"] == t).map(|e| e["actor"]["name"].clone()).collect::<Vec<_>>();
    assert_eq!((actors("number.purchased"), actors("order.completed")), (vec![json!("worker")], vec![json!("worker")]));
    fake.assert_faithful();
}

async fn server_error_after_purchase_twilio(b: Backend) {
    server_error_after_purchase(b, twilio(stock::<FakeTwilio>(100, 1)).await).await;
}

async fn server_error_after_purchase_telnyx(b: Backend) {
    server_error_after_purchase(b, telnyx(stock::<FakeTelnyx>(100, 1), 0).await).await;
}

/// The carrier bought the number but answered 500, then fails every lookup for longer than
/// `outbox.max_attempts`: the purchase job must not give up (the carrier holds a billed number
/// only a later attempt can bring home); once the carrier answers, the number is in the inventory,
/// bought once.
async fn a_purchase_in_doubt_outlasts_max_attempts(b: Backend) {
    let fake = twilio(stock::<FakeTwilio>(100, 1)).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    fake.state.common().inject(Method::POST, FakeTwilio::BUY, Fault::ServerErrorAfterward);
    let outages = app.config.outbox.max_attempts as usize + 2;
    for _ in 0..outages {
        fake.state.common().inject(Method::GET, FakeTwilio::BUY, Fault::ServerError);
    }
    let (_, o) = order(&ws, json!({"numbers": ["+14155550100"]}), None).await;
    assert_eq!(o["status"], "pending", "{o}");
    let o = settle(&app, &ws, o["id"].as_str().unwrap()).await;
    assert_eq!(o["numbers"][0]["status"], "purchased", "{o}");
    let lookups = fake.state.common().seen().iter().filter(|r| r.starts_with("GET") && r.ends_with(FakeTwilio::BUY)).count();
    assert!(lookups > outages, "every outage was waited out: {lookups} lookups");
    assert_eq!(buys(&fake), 1, "bought once");
    let failed = numberd::store::jobs::list(&app.running.core.db, Some(numberd::jobs::JobStatus::Failed)).await.unwrap();
    assert!(failed.is_empty(), "no purchase job parked: {failed:?}");
    fake.assert_faithful();
}

/// The carrier holds a number numberd cannot keep (registered by hand while the purchase was in
/// doubt): numberd releases it there and fails the item saying so.
async fn compensation_releases_what_cannot_be_kept(b: Backend) {
    let fake = twilio(stock::<FakeTwilio>(100, 1)).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    fake.state.common().inject(Method::POST, FakeTwilio::BUY, Fault::ServerErrorAfterward);
    let (_, o) = order(&ws, json!({"numbers": ["+14155550100"]}), None).await;
    assert_eq!(o["status"], "pending", "{o}");
    ws.register(json!({"number": "+14155550100", "kind": "dedicated"})).await;
    let o = settle(&app, &ws, o["id"].as_str().unwrap()).await;
    assert_eq!(o["status"], "failed", "{o}");
    assert_eq!(o["numbers"][0]["error"]["code"], "number_already_exists", "{o}");
    assert!(o["numbers"][0]["error"]["message"].as_str().unwrap().contains("released"), "{o}");
    assert!(fake.state.held_numbers().is_empty(), "released at the carrier");
    assert!(fake.state.common().seen().iter().any(|r| r.starts_with("DELETE")), "{:?}", fake.state.common().seen());
    // Nothing was purchased for the workspace: the order failed, and says so once.
    let types: Vec<Value> = all_events(&ws, "").await.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(types, vec![json!("order.failed"), json!("number.registered"), json!("access_key.created")], "newest first");
    fake.assert_faithful();
}

/// Many orders, each cut short at a different moment (the request's future dropped mid-purchase,
/// a worker dropped mid-job, faults before and after the carrier did the work); then the worker
/// takes over as leases lapse. Afterwards the carrier holds exactly the numbers in the inventory,
/// each once, and every item has settled.
///
/// The cuts are fractions of what one whole order takes on this machine at this moment, so they
/// land before the order is written, while the carrier works and after it answered however fast
/// or loaded the machine is (fixed milliseconds cut most requests before their write under load).
async fn crash_drill<D: Books>(b: Backend, fake: FakeServer<D>) {
    let orders = DRILL_ORDERS;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    let core = app.running.core.clone();
    let tenant = core.authenticate(&ws.key).await.unwrap();
    fake.state.common().set_latency(Duration::from_millis(4));
    // The stock's first two numbers time whole orders, the first one warming every connection.
    let mut whole = Duration::MAX;
    for n in [DRILL_STOCK_FROM, DRILL_STOCK_FROM + 1] {
        let new = NewOrder { numbers: vec![format!("+1415555{n:04}")], carrier: None, nickname: None, price: None, idempotency_key: None };
        let started = std::time::Instant::now();
        core.order_numbers(tenant, new).await.unwrap();
        whole = whole.min(started.elapsed());
    }
    let mut drops = 0;
    for i in 0..orders {
        let first = DRILL_STOCK_FROM + 2 + 2 * i;
        let numbers = vec![format!("+1415555{first:04}"), format!("+1415555{:04}", first + 1)];
        match i % 4 {
            1 => fake.state.common().inject(Method::POST, D::BUY, Fault::ServerErrorAfterward),
            2 => fake.state.common().inject(Method::POST, D::BUY, Fault::Hang),
            3 => fake.state.common().inject(Method::GET, "", Fault::ServerError),
            _ => {}
        }
        let new = NewOrder { numbers, carrier: None, nickname: None, price: None, idempotency_key: Some(format!("drill-{i}")) };
        // The request dies at its first wait, or after 1/6, 2/6 ... 7/6 of a whole order:
        // before its write, during the carrier's work or after its answer.
        let cut = match i * 5 % 8 {
            0 => core.order_numbers(tenant, new).now_or_never().is_none(),
            k => tokio::time::timeout(whole.mul_f64(k as f64 / 6.0), core.order_numbers(tenant, new)).await.is_err(),
        };
        drops += usize::from(cut);
        // A worker that dies mid-job leaves its claim to lapse.
        let _ = tokio::time::timeout(whole.mul_f64((i * 3 % 7) as f64 / 4.0), core.run_jobs(Queue::Carrier, &|| false)).await;
    }
    assert!(drops > orders / 3, "most requests were cut short ({drops} of {orders}; a whole order took {whole:?})");
    // Leases lapse; the worker takes over until nothing is pending.
    let mut rounds = 0;
    loop {
        app.clock.shift(chrono::Duration::milliseconds(app.config.outbox.lease_ms as i64 + 1_000));
        core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
        let (_, list) = ws.get("./number-orders?limit=99").await;
        let pending = list["results"].as_array().unwrap().iter().filter(|o| o["status"] == "pending").count();
        if pending == 0 {
            break;
        }
        rounds += 1;
        assert!(rounds < 200, "orders still pending: {list}");
    }
    let (_, numbers) = ws.get("./numbers?limit=99").await;
    let mut inventory: Vec<String> =
        numbers["results"].as_array().unwrap().iter().map(|n| n["number"].as_str().unwrap().to_owned()).collect();
    inventory.sort();
    let mut held = fake.state.held_numbers();
    held.sort();
    let mut counts = BTreeMap::new();
    held.iter().for_each(|h| *counts.entry(h.clone()).or_insert(0) += 1);
    assert!(counts.values().all(|c| *c == 1), "no number held twice: {counts:?}");
    assert_eq!(held, inventory, "the carrier holds exactly the numbers numberd knows");
    let (_, list) = ws.get("./number-orders?limit=99").await;
    // The two whole orders are written, and any drilled one whose request got as far.
    let written = list["results"].as_array().unwrap().len();
    assert!(written < orders + 2, "some requests died before their order was written ({written} of {orders} + 2)");
    // Every request that was not cut wrote its order; any other written order was cut after its
    // write (a hanging buy is cut at a whole order's time, well past it), and a job finished it.
    let cut_after_write = written as i64 - 2 - (orders - drops) as i64;
    assert!(cut_after_write > 0, "some orders were written, then cut short ({written} written, {drops} of {orders} cut)");
    let mut items = 0;
    for o in list["results"].as_array().unwrap() {
        for item in o["numbers"].as_array().unwrap() {
            assert_eq!(item["status"], "purchased", "with stock for every number, every item is bought: {o}");
            items += 1;
        }
    }
    assert_eq!(inventory.len(), items);
    // Whether the request or a job (first, retried, or racing the request) completed each
    // purchase, each number and each order was recorded exactly once.
    let events = all_events(&ws, "").await;
    let mut purchased: Vec<&str> =
        events.iter().filter(|e| e["type"] == "number.purchased").map(|e| e["data"]["number"].as_str().unwrap()).collect();
    purchased.sort();
    assert_eq!(purchased, inventory);
    let mut completed: Vec<&str> =
        events.iter().filter(|e| e["type"] == "order.completed").map(|e| e["data"]["id"].as_str().unwrap()).collect();
    completed.sort();
    completed.dedup();
    assert_eq!(completed.len(), written, "one order.completed per order");
    assert_eq!(events.iter().filter(|e| e["type"] == "order.completed").count(), written, "and no order twice");
    fake.assert_faithful();
}

/// Orders the drill cuts short, and where its stock starts: two numbers to time whole orders,
/// then two for each drilled order.
const DRILL_ORDERS: usize = 24;
const DRILL_STOCK_FROM: usize = 98;

fn drill_stock<D: Books>() -> Vec<ForSale> {
    stock::<D>(DRILL_STOCK_FROM, 2 + 2 * DRILL_ORDERS)
}

async fn crash_drill_twilio(b: Backend) {
    crash_drill(b, twilio(drill_stock::<FakeTwilio>()).await).await;
}

async fn crash_drill_telnyx(b: Backend) {
    crash_drill(b, telnyx(drill_stock::<FakeTelnyx>(), 1).await).await;
}

both_backends!(autocalls_search_and_purchase_twilio, autocalls_purchase_settles_later_at_telnyx);

async fn autocalls(app: &TestApp, ws: &Ws, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req =
        reqwest::Client::new().request(method, format!("{}{path}", app.base)).header("authorization", format!("Bearer {}", ws.key));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// The Autocalls search and purchase endpoints, their answers and their error shapes.
async fn autocalls_search_and_purchase_twilio(b: Backend) {
    let fake = twilio(stock::<FakeTwilio>(100, 3)).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    let (status, found) = autocalls(&app, &ws, Method::GET, "/api/user/phone-numbers/search?country_code=US&contains=5550101", None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found,
        json!({"data": [{"phone_number": "+14155550101", "phone_number_formatted": "+1 415-555-0101", "country_code": "US",
            "price": null, "stripe_price_id": null, "address_requirements": null, "sms_capable": false}]})
    );
    for (query, status) in
        [("?country_code=XX", StatusCode::BAD_REQUEST), ("?contains=abc", StatusCode::BAD_REQUEST), ("?area=415", StatusCode::BAD_REQUEST)]
    {
        let (got, body) = autocalls(&app, &ws, Method::GET, &format!("/api/user/phone-numbers/search{query}"), None).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["error"].is_string(), "{query}: {body}");
    }
    let (_, body) = autocalls(&app, &ws, Method::GET, "/api/user/phone-numbers/search?country_code=XX", None).await;
    assert!(body["error"].as_str().unwrap().contains("`country_code`"), "named as Autocalls names it: {body}");
    fake.state.common().inject(Method::GET, "AvailablePhoneNumbers", Fault::ServerError);
    let (status, body) = autocalls(&app, &ws, Method::GET, "/api/user/phone-numbers/search", None).await;
    assert_eq!((status, body["error"].is_string()), (StatusCode::BAD_GATEWAY, true), "{body}");

    let (status, bought) =
        autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({"phone_number": "+14155550100"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!(
        bought,
        json!({"message": "Phone number purchased successfully.", "data": {"id": 1, "phone_number": "+14155550100", "country_code": "US", "type": "normal", "sms_capable": true}})
    );
    let (_, all) = autocalls(&app, &ws, Method::GET, "/api/user/phone-numbers/all", None).await;
    assert_eq!(all["data"][0]["has_active_subscription"], true, "{all}");
    let (status, body) =
        autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({"phone_number": "+14155550100"}))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "This phone number is already in use."})));
    let (status, body) = autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({}))).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, json!({"error": "The phone number field is required."})));
    let (status, body) =
        autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({"phone_number": "+1415"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("The phone number "), "{body}");
    let (status, body) =
        autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({"phone_number": "+14155550199"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not for sale: the carrier refuses: {body}");
    assert!(body["error"].as_str().unwrap().contains("refused"), "{body}");
    let (status, body) = autocalls(&app, &ws, Method::PUT, "/api/user/phone-numbers/purchase", Some(json!({}))).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"error": "Phone number not found."})));
    let (status, body) = app.raw(Method::POST, "/api/user/phone-numbers/purchase", None, Some("{}")).await;
    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, r#"{"message":"Unauthenticated."}"#));
    assert_eq!(buys(&fake), 2, "one purchase, one refusal");
    fake.assert_faithful();
}

/// Telnyx settles later: 202, then the number joins the workspace in the background.
async fn autocalls_purchase_settles_later_at_telnyx(b: Backend) {
    let fake = telnyx(stock::<FakeTelnyx>(100, 1), 2).await;
    let app = app_with(b, &fake).await;
    let ws = app.workspace(false).await;
    let (status, body) =
        autocalls(&app, &ws, Method::POST, "/api/user/phone-numbers/purchase", Some(json!({"phone_number": "+14155550100"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"], json!({"phone_number": "+14155550100", "status": "pending"}));
    let (_, list) = ws.get("./number-orders").await;
    let o = settle(&app, &ws, list["results"][0]["id"].as_str().unwrap()).await;
    assert_eq!(o["status"], "completed", "{o}");
    let (_, all) = autocalls(&app, &ws, Method::GET, "/api/user/phone-numbers/all", None).await;
    assert_eq!(all["data"][0]["phone_number"], "+14155550100", "{all}");
    fake.assert_faithful();
}
