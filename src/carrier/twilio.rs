//! Twilio's REST API 2010-04-01, only the endpoints numberd uses (see
//! `tests/reference/twilio/README.md`). Auth is HTTP Basic `AccountSid:AuthToken`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;

use super::account::*;
use super::http::{Refusal, Reply, Transport};
use super::CarrierError;
use crate::config::Secret;

#[derive(Debug)]
pub struct TwilioClient {
    http: Transport,
    account_sid: String,
    auth_token: Secret,
}

#[derive(Deserialize)]
struct Caps {
    #[serde(default)]
    voice: bool,
    // Twilio sends `SMS`/`MMS` on available numbers, `sms`/`mms` on owned ones.
    #[serde(default, alias = "SMS")]
    sms: bool,
    #[serde(default, alias = "MMS")]
    mms: bool,
}

impl From<Caps> for Capabilities {
    fn from(c: Caps) -> Self {
        Capabilities { voice: c.voice, sms: c.sms, mms: c.mms }
    }
}

#[derive(Deserialize)]
struct Available {
    phone_number: String,
    iso_country: Option<String>,
    locality: Option<String>,
    region: Option<String>,
    capabilities: Option<Caps>,
}

#[derive(Deserialize)]
struct AvailableList {
    available_phone_numbers: Vec<Available>,
}

#[derive(Deserialize)]
struct Incoming {
    sid: String,
    phone_number: String,
    capabilities: Option<Caps>,
}

#[derive(Deserialize)]
struct IncomingList {
    incoming_phone_numbers: Vec<Incoming>,
}

#[derive(Deserialize)]
struct ValidationRequest {
    phone_number: String,
    validation_code: Option<String>,
}

#[derive(Deserialize)]
struct CallerId {
    sid: String,
    phone_number: String,
}

#[derive(Deserialize)]
struct CallerIdList {
    outgoing_caller_ids: Vec<CallerId>,
}

/// Twilio's error body: `{"code", "message", "more_info", "status"}`.
fn refusal(reply: &Reply) -> Refusal {
    #[derive(Deserialize)]
    struct Body {
        code: Option<i64>,
        message: Option<String>,
    }
    let body: Option<Body> = serde_json::from_slice(&reply.body).ok();
    Refusal {
        code: body.as_ref().and_then(|b| b.code).map_or_else(String::new, |c| c.to_string()),
        message: body.and_then(|b| b.message).unwrap_or_else(|| reply.status.to_string()),
        retry_after: reply.seconds_header("retry-after"),
    }
}

impl TwilioClient {
    pub fn new(
        name: &str,
        base_url: &str,
        account_sid: &str,
        auth_token: Secret,
        timeout: Duration,
        max_concurrent: usize,
    ) -> Result<Self, String> {
        let http = Transport::new(name, base_url, timeout, max_concurrent)?;
        Ok(TwilioClient { http, account_sid: account_sid.to_owned(), auth_token })
    }

    async fn call(
        &self,
        method: Method,
        resource: &[&str],
        query: &[(&str, String)],
        form: Option<&[(&str, &str)]>,
    ) -> Result<Reply, CarrierError> {
        let mut segments = vec!["2010-04-01", "Accounts", &self.account_sid];
        segments.extend_from_slice(resource);
        let mut request =
            self.http.client.request(method, self.http.url(&segments)).basic_auth(&self.account_sid, Some(self.auth_token.expose()));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        self.http.send(request).await
    }

    fn owned(n: Incoming) -> OwnedNumber {
        OwnedNumber { carrier_ref: n.sid, e164: n.phone_number, capabilities: n.capabilities.map(Into::into) }
    }

    async fn verified_caller_id(&self, e164: &str) -> Result<Option<CallerId>, CarrierError> {
        let reply = self.call(Method::GET, &["OutgoingCallerIds.json"], &[("PhoneNumber", e164.to_owned())], None).await?;
        Ok(reply.decode::<CallerIdList>(refusal)?.outgoing_caller_ids.into_iter().find(|c| c.phone_number == e164))
    }
}

#[async_trait]
impl CarrierAccount for TwilioClient {
    fn kind(&self) -> AccountKind {
        AccountKind::Twilio
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, CarrierError> {
        let kind = match q.number_type {
            NumberType::Local => "Local.json",
            NumberType::TollFree => "TollFree.json",
            NumberType::Mobile => "Mobile.json",
        };
        let mut query = vec![("PageSize", q.limit.to_string())];
        query.extend(q.area_code.clone().map(|a| ("AreaCode", a)));
        query.extend(q.contains.clone().map(|c| ("Contains", c)));
        query.extend(q.capability.map(|c| {
            let name = match c {
                Capability::Voice => "VoiceEnabled",
                Capability::Sms => "SmsEnabled",
                Capability::Mms => "MmsEnabled",
            };
            (name, "true".to_owned())
        }));
        let reply = self.call(Method::GET, &["AvailablePhoneNumbers", &q.country, kind], &query, None).await?;
        let list: AvailableList = reply.decode(refusal)?;
        Ok(list
            .available_phone_numbers
            .into_iter()
            .map(|n| AvailableNumber {
                e164: n.phone_number,
                country: n.iso_country.unwrap_or_else(|| q.country.clone()),
                number_type: q.number_type,
                capabilities: n.capabilities.map(Into::into).unwrap_or_default(),
                locality: n.locality,
                region: n.region,
            })
            .collect())
    }

    async fn buy(&self, e164: &str, _reference: &str) -> Result<Purchase, CarrierError> {
        let reply = self.call(Method::POST, &["IncomingPhoneNumbers.json"], &[], Some(&[("PhoneNumber", e164)])).await?;
        Ok(Purchase::Owned(Self::owned(reply.decode(refusal)?)))
    }

    /// Twilio keeps no record of purchase attempts: the number is either held now or not.
    async fn find_purchase(&self, e164: &str, _reference: &str) -> Result<Option<Purchase>, CarrierError> {
        Ok(self.find_owned(e164).await?.map(Purchase::Owned))
    }

    async fn poll_order(&self, _order_ref: &str, e164: &str) -> Result<Purchase, CarrierError> {
        Ok(match self.find_owned(e164).await? {
            Some(n) => Purchase::Owned(n),
            None => Purchase::Failed { reason: format!("Twilio does not hold {e164}") },
        })
    }

    async fn find_owned(&self, e164: &str) -> Result<Option<OwnedNumber>, CarrierError> {
        let reply = self.call(Method::GET, &["IncomingPhoneNumbers.json"], &[("PhoneNumber", e164.to_owned())], None).await?;
        let list: IncomingList = reply.decode(refusal)?;
        Ok(list.incoming_phone_numbers.into_iter().find(|n| n.phone_number == e164).map(Self::owned))
    }

    async fn release(&self, carrier_ref: &str) -> Result<(), CarrierError> {
        let resource = format!("{carrier_ref}.json");
        self.call(Method::DELETE, &["IncomingPhoneNumbers", &resource], &[], None).await?.ok(refusal)
    }

    async fn start_verification(&self, e164: &str, friendly_name: Option<&str>) -> Result<CallerIdVerification, CarrierError> {
        let mut form = vec![("PhoneNumber", e164)];
        form.extend(friendly_name.map(|n| ("FriendlyName", n)));
        let reply = self.call(Method::POST, &["OutgoingCallerIds.json"], &[], Some(&form)).await?;
        let v: ValidationRequest = reply.decode(refusal)?;
        Ok(CallerIdVerification {
            carrier_ref: None,
            e164: v.phone_number,
            validation_code: v.validation_code,
            status: VerificationStatus::Pending,
        })
    }

    async fn submit_code(&self, _e164: &str, _code: &str) -> Result<CallerIdVerification, CarrierError> {
        Err(CarrierError::Unsupported("Twilio verifies caller IDs by phone call; the owner types the code in"))
    }

    /// A caller ID appears in Twilio's list only once verified; until then it is pending.
    async fn caller_id(&self, e164: &str) -> Result<Option<CallerIdVerification>, CarrierError> {
        Ok(self.verified_caller_id(e164).await?.map(|c| CallerIdVerification {
            carrier_ref: Some(c.sid),
            e164: c.phone_number,
            validation_code: None,
            status: VerificationStatus::Verified,
        }))
    }

    /// By the stored sid when there is one (one request); otherwise the sid is looked up by number.
    async fn remove_caller_id(&self, e164: &str, carrier_ref: Option<&str>) -> Result<(), CarrierError> {
        let sid = match carrier_ref.filter(|r| is_caller_id_sid(r)) {
            Some(sid) => sid.to_owned(),
            None => self.verified_caller_id(e164).await?.ok_or(CarrierError::NotFound)?.sid,
        };
        let resource = format!("{sid}.json");
        self.call(Method::DELETE, &["OutgoingCallerIds", &resource], &[], None).await?.ok(refusal)
    }
}

/// An `OutgoingCallerId` sid as Twilio's document gives it: `PN` and 32 hex digits. Anything else
/// stored as the ref (the number itself, for a verification that reported no sid) is looked up.
fn is_caller_id_sid(r: &str) -> bool {
    r.len() == 34 && r.starts_with("PN") && r[2..].bytes().all(|b| b.is_ascii_hexdigit())
}
