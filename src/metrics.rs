//! Prometheus metrics (`GET /metrics`), with the `prometheus-client` crate. Each running service
//! has its own registry; carrier requests are counted process-wide, since the carrier clients
//! are built before any service and shared.

use std::sync::atomic::AtomicU64;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::jobs::Queue;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    queue: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NumberLabels {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CarrierLabels {
    account: String,
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CarrierOpLabels {
    account: String,
    operation: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
type Seconds = Gauge<f64, AtomicU64>;
/// (kind, status, count) rows of the inventory.
pub type NumberCounts = Vec<(String, String, i64)>;

/// Latency buckets from 1 ms to about 33 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

struct CarrierMetrics {
    requests: Family<CarrierLabels, Counter>,
    duration: Histograms<CarrierOpLabels>,
}

static CARRIER: LazyLock<CarrierMetrics> =
    LazyLock::new(|| CarrierMetrics { requests: Family::default(), duration: Family::new_with_constructor(latency) });

/// Counts one request to a carrier's API: `outcome` is `ok`, `refused` (the carrier answered
/// no) or `error` (no answer: timeout, connection failure).
pub fn carrier_request(account: &str, operation: &str, outcome: &'static str, took: Duration) {
    let op = CarrierOpLabels { account: account.to_owned(), operation: operation.to_owned() };
    CARRIER.duration.get_or_create(&op).observe(took.as_secs_f64());
    CARRIER.requests.get_or_create(&CarrierLabels { account: op.account, operation: op.operation, outcome }).inc();
}

/// The gauges computed when scraped, from the database.
pub struct Snapshot {
    /// Pending jobs by queue, and the age in seconds of the oldest one due.
    pub queues: Vec<(Queue, i64, f64)>,
    /// Seconds since the oldest period end of a live workspace that is due and not settled.
    pub period_end_lag: f64,
    /// Numbers in the inventory by kind and status.
    pub numbers: NumberCounts,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    jobs_finished: Family<JobLabels, Counter>,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    jobs_pending: Family<QueueLabels, Gauge>,
    job_oldest_due_age: Family<QueueLabels, Seconds>,
    period_end_lag: Seconds,
    numbers: Family<NumberLabels, Gauge>,
    /// The numbers count is a scan of the inventory: reused for a while between scrapes.
    numbers_cache: Mutex<Option<(Instant, NumberCounts)>>,
}

/// How long a count of the inventory is reused.
pub const NUMBERS_CACHE: Duration = Duration::from_secs(30);

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("numberd");
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            jobs_finished: Family::default(),
            webhook_deliveries: Family::default(),
            jobs_pending: Family::default(),
            job_oldest_due_age: Family::default(),
            period_end_lag: Seconds::default(),
            numbers: Family::default(),
            numbers_cache: Mutex::new(None),
            registry: Registry::default(),
        };
        registry.register("http_requests", "HTTP requests by route template, method and status", m.http_requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route template and method", m.http_duration.clone());
        registry.register("jobs_finished", "Job attempts by queue and result (done, retry, failed)", m.jobs_finished.clone());
        registry.register("jobs_pending", "Jobs waiting in each queue", m.jobs_pending.clone());
        registry.register(
            "job_oldest_due_age_seconds",
            "How long the oldest due job of each queue has waited",
            m.job_oldest_due_age.clone(),
        );
        registry.register(
            "period_end_lag_seconds",
            "How long ago the oldest due, unsettled period end of a live workspace fell due",
            m.period_end_lag.clone(),
        );
        registry.register("carrier_requests", "Carrier API requests by account, operation and outcome", CARRIER.requests.clone());
        registry.register("carrier_request_duration_seconds", "Carrier API latency by account and operation", CARRIER.duration.clone());
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, rejected, error)",
            m.webhook_deliveries.clone(),
        );
        registry.register("numbers", "Numbers in the inventory by kind and status", m.numbers.clone());
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.http_duration.get_or_create(&RouteLabels { route: route.clone(), method: method.clone() }).observe(took.as_secs_f64());
        self.http_requests.get_or_create(&HttpLabels { route, method, status }).inc();
    }

    /// One job attempt's result: `Ok`, or `Err(will_retry)`.
    pub fn job_finished(&self, queue: Queue, result: &Result<(), bool>) {
        let status = match result {
            Ok(()) => "done",
            Err(true) => "retry",
            Err(false) => "failed",
        };
        self.jobs_finished.get_or_create(&JobLabels { queue: queue.as_str(), status }).inc();
    }

    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The inventory count if one younger than [`NUMBERS_CACHE`] is at hand.
    pub fn cached_numbers(&self) -> Option<NumberCounts> {
        let cache = self.numbers_cache.lock().expect("not poisoned");
        cache.as_ref().filter(|(at, _)| at.elapsed() < NUMBERS_CACHE).map(|(_, n)| n.clone())
    }

    /// The exposition text, with the scrape-time gauges set from `snapshot`.
    pub fn render(&self, snapshot: Snapshot) -> String {
        self.jobs_pending.clear();
        self.job_oldest_due_age.clear();
        for (queue, pending, age) in snapshot.queues {
            let labels = QueueLabels { queue: queue.as_str() };
            self.jobs_pending.get_or_create(&labels).set(pending);
            self.job_oldest_due_age.get_or_create(&labels).set(age);
        }
        self.period_end_lag.set(snapshot.period_end_lag);
        self.numbers.clear();
        for (kind, status, count) in &snapshot.numbers {
            self.numbers.get_or_create(&NumberLabels { kind: kind.clone(), status: status.clone() }).set(*count);
        }
        *self.numbers_cache.lock().expect("not poisoned") = Some((Instant::now(), snapshot.numbers));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
