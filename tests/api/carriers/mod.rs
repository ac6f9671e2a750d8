//! Stateful fake Twilio and Telnyx servers (real HTTP on 127.0.0.1:0) for the carrier clients,
//! every exchange checked against the carriers' official documents, and the clients' tests.

mod caller_ids;
mod contract;
mod events;
mod fake_telnyx;
pub(crate) mod fake_twilio;
mod held;
mod orders;
mod release;
mod telnyx;
mod twilio;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

pub use contract::Contract;

/// A number a fake carrier has for sale.
#[derive(Clone)]
pub struct ForSale {
    pub e164: &'static str,
    pub country: &'static str,
    /// The carrier's own word for the type: Twilio `Local`/`TollFree`/`Mobile` (its path),
    /// Telnyx `local`/`toll_free`/`mobile` (its filter).
    pub kind: &'static str,
    pub sms: bool,
}

impl ForSale {
    pub fn us(e164: &'static str, kind: &'static str, sms: bool) -> ForSale {
        ForSale { e164, country: "US", kind, sms }
    }
}

/// A failure a fake answers the next matching request with.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// 429 with the carrier's code, body and delay header (seconds).
    RateLimited(u64),
    /// 500 without doing anything.
    ServerError,
    /// Does the work (a purchase goes through), then answers 500.
    ServerErrorAfterward,
    /// Never answers; the client's deadline must end it.
    Hang,
    /// 401 with the carrier's body: the credentials were revoked.
    Unauthorized,
}

/// What every fake shares: injected faults, the requests it saw, and how many were in flight.
#[derive(Default)]
pub struct Common {
    faults: Mutex<VecDeque<(Method, &'static str, Fault)>>,
    seen: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    latency: Mutex<Duration>,
}

/// How a carrier says no: its error body and rate-limit headers.
pub trait Dialect: Send + Sync + 'static {
    fn error(status: StatusCode, code: &str, message: &str) -> Response;
    fn rate_limited(seconds: u64) -> Response;
    /// The `Authorization` header value the account's credentials make.
    fn authorization(&self) -> String;
    /// The carrier's own answer, with its state updated.
    fn answer(&self, method: &Method, uri: &Uri, body: &Bytes) -> Response;
    fn common(&self) -> &Common;
}

impl Common {
    /// The next `method` request whose path contains `needle` gets `fault`.
    pub fn inject(&self, method: Method, needle: &'static str, fault: Fault) {
        self.faults.lock().unwrap().push_back((method, needle, fault));
    }

    /// `METHOD /path` of every request so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap() = latency;
    }

    fn take_fault(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let at = faults.iter().position(|(m, needle, _)| m == method && path.contains(needle))?;
        faults.remove(at).map(|(_, _, f)| f)
    }
}

async fn handle<D: Dialect>(State(fake): State<Arc<D>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let common = fake.common();
    common.seen.lock().unwrap().push(format!("{method} {}", uri.path()));
    let now = common.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    common.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let latency = *common.latency.lock().unwrap();
    tokio::time::sleep(latency).await;
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let response = if presented != Some(fake.authorization().as_str()) {
        D::error(StatusCode::UNAUTHORIZED, "auth", "Authentication failed")
    } else {
        match common.take_fault(&method, uri.path()) {
            None => fake.answer(&method, &uri, &body),
            Some(Fault::RateLimited(seconds)) => D::rate_limited(seconds),
            Some(Fault::ServerError) => D::error(StatusCode::INTERNAL_SERVER_ERROR, "500", "Internal server error"),
            Some(Fault::ServerErrorAfterward) => {
                fake.answer(&method, &uri, &body);
                D::error(StatusCode::INTERNAL_SERVER_ERROR, "500", "Internal server error")
            }
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::Unauthorized) => D::error(StatusCode::UNAUTHORIZED, "auth", "Authentication failed"),
        }
    };
    common.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// Ways the exchanges so far strayed from the document.
type Violations = Arc<Mutex<Vec<String>>>;

/// Records every way a request or response strays from the document.
async fn checked(State((contract, violations)): State<(Arc<Contract>, Violations)>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let (method, path) = (parts.method.to_string(), parts.uri.path().to_owned());
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut found = contract.check_request(&method, &path, parts.uri.query(), content_type.as_deref(), &body);
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    found.extend(contract.check_response(&method, &path, parts.status.as_u16(), &body));
    violations.lock().unwrap().extend(found);
    Response::from_parts(parts, Body::from(body))
}

/// A fake carrier listening on a local port.
pub struct FakeServer<D> {
    pub base_url: String,
    pub state: Arc<D>,
    violations: Violations,
}

impl<D: Dialect> FakeServer<D> {
    /// Serves `state` under `prefix` (the carrier's base path, e.g. `/v2`).
    pub async fn spawn(state: D, contract: Contract, prefix: &str) -> FakeServer<D> {
        let state = Arc::new(state);
        let violations = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(handle::<D>)
            .with_state(state.clone())
            .layer(middleware::from_fn_with_state((Arc::new(contract), violations.clone()), checked));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeServer { base_url: format!("http://{addr}{prefix}"), state, violations }
    }

    /// Every exchange so far matched the official document.
    pub fn assert_faithful(&self) {
        let v = self.violations.lock().unwrap();
        assert!(v.is_empty(), "exchanges that stray from the official document:\n{}", v.join("\n"));
    }
}

/// A JSON response.
pub fn json(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder().status(status).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap()
}

/// Query pairs of a request, decoded.
pub fn query(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A carrier id of `len` random hex digits.
pub fn hex_id(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

/// A client for `account`, built from configuration the way `numberd serve` builds it.
pub fn client(account: numberd::config::CarrierAccountConfig, timeout_ms: u64) -> Arc<dyn numberd::carrier::account::CarrierAccount> {
    named_client("acct", account, timeout_ms)
}

/// A client for `account` configured as `[carriers.NAME]`.
pub fn named_client(
    name: &str,
    account: numberd::config::CarrierAccountConfig,
    timeout_ms: u64,
) -> Arc<dyn numberd::carrier::account::CarrierAccount> {
    let mut config = numberd::config::Config::default();
    config.carrier.timeout_ms = timeout_ms;
    config.carriers.insert(name.into(), account);
    numberd::app::carrier_accounts(&config).unwrap().remove(name).unwrap()
}

pub fn twilio_account(fake: &FakeServer<fake_twilio::FakeTwilio>) -> numberd::config::CarrierAccountConfig {
    numberd::config::CarrierAccountConfig::Twilio {
        account_sid: fake_twilio::ACCOUNT_SID.into(),
        auth_token: numberd::config::Secret::new(fake_twilio::AUTH_TOKEN),
        base_url: fake.base_url.clone(),
        max_concurrent_requests: 4,
    }
}

pub fn telnyx_account(fake: &FakeServer<fake_telnyx::FakeTelnyx>) -> numberd::config::CarrierAccountConfig {
    numberd::config::CarrierAccountConfig::Telnyx {
        api_key: numberd::config::Secret::new(fake_telnyx::API_KEY),
        base_url: fake.base_url.clone(),
        max_concurrent_requests: 4,
    }
}

/// numberd with one carrier account, `us`, the default; `tweak` adjusts the rest.
pub async fn app_with(
    backend: crate::common::Backend,
    account: numberd::config::CarrierAccountConfig,
    tweak: impl FnOnce(&mut numberd::config::Config),
) -> crate::common::TestApp {
    crate::common::TestApp::spawn_with(backend, |c: &mut numberd::config::Config| {
        c.carriers.insert("us".into(), account);
        c.default_carrier = Some("us".into());
        // Long enough that a retry is not already due while the test looks at the first failure.
        (c.outbox.backoff_base_ms, c.outbox.backoff_max_ms) = (300, 300);
        tweak(c);
    })
    .await
}

/// The platform already holds `e164` at the carrier (bought there before numberd).
pub async fn already_held(app: &crate::common::TestApp, e164: &str) {
    use numberd::carrier::account::Purchase;
    let (_, account) = app.running.core.account(Some("us")).unwrap();
    if let Purchase::Pending { order_ref } = account.buy(e164, "bought-before-numberd").await.unwrap() {
        while !matches!(account.poll_order(&order_ref, e164).await.unwrap(), Purchase::Owned(_)) {}
    }
}

/// Either fake, for scenarios that run on both carriers.
pub enum AnyFake {
    Twilio(FakeServer<fake_twilio::FakeTwilio>),
    Telnyx(FakeServer<fake_telnyx::FakeTelnyx>),
}

impl AnyFake {
    /// A fake of `kind` (`twilio` or `telnyx`) selling `for_sale` (US local numbers).
    pub async fn spawn(kind: &str, for_sale: &[&'static str]) -> AnyFake {
        match kind {
            "twilio" => {
                AnyFake::Twilio(fake_twilio::FakeTwilio::spawn(for_sale.iter().map(|e| ForSale::us(e, "Local", true)).collect()).await)
            }
            _ => AnyFake::Telnyx(fake_telnyx::FakeTelnyx::spawn(for_sale.iter().map(|e| ForSale::us(e, "local", true)).collect(), 0).await),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AnyFake::Twilio(_) => "twilio",
            AnyFake::Telnyx(_) => "telnyx",
        }
    }

    pub fn account(&self) -> numberd::config::CarrierAccountConfig {
        match self {
            AnyFake::Twilio(f) => twilio_account(f),
            AnyFake::Telnyx(f) => telnyx_account(f),
        }
    }

    pub fn common(&self) -> &Common {
        match self {
            AnyFake::Twilio(f) => &f.state.common,
            AnyFake::Telnyx(f) => &f.state.common,
        }
    }

    /// Numbers the account holds.
    pub fn held(&self) -> Vec<String> {
        match self {
            AnyFake::Twilio(f) => f.state.held(),
            AnyFake::Telnyx(f) => f.state.held(),
        }
    }

    /// The account's verified caller IDs.
    pub fn caller_ids(&self) -> Vec<String> {
        match self {
            AnyFake::Twilio(f) => f.state.caller_ids(),
            AnyFake::Telnyx(f) => f.state.verified(),
        }
    }

    /// The path fragment of the carrier's caller-ID resource (whose DELETE removes one).
    pub fn caller_id_resource(&self) -> &'static str {
        match self {
            AnyFake::Twilio(_) => "OutgoingCallerIds/",
            AnyFake::Telnyx(_) => "verified_numbers/",
        }
    }

    pub fn assert_faithful(&self) {
        match self {
            AnyFake::Twilio(f) => f.assert_faithful(),
            AnyFake::Telnyx(f) => f.assert_faithful(),
        }
    }
}

/// `max_concurrent_requests` holds however many requests the service fires at once.
#[tokio::test]
async fn per_account_limit_caps_requests_in_flight() {
    use numberd::config::{CarrierAccountConfig, Secret};
    let twilio = fake_twilio::FakeTwilio::spawn(Vec::new()).await;
    let telnyx = fake_telnyx::FakeTelnyx::spawn(Vec::new(), 0).await;
    let accounts = [
        (
            client(
                CarrierAccountConfig::Twilio {
                    account_sid: fake_twilio::ACCOUNT_SID.into(),
                    auth_token: Secret::new(fake_twilio::AUTH_TOKEN),
                    base_url: twilio.base_url.clone(),
                    max_concurrent_requests: 2,
                },
                5_000,
            ),
            &twilio.state.common,
        ),
        (
            client(
                CarrierAccountConfig::Telnyx {
                    api_key: Secret::new(fake_telnyx::API_KEY),
                    base_url: telnyx.base_url.clone(),
                    max_concurrent_requests: 3,
                },
                5_000,
            ),
            &telnyx.state.common,
        ),
    ];
    for (limit, (account, common)) in [2, 3].into_iter().zip(accounts) {
        common.set_latency(Duration::from_millis(100));
        let lookups = (0..10).map(|i| {
            let account = account.clone();
            async move { account.find_owned(&format!("+1415555{i:04}")).await }
        });
        for found in futures::future::join_all(lookups).await {
            assert_eq!(found, Ok(None));
        }
        assert_eq!(common.seen().len(), 10);
        assert_eq!(common.max_in_flight(), limit, "never more than the account's limit, and the limit used");
    }
    twilio.assert_faithful();
    telnyx.assert_faithful();
}
