//! Releasing dedicated numbers at the carrier account that holds them, on both backends and both
//! carriers: a deletion lock and revoked credentials park the release with the reason (and an
//! operator's retry completes it), a storm of 429s longer than `outbox.max_attempts` is waited
//! out honouring the carrier's delay, and a bulk period end keeps each account under its
//! request limit while lists show every release as `GET` does.

use std::time::Duration;

use numberd::config::CarrierAccountConfig;
use numberd::jobs::{JobStatus, Queue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{already_held, app_with, AnyFake, Fault};
use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(
    telnyx_deletion_lock_parks_the_release,
    twilio_rejected_credentials_park_the_release,
    telnyx_rejected_credentials_park_the_release,
    twilio_rate_limit_storm_is_waited_out,
    telnyx_rate_limit_storm_is_waited_out,
    twilio_bulk_period_end_stays_under_the_account_limit,
    telnyx_bulk_period_end_stays_under_the_account_limit,
);

const BULK: [&str; 10] = [
    "+14155550110",
    "+14155550111",
    "+14155550112",
    "+14155550113",
    "+14155550114",
    "+14155550115",
    "+14155550116",
    "+14155550117",
    "+14155550118",
    "+14155550119",
];

/// Adopts `e164` (already held at the account) and cancels it; returns its id and period end.
async fn adopted_and_canceled(app: &TestApp, ws: &Ws, e164: &str) -> (String, String) {
    already_held(app, e164).await;
    let n = ws.register(json!({ "number": e164, "carrier": "us" })).await;
    let id = n["id"].as_str().unwrap().to_owned();
    let (status, _) = ws.post(&format!("./numbers/{id}/cancel-subscription"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    (id, n["currentPeriod"]["endAt"].as_str().unwrap().to_owned())
}

fn deletes(fake: &AnyFake) -> usize {
    fake.common().seen().iter().filter(|r| r.starts_with("DELETE")).count()
}

async fn number(ws: &Ws, id: &str) -> Value {
    let (status, n) = ws.get(&format!("./numbers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{n}");
    n
}

/// Runs the carrier queue once the backoff (300 ms in these tests) has passed.
async fn after_backoff(app: &TestApp) {
    tokio::time::sleep(Duration::from_millis(350)).await;
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
}

/// Telnyx refuses to delete a deletion-locked number: the release is parked as failed at once,
/// with that reason, and never retried by itself.
async fn telnyx_deletion_lock_parks_the_release(b: Backend) {
    let fake = AnyFake::spawn("telnyx", &BULK[..1]).await;
    let app = app_with(b, fake.account(), |_| {}).await;
    let ws = app.workspace(true).await;
    let (id, end) = adopted_and_canceled(&app, &ws, BULK[0]).await;
    let AnyFake::Telnyx(f) = &fake else { unreachable!() };
    f.state.lock(BULK[0]);

    assert_eq!(ws.advance(&end).await.0, StatusCode::OK);
    let n = number(&ws, &id).await;
    assert_eq!(n["status"], "inactive", "released here whatever the carrier says: {n}");
    assert_eq!(n["carrierRelease"]["status"], "failed", "{n}");
    assert_eq!(n["carrierRelease"]["attempts"], 1, "parked at once: {n}");
    assert!(n["carrierRelease"]["lastError"].as_str().unwrap().contains("locked against deletion"), "{n}");
    assert_eq!(n["endpoint"]["provisioningStatus"], "deprovisioning", "{n}");
    let tried = deletes(&fake);
    after_backoff(&app).await;
    assert_eq!(deletes(&fake), tried, "a parked release is not retried");
    assert_eq!(fake.held(), vec![BULK[0].to_owned()], "still held, and visible as failed");
    fake.assert_faithful();
}

/// Revoked credentials park the release at once with the reason; once they are fixed, an
/// operator's retry (`numberd jobs retry`) completes it.
async fn rejected_credentials_park_the_release(b: Backend, kind: &str) {
    let fake = AnyFake::spawn(kind, &BULK[..1]).await;
    let app = app_with(b, fake.account(), |_| {}).await;
    let ws = app.workspace(true).await;
    let (id, end) = adopted_and_canceled(&app, &ws, BULK[0]).await;
    fake.common().inject(reqwest::Method::DELETE, "", Fault::Unauthorized);

    assert_eq!(ws.advance(&end).await.0, StatusCode::OK);
    let n = number(&ws, &id).await;
    assert_eq!((n["carrierRelease"]["status"].as_str(), n["carrierRelease"]["attempts"].as_i64()), (Some("failed"), Some(1)), "{n}");
    assert!(n["carrierRelease"]["lastError"].as_str().unwrap().contains("rejected the account credentials"), "{n}");
    assert_eq!(fake.held(), vec![BULK[0].to_owned()]);

    let db = &app.running.core.db;
    let parked = numberd::store::jobs::list(db, Some(JobStatus::Failed)).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(numberd::store::jobs::requeue(db, parked[0].id, chrono::Utc::now()).await.unwrap());
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    let n = number(&ws, &id).await;
    assert_eq!(n["carrierRelease"]["status"], "done", "{n}");
    assert_eq!(n["endpoint"]["provisioningStatus"], "deprovisioned", "{n}");
    assert!(fake.held().is_empty());
    fake.assert_faithful();
}

async fn twilio_rejected_credentials_park_the_release(b: Backend) {
    rejected_credentials_park_the_release(b, "twilio").await
}

async fn telnyx_rejected_credentials_park_the_release(b: Backend) {
    rejected_credentials_park_the_release(b, "telnyx").await
}

/// Six 429s in a row (the tests allow 4 attempts): the first asks for a second's pause, which is
/// kept; none of them counts as an attempt, so the release completes instead of being parked.
async fn rate_limit_storm_is_waited_out(b: Backend, kind: &str) {
    let fake = AnyFake::spawn(kind, &BULK[..1]).await;
    let app = app_with(b, fake.account(), |_| {}).await;
    assert_eq!(app.config.outbox.max_attempts, 4);
    let ws = app.workspace(true).await;
    let (id, end) = adopted_and_canceled(&app, &ws, BULK[0]).await;
    fake.common().inject(reqwest::Method::DELETE, "", Fault::RateLimited(1));
    for _ in 0..5 {
        fake.common().inject(reqwest::Method::DELETE, "", Fault::RateLimited(0));
    }

    assert_eq!(ws.advance(&end).await.0, StatusCode::OK);
    let n = number(&ws, &id).await;
    assert_eq!(n["carrierRelease"]["status"], "pending", "{n}");
    let next: chrono::DateTime<chrono::Utc> = n["carrierRelease"]["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    let at: chrono::DateTime<chrono::Utc> = n["carrierRelease"]["updatedAt"].as_str().unwrap().parse().unwrap();
    assert!(next - at >= chrono::Duration::milliseconds(990), "the carrier's delay is kept: {n}");
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    assert_eq!(deletes(&fake), 1, "nothing is sent before the carrier's delay is over");

    tokio::time::sleep(Duration::from_millis(1_050)).await;
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    let n = number(&ws, &id).await;
    assert_eq!(n["carrierRelease"]["status"], "done", "{n}");
    assert_eq!(deletes(&fake), 7, "six refusals, then the release");
    assert!(fake.held().is_empty());
    fake.assert_faithful();
}

async fn twilio_rate_limit_storm_is_waited_out(b: Backend) {
    rate_limit_storm_is_waited_out(b, "twilio").await
}

async fn telnyx_rate_limit_storm_is_waited_out(b: Backend) {
    rate_limit_storm_is_waited_out(b, "telnyx").await
}

/// Ten numbers whose periods end at once: the carrier jobs run side by side, yet no more than
/// the account's `max_concurrent_requests` (2) reach the carrier at a time; a number the carrier
/// no longer holds (404) counts as released; the list shows every number as `GET` does.
async fn bulk_period_end(b: Backend, kind: &str) {
    let fake = AnyFake::spawn(kind, &BULK).await;
    let mut account = fake.account();
    match &mut account {
        CarrierAccountConfig::Twilio { max_concurrent_requests, .. } | CarrierAccountConfig::Telnyx { max_concurrent_requests, .. } => {
            *max_concurrent_requests = 2
        }
    }
    let app = app_with(b, account, |c| c.worker.carrier_concurrency = 8).await;
    let ws = app.workspace(true).await;
    let mut ids = Vec::new();
    let mut end = String::new();
    for e164 in BULK {
        let (id, e) = adopted_and_canceled(&app, &ws, e164).await;
        ids.push(id);
        end = e;
    }
    // Someone released the last one at the carrier directly: its release will meet a 404.
    let gone = number(&ws, &ids[9]).await;
    let (_, account) = app.running.core.account(Some("us")).unwrap();
    account.release(gone["carrier"]["ref"].as_str().unwrap()).await.unwrap();
    fake.common().set_latency(Duration::from_millis(40));

    let started = std::time::Instant::now();
    assert_eq!(ws.advance(&end).await.0, StatusCode::OK);
    let took = started.elapsed();
    assert!(fake.held().is_empty(), "every number is back at the carrier");
    assert_eq!(fake.common().max_in_flight(), 2, "the limit was reached and never passed");
    assert!(took < Duration::from_millis(10 * 40), "the releases ran side by side ({took:?})");

    let (_, list) = ws.get("./numbers?limit=20").await;
    let results = list["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    for listed in results {
        assert_eq!(listed["endpoint"]["provisioningStatus"], "deprovisioned", "{listed}");
        assert_eq!(listed["carrierRelease"]["status"], "done", "{listed}");
        assert_eq!(*listed, number(&ws, listed["id"].as_str().unwrap()).await, "a list shows a number as GET does");
    }
    fake.assert_faithful();
}

async fn twilio_bulk_period_end_stays_under_the_account_limit(b: Backend) {
    bulk_period_end(b, "twilio").await
}

async fn telnyx_bulk_period_end_stays_under_the_account_limit(b: Backend) {
    bulk_period_end(b, "telnyx").await
}
