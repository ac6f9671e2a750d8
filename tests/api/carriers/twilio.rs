//! The Twilio client against the fake Twilio: every operation, every fault.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use numberd::carrier::account::*;
use numberd::carrier::{removal, CarrierError};
use numberd::config::{CarrierAccountConfig, Secret};

use super::fake_twilio::{FakeTwilio, ACCOUNT_SID, AUTH_TOKEN, VALIDATION_CODE};
use super::{client, Contract, FakeServer, Fault, ForSale};

const SF: &str = "+14155550100";
const SF_NO_SMS: &str = "+14155550101";
const CHICAGO: &str = "+13125550102";
const TOLL_FREE: &str = "+18005550199";

fn stock() -> Vec<ForSale> {
    let n = ForSale::us;
    vec![n(SF, "Local", true), n(SF_NO_SMS, "Local", false), n(CHICAGO, "Local", true), n(TOLL_FREE, "TollFree", true)]
}

fn account(fake: &FakeServer<FakeTwilio>, token: &str, timeout_ms: u64) -> Arc<dyn CarrierAccount> {
    let account = CarrierAccountConfig::Twilio {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(token),
        base_url: fake.base_url.clone(),
        max_concurrent_requests: 4,
    };
    client(account, timeout_ms)
}

fn query(number_type: NumberType, area_code: Option<&str>) -> SearchQuery {
    SearchQuery {
        country: "US".into(),
        number_type,
        area_code: area_code.map(Into::into),
        contains: Some("555".into()),
        capability: Some(Capability::Sms),
        limit: 20,
    }
}

#[tokio::test]
async fn twilio_search_buy_find_release() {
    let fake = FakeTwilio::spawn(stock()).await;
    let twilio = account(&fake, AUTH_TOKEN, 5_000);
    assert_eq!(twilio.kind(), AccountKind::Twilio);

    let found = twilio.search(&query(NumberType::Local, Some("415"))).await.unwrap();
    let expected = AvailableNumber {
        e164: SF.into(),
        country: "US".into(),
        number_type: NumberType::Local,
        capabilities: Capabilities { voice: true, sms: true, mms: false },
        locality: Some("San Francisco".into()),
        region: Some("CA".into()),
    };
    assert_eq!(found, vec![expected], "area code, contains and the SMS capability all filter");
    let toll_free = twilio.search(&query(NumberType::TollFree, None)).await.unwrap();
    assert_eq!(toll_free.iter().map(|n| n.e164.as_str()).collect::<Vec<_>>(), [TOLL_FREE]);

    let Purchase::Owned(owned) = twilio.buy(SF, "item-1").await.unwrap() else { panic!("Twilio confirms within the request") };
    assert!(owned.carrier_ref.starts_with("PN"), "{owned:?}");
    assert_eq!((owned.e164.as_str(), owned.capabilities.map(|c| c.sms)), (SF, Some(true)));
    assert_eq!(fake.state.held(), [SF]);
    assert_eq!(twilio.find_owned(SF).await.unwrap(), Some(owned.clone()));
    assert_eq!(twilio.find_owned(CHICAGO).await.unwrap(), None);
    // Bought already: Twilio's own refusal, with its code.
    let again = twilio.buy(SF, "item-2").await.unwrap_err();
    assert!(matches!(&again, CarrierError::Rejected { status: 400, code, .. } if code == "21422"), "{again:?}");
    assert!(!again.is_transient());

    twilio.release(&owned.carrier_ref).await.unwrap();
    assert!(fake.state.held().is_empty());
    let delete = format!("DELETE /2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers/{}.json", owned.carrier_ref);
    assert!(fake.state.common.seen().contains(&delete), "{:?}", fake.state.common.seen());
    // Gone already: 404 (20404), which a removal counts as done.
    assert_eq!(twilio.release(&owned.carrier_ref).await, Err(CarrierError::NotFound));
    assert_eq!(twilio.find_owned(SF).await, Ok(None), "no longer held");
    assert_eq!(removal(Duration::from_secs(5), twilio.release(&owned.carrier_ref)).await, Ok(()), "a removal counts 404 as done");
    fake.assert_faithful();
}

#[tokio::test]
async fn twilio_release_of_a_number_found_by_number() {
    let fake = FakeTwilio::spawn(stock()).await;
    let twilio = account(&fake, AUTH_TOKEN, 5_000);
    twilio.buy(CHICAGO, "item-1").await.unwrap();
    let owned = twilio.find_owned(CHICAGO).await.unwrap().expect("held");
    twilio.release(&owned.carrier_ref).await.unwrap();
    assert!(fake.state.held().is_empty(), "found by number, then deleted by sid");
    fake.assert_faithful();
}

#[tokio::test]
async fn twilio_caller_id_verify_and_remove() {
    let fake = FakeTwilio::spawn(Vec::new()).await;
    let twilio = account(&fake, AUTH_TOKEN, 5_000);
    let started = twilio.start_verification(CHICAGO, Some("Front desk")).await.unwrap();
    let expected = CallerIdVerification {
        carrier_ref: None,
        e164: CHICAGO.into(),
        validation_code: Some(VALIDATION_CODE.into()),
        status: VerificationStatus::Pending,
    };
    assert_eq!(started, expected, "Twilio hands back the code the owner types in");
    assert_eq!(twilio.caller_id(CHICAGO).await.unwrap(), None, "not verified until the owner answers");
    assert!(matches!(twilio.submit_code(CHICAGO, "123456").await, Err(CarrierError::Unsupported(_))));

    fake.state.owner_answers(CHICAGO);
    let verified = twilio.caller_id(CHICAGO).await.unwrap().expect("verified now");
    assert_eq!(verified.status, VerificationStatus::Verified);
    let sid = verified.carrier_ref.expect("the caller ID's sid");
    assert!(sid.starts_with("PN"));

    twilio.remove_caller_id(CHICAGO, None).await.unwrap();
    let delete = format!("DELETE /2010-04-01/Accounts/{ACCOUNT_SID}/OutgoingCallerIds/{sid}.json");
    assert!(fake.state.common.seen().contains(&delete));
    assert_eq!(twilio.caller_id(CHICAGO).await.unwrap(), None);
    assert_eq!(twilio.remove_caller_id(CHICAGO, None).await, Err(CarrierError::NotFound));
    // By the sid numberd stored: the DELETE alone, and Twilio's 404 says it is already gone.
    let before = fake.state.common.seen().len();
    assert_eq!(twilio.remove_caller_id(CHICAGO, Some(&sid)).await, Err(CarrierError::NotFound));
    assert_eq!(fake.state.common.seen()[before..], [delete]);
    fake.assert_faithful();
}

#[tokio::test]
async fn twilio_faults_map_to_error_kinds() {
    let fake = FakeTwilio::spawn(stock()).await;
    let twilio = account(&fake, AUTH_TOKEN, 300);
    let common = &fake.state.common;

    // 429 (20429) with Retry-After.
    common.inject(Method::GET, "IncomingPhoneNumbers.json", Fault::RateLimited(7));
    assert_eq!(twilio.find_owned(SF).await, Err(CarrierError::RateLimited { retry_after: Duration::from_secs(7) }));

    // 5xx after the purchase went through: transient, and looking the number up shows it is held.
    common.inject(Method::POST, "IncomingPhoneNumbers.json", Fault::ServerErrorAfterward);
    let failed = twilio.buy(SF, "item-1").await.unwrap_err();
    assert!(matches!(failed, CarrierError::Failed(_)) && failed.is_transient(), "{failed:?}");
    let Some(Purchase::Owned(owned)) = twilio.find_purchase(SF, "item-1").await.unwrap() else { panic!("the number is held") };
    assert_eq!(owned.e164, SF);
    assert_eq!(twilio.find_purchase(CHICAGO, "item-2").await.unwrap(), None, "never bought: nothing to find");
    assert_eq!(twilio.poll_order("", SF).await.unwrap(), Purchase::Owned(owned.clone()));

    // A plain 5xx, and a hang that only the deadline ends.
    common.inject(Method::GET, "AvailablePhoneNumbers", Fault::ServerError);
    assert!(matches!(twilio.search(&query(NumberType::Local, None)).await, Err(CarrierError::Failed(_))));
    common.inject(Method::DELETE, "IncomingPhoneNumbers/", Fault::Hang);
    assert_eq!(twilio.release(&owned.carrier_ref).await, Err(CarrierError::Timeout));
    assert_eq!(fake.state.held(), [SF], "the hung delete did nothing");

    // Wrong credentials: 401, not worth retrying.
    let wrong = account(&fake, "not-the-token", 5_000);
    let refused = wrong.find_owned(SF).await.unwrap_err();
    assert!(matches!(refused, CarrierError::RejectedCredentials(_)) && !refused.is_transient(), "{refused:?}");
    fake.assert_faithful();
}

/// The checker is not a rubber stamp: a request or response that strays from Twilio's document,
/// or an error body not in Twilio's shape, is reported.
#[test]
fn twilio_contract_catches_drift() {
    let c = Contract::twilio();
    let base = format!("/2010-04-01/Accounts/{ACCOUNT_SID}");
    let form = "application/x-www-form-urlencoded";
    assert!(c
        .check_request("POST", &format!("{base}/IncomingPhoneNumbers.json"), None, Some(form), b"PhoneNumber=%2B14155550100")
        .is_empty());
    assert!(
        !c.check_request("GET", &format!("{base}/IncomingPhoneNumbers.json"), Some("Number=%2B1"), None, b"").is_empty(),
        "undeclared query parameter"
    );
    assert!(
        !c.check_request("POST", &format!("{base}/OutgoingCallerIds.json"), None, Some(form), b"FriendlyName=x").is_empty(),
        "required PhoneNumber missing"
    );
    assert!(
        !c.check_request("POST", &format!("{base}/IncomingPhoneNumbers.json"), None, Some(form), b"Number=1").is_empty(),
        "undeclared form field"
    );
    assert!(
        !c.check_request("GET", &format!("{base}/AvailablePhoneNumbers/US/Local.json"), Some("PageSize=many"), None, b"").is_empty(),
        "PageSize is an integer"
    );
    assert!(!c.check_request("PUT", &format!("{base}/IncomingPhoneNumbers.json"), None, None, b"").is_empty(), "no such operation");
    assert!(!c.check_request("GET", &format!("{base}/Calls.json"), None, None, b"").is_empty(), "no such path");
    let path = format!("{base}/IncomingPhoneNumbers/PN1.json");
    assert!(c.check_response("DELETE", &path, 204, b"").is_empty());
    assert!(!c.check_response("DELETE", &path, 200, b"{}").is_empty(), "undeclared success status");
    assert!(!c.check_response("GET", &path, 200, br#"{"beta": "no"}"#).is_empty(), "wrong type");
    // `format: uri`: absolute URIs and paths relative to the API host (as Twilio sends them) only.
    let list = format!("{base}/IncomingPhoneNumbers.json");
    assert!(!c.check_response("GET", &list, 200, br#"{"first_page_uri": "not a uri"}"#).is_empty(), "neither a URI nor an API path");
    assert!(c.check_response("GET", &list, 200, format!(r#"{{"first_page_uri": "{list}?Page=0"}}"#).as_bytes()).is_empty());
    assert!(c.check_response("GET", &list, 200, br#"{"first_page_uri": "https://api.twilio.com/x"}"#).is_empty());
    assert!(!c.check_response("GET", &path, 404, br#"{"message": "gone"}"#).is_empty(), "error without code/status/more_info");
}
