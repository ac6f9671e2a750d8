//! Telnyx API v2, only the numbers endpoints numberd uses (see `tests/reference/telnyx/README.md`).
//! Auth is `Authorization: Bearer <API key>`. Buying is an order that settles asynchronously.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::account::*;
use super::http::{Refusal, Reply, Transport};
use super::CarrierError;
use crate::config::Secret;

#[derive(Debug)]
pub struct TelnyxClient {
    http: Transport,
    api_key: Secret,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Feature {
    name: String,
}

#[derive(Deserialize)]
struct RegionInfo {
    region_name: Option<String>,
    region_type: Option<String>,
}

#[derive(Deserialize)]
struct Available {
    phone_number: String,
    #[serde(default)]
    features: Vec<Feature>,
    #[serde(default)]
    region_information: Vec<RegionInfo>,
}

#[derive(Deserialize)]
struct PhoneNumber {
    id: String,
    phone_number: String,
    #[serde(default)]
    deletion_lock_enabled: bool,
}

#[derive(Deserialize)]
struct Order {
    id: String,
    status: String,
}

#[derive(Deserialize)]
struct Verified {
    phone_number: String,
    verified_at: Option<String>,
}

/// Telnyx's error body: `{"errors": [{"code", "title", "detail", ...}]}`.
fn refusal(reply: &Reply) -> Refusal {
    #[derive(Deserialize)]
    struct Error {
        code: Option<String>,
        title: Option<String>,
        detail: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        errors: Vec<Error>,
    }
    let first = serde_json::from_slice::<Body>(&reply.body).ok().and_then(|b| b.errors.into_iter().next());
    let code = first.as_ref().and_then(|e| e.code.clone()).unwrap_or_default();
    let message = first.and_then(|e| e.detail.or(e.title)).unwrap_or_else(|| reply.status.to_string());
    Refusal { code, message, retry_after: reply.seconds_header("x-ratelimit-reset") }
}

fn region(info: &[RegionInfo], kinds: &[&str]) -> Option<String> {
    info.iter().find(|r| r.region_type.as_deref().is_some_and(|t| kinds.contains(&t))).and_then(|r| r.region_name.clone())
}

impl TelnyxClient {
    pub fn new(name: &str, base_url: &str, api_key: Secret, timeout: Duration, max_concurrent: usize) -> Result<Self, String> {
        Ok(TelnyxClient { http: Transport::new(name, base_url, timeout, max_concurrent)?, api_key })
    }

    async fn call(
        &self,
        method: Method,
        resource: &[&str],
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<Reply, CarrierError> {
        let mut request = self.http.client.request(method, self.http.url(resource)).bearer_auth(self.api_key.expose());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.http.send(request).await
    }

    /// An order's state in numberd's terms: once it succeeded, the number as now owned.
    async fn settle(&self, order: Order, e164: &str) -> Result<Purchase, CarrierError> {
        Ok(match order.status.as_str() {
            "success" => match self.find_owned(e164).await? {
                Some(n) => Purchase::Owned(n),
                None => return Err(CarrierError::Failed(format!("order {} succeeded but {e164} is not listed yet", order.id))),
            },
            "failure" => Purchase::Failed { reason: format!("Telnyx order {} failed", order.id) },
            _ => Purchase::Pending { order_ref: order.id },
        })
    }

    fn verification(v: Verified) -> CallerIdVerification {
        let status = if v.verified_at.is_some() { VerificationStatus::Verified } else { VerificationStatus::Pending };
        CallerIdVerification { carrier_ref: Some(v.phone_number.clone()), e164: v.phone_number, validation_code: None, status }
    }
}

#[async_trait]
impl CarrierAccount for TelnyxClient {
    fn kind(&self) -> AccountKind {
        AccountKind::Telnyx
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, CarrierError> {
        let kind = match q.number_type {
            NumberType::Local => "local",
            NumberType::TollFree => "toll_free",
            NumberType::Mobile => "mobile",
        };
        let mut query = vec![
            ("filter[country_code]", q.country.clone()),
            ("filter[phone_number_type]", kind.to_owned()),
            ("filter[limit]", q.limit.to_string()),
        ];
        query.extend(q.area_code.clone().map(|a| ("filter[national_destination_code]", a)));
        query.extend(q.contains.clone().map(|c| ("filter[phone_number][contains]", c)));
        query.extend(q.capability.map(|c| {
            let name = match c {
                Capability::Voice => "voice",
                Capability::Sms => "sms",
                Capability::Mms => "mms",
            };
            ("filter[features]", name.to_owned())
        }));
        let list: Data<Vec<Available>> = self.call(Method::GET, &["available_phone_numbers"], &query, None).await?.decode(refusal)?;
        Ok(list
            .data
            .into_iter()
            .map(|n| {
                let has = |f: &str| n.features.iter().any(|x| x.name == f);
                AvailableNumber {
                    capabilities: Capabilities { voice: has("voice"), sms: has("sms"), mms: has("mms") },
                    locality: region(&n.region_information, &["location", "rate_center"]),
                    region: region(&n.region_information, &["state"]),
                    e164: n.phone_number,
                    country: q.country.clone(),
                    number_type: q.number_type,
                }
            })
            .collect())
    }

    async fn buy(&self, e164: &str, reference: &str) -> Result<Purchase, CarrierError> {
        let body = json!({"phone_numbers": [{"phone_number": e164}], "customer_reference": reference});
        let order: Data<Order> = self.call(Method::POST, &["number_orders"], &[], Some(body)).await?.decode(refusal)?;
        self.settle(order.data, e164).await
    }

    async fn find_purchase(&self, e164: &str, reference: &str) -> Result<Option<Purchase>, CarrierError> {
        let query = [("filter[customer_reference]", reference.to_owned())];
        let orders: Data<Vec<Order>> = self.call(Method::GET, &["number_orders"], &query, None).await?.decode(refusal)?;
        match orders.data.into_iter().next() {
            Some(order) => Ok(Some(self.settle(order, e164).await?)),
            None => Ok(None),
        }
    }

    async fn poll_order(&self, order_ref: &str, e164: &str) -> Result<Purchase, CarrierError> {
        let order: Data<Order> = self.call(Method::GET, &["number_orders", order_ref], &[], None).await?.decode(refusal)?;
        self.settle(order.data, e164).await
    }

    async fn find_owned(&self, e164: &str) -> Result<Option<OwnedNumber>, CarrierError> {
        let query = [("filter[phone_number]", e164.to_owned())];
        let list: Data<Vec<PhoneNumber>> = self.call(Method::GET, &["phone_numbers"], &query, None).await?.decode(refusal)?;
        Ok(list.data.into_iter().find(|n| n.phone_number == e164).map(|n| OwnedNumber {
            carrier_ref: n.id,
            e164: n.phone_number,
            capabilities: None,
        }))
    }

    /// A refused delete of a number whose deletion lock is set is `Locked`: the document does not
    /// give the lock's error code, so the number itself is asked.
    async fn release(&self, carrier_ref: &str) -> Result<(), CarrierError> {
        match self.call(Method::DELETE, &["phone_numbers", carrier_ref], &[], None).await?.ok(refusal) {
            Err(rejected @ CarrierError::Rejected { .. }) => {
                let number: Data<PhoneNumber> =
                    self.call(Method::GET, &["phone_numbers", carrier_ref], &[], None).await?.decode(refusal)?;
                Err(if number.data.deletion_lock_enabled { CarrierError::Locked(rejected.to_string()) } else { rejected })
            }
            other => other,
        }
    }

    async fn start_verification(&self, e164: &str, _friendly_name: Option<&str>) -> Result<CallerIdVerification, CarrierError> {
        let body = json!({"phone_number": e164, "verification_method": "sms"});
        self.call(Method::POST, &["verified_numbers"], &[], Some(body)).await?.ok(refusal)?;
        Ok(CallerIdVerification {
            carrier_ref: Some(e164.to_owned()),
            e164: e164.to_owned(),
            validation_code: None,
            status: VerificationStatus::Pending,
        })
    }

    async fn submit_code(&self, e164: &str, code: &str) -> Result<CallerIdVerification, CarrierError> {
        let body = json!({"verification_code": code});
        let v: Data<Verified> =
            self.call(Method::POST, &["verified_numbers", e164, "actions", "verify"], &[], Some(body)).await?.decode(refusal)?;
        Ok(Self::verification(v.data))
    }

    async fn caller_id(&self, e164: &str) -> Result<Option<CallerIdVerification>, CarrierError> {
        match self.call(Method::GET, &["verified_numbers", e164], &[], None).await?.decode::<Data<Verified>>(refusal) {
            Ok(v) => Ok(Some(Self::verification(v.data))),
            Err(CarrierError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn remove_caller_id(&self, e164: &str, _carrier_ref: Option<&str>) -> Result<(), CarrierError> {
        self.call(Method::DELETE, &["verified_numbers", e164], &[], None).await?.ok(refusal)
    }
}
