//! Subscriptions, billing periods, release by kind, the carrier outbox, the period-end worker and
//! test clocks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use numberd::carrier::scripted::{Answer, Op};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

const RELEASED: &str = "Phone number released successfully. It will be removed at the end of the billing period.";
const DELETED: &str = "Phone number deleted successfully.";
const SCHEDULED: &str = "Phone number is already scheduled for release.";
const NOT_FOUND: &str = "Phone number not found.";
const CARRIER_FAILED: &str = "Failed to release phone number. Please try again or contact support.";

both_backends!(
    cancel_keeps_the_number_until_the_period_ends,
    resume_before_the_end_renews_as_if_never_cancelled,
    periods_follow_month_ends_and_leap_years,
    release_by_kind_with_exact_messages,
    caller_id_release_changes_nothing_when_the_carrier_fails,
    dedicated_carrier_release_is_retried_until_confirmed,
    repeated_carrier_failure_parks_the_release_visibly,
    a_crashed_delivery_is_taken_over_after_its_lease,
    release_detaches_assistants_and_campaigns_and_keeps_calls,
    fifty_concurrent_deletes_give_one_200,
    two_workers_settle_each_due_number_exactly_once,
    a_batch_of_period_ends_keeps_each_numbers_own_state,
    the_live_worker_catches_up_after_downtime,
    endpoint_subscriptions_main,
    test_clock_rules,
);

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")).parse().unwrap()
}

fn id(n: &Value) -> String {
    n["id"].as_str().unwrap().to_owned()
}

async fn dedicated(ws: &Ws, number: &str) -> Value {
    ws.register(json!({ "number": number, "kind": "dedicated",
        "monthlyRecurringPrice": { "amount": 200, "exponent": -2, "currencyCode": "USD" } }))
        .await
}

async fn cancel_keeps_the_number_until_the_period_ends(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = dedicated(&ws, "+14155550100").await;
    let path = format!("./numbers/{}", id(&n));
    let end = ts(&n["currentPeriod"]["endAt"]);

    let (status, c) = ws.post(&format!("{path}/cancel-subscription"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "active");
    assert_eq!(c["subscription"]["status"], "canceling");
    assert_eq!(ts(&c["deactivatesAt"]), end);
    assert_eq!(c["endpointSubscription"]["status"], "canceling");
    assert!(c["subscription"]["cancelledAt"].is_string());
    // Again: 200, same number, nothing moves.
    let (status, again) = ws.post(&format!("{path}/cancel-subscription"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, c);

    // Still fully usable one second before the end.
    ws.advance(&(end - chrono::Duration::seconds(1)).to_rfc3339()).await;
    let (_, before) = ws.get(&path).await;
    assert_eq!(before["status"], "active");
    assert_eq!(before["subscription"]["status"], "canceling");
    assert_eq!(app.carrier.calls().len(), 0);

    let (status, _) = ws.advance(&end.to_rfc3339()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = ws.get(&path).await;
    assert_eq!(status, StatusCode::OK, "a released dedicated number stays as history");
    assert_eq!(gone["status"], "inactive");
    assert_eq!(gone["subscription"]["status"], "canceled");
    assert_eq!(ts(&gone["deactivatedAt"]), end);
    assert_eq!(gone["deactivatesAt"], Value::Null);
    assert_eq!(gone["carrierRelease"]["status"], "done");
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550100"), 1);
    let (_, periods) = ws.get(&format!("{path}/periods")).await;
    assert_eq!(periods["results"].as_array().unwrap().len(), 1, "no period after the last: {periods}");

    for p in [format!("{path}/cancel-subscription"), format!("./endpoints/{}/subscriptions/main/resume", id(&n))] {
        let (status, err) = ws.post(&p, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{p}: {err}");
    }
    let (status, err) = ws.delete(&path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["code"], "number_already_released");
    // Its E.164 number can be registered again.
    let again = dedicated(&ws, "+14155550100").await;
    assert_ne!(id(&again), id(&n));
    // The released one is listed as inactive history.
    let (_, inactive) = ws.get("./numbers?status=inactive").await;
    assert_eq!(inactive["results"][0]["id"], n["id"]);
}

async fn resume_before_the_end_renews_as_if_never_cancelled(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = dedicated(&ws, "+14155550100").await;
    let sub = format!("./endpoints/{}/subscriptions/main", id(&n));
    let end = ts(&n["currentPeriod"]["endAt"]);
    let (status, _) = ws.post(&format!("{sub}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) = ws.post(&format!("{sub}/resume"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "active");
    assert!(r["subscription"].get("canceledAt").is_none());
    // Resuming an active subscription changes nothing.
    let (status, r2) = ws.post(&format!("{sub}/resume"), json!({})).await;
    assert_eq!((status, &r2), (StatusCode::OK, &r));

    ws.advance(&(end + chrono::Duration::days(1)).to_rfc3339()).await;
    let (_, renewed) = ws.get(&format!("./numbers/{}", id(&n))).await;
    assert_eq!(renewed["status"], "active");
    assert_eq!(renewed["subscription"]["status"], "active");
    assert_eq!(renewed["currentPeriod"]["index"], 1);
    assert_eq!(ts(&renewed["currentPeriod"]["startAt"]), end);
    assert_eq!(ts(&renewed["endpointSubscription"]["startAt"]), end);
    assert_eq!(app.carrier.calls().len(), 0);

    // Cancel in period 1 and let it end: resume is then refused.
    ws.post(&format!("{sub}/cancel"), json!({})).await;
    let end1 = ts(&renewed["currentPeriod"]["endAt"]);
    ws.advance(&end1.to_rfc3339()).await;
    let (status, err) = ws.post(&format!("{sub}/resume"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["code"], "subscription_already_ended");
}

async fn periods_follow_month_ends_and_leap_years(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    // The clock starts at the workspace's creation; move it to 31 Jan 2027, 10:00 UTC.
    let (status, _) = ws.advance("2027-01-31T10:00:00Z").await;
    assert_eq!(status, StatusCode::OK);
    let n = dedicated(&ws, "+14155550100").await;
    assert_eq!(n["currentPeriod"]["endAt"], "2027-02-28T10:00:00Z");
    ws.advance("2028-03-15T00:00:00Z").await;
    let (_, periods) = ws.get(&format!("./numbers/{}/periods", id(&n))).await;
    let ends: Vec<&str> = periods["results"].as_array().unwrap().iter().map(|p| p["endAt"].as_str().unwrap()).collect();
    assert_eq!(
        ends,
        [
            "2027-02-28T10:00:00Z",
            "2027-03-31T10:00:00Z",
            "2027-04-30T10:00:00Z",
            "2027-05-31T10:00:00Z",
            "2027-06-30T10:00:00Z",
            "2027-07-31T10:00:00Z",
            "2027-08-31T10:00:00Z",
            "2027-09-30T10:00:00Z",
            "2027-10-31T10:00:00Z",
            "2027-11-30T10:00:00Z",
            "2027-12-31T10:00:00Z",
            "2028-01-31T10:00:00Z",
            "2028-02-29T10:00:00Z",
            "2028-03-31T10:00:00Z",
        ]
    );
    for (i, p) in periods["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["index"], i);
        assert_eq!(p["price"]["amount"], 200);
    }
    let (_, now) = ws.get(&format!("./numbers/{}", id(&n))).await;
    assert_eq!(now["currentPeriod"]["index"], 13);
    assert_eq!(now["currentPeriod"]["startAt"], "2028-02-29T10:00:00Z");
}

async fn release_by_kind_with_exact_messages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let d = dedicated(&ws, "+14155550100").await;
    let sip = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;

    let (status, r) = ws.delete(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["message"], RELEASED);
    assert_eq!(r["number"]["subscription"]["status"], "canceling");
    let (status, r) = ws.delete(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!((r["code"].as_str(), r["message"].as_str()), (Some("release_already_scheduled"), Some(SCHEDULED)));
    let (_, still) = ws.get(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(still["status"], "active", "a scheduled number works until its period ends");

    let (status, r) = ws.delete(&format!("./numbers/{}", id(&sip))).await;
    assert_eq!((status, r["message"].as_str()), (StatusCode::OK, Some(DELETED)));
    assert_eq!(app.carrier.calls().len(), 0, "a SIP number involves no carrier");

    let (status, r) = ws.delete(&format!("./numbers/{}", id(&caller))).await;
    assert_eq!((status, r["message"].as_str()), (StatusCode::OK, Some(DELETED)));
    assert_eq!(app.carrier.successes(Op::RemoveCallerId, "+14155550102"), 1);

    for gone in [&sip, &caller] {
        let (status, err) = ws.get(&format!("./numbers/{}", id(gone))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["message"], NOT_FOUND);
        let (status, _) = ws.delete(&format!("./numbers/{}", id(gone))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, err) = ws.delete("./numbers/5d9c1a52-5f0e-4a43-9c53-0d0b5b1f7a01").await;
    assert_eq!((status, err["message"].as_str()), (StatusCode::NOT_FOUND, Some(NOT_FOUND)));
    // Deleted numbers are not listed; the SIP number's E.164 can come back.
    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    // A SIP number has no subscription to cancel.
    let sip2 = ws.register(json!({ "number": "+14155550103", "kind": "sip" })).await;
    let (status, err) = ws.post(&format!("./numbers/{}/cancel-subscription", id(&sip2)), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["code"], "number_has_no_subscription");
}

async fn caller_id_release_changes_nothing_when_the_carrier_fails(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId", "nickname": "front desk" })).await;
    let assistant = ws.post("./assistants", json!({ "name": "Outbound", "direction": "outbound", "numberId": id(&caller) })).await.1;
    let path = format!("./numbers/{}", id(&caller));
    // A refusal, then a carrier slower than the 500 ms deadline.
    app.carrier.script(Op::RemoveCallerId, [Answer::Fail("503 from carrier".into()), Answer::Delay(std::time::Duration::from_secs(3))]);
    for _ in 0..2 {
        let (status, err) = ws.delete(&path).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err["message"], CARRIER_FAILED);
        assert_eq!(err["code"], "carrier_release_failed");
        let (status, n) = ws.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(n, caller, "nothing changed");
        let (_, a) = ws.get(&format!("./assistants/{}", assistant["id"].as_str().unwrap())).await;
        assert_eq!(a["numberId"], caller["id"], "still attached");
    }
    let (status, r) = ws.delete(&path).await;
    assert_eq!((status, r["message"].as_str()), (StatusCode::OK, Some(DELETED)), "a retry works");
    assert_eq!(ws.get(&path).await.0, StatusCode::NOT_FOUND);
    // A carrier that no longer knows the number counts as removed.
    let other = ws.register(json!({ "number": "+14155550103", "kind": "callerId" })).await;
    app.carrier.script(Op::RemoveCallerId, [Answer::NotFound]);
    assert_eq!(ws.delete(&format!("./numbers/{}", id(&other))).await.0, StatusCode::OK);
}

async fn carrier_release_of(ws: &Ws, n: &Value) -> Value {
    let (_, got) = ws.get(&format!("./numbers/{}", id(n))).await;
    got["carrierRelease"].clone()
}

/// Runs worker passes (backoff is milliseconds in tests) until the number's carrier release
/// reaches `status`, and returns it.
async fn release_reaching(app: &TestApp, ws: &Ws, n: &Value, status: &str) -> Value {
    for _ in 0..50 {
        let release = carrier_release_of(ws, n).await;
        if release["status"] == status {
            return release;
        }
        numberd::app::sweep_once(&app.running.core, 100).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    carrier_release_of(ws, n).await
}

async fn dedicated_carrier_release_is_retried_until_confirmed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = dedicated(&ws, "+14155550100").await;
    app.carrier.script(Op::ReleaseNumber, [Answer::Fail("timeout".into()), Answer::Fail("busy".into())]);
    ws.delete(&format!("./numbers/{}", id(&n))).await;
    ws.advance(&ts(&n["currentPeriod"]["endAt"]).to_rfc3339()).await;
    // Backoff in tests is a few milliseconds: the worker pass after it delivers.
    let release = release_reaching(&app, &ws, &n, "done").await;
    assert_eq!(release["status"], "done", "{release}");
    assert_eq!(release["attempts"], 3);
    assert_eq!(release["lastError"], "carrier request failed: busy");
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550100"), 1);
    assert_eq!(app.carrier.calls().len(), 3);
}

async fn repeated_carrier_failure_parks_the_release_visibly(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = dedicated(&ws, "+14155550100").await;
    // Exactly as many failures as attempts allowed: the operator's retry meets a healthy carrier.
    app.carrier.script(Op::ReleaseNumber, (0..4).map(|i| Answer::Fail(format!("outage {i}"))));
    ws.delete(&format!("./numbers/{}", id(&n))).await;
    ws.advance(&ts(&n["currentPeriod"]["endAt"]).to_rfc3339()).await;
    let release = release_reaching(&app, &ws, &n, "failed").await;
    assert_eq!(release["status"], "failed", "{release}");
    assert_eq!(release["attempts"], 4, "max_attempts in tests");
    assert_eq!(release["lastError"], "carrier request failed: outage 3");
    // Parked means kept, not retried by itself.
    numberd::app::sweep_once(&app.running.core, 100).await.unwrap();
    assert_eq!(app.carrier.calls().len(), 4);
    // An operator re-queues it (`numberd jobs retry`) once the carrier is back.
    let core = &app.running.core;
    let failed = numberd::store::jobs::list(&core.db, Some(numberd::jobs::JobStatus::Failed)).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(numberd::store::jobs::requeue(&core.db, failed[0].id, Utc::now()).await.unwrap());
    numberd::app::sweep_once(core, 100).await.unwrap();
    assert_eq!(carrier_release_of(&ws, &n).await["status"], "done");
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550100"), 1);
}

async fn a_crashed_delivery_is_taken_over_after_its_lease(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let n = dedicated(&ws, "+14155550100").await;
    ws.delete(&format!("./numbers/{}", id(&n))).await;
    // Settle the period end without delivering, then claim the job as a worker that dies.
    let core = &app.running.core;
    numberd::store::workspaces::advance_clock(
        &mut core.db.pool.acquire().await.unwrap(),
        ws.id.parse().unwrap(),
        ts(&n["currentPeriod"]["endAt"]),
    )
    .await
    .unwrap()
    .expect("clock moved");
    assert_eq!(core.sweep(None, 100).await.unwrap(), 1);
    let lease = chrono::Duration::milliseconds(app.config.outbox.lease_ms as i64);
    let now = core.clock.now();
    let claimed = numberd::store::jobs::claim_batch(&core.db, numberd::jobs::Queue::Carrier, now, now + lease, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.attempts).collect::<Vec<_>>(), [1], "the one due job");
    // While the lease holds, nobody else delivers it.
    assert_eq!(core.run_jobs(numberd::jobs::Queue::Carrier, &|| false).await.unwrap(), 0);
    assert_eq!(carrier_release_of(&ws, &n).await["status"], "pending");
    // After it lapses, the next pass does.
    app.clock.shift(lease + chrono::Duration::seconds(1));
    assert_eq!(core.run_jobs(numberd::jobs::Queue::Carrier, &|| false).await.unwrap(), 1);
    let release = carrier_release_of(&ws, &n).await;
    assert_eq!(release["status"], "done");
    assert_eq!(release["attempts"], 2);
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550100"), 1);
}

async fn release_detaches_assistants_and_campaigns_and_keeps_calls(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let d = dedicated(&ws, "+14155550100").await;
    let sip = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;
    let a_sip = ws.post("./assistants", json!({ "name": "SIP desk", "numberId": id(&sip) })).await.1;
    let a_ded = ws.post("./assistants", json!({ "name": "Sales", "numberId": id(&d) })).await.1;
    let (status, campaign) = ws.post("./campaigns", json!({ "name": "Spring", "numberIds": [id(&caller), id(&sip), id(&d)] })).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let (status, call) = ws
        .post(
            "./calls",
            json!({ "direction": "inbound", "from": "+12125550123", "to": "+14155550101",
            "numberId": id(&sip), "assistantId": a_sip["id"], "status": "completed", "durationSeconds": 42 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let assistant = |a: &Value| format!("./assistants/{}", a["id"].as_str().unwrap());
    let camp = format!("./campaigns/{}", campaign["id"].as_str().unwrap());

    // SIP leaves at once: its assistant loses it, the rotation closes ranks, the call stays.
    assert_eq!(ws.delete(&format!("./numbers/{}", id(&sip))).await.0, StatusCode::OK);
    assert_eq!(ws.get(&assistant(&a_sip)).await.1["numberId"], Value::Null);
    assert_eq!(ws.get(&camp).await.1["numberIds"], json!([id(&caller), id(&d)]));
    let (_, calls) = ws.get("./calls?phoneNumber=%2B14155550101").await;
    assert_eq!(calls["results"][0]["id"], call["id"]);
    assert_eq!(calls["results"][0]["numberId"], sip["id"]);
    assert_eq!(calls["results"][0]["number"], "+14155550101");
    assert_eq!(calls["results"][0]["durationSeconds"], 42);

    // A scheduled dedicated number keeps everything until it actually goes.
    ws.delete(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(ws.get(&assistant(&a_ded)).await.1["numberId"], d["id"]);
    assert_eq!(ws.get(&camp).await.1["numberIds"], json!([id(&caller), id(&d)]));
    ws.advance(&ts(&d["currentPeriod"]["endAt"]).to_rfc3339()).await;
    assert_eq!(ws.get(&assistant(&a_ded)).await.1["numberId"], Value::Null);
    assert_eq!(ws.get(&camp).await.1["numberIds"], json!([id(&caller)]));
    // A released number cannot be attached again.
    let (status, err) = ws.patch(&assistant(&a_ded), json!({ "numberId": id(&d) })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // Caller IDs cannot answer calls.
    let (status, err) = ws.post("./assistants", json!({ "name": "Inbound", "numberId": id(&caller) })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, all_calls) = ws.get("./calls").await;
    assert_eq!(all_calls["results"].as_array().unwrap().len(), 1);
}

async fn fifty_concurrent_deletes_give_one_200(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let n = dedicated(&ws, "+14155550100").await;
    let path = format!("./numbers/{}", id(&n));
    let results = futures::future::join_all((0..50).map(|_| {
        let ws = ws.clone();
        let path = path.clone();
        async move { ws.delete(&path).await }
    }))
    .await;
    let mut by_status: HashMap<u16, Vec<Value>> = HashMap::new();
    for (status, body) in results {
        by_status.entry(status.as_u16()).or_default().push(body);
    }
    assert_eq!(by_status.keys().copied().collect::<std::collections::BTreeSet<_>>(), [200, 400].into(), "{by_status:?}");
    assert_eq!(by_status[&200].len(), 1);
    assert_eq!(by_status[&400].len(), 49);
    assert!(by_status[&400].iter().all(|e| e["message"] == SCHEDULED));
}

async fn two_workers_settle_each_due_number_exactly_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let node2 = app.another_node().await;
    let ws = app.workspace(true).await;
    let mut canceled = Vec::new();
    let mut renewed = Vec::new();
    for i in 0..40 {
        let n = dedicated(&ws, &format!("+1415555{:04}", 1000 + i)).await;
        if i % 2 == 0 {
            ws.delete(&format!("./numbers/{}", id(&n))).await;
            canceled.push(n);
        } else {
            renewed.push(n);
        }
    }
    // Move the clock without the API (which would settle at once), so the workers race.
    let core = &app.running.core;
    let ws_id = ws.id.parse().unwrap();
    let to = ts(&canceled[0]["currentPeriod"]["endAt"]) + chrono::Duration::hours(1);
    numberd::store::workspaces::advance_clock(&mut core.db.pool.acquire().await.unwrap(), ws_id, to).await.unwrap().unwrap();
    let workers = [core.clone(), core.clone(), node2.running.core.clone(), node2.running.core.clone()];
    let passes = futures::future::join_all(workers.iter().map(|c| async move { numberd::app::sweep_once(c, 7).await })).await;
    let settled: usize = passes.into_iter().map(|p| p.expect("a worker pass failed").0).sum();
    assert_eq!(settled, 40, "each due number settled exactly once across workers");
    for n in &canceled {
        let (_, got) = ws.get(&format!("./numbers/{}", id(n))).await;
        assert_eq!(got["status"], "inactive");
        assert_eq!(app.carrier.successes(Op::ReleaseNumber, got["number"].as_str().unwrap()), 1, "{}", got["number"]);
    }
    for n in &renewed {
        let (_, periods) = ws.get(&format!("./numbers/{}/periods", id(n))).await;
        assert_eq!(periods["results"].as_array().unwrap().len(), 2, "renewed once: {periods}");
    }
    assert_eq!(app.carrier.calls().len(), 20);
    // A later pass finds nothing to do.
    assert_eq!(numberd::app::sweep_once(core, 100).await.unwrap(), (0, 0));
}

/// The sweep settles numbers in batches, a few statements per batch: each number must still get
/// its own price, period, release, detachment, carrier job and event.
async fn a_batch_of_period_ends_keeps_each_numbers_own_state(b: Backend) {
    let app = TestApp::spawn_with(b, |c| c.worker.batch = 3).await;
    let ws = app.workspace(true).await;
    let mut numbers = Vec::new();
    for i in 0..8 {
        let price = json!({ "amount": 100 + i, "exponent": -2, "currencyCode": "USD" });
        numbers.push(
            ws.register(json!({ "number": format!("+1415555{:04}", 2000 + i), "kind": "dedicated", "monthlyRecurringPrice": price })).await,
        );
    }
    let (canceled, renewed): (Vec<&Value>, Vec<&Value>) =
        numbers.iter().partition(|n| n["number"].as_str().unwrap().ends_with(['0', '2', '4', '6']));
    let mut assistants = Vec::new();
    for n in &canceled {
        assert_eq!(ws.delete(&format!("./numbers/{}", id(n))).await.0, StatusCode::OK);
        assistants.push(ws.post("./assistants", json!({ "name": n["number"], "numberId": id(n) })).await.1);
    }
    let all: Vec<String> = numbers.iter().map(id).collect();
    let (status, campaign) = ws.post("./campaigns", json!({ "name": "All", "numberIds": all })).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    // A second campaign shared by every batch: on PostgreSQL batches settle at once, and each
    // detaches its numbers from both.
    let reversed: Vec<&String> = all.iter().rev().collect();
    let (status, second) = ws.post("./campaigns", json!({ "name": "Reversed", "numberIds": reversed })).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    let end = numbers.iter().map(|n| ts(&n["currentPeriod"]["endAt"])).max().unwrap();
    assert_eq!(ws.advance(&end.to_rfc3339()).await.0, StatusCode::OK);

    for (n, a) in canceled.iter().zip(&assistants) {
        let (_, got) = ws.get(&format!("./numbers/{}", id(n))).await;
        assert_eq!((got["number"].as_str(), got["status"].as_str()), (n["number"].as_str(), Some("inactive")), "{got}");
        assert_eq!(got["deactivatedAt"], n["currentPeriod"]["endAt"], "released at its own period end");
        assert_eq!(got["carrierRelease"]["status"], "done", "{got}");
        assert_eq!(app.carrier.successes(Op::ReleaseNumber, n["number"].as_str().unwrap()), 1);
        assert_eq!(ws.get(&format!("./assistants/{}", a["id"].as_str().unwrap())).await.1["numberId"], Value::Null);
    }
    for n in &renewed {
        let (_, got) = ws.get(&format!("./numbers/{}", id(n))).await;
        assert_eq!((got["status"].as_str(), got["currentPeriod"]["index"].as_i64()), (Some("active"), Some(1)), "{got}");
        let (_, periods) = ws.get(&format!("./numbers/{}/periods", id(n))).await;
        let periods = periods["results"].as_array().unwrap().clone();
        assert_eq!(periods.len(), 2, "{periods:?}");
        assert_eq!(periods[1]["price"], n["monthlyRecurringPrice"], "billed at its own price");
        assert_eq!(periods[1]["startAt"], n["currentPeriod"]["endAt"]);
    }
    let (_, campaign) = ws.get(&format!("./campaigns/{}", campaign["id"].as_str().unwrap())).await;
    let left: Vec<String> = renewed.iter().map(|n| id(n)).collect();
    assert_eq!(campaign["numberIds"], json!(left), "only the released numbers left the rotation");
    let (_, second) = ws.get(&format!("./campaigns/{}", second["id"].as_str().unwrap())).await;
    let left: Vec<String> = renewed.iter().rev().map(|n| id(n)).collect();
    assert_eq!(second["numberIds"], json!(left), "and every other rotation");

    let (_, events) = ws.get("./events?limit=99").await;
    let events = events["results"].as_array().unwrap();
    let of = |t: &str| -> Vec<&Value> { events.iter().filter(|e| e["type"] == t).collect() };
    let (released, renewals) = (of("number.released"), of("subscription.renewed"));
    assert_eq!((released.len(), renewals.len()), (4, 4));
    for e in released.iter().chain(&renewals) {
        let n = numbers.iter().find(|n| n["id"] == e["data"]["id"]).expect("an event names its number");
        assert_eq!(e["data"]["number"], n["number"], "each event shows its own number: {e:#}");
        assert_eq!(e["data"]["monthlyRecurringPrice"], n["monthlyRecurringPrice"]);
    }
    for e in &released {
        assert_eq!(e["data"]["status"], "inactive");
        assert_eq!(e["data"]["carrierRelease"]["status"], "pending", "the release queued with it: {e:#}");
    }
    assert!(renewals.iter().all(|e| e["data"]["currentPeriod"]["index"] == 1 && e["data"]["status"] == "active"));
}

async fn the_live_worker_catches_up_after_downtime(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.worker.enabled = true;
        c.worker.interval_ms = 20;
    })
    .await;
    let ws = app.workspace(false).await;
    let n = dedicated(&ws, "+14155550100").await;
    let gone = dedicated(&ws, "+14155550101").await;
    ws.delete(&format!("./numbers/{}", id(&gone))).await;
    // Three months pass while nobody looks.
    app.clock.shift(chrono::Duration::days(92));
    let periods_path = format!("./numbers/{}/periods", id(&n));
    let mut count = 0;
    for _ in 0..200 {
        let (_, periods) = ws.get(&periods_path).await;
        count = periods["results"].as_array().unwrap().len();
        if count == 4 && app.carrier.successes(Op::ReleaseNumber, "+14155550101") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count, 4, "period 0 plus one renewal per month missed");
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550101"), 1);
    let (_, released) = ws.get(&format!("./numbers/{}", id(&gone))).await;
    assert_eq!(released["status"], "inactive");
    assert_eq!(released["deactivatedAt"], gone["currentPeriod"]["endAt"], "released at its period end, not when noticed");
}

async fn endpoint_subscriptions_main(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let d = dedicated(&ws, "+14155550100").await;
    let sip = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let (status, list) = ws.get(&format!("./endpoints/{}/subscriptions", id(&d))).await;
    assert_eq!(status, StatusCode::OK);
    let subs = list["results"].as_array().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["name"], "main");
    assert_eq!(subs[0]["status"], "active");
    assert_eq!(subs[0]["price"], json!({ "amount": 200, "exponent": -2, "currencyCode": "USD" }));
    assert_eq!(subs[0]["subscription"]["correlationId"], d["id"]);
    assert_eq!(subs[0]["subscription"]["endAt"], d["currentPeriod"]["endAt"]);
    let (status, main) = ws.get(&format!("./endpoints/{}/subscriptions/main", id(&d))).await;
    assert_eq!((status, &main), (StatusCode::OK, &subs[0]));
    let (status, c) = ws.post(&format!("./endpoints/{}/subscriptions/main/cancel", id(&d)), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["status"], "canceling");
    // Cancel through the endpoint API is the number's cancel-subscription.
    let (_, number) = ws.get(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(number["subscription"]["status"], "canceling");
    let (_, err) = ws.delete(&format!("./numbers/{}", id(&d))).await;
    assert_eq!(err["message"], SCHEDULED);

    for path in [
        format!("./endpoints/{}/subscriptions/other", id(&d)),
        format!("./endpoints/{}/subscriptions/main", id(&sip)),
        "./endpoints/5d9c1a52-5f0e-4a43-9c53-0d0b5b1f7a01/subscriptions/main".to_string(),
    ] {
        let (status, err) = ws.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {err}");
    }
    let (status, err) = ws.post(&format!("./endpoints/{}/subscriptions/main/cancel", id(&sip)), json!({})).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("subscription_not_found")));
    let (_, none) = ws.get(&format!("./endpoints/{}/subscriptions", id(&sip))).await;
    assert_eq!(none["results"], json!([]));
}

async fn test_clock_rules(b: Backend) {
    let app = TestApp::spawn(b).await;
    let live = app.workspace(false).await;
    let (status, err) = live.advance("2030-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["code"], "workspace_not_in_test_mode");
    let (_, clock) = live.get("./test-clock").await;
    assert_eq!(clock["testMode"], false);

    let test = app.workspace(true).await;
    let start = test.clock().await;
    let (status, moved) = test.advance("2030-01-01T00:00:00+02:00").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved["now"], "2029-12-31T22:00:00Z");
    assert!(test.clock().await > start);
    let (status, err) = test.advance("2029-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["code"], "test_clock_cannot_go_back");
    for bad in [json!({ "to": "next tuesday" }), json!({}), json!({ "to": 5 })] {
        let (status, _) = test.post("./test-clock/advance", bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(test.clock().await.to_rfc3339(), "2029-12-31T22:00:00+00:00");
    // Numbers registered now start their period at the test clock's time.
    let n = dedicated(&test, "+14155550100").await;
    assert_eq!(n["createdAt"], "2029-12-31T22:00:00Z");
    assert_eq!(n["currentPeriod"]["endAt"], "2030-01-31T22:00:00Z");
}
