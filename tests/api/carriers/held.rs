//! Numbers held at a carrier account, through the API on both backends: adopting a number the
//! account holds, its carrier identity on the `Number`, and its release at that account when the
//! paid period ends — on Twilio and on Telnyx, every exchange checked against their documents.

use numberd::jobs::Queue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::fake_telnyx::FakeTelnyx;
use super::fake_twilio::FakeTwilio;
use super::{already_held, app_with, telnyx_account, twilio_account, Common, Dialect, FakeServer, Fault, ForSale};
use crate::both_backends;
use crate::common::{assert_bird_number, bird_number_validator, Backend, TestApp, Ws};

both_backends!(adopted_twilio_number_is_released_at_twilio, adopted_telnyx_number_is_released_at_telnyx, adopting_checks_the_carrier);

const HELD: &str = "+14155550100";
const ELSEWHERE: &str = "+14155550142";

/// Adopts the held number, lets its paid period end after a cancel, and runs the carrier queue:
/// the carrier must have seen the release and no longer hold the number.
async fn adopt_cancel_and_release<D: Dialect>(app: &TestApp, fake: &FakeServer<D>, held: impl Fn() -> Vec<String>, kind: &str) {
    let common: &Common = fake.state.common();
    let ws = app.workspace(true).await;
    already_held(app, HELD).await;
    assert_eq!(held(), vec![HELD.to_owned()]);

    let n = ws.register(json!({ "number": HELD, "kind": "dedicated", "carrier": "us" })).await;
    assert_eq!(n["carrier"]["name"], "us", "{n}");
    assert_eq!(n["carrier"]["kind"], kind, "{n}");
    let carrier_ref = n["carrier"]["ref"].as_str().expect("the carrier's id is kept").to_owned();
    assert_eq!(n["endpoint"]["provisioningStatus"], "provisioned", "{n}");
    assert_eq!(n["capabilities"]["sms"], json!({"inbound": true, "outbound": true}), "capabilities as the carrier has them: {n}");
    assert_bird_number(&bird_number_validator(), &n);
    let id = n["id"].as_str().unwrap().to_owned();

    let (status, _) = ws.post(&format!("./numbers/{id}/cancel-subscription"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let before = common.seen().len();
    // The first release attempt meets a carrier outage; the number stays released here and the
    // release is retried until the carrier confirms.
    common.inject(reqwest::Method::DELETE, "", Fault::ServerError);
    let end = n["currentPeriod"]["endAt"].as_str().unwrap().to_owned();
    let (status, _) = ws.advance(&end).await;
    assert_eq!(status, StatusCode::OK);
    let (_, gone) = ws.get(&format!("./numbers/{id}")).await;
    assert_eq!(gone["status"], "inactive", "{gone}");
    assert_eq!(gone["endpoint"]["provisioningStatus"], "deprovisioning", "released, the carrier not yet confirmed: {gone}");
    assert_eq!(gone["carrierRelease"]["status"], "pending", "{gone}");
    assert_eq!(held(), vec![HELD.to_owned()], "the carrier failed the first attempt");

    tokio::time::sleep(std::time::Duration::from_millis(350)).await; // past the backoff
    app.running.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
    assert!(held().is_empty(), "the carrier no longer holds the number");
    let deletes: Vec<_> = common.seen()[before..].iter().filter(|r| r.starts_with("DELETE")).cloned().collect();
    assert_eq!(deletes.len(), 2, "a failed release, then one that went through: {deletes:?}");
    assert!(deletes.iter().all(|d| d.contains(&carrier_ref)), "released by the carrier's id {carrier_ref}: {deletes:?}");
    let (_, gone) = ws.get(&format!("./numbers/{id}")).await;
    assert_eq!(gone["endpoint"]["provisioningStatus"], "deprovisioned", "{gone}");
    assert_eq!(gone["carrierRelease"]["status"], "done", "{gone}");
    assert_bird_number(&bird_number_validator(), &gone);
    fake.assert_faithful();
}

async fn adopted_twilio_number_is_released_at_twilio(b: Backend) {
    let fake = FakeTwilio::spawn(vec![ForSale::us(HELD, "Local", true)]).await;
    let app = app_with(b, twilio_account(&fake), |_| {}).await;
    adopt_cancel_and_release(&app, &fake, || fake.state.held(), "twilio").await;
}

async fn adopted_telnyx_number_is_released_at_telnyx(b: Backend) {
    let fake = FakeTelnyx::spawn(vec![ForSale::us(HELD, "local", true)], 0).await;
    let app = app_with(b, telnyx_account(&fake), |_| {}).await;
    adopt_cancel_and_release(&app, &fake, || fake.state.held(), "telnyx").await;
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

async fn try_adopt(ws: &Ws, body: Value) -> (StatusCode, Value) {
    ws.post("./numbers", body).await
}

/// Adopting is refused, with nothing stored, when the account does not hold the number, when no
/// such account exists, for kinds no account holds, and when the carrier fails (502).
async fn adopting_checks_the_carrier(b: Backend) {
    let fake = FakeTwilio::spawn(vec![ForSale::us(HELD, "Local", true)]).await;
    let app = app_with(b, twilio_account(&fake), |_| {}).await;
    let ws = app.workspace(false).await;
    already_held(&app, HELD).await;

    let (status, body) = try_adopt(&ws, json!({ "number": ELSEWHERE, "carrier": "us" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "number_not_at_carrier"), "{body}");
    let (status, body) = try_adopt(&ws, json!({ "number": HELD, "carrier": "eu" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{body}");
    assert_eq!(body["details"]["field"], "carrier", "{body}");
    let (status, body) = try_adopt(&ws, json!({ "number": HELD, "kind": "sip", "carrier": "us" })).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"), "{body}");
    fake.state.common.inject(reqwest::Method::GET, "IncomingPhoneNumbers", Fault::ServerError);
    let (status, body) = try_adopt(&ws, json!({ "number": HELD, "carrier": "us" })).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "{body}");
    fake.state.common.inject(reqwest::Method::GET, "IncomingPhoneNumbers", Fault::Hang);
    let (status, body) = try_adopt(&ws, json!({ "number": HELD, "carrier": "us" })).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_GATEWAY, "carrier_unavailable"), "a hanging carrier costs its deadline: {body}");

    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"], json!([]), "nothing was stored by a refused adoption");
    let n = ws.register(json!({ "number": HELD, "carrier": "us" })).await;
    assert_eq!(n["carrier"]["kind"], "twilio", "after the faults, adopting works: {n}");
    fake.assert_faithful();
}
