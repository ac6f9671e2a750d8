//! A stateful fake of Telnyx's v2 numbers API: numbers for sale, orders that settle after a few
//! polls, numbers held (optionally deletion-locked), verified numbers.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::{hex_id, json, param, query, Common, Contract, Dialect, FakeServer, ForSale};

pub const API_KEY: &str = "KEY0123456789telnyx-secret";
/// The code the fake "texts" to a caller ID's owner.
pub const SMS_CODE: &str = "246810";

struct Order {
    id: String,
    e164: String,
    reference: String,
    /// Polls left before the order succeeds.
    polls_left: u32,
}

struct Held {
    id: String,
    e164: String,
    reference: String,
    locked: bool,
}

#[derive(Default)]
struct Books {
    for_sale: Vec<ForSale>,
    orders: Vec<Order>,
    held: Vec<Held>,
    /// (e164, verified)
    verifications: Vec<(String, bool)>,
}

#[derive(Default)]
pub struct FakeTelnyx {
    pub common: Common,
    books: Mutex<Books>,
    /// How many looks at an order it takes to settle (`0`: settled when placed).
    settle_after_polls: u32,
}

const STAMP: &str = "2026-11-23T15:00:00Z";

impl FakeTelnyx {
    pub async fn spawn(for_sale: Vec<ForSale>, settle_after_polls: u32) -> FakeServer<FakeTelnyx> {
        let fake = FakeTelnyx { settle_after_polls, ..FakeTelnyx::default() };
        fake.books.lock().unwrap().for_sale = for_sale;
        FakeServer::spawn(fake, Contract::telnyx(), "/v2").await
    }

    pub fn held(&self) -> Vec<String> {
        self.books.lock().unwrap().held.iter().map(|h| h.e164.clone()).collect()
    }

    /// E.164 numbers of the account's verified numbers (caller IDs).
    pub fn verified(&self) -> Vec<String> {
        self.books.lock().unwrap().verifications.iter().filter(|(_, v)| *v).map(|(e, _)| e.clone()).collect()
    }

    /// Sets the deletion lock on a held number.
    pub fn lock(&self, e164: &str) {
        self.books.lock().unwrap().held.iter_mut().filter(|h| h.e164 == e164).for_each(|h| h.locked = true);
    }

    fn number(h: &Held) -> Value {
        json!({
            "id": h.id, "record_type": "phone_number", "phone_number": h.e164, "status": "active",
            "phone_number_type": "local", "country_iso_alpha2": "US", "created_at": STAMP, "purchased_at": STAMP,
            "connection_id": "1293384261075731499", "customer_reference": h.reference, "tags": [], "source_type": "number_order",
            "emergency_enabled": false, "call_forwarding_enabled": true, "cnam_listing_enabled": false,
            "caller_id_name_enabled": false, "call_recording_enabled": false, "t38_fax_gateway_enabled": false,
            // Not in the document's schema (which allows extra fields); Telnyx's docs name it.
            "deletion_lock_enabled": h.locked,
        })
    }

    /// Looks at an order: each look brings a pending order one step nearer to settling.
    fn look(books: &mut Books, at: usize) -> Value {
        let o = &mut books.orders[at];
        o.polls_left = o.polls_left.saturating_sub(1);
        let settled = o.polls_left == 0;
        let (id, e164, reference) = (o.id.clone(), o.e164.clone(), o.reference.clone());
        if settled && !books.held.iter().any(|h| h.e164 == e164) {
            let id = (1_000_000_000 + rand_digits()).to_string();
            books.held.push(Held { id, e164: e164.clone(), reference: reference.clone(), locked: false });
        }
        let status = if settled { "success" } else { "pending" };
        json!({
            "id": id, "record_type": "number_order", "status": status, "customer_reference": reference,
            "phone_numbers_count": 1, "requirements_met": true, "created_at": STAMP, "updated_at": STAMP,
            "sub_number_orders_ids": [],
            "phone_numbers": [{
                "id": uuid::Uuid::new_v4(), "record_type": "number_order_phone_number", "phone_number": e164,
                "status": status, "requirements_met": true, "requirements_status": "approved",
                "phone_number_type": "local", "country_code": "US", "regulatory_requirements": [],
            }],
        })
    }

    fn list(data: Vec<Value>) -> Value {
        let n = data.len();
        json!({"data": data, "meta": {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": n}})
    }

    fn not_found() -> Response {
        Self::error(StatusCode::NOT_FOUND, "10005", "Resource not found")
    }
}

fn rand_digits() -> u64 {
    u64::from_str_radix(&hex_id(8), 16).unwrap()
}

impl Dialect for FakeTelnyx {
    fn error(status: StatusCode, code: &str, message: &str) -> Response {
        let code = match code {
            "auth" => "10009",
            "500" => "10007",
            other => other,
        };
        json(status, json!({"errors": [{"code": code, "title": message, "detail": message}]}))
    }

    fn rate_limited(seconds: u64) -> Response {
        let mut r = Self::error(StatusCode::TOO_MANY_REQUESTS, "10011", "Too many requests");
        let h = r.headers_mut();
        h.insert("x-ratelimit-limit", 100.into());
        h.insert("x-ratelimit-remaining", 0.into());
        h.insert("x-ratelimit-reset", seconds.into());
        r
    }

    fn authorization(&self) -> String {
        format!("Bearer {API_KEY}")
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn answer(&self, method: &Method, uri: &Uri, body: &Bytes) -> Response {
        let q = query(uri);
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let mut b = self.books.lock().unwrap();
        let path = uri.path().strip_prefix("/v2/").unwrap_or_default();
        let segments: Vec<String> = path.split('/').map(|s| s.replace("%2B", "+")).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["available_phone_numbers"]) => {
                let limit = param(&q, "filter[limit]").map_or(100, |s| s.parse().unwrap());
                let found = b
                    .for_sale
                    .iter()
                    .filter(|n| param(&q, "filter[country_code]").is_none_or(|c| c == n.country))
                    .filter(|n| param(&q, "filter[phone_number_type]").is_none_or(|k| k == n.kind))
                    .filter(|n| param(&q, "filter[national_destination_code]").is_none_or(|a| n.e164[2..].starts_with(a)))
                    .filter(|n| param(&q, "filter[phone_number][contains]").is_none_or(|c| n.e164.contains(c)))
                    .filter(|n| param(&q, "filter[features]").is_none_or(|f| f != "sms" || n.sms))
                    .take(limit)
                    .map(|n| {
                        let mut features = vec![json!({"name": "voice"})];
                        if n.sms {
                            features.push(json!({"name": "sms"}));
                        }
                        json!({
                            "record_type": "available_phone_number", "phone_number": n.e164, "vanity_format": "",
                            "best_effort": false, "quickship": true, "reservable": false, "features": features,
                            "cost_information": {"currency": "USD", "monthly_cost": "1.00", "upfront_cost": "1.00"},
                            "region_information": [
                                {"region_type": "location", "region_name": "Chicago"},
                                {"region_type": "state", "region_name": "IL"},
                                {"region_type": "country_code", "region_name": n.country},
                            ],
                        })
                    })
                    .collect::<Vec<_>>();
                let n = found.len();
                json(StatusCode::OK, json!({"data": found, "meta": {"total_results": n, "best_effort_results": 0}}))
            }
            ("POST", ["number_orders"]) => {
                let e164 = body["phone_numbers"][0]["phone_number"].as_str().unwrap_or_default().to_owned();
                let Some(at) = b.for_sale.iter().position(|n| n.e164 == e164) else {
                    return Self::error(StatusCode::UNPROCESSABLE_ENTITY, "85001", "Number not available");
                };
                b.for_sale.remove(at);
                let reference = body["customer_reference"].as_str().unwrap_or_default().to_owned();
                // Placing counts as the first look.
                b.orders.push(Order { id: uuid::Uuid::new_v4().to_string(), e164, reference, polls_left: self.settle_after_polls + 1 });
                let at = b.orders.len() - 1;
                json(StatusCode::OK, json!({"data": Self::look(&mut b, at)}))
            }
            ("GET", ["number_orders"]) => {
                let reference = param(&q, "filter[customer_reference]");
                let ats: Vec<usize> = (0..b.orders.len()).filter(|&i| reference.is_none_or(|r| r == b.orders[i].reference)).collect();
                let found = ats.into_iter().map(|i| Self::look(&mut b, i)).collect();
                json(StatusCode::OK, Self::list(found))
            }
            ("GET", ["number_orders", id]) => match b.orders.iter().position(|o| o.id == *id) {
                Some(at) => json(StatusCode::OK, json!({"data": Self::look(&mut b, at)})),
                None => Self::not_found(),
            },
            ("GET", ["phone_numbers"]) => {
                let wanted = param(&q, "filter[phone_number]");
                let found = b.held.iter().filter(|h| wanted.is_none_or(|w| w == h.e164)).map(Self::number).collect();
                json(StatusCode::OK, Self::list(found))
            }
            ("GET", ["phone_numbers", id]) => match b.held.iter().find(|h| h.id == *id) {
                Some(h) => json(StatusCode::OK, json!({"data": Self::number(h)})),
                None => Self::not_found(),
            },
            ("DELETE", ["phone_numbers", id]) => match b.held.iter().position(|h| h.id == *id) {
                Some(at) if b.held[at].locked => {
                    // Telnyx's documents give no code for this refusal; the client does not rely on one.
                    Self::error(StatusCode::UNPROCESSABLE_ENTITY, "10015", "Phone number has deletion lock enabled")
                }
                Some(at) => {
                    let h = b.held.remove(at);
                    let mut data = Self::number(&h);
                    data["status"] = json!("deleted");
                    data["updated_at"] = json!(STAMP);
                    for key in ["country_iso_alpha2", "source_type", "deletion_lock_enabled"] {
                        data.as_object_mut().unwrap().remove(key);
                    }
                    json(StatusCode::OK, json!({"data": data}))
                }
                None => Self::not_found(),
            },
            ("POST", ["verified_numbers"]) => {
                let e164 = body["phone_number"].as_str().unwrap_or_default().to_owned();
                b.verifications.retain(|(e, _)| *e != e164);
                b.verifications.push((e164.clone(), false));
                json(StatusCode::OK, json!({"phone_number": e164, "verification_method": body["verification_method"]}))
            }
            ("POST", ["verified_numbers", e164, "actions", "verify"]) => {
                let Some(v) = b.verifications.iter_mut().find(|(e, _)| e == e164) else {
                    return Self::not_found();
                };
                if body["verification_code"] != SMS_CODE {
                    return Self::error(StatusCode::BAD_REQUEST, "10015", "Invalid verification code");
                }
                v.1 = true;
                json(StatusCode::OK, json!({"data": {"phone_number": e164, "record_type": "verified_number", "verified_at": STAMP}}))
            }
            ("GET", ["verified_numbers", e164]) => match b.verifications.iter().find(|(e, _)| e == e164) {
                Some((e, true)) => {
                    json(StatusCode::OK, json!({"data": {"phone_number": e, "record_type": "verified_number", "verified_at": STAMP}}))
                }
                Some((e, false)) => json(StatusCode::OK, json!({"data": {"phone_number": e, "record_type": "verified_number"}})),
                None => Self::not_found(),
            },
            ("DELETE", ["verified_numbers", e164]) => match b.verifications.iter().position(|(e, _)| e == e164) {
                Some(at) => {
                    let (e, _) = b.verifications.remove(at);
                    json(StatusCode::OK, json!({"data": {"phone_number": e, "record_type": "verified_number", "verified_at": STAMP}}))
                }
                None => Self::not_found(),
            },
            _ => Self::not_found(),
        }
    }
}
