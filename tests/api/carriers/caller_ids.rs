//! Caller IDs through the API on both backends and both carriers: verification at the carrier
//! (Twilio's call answered by the owner, Telnyx's texted code), the `callerId` number it adds to
//! the inventory, its removal at the carrier on release, expiry, wrong codes, and a carrier that
//! fails the removal (the release page's 500, nothing changed, a retry works).

use std::time::Duration;

use numberd::jobs::Queue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::fake_telnyx::SMS_CODE;
use super::fake_twilio::VALIDATION_CODE;
use super::{app_with, AnyFake, Fault};
use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(
    twilio_caller_id_verified_by_call_and_removed_at_release,
    telnyx_caller_id_verified_by_code_and_removed_at_release,
    twilio_verification_expires,
    telnyx_verification_expires,
    twilio_caller_id_removal_failure_changes_nothing,
    telnyx_caller_id_removal_failure_changes_nothing,
    caller_id_requests_are_checked,
);

const OWNER: &str = "+14155550177";
const POLL_MS: u64 = 40;

async fn app(b: Backend, fake: &AnyFake, expiry_ms: u64) -> TestApp {
    app_with(b, fake.account(), |c| {
        c.caller_ids.poll_interval_ms = POLL_MS;
        c.caller_ids.expiry_ms = expiry_ms;
    })
    .await
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

/// Runs the carrier queue after the poll interval, as the worker would.
async fn poll(app: &TestApp) {
    tokio::time::sleep(Duration::from_millis(POLL_MS + 10)).await;
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
}

/// Starts a verification of `OWNER` in `display` notation and checks the 201.
async fn start(ws: &Ws, fake: &AnyFake) -> Value {
    let (status, c) = ws.post("./caller-ids", json!({ "number": "+1 (415) 555-0177", "nickname": "Front desk" })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["number"], OWNER, "{c}");
    assert_eq!(c["status"], "pending", "{c}");
    assert_eq!(c["numberId"], Value::Null, "{c}");
    assert_eq!(c["carrier"], "us", "{c}");
    let expected_code = if fake.kind() == "twilio" { json!(VALIDATION_CODE) } else { Value::Null };
    assert_eq!(c["validationCode"], expected_code, "Twilio's code for the owner to type in; Telnyx texts its own: {c}");
    assert!(c["expiresAt"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap() > chrono::Utc::now(), "{c}");
    c
}

/// Verified: the caller ID is a `callerId` number held at the account; releasing it removes it
/// at the carrier in the request, and the carrier saw that DELETE.
async fn verified_then_released(ws: &Ws, fake: &AnyFake, verified: &Value) {
    assert_eq!(verified["status"], "verified", "{verified}");
    let number_id = verified["numberId"].as_str().expect("the inventory number").to_owned();
    let (_, n) = ws.get(&format!("./numbers/{number_id}")).await;
    assert_eq!((n["kind"].as_str(), n["number"].as_str(), n["status"].as_str()), (Some("callerId"), Some(OWNER), Some("active")), "{n}");
    assert_eq!(n["nickname"], "Front desk", "{n}");
    assert_eq!(n["carrier"]["name"], "us", "{n}");
    assert_eq!(n["carrier"]["kind"], fake.kind(), "{n}");
    let carrier_ref = n["carrier"]["ref"].as_str().unwrap().to_owned();
    if fake.kind() == "twilio" {
        assert!(carrier_ref.starts_with("PN"), "Twilio's caller-ID sid: {n}");
    }
    assert_eq!(fake.caller_ids(), vec![OWNER.to_owned()]);

    let (status, again) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "number_already_exists"), "already live in the workspace: {again}");

    let before = fake.common().seen().len();
    let (status, body) = ws.delete(&format!("./numbers/{number_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Phone number deleted successfully.", "{body}");
    // One request: the DELETE, by the id numberd kept (Twilio's sid) or by number (Telnyx), with
    // no lookup first.
    let deletes = fake.common().seen()[before..].to_vec();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].starts_with("DELETE") && deletes[0].contains(fake.caller_id_resource()), "{deletes:?}");
    if fake.kind() == "twilio" {
        assert!(deletes[0].ends_with(&format!("{carrier_ref}.json")), "removed by its sid: {deletes:?}");
    }
    assert!(fake.caller_ids().is_empty(), "the carrier no longer has the caller ID");
    let (status, _) = ws.get(&format!("./numbers/{number_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fake.assert_faithful();
}

async fn twilio_caller_id_verified_by_call_and_removed_at_release(b: Backend) {
    let fake = AnyFake::spawn("twilio", &[]).await;
    let app = app(b, &fake, 60_000).await;
    let ws = app.workspace(false).await;
    let c = start(&ws, &fake).await;
    let id = c["id"].as_str().unwrap();

    let (status, body) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": VALIDATION_CODE })).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "verification_by_call"), "Twilio calls; no code to pass: {body}");

    poll(&app).await;
    let (_, still) = ws.get(&format!("./caller-ids/{id}")).await;
    assert_eq!(still["status"], "pending", "the owner has not answered yet: {still}");
    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"], json!([]), "nothing in the inventory before verification");

    let AnyFake::Twilio(f) = &fake else { unreachable!() };
    f.state.owner_answers(OWNER);
    poll(&app).await;
    let (_, verified) = ws.get(&format!("./caller-ids/{id}")).await;
    let (_, list) = ws.get("./caller-ids").await;
    assert_eq!(list["results"], json!([verified.clone()]), "{list}");
    verified_then_released(&ws, &fake, &verified).await;
}

async fn telnyx_caller_id_verified_by_code_and_removed_at_release(b: Backend) {
    let fake = AnyFake::spawn("telnyx", &[]).await;
    let app = app(b, &fake, 60_000).await;
    let ws = app.workspace(false).await;
    let c = start(&ws, &fake).await;
    let id = c["id"].as_str().unwrap();

    let (status, body) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": "999999" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_verification_code"), "{body}");
    assert_eq!(body["details"]["field"], "code", "{body}");
    let (status, body) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": "12 34" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{body}");
    poll(&app).await;
    let (_, still) = ws.get(&format!("./caller-ids/{id}")).await;
    assert_eq!(still["status"], "pending", "a wrong code leaves it pending: {still}");
    assert!(fake.caller_ids().is_empty());

    let (status, verified) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": SMS_CODE })).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["status"], "verified", "verified within the request: {verified}");
    let (status, twice) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": SMS_CODE })).await;
    assert_eq!((status, &twice), (StatusCode::OK, &verified), "verifying again answers it as it stands");
    poll(&app).await;
    let (_, after) = ws.get(&format!("./caller-ids/{id}")).await;
    assert_eq!(after, verified, "the background check adds no second number");
    let (_, list) = ws.get("./numbers?kind=callerId").await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1, "{list}");
    verified_then_released(&ws, &fake, &verified).await;
}

/// A verification nobody completes expires at `expiresAt` (shown so at once, recorded by the
/// check); it adds nothing to the inventory, and the number can be verified again.
async fn expires(b: Backend, kind: &str) {
    let fake = AnyFake::spawn(kind, &[]).await;
    let app = app(b, &fake, 300).await;
    let ws = app.workspace(false).await;
    let c = start(&ws, &fake).await;
    let id = c["id"].as_str().unwrap();
    let (status, body) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "verification_already_pending"), "{body}");
    assert_eq!(body["details"]["callerId"], id, "{body}");

    tokio::time::sleep(Duration::from_millis(320)).await;
    let (_, shown) = ws.get(&format!("./caller-ids/{id}")).await;
    assert_eq!(shown["status"], "expired", "{shown}");
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    let jobs = numberd::store::jobs::list(&app.running.core.db, Some(numberd::jobs::JobStatus::Pending)).await.unwrap();
    assert!(jobs.is_empty(), "the check ended with the window: {jobs:?}");
    if let AnyFake::Twilio(f) = &fake {
        // The owner answers too late: numberd no longer looks.
        f.state.owner_answers(OWNER);
    }
    let (status, body) = ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": SMS_CODE })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "verification_not_pending"), "{body}");
    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"], json!([]), "an expired verification adds nothing");
    let (_, after) = ws.get(&format!("./caller-ids/{id}")).await;
    assert_eq!((after["status"].as_str(), &after["numberId"]), (Some("expired"), &Value::Null), "{after}");

    let (status, again) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!(status, StatusCode::CREATED, "a new verification may start: {again}");
    assert_ne!(again["id"], c["id"]);
    fake.assert_faithful();
}

async fn twilio_verification_expires(b: Backend) {
    expires(b, "twilio").await
}

async fn telnyx_verification_expires(b: Backend) {
    expires(b, "telnyx").await
}

/// The carrier fails the removal (an outage, then a hang): the release answers the release
/// page's 500 body — in the Autocalls dialect exactly as the page shows it — and nothing
/// changes, here or at the carrier; the next attempt goes through.
async fn removal_failure_changes_nothing(b: Backend, kind: &str) {
    let fake = AnyFake::spawn(kind, &[]).await;
    let app = app(b, &fake, 60_000).await;
    let ws = app.workspace(false).await;
    let c = start(&ws, &fake).await;
    let id = c["id"].as_str().unwrap();
    let verified = match &fake {
        AnyFake::Twilio(f) => {
            f.state.owner_answers(OWNER);
            poll(&app).await;
            ws.get(&format!("./caller-ids/{id}")).await.1
        }
        AnyFake::Telnyx(_) => ws.post(&format!("./caller-ids/{id}/verify"), json!({ "code": SMS_CODE })).await.1,
    };
    let number_id = verified["numberId"].as_str().expect("verified").to_owned();
    let (_, before) = ws.get(&format!("./numbers/{number_id}")).await;

    fake.common().inject(reqwest::Method::DELETE, fake.caller_id_resource(), Fault::ServerError);
    let (status, body) = ws.delete(&format!("./numbers/{number_id}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(
        body,
        json!({"code": "carrier_release_failed", "message": "Failed to release phone number. Please try again or contact support."})
    );

    fake.common().inject(reqwest::Method::DELETE, fake.caller_id_resource(), Fault::Hang);
    let seq = before["autocallsId"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let (status, body) = ws.delete(&format!("/api/user/phone-numbers/{seq}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body, json!({"error": "Failed to release phone number. Please try again or contact support."}), "the seed's 500 body");
    assert!(started.elapsed() < Duration::from_secs(5), "a hanging carrier costs its deadline, not a hang");

    let (_, after) = ws.get(&format!("./numbers/{number_id}")).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(fake.caller_ids(), vec![OWNER.to_owned()], "the carrier still has it");

    let (status, body) = ws.delete(&format!("/api/user/phone-numbers/{seq}")).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"message": "Phone number deleted successfully."})));
    assert!(fake.caller_ids().is_empty(), "the retry removed it at the carrier");
    let (status, _) = ws.get(&format!("./numbers/{number_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fake.assert_faithful();
}

async fn twilio_caller_id_removal_failure_changes_nothing(b: Backend) {
    removal_failure_changes_nothing(b, "twilio").await
}

async fn telnyx_caller_id_removal_failure_changes_nothing(b: Backend) {
    removal_failure_changes_nothing(b, "telnyx").await
}

/// Bad requests are coded and store nothing; a carrier failure is a 502 within the deadline; a
/// carrier that rejects the credentials while a verification is pending fails it, saying why.
async fn caller_id_requests_are_checked(b: Backend) {
    let fake = AnyFake::spawn("twilio", &[]).await;
    let app = app(b, &fake, 60_000).await;
    let ws = app.workspace(false).await;
    for (body, expected) in [
        (json!({ "number": "hello" }), "invalid_field"),
        (json!({ "number": OWNER, "carrier": "eu" }), "invalid_field"),
        (json!({ "number": OWNER, "nickname": "x".repeat(51) }), "invalid_field"),
        (json!({ "number": OWNER, "extra": 1 }), "unknown_field"),
        (json!({}), "missing_field"),
    ] {
        let (status, got) = ws.post("./caller-ids", body.clone()).await;
        assert_eq!((status, code(&got)), (StatusCode::UNPROCESSABLE_ENTITY, expected), "{body}: {got}");
    }
    let (status, got) = ws.get("./caller-ids/5b8f7c9e-0000-4000-8000-000000000000").await;
    assert_eq!((status, code(&got)), (StatusCode::NOT_FOUND, "caller_id_not_found"), "{got}");
    let (status, got) = ws.get("./caller-ids/nope").await;
    assert_eq!((status, code(&got)), (StatusCode::BAD_REQUEST, "invalid_path_parameter"), "{got}");

    fake.common().inject(reqwest::Method::POST, "OutgoingCallerIds", Fault::ServerError);
    let (status, got) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!((status, code(&got)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "{got}");
    fake.common().inject(reqwest::Method::POST, "OutgoingCallerIds", Fault::Hang);
    let (status, got) = ws.post("./caller-ids", json!({ "number": OWNER })).await;
    assert_eq!((status, code(&got)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "{got}");
    let (_, list) = ws.get("./caller-ids").await;
    assert_eq!(list["results"], json!([]), "refused starts store nothing: {list}");

    // Pages of one.
    for n in ["+14155550178", "+14155550179"] {
        let (status, _) = ws.post("./caller-ids", json!({ "number": n })).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = ws.get("./caller-ids?limit=1").await;
    assert_eq!(first["results"][0]["number"], "+14155550178", "{first}");
    let token = first["nextPageToken"].as_str().expect("a second page");
    let (_, second) = ws.get(&format!("./caller-ids?limit=1&pageToken={token}")).await;
    assert_eq!(second["results"][0]["number"], "+14155550179", "{second}");
    assert!(second.get("nextPageToken").is_none(), "{second}");

    // The account's credentials are revoked while the owner is being called.
    fake.common().inject(reqwest::Method::GET, "OutgoingCallerIds", Fault::Unauthorized);
    fake.common().inject(reqwest::Method::GET, "OutgoingCallerIds", Fault::Unauthorized);
    poll(&app).await;
    let (_, list) = ws.get("./caller-ids").await;
    for c in list["results"].as_array().unwrap() {
        assert_eq!(c["status"], "failed", "{c}");
        assert!(c["failure"].as_str().unwrap().contains("credentials"), "{c}");
    }
    fake.assert_faithful();
}
