//! The Telnyx client against the fake Telnyx: every operation, every fault.

use std::sync::Arc;

use axum::http::Method;
use numberd::carrier::account::*;
use numberd::carrier::CarrierError;
use numberd::config::{CarrierAccountConfig, Secret};
use std::time::Duration;

use super::fake_telnyx::{FakeTelnyx, API_KEY, SMS_CODE};
use super::{client, Contract, FakeServer, Fault, ForSale};

const CHICAGO: &str = "+13125550102";
const CHICAGO_NO_SMS: &str = "+13125550103";
const SF: &str = "+14155550100";

fn stock() -> Vec<ForSale> {
    let n = ForSale::us;
    vec![n(CHICAGO, "local", true), n(CHICAGO_NO_SMS, "local", false), n(SF, "local", true), n("+18885550123", "toll_free", true)]
}

fn account(fake: &FakeServer<FakeTelnyx>, key: &str, timeout_ms: u64) -> Arc<dyn CarrierAccount> {
    let account = CarrierAccountConfig::Telnyx { api_key: Secret::new(key), base_url: fake.base_url.clone(), max_concurrent_requests: 4 };
    client(account, timeout_ms)
}

/// Polls until the order settles; Telnyx orders are asynchronous.
async fn settle(telnyx: &dyn CarrierAccount, first: Purchase, e164: &str) -> (OwnedNumber, usize) {
    let mut purchase = first;
    for polls in 0..10 {
        match purchase {
            Purchase::Owned(n) => return (n, polls),
            Purchase::Pending { order_ref } => purchase = telnyx.poll_order(&order_ref, e164).await.unwrap(),
            Purchase::Failed { reason } => panic!("order failed: {reason}"),
        }
    }
    panic!("the order never settled")
}

#[tokio::test]
async fn telnyx_search_order_find_release() {
    let fake = FakeTelnyx::spawn(stock(), 2).await;
    let telnyx = account(&fake, API_KEY, 5_000);
    assert_eq!(telnyx.kind(), AccountKind::Telnyx);
    let query = SearchQuery {
        country: "US".into(),
        number_type: NumberType::Local,
        area_code: Some("312".into()),
        contains: Some("555".into()),
        capability: Some(Capability::Sms),
        limit: 20,
    };
    let found = telnyx.search(&query).await.unwrap();
    let expected = AvailableNumber {
        e164: CHICAGO.into(),
        country: "US".into(),
        number_type: NumberType::Local,
        capabilities: Capabilities { voice: true, sms: true, mms: false },
        locality: Some("Chicago".into()),
        region: Some("IL".into()),
    };
    assert_eq!(found, vec![expected]);

    // The order answers pending, and settles after two polls.
    let placed = telnyx.buy(CHICAGO, "item-7").await.unwrap();
    assert!(matches!(placed, Purchase::Pending { .. }), "{placed:?}");
    assert!(fake.state.held().is_empty(), "not held while the order is pending");
    let (owned, polls) = settle(telnyx.as_ref(), placed, CHICAGO).await;
    assert_eq!((owned.e164.as_str(), polls), (CHICAGO, 2));
    assert!(owned.carrier_ref.chars().all(|c| c.is_ascii_digit()), "{owned:?}");
    assert_eq!(fake.state.held(), [CHICAGO]);
    // Found again by numberd's reference, and by number.
    assert_eq!(telnyx.find_purchase(CHICAGO, "item-7").await.unwrap(), Some(Purchase::Owned(owned.clone())));
    assert_eq!(telnyx.find_purchase(SF, "item-8").await.unwrap(), None);
    assert_eq!(telnyx.find_owned(CHICAGO).await.unwrap(), Some(owned.clone()));

    telnyx.release(&owned.carrier_ref).await.unwrap();
    assert!(fake.state.held().is_empty());
    assert!(fake.state.common.seen().contains(&format!("DELETE /v2/phone_numbers/{}", owned.carrier_ref)));
    assert_eq!(telnyx.release(&owned.carrier_ref).await, Err(CarrierError::NotFound), "404 on delete: already gone");
    assert_eq!(telnyx.find_owned(CHICAGO).await, Ok(None), "no longer held");
    fake.assert_faithful();
}

#[tokio::test]
async fn telnyx_caller_id_verify_and_remove() {
    let fake = FakeTelnyx::spawn(Vec::new(), 0).await;
    let telnyx = account(&fake, API_KEY, 5_000);
    let started = telnyx.start_verification(SF, None).await.unwrap();
    let pending =
        CallerIdVerification { carrier_ref: Some(SF.into()), e164: SF.into(), validation_code: None, status: VerificationStatus::Pending };
    assert_eq!(started, pending, "Telnyx sends the code to the owner: none to show");
    assert_eq!(telnyx.caller_id(SF).await.unwrap(), Some(pending));
    let wrong = telnyx.submit_code(SF, "000000").await.unwrap_err();
    assert!(matches!(wrong, CarrierError::Rejected { status: 400, .. }), "{wrong:?}");
    let verified = telnyx.submit_code(SF, SMS_CODE).await.unwrap();
    assert_eq!(verified.status, VerificationStatus::Verified);
    assert_eq!(telnyx.caller_id(SF).await.unwrap().map(|v| v.status), Some(VerificationStatus::Verified));

    telnyx.remove_caller_id(SF, None).await.unwrap();
    assert!(fake.state.common.seen().contains(&format!("DELETE /v2/verified_numbers/{SF}")));
    assert_eq!(telnyx.caller_id(SF).await.unwrap(), None);
    assert_eq!(telnyx.remove_caller_id(SF, None).await, Err(CarrierError::NotFound));
    fake.assert_faithful();
}

#[tokio::test]
async fn telnyx_faults_map_to_error_kinds() {
    let fake = FakeTelnyx::spawn(stock(), 0).await;
    let telnyx = account(&fake, API_KEY, 300);
    let common = &fake.state.common;

    // 429 (10011) with x-ratelimit-reset seconds.
    common.inject(Method::GET, "/phone_numbers", Fault::RateLimited(3));
    assert_eq!(telnyx.find_owned(SF).await, Err(CarrierError::RateLimited { retry_after: Duration::from_secs(3) }));

    // 5xx after the order went through: transient; the order is found again by its reference.
    common.inject(Method::POST, "/number_orders", Fault::ServerErrorAfterward);
    let failed = telnyx.buy(SF, "item-9").await.unwrap_err();
    assert!(matches!(failed, CarrierError::Failed(_)) && failed.is_transient(), "{failed:?}");
    let Some(Purchase::Owned(owned)) = telnyx.find_purchase(SF, "item-9").await.unwrap() else { panic!("the order went through") };
    assert_eq!(fake.state.held(), [SF]);

    // A deletion-locked number: refused, and said so.
    fake.state.lock(SF);
    let locked = telnyx.release(&owned.carrier_ref).await.unwrap_err();
    assert!(matches!(locked, CarrierError::Locked(_)) && !locked.is_transient(), "{locked:?}");
    assert_eq!(fake.state.held(), [SF]);

    // A hang only the deadline ends.
    common.inject(Method::GET, "/available_phone_numbers", Fault::Hang);
    let query =
        SearchQuery { country: "US".into(), number_type: NumberType::Local, area_code: None, contains: None, capability: None, limit: 5 };
    assert_eq!(telnyx.search(&query).await, Err(CarrierError::Timeout));

    // A revoked key: 401.
    let refused = account(&fake, "KEYrevoked", 5_000).search(&query).await.unwrap_err();
    assert!(matches!(refused, CarrierError::RejectedCredentials(_)), "{refused:?}");
    fake.assert_faithful();
}

/// The checker is not a rubber stamp for Telnyx either.
#[test]
fn telnyx_contract_catches_drift() {
    let c = Contract::telnyx();
    let json = Some("application/json");
    let order = br#"{"phone_numbers": [{"phone_number": "+13125550102"}], "customer_reference": "item-1"}"#;
    assert!(c.check_request("POST", "/v2/number_orders", None, json, order).is_empty());
    assert!(
        !c.check_request("POST", "/v2/number_orders", None, json, br#"{"phone_numbers": "+13125550102"}"#).is_empty(),
        "wrong body type"
    );
    assert!(
        !c.check_request("GET", "/v2/available_phone_numbers", Some("filter%5Bphone_number_type%5D=landline"), None, b"").is_empty(),
        "not in the enum"
    );
    assert!(!c.check_request("GET", "/v2/phone_numbers", Some("phone_number=%2B1"), None, b"").is_empty(), "undeclared query parameter");
    assert!(
        !c.check_request("POST", "/v2/verified_numbers/+13125550102/actions/verify", None, json, b"{}").is_empty(),
        "verification_code required"
    );
    assert!(!c.check_response("GET", "/v2/number_orders/x", 200, br#"{"data": {"status": "done"}}"#).is_empty(), "status not in the enum");
    assert!(!c.check_response("GET", "/v2/phone_numbers", 500, br#"{"errors": []}"#).is_empty(), "an error body names an error");
    assert!(!c.check_response("GET", "/v2/phone_numbers", 500, br#"{"message": "boom"}"#).is_empty(), "not Telnyx's error shape");
    assert!(c.check_response("GET", "/v2/phone_numbers", 500, br#"{"errors": [{"code": "10007", "title": "boom"}]}"#).is_empty());
}
