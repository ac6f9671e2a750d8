//! The carrier features' events, on both backends and both carriers: `number.purchased`,
//! `order.completed` / `order.failed` and `caller_id.verified`, each recorded once in the
//! transaction of its change, by whoever made it (the request's key when it settled the change
//! itself, the worker when a job did), and delivered to a webhook subscribed to them.

use std::collections::BTreeMap;
use std::time::Duration;

use numberd::jobs::Queue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::fake_telnyx::{FakeTelnyx, SMS_CODE};
use super::{app_with, AnyFake, ForSale};
use crate::both_backends;
use crate::common::{TestApp, Ws};
use crate::events::all_events;
use crate::webhooks::{create, deliver, Receiver};

both_backends!(twilio_carrier_events_once_with_their_actor, telnyx_carrier_events_once_with_their_actor);

const TYPES: [&str; 4] = ["number.purchased", "order.completed", "order.failed", "caller_id.verified"];
const OWNER: &str = "+14155550177";
const POLL_MS: u64 = 40;

async fn order(ws: &Ws, numbers: &[&str], key: Option<&str>) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{}/workspaces/{}/number-orders", ws.base(), ws.id))
        .header("authorization", format!("AccessKey {}", ws.key))
        .json(&json!({ "numbers": numbers }));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

/// Runs the carrier queue until the order is no longer pending.
async fn settle(app: &TestApp, ws: &Ws, o: &Value) -> Value {
    let path = format!("./number-orders/{}", o["id"].as_str().unwrap());
    for _ in 0..400 {
        let (_, now) = ws.get(&path).await;
        if now["status"] != "pending" {
            return now;
        }
        app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("order never settled: {o}");
}

/// The carrier events of the workspace, oldest first.
async fn carrier_events(ws: &Ws) -> Vec<Value> {
    let mut events: Vec<Value> = all_events(ws, "").await.into_iter().filter(|e| TYPES.contains(&e["type"].as_str().unwrap())).collect();
    events.reverse();
    events
}

async fn carrier_events_once_with_their_actor(b: crate::common::Backend, kind: &str) {
    let stock = ["+14155550100", "+14155550101", "+14155550102"];
    let fake = match kind {
        "twilio" => AnyFake::spawn(kind, &stock).await,
        // Orders that settle one look after they are placed: in the background.
        _ => AnyFake::Telnyx(FakeTelnyx::spawn(stock.iter().map(|e| ForSale::us(e, "local", true)).collect(), 1).await),
    };
    let app = app_with(b, fake.account(), |c| {
        c.webhooks.allow_private = true;
        c.caller_ids.poll_interval_ms = POLL_MS;
    })
    .await;
    let ws = app.workspace(false).await;
    let (rx, url) = Receiver::spawn().await;
    create(&ws, &url, json!(TYPES)).await;
    let key_id = all_events(&ws, "type=access_key.created").await[0]["data"]["id"].clone();
    let by_key = json!({ "type": "accessKey", "id": key_id });
    let worker = json!({ "type": "system", "name": "worker" });
    // Twilio confirms within the request, which then records the purchase; a Telnyx order
    // settles in its background job.
    let (answers, settler) = if kind == "twilio" { ("completed", &by_key) } else { ("pending", &worker) };

    let first = order(&ws, &["+14155550100", "+14155550101"], Some("first")).await;
    assert_eq!(first["status"], answers, "{first}");
    let first = settle(&app, &ws, &first).await;
    assert_eq!(first["status"], "completed", "{first}");
    // The same order asked again records nothing more.
    assert_eq!(order(&ws, &["+14155550100", "+14155550101"], Some("first")).await["id"], first["id"]);
    // One number already in the workspace, one bought: completed, as `partial`.
    let partial = settle(&app, &ws, &order(&ws, &["+14155550100", "+14155550102"], None).await).await;
    assert_eq!(partial["status"], "partial", "{partial}");
    // Every number already in the workspace: failed at once, in the request.
    let refused = order(&ws, &["+14155550101"], None).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    // Not for sale: the carrier refuses at once, within the request, on either carrier.
    let rejected = settle(&app, &ws, &order(&ws, &["+14155550198"], None).await).await;
    assert_eq!(rejected["status"], "failed", "{rejected}");

    // A caller ID: Twilio's check sees the owner verified (the worker); Telnyx's code is passed
    // in a request (the key). Verifying again and checking again record nothing more.
    let (status, c) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let c_path = format!("./caller-ids/{}", c["id"].as_str().unwrap());
    let verifier = match &fake {
        AnyFake::Twilio(f) => {
            f.state.owner_answers(OWNER);
            &worker
        }
        AnyFake::Telnyx(_) => {
            let (status, v) = ws.post(&format!("{c_path}/verify"), json!({ "code": SMS_CODE })).await;
            assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("verified")), "{v}");
            assert_eq!(ws.post(&format!("{c_path}/verify"), json!({ "code": SMS_CODE })).await.0, StatusCode::OK);
            &by_key
        }
    };
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(POLL_MS + 10)).await;
        app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    }
    let (_, verified) = ws.get(&c_path).await;
    assert_eq!(verified["status"], "verified", "{verified}");

    let events = carrier_events(&ws).await;
    let summary: Vec<(&str, &Value)> = events.iter().map(|e| (e["type"].as_str().unwrap(), &e["actor"])).collect();
    assert_eq!(
        summary,
        vec![
            ("number.purchased", settler),
            ("number.purchased", settler),
            ("order.completed", settler),
            ("number.purchased", settler),
            ("order.completed", settler),
            ("order.failed", &by_key),
            ("order.failed", &by_key),
            ("caller_id.verified", verifier),
        ],
        "each change once, in order, by whoever settled it: {events:#?}"
    );
    // Each event carries the resource as the API shows it (nothing changed since).
    let mut purchased = BTreeMap::new();
    for e in &events {
        let data = &e["data"];
        match e["type"].as_str().unwrap() {
            "number.purchased" | "caller_id.verified" => {
                let (status, n) = ws.get(&format!("./numbers/{}", data["id"].as_str().unwrap())).await;
                assert_eq!((status, &n), (StatusCode::OK, data), "{e}");
                *purchased.entry(n["number"].as_str().unwrap().to_owned()).or_insert(0) += 1;
            }
            _ => {
                let (_, o) = ws.get(&format!("./number-orders/{}", data["id"].as_str().unwrap())).await;
                assert_eq!(&o, data, "{e}");
            }
        }
    }
    let once: BTreeMap<String, i32> = ["+14155550100", "+14155550101", "+14155550102", OWNER].iter().map(|n| (n.to_string(), 1)).collect();
    assert_eq!(purchased, once, "every number once");
    assert_eq!(events[1]["data"]["kind"], "dedicated");
    assert_eq!(events[7]["data"]["kind"], "callerId");
    let order_ids: Vec<&Value> =
        events.iter().filter(|e| e["type"].as_str().unwrap().starts_with("order.")).map(|e| &e["data"]["id"]).collect();
    assert_eq!(order_ids, vec![&first["id"], &partial["id"], &refused["id"], &rejected["id"]]);
    let (_, by_number) =
        ws.get(&format!("./events?type=number.purchased&numberId={}", first["numbers"][0]["numberId"].as_str().unwrap())).await;
    assert_eq!(by_number["results"].as_array().unwrap().len(), 1, "a purchase is filed under its number: {by_number}");

    // The webhook got exactly these events, each once, as recorded.
    for _ in 0..5 {
        deliver(&app).await;
    }
    let mut delivered = rx.bodies();
    let mut expected = events.clone();
    let by_id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    delivered.sort_by_key(by_id);
    expected.sort_by_key(by_id);
    assert_eq!(delivered, expected);
    fake.assert_faithful();
}

async fn twilio_carrier_events_once_with_their_actor(b: crate::common::Backend) {
    carrier_events_once_with_their_actor(b, "twilio").await
}

async fn telnyx_carrier_events_once_with_their_actor(b: crate::common::Backend) {
    carrier_events_once_with_their_actor(b, "telnyx").await
}
