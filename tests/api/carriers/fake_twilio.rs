//! A stateful fake of Twilio's 2010-04-01 API: numbers for sale, numbers held, caller IDs.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use super::{hex_id, json, param, query, Common, Contract, Dialect, FakeServer, ForSale};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "twilio-secret-token";
/// What the fake's caller-ID verification calls read out.
pub const VALIDATION_CODE: &str = "123456";

#[derive(Default)]
struct Books {
    for_sale: Vec<ForSale>,
    /// (sid, e164, sms)
    held: Vec<(String, String, bool)>,
    /// Verifications started, waiting for the owner to answer the call.
    calling: Vec<String>,
    /// (sid, e164) of verified caller IDs.
    caller_ids: Vec<(String, String)>,
}

#[derive(Default)]
pub struct FakeTwilio {
    pub common: Common,
    books: Mutex<Books>,
}

impl FakeTwilio {
    pub async fn spawn(for_sale: Vec<ForSale>) -> FakeServer<FakeTwilio> {
        let fake = FakeTwilio::default();
        fake.books.lock().unwrap().for_sale = for_sale;
        FakeServer::spawn(fake, Contract::twilio(), "").await
    }

    /// E.164 numbers the account holds.
    pub fn held(&self) -> Vec<String> {
        self.books.lock().unwrap().held.iter().map(|(_, e, _)| e.clone()).collect()
    }

    /// E.164 numbers of the account's verified caller IDs.
    pub fn caller_ids(&self) -> Vec<String> {
        self.books.lock().unwrap().caller_ids.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The owner picks up Twilio's call and types the validation code in.
    pub fn owner_answers(&self, e164: &str) {
        let mut b = self.books.lock().unwrap();
        let at = b.calling.iter().position(|c| c == e164).expect("a verification call is under way");
        b.calling.remove(at);
        b.caller_ids.push((format!("PN{}", hex_id(32)), e164.to_owned()));
    }

    fn page(uri: &Uri, key: &str, items: Vec<Value>) -> Value {
        let path = uri.path();
        json!({
            key: items, "end": items.len().saturating_sub(1), "first_page_uri": format!("{path}?Page=0"),
            "next_page_uri": null, "page": 0, "page_size": 50, "previous_page_uri": null, "start": 0,
            "uri": path,
        })
    }

    fn incoming(sid: &str, e164: &str, sms: bool) -> Value {
        let now = chrono::Utc::now().to_rfc2822();
        json!({
            "account_sid": ACCOUNT_SID, "address_sid": null, "address_requirements": "none",
            "api_version": "2010-04-01", "beta": false,
            "capabilities": {"voice": true, "sms": sms, "mms": false, "fax": false},
            "date_created": now, "date_updated": now, "friendly_name": e164, "identity_sid": null,
            "phone_number": e164, "origin": "twilio", "sid": sid, "sms_application_sid": null,
            "sms_fallback_method": "POST", "sms_fallback_url": null, "sms_method": "POST", "sms_url": null,
            "status_callback": null, "status_callback_method": "POST", "trunk_sid": null,
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers/{sid}.json"),
            "voice_receive_mode": "voice", "voice_application_sid": null, "voice_caller_id_lookup": false,
            "voice_fallback_method": "POST", "voice_fallback_url": null, "voice_method": "POST", "voice_url": null,
            "emergency_status": "Inactive", "emergency_address_sid": null,
            "emergency_address_status": "unregistered", "bundle_sid": null, "status": "in-use",
        })
    }

    fn caller_id(sid: &str, e164: &str) -> Value {
        let now = chrono::Utc::now().to_rfc2822();
        json!({
            "sid": sid, "date_created": now, "date_updated": now, "friendly_name": e164,
            "account_sid": ACCOUNT_SID, "phone_number": e164,
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/OutgoingCallerIds/{sid}.json"),
        })
    }

    fn not_found() -> Response {
        Self::error(StatusCode::NOT_FOUND, "20404", "The requested resource was not found")
    }
}

impl Dialect for FakeTwilio {
    fn error(status: StatusCode, code: &str, message: &str) -> Response {
        // Twilio's codes are numbers; the fake's generic ones map onto Twilio's.
        let code: i64 = match code {
            "auth" => 20003,
            "500" => 20500,
            other => other.parse().unwrap(),
        };
        json(
            status,
            json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16()}),
        )
    }

    fn rate_limited(seconds: u64) -> Response {
        let mut r = Self::error(StatusCode::TOO_MANY_REQUESTS, "20429", "Too Many Requests");
        r.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        r
    }

    fn authorization(&self) -> String {
        let credentials = format!("{ACCOUNT_SID}:{AUTH_TOKEN}");
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn answer(&self, method: &Method, uri: &Uri, body: &Bytes) -> Response {
        let q = query(uri);
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let mut b = self.books.lock().unwrap();
        let path = uri.path().strip_prefix(&format!("/2010-04-01/Accounts/{ACCOUNT_SID}/")).unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["AvailablePhoneNumbers", country, kind]) => {
                let limit = param(&q, "PageSize").map_or(50, |s| s.parse().unwrap());
                let found: Vec<Value> = b
                    .for_sale
                    .iter()
                    .filter(|n| n.country == *country && format!("{}.json", n.kind) == *kind)
                    .filter(|n| param(&q, "AreaCode").is_none_or(|a| n.e164[2..].starts_with(a)))
                    .filter(|n| param(&q, "Contains").is_none_or(|c| n.e164.contains(c)))
                    .filter(|n| param(&q, "SmsEnabled") != Some("true") || n.sms)
                    .take(limit)
                    .map(|n| {
                        // As Twilio's own examples do: latitude/longitude as strings.
                        json!({
                            "friendly_name": n.e164, "phone_number": n.e164, "lata": "722", "locality": "San Francisco",
                            "rate_center": "SNFC CA", "latitude": "37.780000", "longitude": "-122.390000",
                            "region": "CA", "postal_code": "94105", "iso_country": n.country,
                            "address_requirements": "none", "beta": false,
                            "capabilities": {"voice": true, "sms": n.sms, "mms": false, "fax": false},
                        })
                    })
                    .collect();
                json(StatusCode::OK, Self::page(uri, "available_phone_numbers", found))
            }
            ("POST", ["IncomingPhoneNumbers.json"]) => {
                let wanted = param(&form, "PhoneNumber").unwrap_or_default();
                let Some(at) = b.for_sale.iter().position(|n| n.e164 == wanted) else {
                    return Self::error(StatusCode::BAD_REQUEST, "21422", "PhoneNumber is not available");
                };
                let n = b.for_sale.remove(at);
                let sid = format!("PN{}", hex_id(32));
                b.held.push((sid.clone(), n.e164.to_owned(), n.sms));
                json(StatusCode::CREATED, Self::incoming(&sid, n.e164, n.sms))
            }
            ("GET", ["IncomingPhoneNumbers.json"]) => {
                let wanted = param(&q, "PhoneNumber");
                let found =
                    b.held.iter().filter(|(_, e, _)| wanted.is_none_or(|w| w == e)).map(|(s, e, sms)| Self::incoming(s, e, *sms)).collect();
                json(StatusCode::OK, Self::page(uri, "incoming_phone_numbers", found))
            }
            ("DELETE", ["IncomingPhoneNumbers", resource]) => {
                let sid = resource.trim_end_matches(".json");
                match b.held.iter().position(|(s, _, _)| s == sid) {
                    Some(at) => {
                        b.held.remove(at);
                        StatusCode::NO_CONTENT.into_response()
                    }
                    None => Self::not_found(),
                }
            }
            ("POST", ["OutgoingCallerIds.json"]) => {
                let e164 = param(&form, "PhoneNumber").unwrap_or_default().to_owned();
                b.calling.push(e164.clone());
                let body = json!({
                    "account_sid": ACCOUNT_SID, "call_sid": format!("CA{}", hex_id(32)),
                    "friendly_name": param(&form, "FriendlyName").unwrap_or(&e164), "phone_number": e164,
                    "validation_code": VALIDATION_CODE,
                });
                json(StatusCode::OK, body)
            }
            ("GET", ["OutgoingCallerIds.json"]) => {
                let wanted = param(&q, "PhoneNumber");
                let found =
                    b.caller_ids.iter().filter(|(_, e)| wanted.is_none_or(|w| w == e)).map(|(s, e)| Self::caller_id(s, e)).collect();
                json(StatusCode::OK, Self::page(uri, "outgoing_caller_ids", found))
            }
            ("DELETE", ["OutgoingCallerIds", resource]) => {
                let sid = resource.trim_end_matches(".json");
                match b.caller_ids.iter().position(|(s, _)| s == sid) {
                    Some(at) => {
                        b.caller_ids.remove(at);
                        StatusCode::NO_CONTENT.into_response()
                    }
                    None => Self::not_found(),
                }
            }
            _ => Self::not_found(),
        }
    }
}
