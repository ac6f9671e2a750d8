//! The audit log: every change recorded once, with its actor and request id, in the change's own
//! transaction; `GET /events` filters and pages newest first; retention prunes.

use chrono::{DateTime, Utc};
use numberd::carrier::scripted::{Answer, Op};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{assert_bird_number, bird_number_validator, Backend, TestApp, Ws};

both_backends!(
    every_change_is_recorded_once_with_its_actor,
    a_change_that_rolls_back_records_nothing,
    events_page_newest_first_and_filter,
    events_past_retention_are_pruned,
);

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")).parse().unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Every event matching `query`, following `nextPageToken` to the end.
pub async fn all_events(ws: &Ws, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let page = token.as_ref().map(|t| format!("&pageToken={t}")).unwrap_or_default();
        let (status, body) = ws.get(&format!("./events?limit=99{sep}{query}{page}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.extend(body["results"].as_array().unwrap().iter().cloned());
        match body["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

async fn every_change_is_recorded_once_with_its_actor(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let bird = bird_number_validator();
    // The workspace's first key was made by the command line.
    let created = all_events(&ws, "type=access_key.created").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], json!({ "type": "system", "name": "cli" }));
    let key_id = created[0]["data"]["id"].as_str().unwrap().to_owned();
    let by_key = json!({ "type": "accessKey", "id": key_id });
    let worker = json!({ "type": "system", "name": "worker" });

    let a = ws.register(json!({ "number": "+14155550100", "kind": "dedicated" })).await;
    let a_path = format!("./numbers/{}", id(&a));
    // A request id the client chose is kept on the event.
    let resp = app
        .http
        .patch(format!("{}/workspaces/{}/numbers/{}", app.base, ws.id, id(&a)))
        .header("authorization", format!("AccessKey {}", ws.key))
        .header("x-request-id", "req-events-1")
        .json(&json!({ "nickname": "Sales" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The same nickname again changes nothing and records nothing.
    assert_eq!(ws.patch(&a_path, json!({ "nickname": "Sales" })).await.0, StatusCode::OK);
    assert_eq!(ws.post(&format!("{a_path}/cancel-subscription"), json!({})).await.0, StatusCode::OK);
    assert_eq!(ws.post(&format!("{a_path}/cancel-subscription"), json!({})).await.0, StatusCode::OK, "idempotent");
    let sub = format!("./endpoints/{}/subscriptions/main", id(&a));
    assert_eq!(ws.post(&format!("{sub}/resume"), json!({})).await.0, StatusCode::OK);
    assert_eq!(ws.post(&format!("{sub}/resume"), json!({})).await.0, StatusCode::OK, "idempotent");
    // Two period ends pass: two renewals, by the worker.
    let first_end = ts(&a["currentPeriod"]["endAt"]);
    ws.advance(&(first_end + chrono::Duration::days(40)).to_rfc3339()).await;
    let (_, a_now) = ws.get(&a_path).await;
    assert_eq!(ws.delete(&a_path).await.0, StatusCode::OK);
    ws.advance(&ts(&a_now["currentPeriod"]["endAt"]).to_rfc3339()).await;

    let s = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    assert_eq!(ws.delete(&format!("./numbers/{}", id(&s))).await.0, StatusCode::OK);

    // A dedicated number whose carrier release fails every attempt is parked: one failure event.
    let c = ws.register(json!({ "number": "+14155550102", "kind": "dedicated" })).await;
    app.carrier.script(Op::ReleaseNumber, (0..4).map(|i| Answer::Fail(format!("outage {i}"))));
    assert_eq!(ws.delete(&format!("./numbers/{}", id(&c))).await.0, StatusCode::OK);
    ws.advance(&(ts(&c["currentPeriod"]["endAt"]) + chrono::Duration::days(1)).to_rfc3339()).await;
    for _ in 0..50 {
        if ws.get(&format!("./numbers/{}", id(&c))).await.1["carrierRelease"]["status"] == "failed" {
            break;
        }
        numberd::app::sweep_once(&app.running.core, 100).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Keys made and revoked with the command line.
    let db = &app.running.core.db;
    let ws_id = ws.id.parse().unwrap();
    let key = numberd::store::workspaces::create_key(db, ws_id, Utc::now()).await.unwrap().unwrap();
    assert!(numberd::store::workspaces::revoke_key(db, key.id, Utc::now()).await.unwrap());
    assert!(numberd::store::workspaces::revoke_key(db, key.id, Utc::now()).await.unwrap(), "revoking twice is fine");

    let events = all_events(&ws, "").await;
    let count = |t: &str| of_type(&events, t).len();
    let expected = [
        ("number.registered", 3),
        ("number.updated", 1),
        ("subscription.canceled", 1),
        ("subscription.resumed", 1),
        ("subscription.renewed", 2),
        ("number.release_scheduled", 2),
        ("number.released", 3),
        ("number.carrier_release_confirmed", 1),
        ("number.carrier_release_failed", 1),
        ("access_key.created", 2),
        ("access_key.revoked", 1),
    ];
    for (t, n) in expected {
        assert_eq!(count(t), n, "{t}: {:#?}", of_type(&events, t));
    }
    assert_eq!(events.len(), expected.iter().map(|(_, n)| n).sum::<usize>(), "no other events: {events:#?}");

    for e in &events {
        let t = e["type"].as_str().unwrap();
        assert_eq!(e["workspaceId"], ws.id.as_str());
        let system = matches!(t, "subscription.renewed" | "number.carrier_release_confirmed" | "number.carrier_release_failed")
            || t.starts_with("access_key")
            || (t == "number.released" && e["data"]["kind"] == "dedicated");
        if !system {
            assert_eq!(e["actor"], by_key, "{e:#}");
            assert!(e["requestId"].as_str().is_some_and(|r| !r.is_empty()), "a request's event names it: {e:#}");
        } else if !t.starts_with("access_key") {
            assert_eq!(e["actor"], worker, "{e:#}");
        } else {
            assert_eq!(e["actor"], json!({ "type": "system", "name": "cli" }));
            assert_eq!(e["requestId"], Value::Null);
        }
        if t.starts_with("number.") || t.starts_with("subscription.") {
            assert_bird_number(&bird, &e["data"]);
        }
    }
    let updated = of_type(&events, "number.updated")[0];
    assert_eq!(updated["requestId"], "req-events-1");
    assert_eq!(updated["data"]["nickname"], "Sales", "data is the number after the change");
    // Renewals: one per billed period, each showing its period, at its start.
    let mut renewed: Vec<i64> =
        of_type(&events, "subscription.renewed").iter().map(|e| e["data"]["currentPeriod"]["index"].as_i64().unwrap()).collect();
    renewed.sort();
    assert_eq!(renewed, vec![1, 2]);
    let released_a = of_type(&events, "number.released").into_iter().find(|e| e["data"]["id"] == a["id"]).unwrap();
    assert_eq!(released_a["data"]["status"], "inactive");
    assert_eq!(released_a["data"]["carrierRelease"]["status"], "pending");
    assert_eq!(ts(&released_a["occurredAt"]), ts(&a_now["currentPeriod"]["endAt"]), "at the period end, by the workspace clock");
    let confirmed = of_type(&events, "number.carrier_release_confirmed")[0];
    assert_eq!(confirmed["data"]["carrierRelease"]["status"], "done");
    let failed = of_type(&events, "number.carrier_release_failed")[0];
    assert_eq!(failed["data"]["id"], c["id"]);
    assert_eq!(failed["data"]["carrierRelease"]["status"], "failed");
    let revoked = of_type(&events, "access_key.revoked")[0];
    assert_eq!(revoked["data"]["id"], key.id.to_string());
}

async fn a_change_that_rolls_back_records_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;
    let path = format!("./numbers/{}", id(&caller));
    app.carrier.script(Op::RemoveCallerId, [Answer::Fail("503 from carrier".into())]);
    assert_eq!(ws.delete(&path).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    // Refused changes record nothing either.
    assert_eq!(ws.post(&format!("{path}/cancel-subscription"), json!({})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(ws.patch(&path, json!({ "nickname": "x".repeat(51) })).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ws.post("./numbers", json!({ "number": "+14155550102", "kind": "sip" })).await.0, StatusCode::CONFLICT);
    assert!(all_events(&ws, "type=number.released").await.is_empty());
    assert_eq!(all_events(&ws, &format!("numberId={}", id(&caller))).await.len(), 1, "only its registration");
    assert_eq!(ws.delete(&path).await.0, StatusCode::OK, "a retry works");
    let released = all_events(&ws, "type=number.released").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["data"]["id"], caller["id"]);
}

async fn events_page_newest_first_and_filter(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let other = app.workspace(false).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(id(&ws.register(json!({ "number": format!("+1415555{:04}", 200 + i), "kind": "sip" })).await));
    }
    other.register(json!({ "number": "+14155550200", "kind": "sip" })).await;
    ws.patch(&format!("./numbers/{}", ids[3]), json!({ "nickname": "three" })).await;

    // Pages of 5, newest first, no event twice, nothing of the other workspace.
    let (_, p1) = ws.get("./events?limit=5").await;
    let first = p1["results"].as_array().unwrap();
    assert_eq!(first.len(), 5);
    assert_eq!(first[0]["type"], "number.updated", "newest first");
    let token = p1["nextPageToken"].as_str().unwrap();
    let (_, p2) = ws.get(&format!("./events?limit=5&pageToken={token}")).await;
    let second = p2["results"].as_array().unwrap();
    assert_eq!(second.len(), 5);
    let all = all_events(&ws, "").await;
    assert_eq!(all.len(), 12 + 1 + 1, "12 registrations, 1 update, the first key");
    let listed: Vec<&Value> = first.iter().chain(second).collect();
    assert_eq!(listed.iter().map(|e| &e["id"]).collect::<Vec<_>>(), all[..10].iter().map(|e| &e["id"]).collect::<Vec<_>>());
    let times: Vec<DateTime<Utc>> = all.iter().map(|e| ts(&e["occurredAt"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // Filters: type, number, time range.
    assert_eq!(all_events(&ws, "type=number.registered").await.len(), 12);
    let about = all_events(&ws, &format!("numberId={}", ids[3])).await;
    assert_eq!(about.iter().map(|e| e["type"].as_str().unwrap()).collect::<Vec<_>>(), ["number.updated", "number.registered"]);
    let pivot = ts(&all_events(&ws, &format!("numberId={}&type=number.registered", ids[6])).await[0]["occurredAt"]);
    let q = |s: DateTime<Utc>| s.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let after = all_events(&ws, &format!("type=number.registered&after={}", q(pivot))).await;
    let before = all_events(&ws, &format!("type=number.registered&before={}", q(pivot))).await;
    assert!(after.iter().all(|e| ts(&e["occurredAt"]) > pivot) && before.iter().all(|e| ts(&e["occurredAt"]) < pivot));
    assert_eq!(after.len() + before.len(), 11, "all but the pivot");

    // Bad input: coded 400s.
    for q in ["type=number.exploded", "numberId=nope", "limit=0", "limit=100", "pageToken=garbage", "after=yesterday", "colour=red"] {
        let (status, err) = ws.get(&format!("./events?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {err}");
        assert!(matches!(err["code"].as_str(), Some("invalid_query_parameter" | "invalid_page_token")), "{q}: {err}");
    }
}

async fn events_past_retention_are_pruned(b: Backend) {
    let app = TestApp::spawn_with(b, |c| c.events.retention_days = 30).await;
    let ws = app.workspace(false).await;
    ws.register(json!({ "number": "+14155550300", "kind": "sip" })).await;
    let core = &app.running.core;
    core.work(numberd::jobs::Queue::Webhooks, &|| false).await.unwrap();
    assert_eq!(all_events(&ws, "").await.len(), 2, "young events stay");
    app.clock.shift(chrono::Duration::days(31));
    ws.register(json!({ "number": "+14155550301", "kind": "sip" })).await;
    core.work(numberd::jobs::Queue::Webhooks, &|| false).await.unwrap();
    let left = all_events(&ws, "").await;
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["data"]["number"], "+14155550301");
}
