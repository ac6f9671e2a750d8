//! What the Twilio and Telnyx clients share: one HTTP client with a deadline, a per-account cap on
//! requests in flight, and the mapping from an HTTP failure to a [`CarrierError`].

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use super::CarrierError;

#[derive(Debug)]
pub(crate) struct Transport {
    pub client: reqwest::Client,
    base: Url,
    permits: Semaphore,
    /// The account as metrics name it: its name in the configuration (`[carriers.NAME]`).
    account: String,
}

/// A carrier's answer, read whole while the request still held its permit.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// A failed reply as the carrier described it.
pub(crate) struct Refusal {
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Transport {
    pub fn new(account: &str, base_url: &str, timeout: Duration, max_concurrent: usize) -> Result<Transport, String> {
        let mut base = Url::parse(base_url).map_err(|e| format!("base_url {base_url:?}: {e}"))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(Transport { client, base, permits: Semaphore::new(max_concurrent), account: account.to_owned() })
    }

    /// The base URL plus path segments, each percent-encoded as needed.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("http base url").pop_if_empty().extend(segments);
        url
    }

    pub async fn send(&self, request: RequestBuilder) -> Result<Reply, CarrierError> {
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        let request = request.build().map_err(request_error)?;
        let operation = operation(&request);
        let started = std::time::Instant::now();
        let reply = self.exchange(request).await;
        let outcome = match &reply {
            Ok(r) if r.status.is_success() => "ok",
            Ok(_) => "refused",
            Err(_) => "error",
        };
        crate::metrics::carrier_request(&self.account, &operation, outcome, started.elapsed());
        reply
    }

    async fn exchange(&self, request: reqwest::Request) -> Result<Reply, CarrierError> {
        let response = self.client.execute(request).await.map_err(request_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(request_error)?.to_vec();
        Ok(Reply { status, headers, body })
    }
}

/// A request as metrics name it: the method and the last path segment that names a collection
/// (`DELETE IncomingPhoneNumbers`, `POST number_orders`), never an id or a phone number.
fn operation(request: &reqwest::Request) -> String {
    let segments = request.url().path_segments().map(|s| s.collect::<Vec<_>>()).unwrap_or_default();
    let resource = segments
        .iter()
        .rev()
        .map(|s| s.strip_suffix(".json").unwrap_or(s))
        .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-'))
        .unwrap_or("");
    format!("{} {resource}", request.method())
}

fn request_error(e: reqwest::Error) -> CarrierError {
    if e.is_timeout() {
        CarrierError::Timeout
    } else {
        CarrierError::Failed(e.without_url().to_string())
    }
}

impl Reply {
    /// The body as `T` when the carrier said yes; otherwise the carrier's refusal, classified.
    pub fn decode<T: DeserializeOwned>(self, refusal: fn(&Reply) -> Refusal) -> Result<T, CarrierError> {
        self.ok(refusal)?;
        serde_json::from_slice(&self.body).map_err(|e| CarrierError::Failed(format!("unreadable carrier answer: {e}")))
    }

    pub fn ok(&self, refusal: fn(&Reply) -> Refusal) -> Result<(), CarrierError> {
        if self.status.is_success() {
            return Ok(());
        }
        let Refusal { code, message, retry_after } = refusal(self);
        Err(match self.status.as_u16() {
            404 => CarrierError::NotFound,
            401 | 403 => CarrierError::RejectedCredentials(message),
            // Without the carrier's hint, a short pause before the next try.
            429 => CarrierError::RateLimited { retry_after: retry_after.unwrap_or(Duration::from_secs(1)) },
            500..=599 => CarrierError::Failed(format!("{} (code {code}): {message}", self.status)),
            status => CarrierError::Rejected { status, code, message },
        })
    }

    /// A header holding whole seconds (`Retry-After`, `x-ratelimit-reset`).
    pub fn seconds_header(&self, name: &str) -> Option<Duration> {
        let value = self.headers.get(name)?.to_str().ok()?;
        value.trim().parse::<u64>().ok().map(Duration::from_secs)
    }
}
