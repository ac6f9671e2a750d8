//! Layered configuration: built-in defaults, then an optional TOML file (`--config` or
//! `NUMBERD_CONFIG`), then `NUMBERD_*` environment variables (`__` separates sections, e.g.
//! `NUMBERD_WORKER__INTERVAL_MS`). Unknown keys and bad values stop the start with a clear error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://numberd.db` (default) or `postgres://user:pass@host/db`.
    pub database_url: String,
    pub listen: SocketAddr,
    /// Where clients reach the service (`https://numbers.example.com`); absolute URLs in
    /// responses are built from it. Unset: from a trusted proxy's `X-Forwarded-*`, else the
    /// address the connection arrived on; never from `Host`.
    pub public_url: Option<String>,
    /// Peers (IPs or CIDR blocks) whose `X-Forwarded-Proto`/`X-Forwarded-Host` are believed.
    pub trusted_proxies: Vec<String>,
    /// `text` for people, `json` for log shippers.
    pub log_format: LogFormat,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub worker: WorkerConfig,
    pub carrier: CarrierConfig,
    pub outbox: OutboxConfig,
    pub caller_ids: CallerIdConfig,
    /// The carrier account numbers are bought from when a request names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_carrier: Option<String>,
    /// Named accounts at real carriers, `[carriers.NAME]`; none: numbers are registered by hand.
    pub carriers: BTreeMap<String, CarrierAccountConfig>,
    pub events: EventsConfig,
    pub webhooks: WebhooksConfig,
    /// Serve `GET /metrics` on this address too (it is always on `listen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events older than this are deleted.
    pub retention_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { retention_days: 90 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Admit `http` URLs and loopback, private and link-local addresses (local receivers, tests).
    pub allow_private: bool,
    /// Deadline for one delivery attempt, connection included.
    pub timeout_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig { allow_private: false, timeout_ms: 10_000 }
    }
}

/// One account at a real carrier, chosen by `kind`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum CarrierAccountConfig {
    Twilio {
        #[serde(default)]
        account_sid: String,
        #[serde(default)]
        auth_token: Secret,
        #[serde(default = "twilio_base_url")]
        base_url: String,
        /// Requests in flight at once for this account; more wait their turn.
        #[serde(default = "default_max_concurrent_requests")]
        max_concurrent_requests: usize,
    },
    Telnyx {
        #[serde(default)]
        api_key: Secret,
        #[serde(default = "telnyx_base_url")]
        base_url: String,
        #[serde(default = "default_max_concurrent_requests")]
        max_concurrent_requests: usize,
    },
}

fn twilio_base_url() -> String {
    "https://api.twilio.com".into()
}

fn telnyx_base_url() -> String {
    "https://api.telnyx.com/v2".into()
}

fn default_max_concurrent_requests() -> usize {
    4
}

/// A credential: readable only through [`Secret::expose`]; `Debug` and `Serialize` print a mask, so
/// it cannot reach a log line or a config dump by accident.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"********\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("********")
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Pool size. On PostgreSQL the reads of numbers have a pool of their own of this size too,
    /// so a node opens up to twice as many server connections.
    pub max_connections: u32,
    /// How long a SQLite writer waits for the lock before giving up.
    pub busy_timeout_ms: u64,
    /// How long a request waits for a pooled connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// How much of a SQLite file its readers map into memory (MiB), so a page the OS has cached is
    /// read in place rather than copied into each reader's own small cache. 0: not mapped (for a
    /// file system where mapping is unsafe, such as a network share).
    pub sqlite_mmap_mb: u64,
}

/// Limits on slow or idle clients, and how long a stop may take.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// How long a node trusts an access key it has checked before asking the database again: the
    /// bound within which a revocation (made on any node, or by the CLI) takes effect. 0: never
    /// cached.
    pub key_cache_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { key_cache_ms: 2_000 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Deadline for a request's headers to arrive, counted from the moment the server waits for
    /// them: this also closes an idle keep-alive connection that sends no next request.
    pub header_timeout_ms: u64,
    /// Longest silence while a request body is being received.
    pub body_timeout_ms: u64,
    /// On SIGTERM or Ctrl-C: how long in-flight requests and the worker's current pass may take
    /// before the remaining connections are cut.
    pub shutdown_grace_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Run the period-end worker and outbox delivery inside `serve`.
    pub enabled: bool,
    pub interval_ms: u64,
    /// Numbers settled per database round.
    pub batch: i64,
    /// Carrier jobs one node runs at once (bulk releases); each account's
    /// `max_concurrent_requests` still caps what reaches the carrier.
    pub carrier_concurrency: usize,
    /// Jobs a queue claims in one statement and records in one transaction.
    pub job_batch: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierConfig {
    /// `local`: no outside carrier.
    pub kind: CarrierKind,
    /// Deadline for one carrier request.
    pub timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CarrierKind {
    Local,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts before a carrier job is parked as `failed`.
    pub max_attempts: i64,
    /// First retry delay; doubles with every failed attempt up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How long a claimed job is reserved for its worker before another may take it over.
    pub lease_ms: u64,
}

/// Caller-ID verifications: how long one may take, and how often the carrier is asked meanwhile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CallerIdConfig {
    /// A verification not confirmed within this (real time) is `expired`.
    pub expiry_ms: u64,
    /// Pause between checks at the carrier while a verification is pending.
    pub poll_interval_ms: u64,
}

impl Default for CallerIdConfig {
    fn default() -> Self {
        // Twilio's verification call is placed at once and Telnyx's code lives about ten minutes;
        // fifteen minutes covers either, and a check every 10 s costs 90 carrier requests at most.
        CallerIdConfig { expiry_ms: 15 * 60 * 1000, poll_interval_ms: 10_000 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://numberd.db".into(),
            listen: "127.0.0.1:8080".parse().expect("valid default"),
            public_url: None,
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            max_body_bytes: 64 * 1024,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            worker: WorkerConfig::default(),
            carrier: CarrierConfig::default(),
            outbox: OutboxConfig::default(),
            caller_ids: CallerIdConfig::default(),
            default_carrier: None,
            carriers: BTreeMap::new(),
            events: EventsConfig::default(),
            webhooks: WebhooksConfig::default(),
            metrics_listen: None,
        }
    }
}

impl DatabaseConfig {
    /// `sqlite_mmap_mb` in bytes (saturating: SQLite caps it anyway).
    pub fn sqlite_mmap_bytes(&self) -> u64 {
        self.sqlite_mmap_mb.saturating_mul(1 << 20)
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { max_connections: 10, busy_timeout_ms: 10_000, acquire_timeout_ms: 5_000, sqlite_mmap_mb: 1024 }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { header_timeout_ms: 10_000, body_timeout_ms: 10_000, shutdown_grace_ms: 10_000 }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig { enabled: true, interval_ms: 1_000, batch: 500, carrier_concurrency: 8, job_batch: 64 }
    }
}

impl Default for CarrierConfig {
    fn default() -> Self {
        CarrierConfig { kind: CarrierKind::Local, timeout_ms: 10_000 }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig { max_attempts: 12, backoff_base_ms: 1_000, backoff_max_ms: 3_600_000, lease_ms: 60_000 }
    }
}

impl Config {
    /// Reads the layers. `file` is `--config`; without it `NUMBERD_CONFIG` may name one.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let from_env = std::env::var_os("NUMBERD_CONFIG").map(std::path::PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(from_env) {
            if !path.is_file() {
                return Err(format!("configuration file {} does not exist", path.display()));
            }
            figment = figment.merge(Toml::file(path));
        }
        // NUMBERD_CONFIG names the file and NUMBERD_LOG is the log filter: neither is a setting.
        figment = figment.merge(Env::prefixed("NUMBERD_").ignore(&["config", "log"]).split("__"));
        let config: Config = figment.extract().map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        crate::store::Backend::of_url(&self.database_url).map_err(|e| format!("database_url ({}): {e}", redact_url(&self.database_url)))?;
        self.public_origin()?;
        self.validate_carriers()?;
        let checks = [
            (self.database.max_connections == 0, "database.max_connections must be at least 1"),
            (self.database.acquire_timeout_ms == 0, "database.acquire_timeout_ms must be at least 1"),
            (self.worker.interval_ms == 0, "worker.interval_ms must be at least 1"),
            (self.worker.batch < 1, "worker.batch must be at least 1"),
            (self.worker.carrier_concurrency == 0, "worker.carrier_concurrency must be at least 1"),
            (self.worker.job_batch < 1, "worker.job_batch must be at least 1"),
            (self.caller_ids.expiry_ms == 0, "caller_ids.expiry_ms must be at least 1"),
            (self.caller_ids.poll_interval_ms == 0, "caller_ids.poll_interval_ms must be at least 1"),
            (self.carrier.timeout_ms == 0, "carrier.timeout_ms must be at least 1"),
            (self.outbox.max_attempts < 1, "outbox.max_attempts must be at least 1"),
            (self.outbox.backoff_base_ms == 0, "outbox.backoff_base_ms must be at least 1"),
            (self.outbox.backoff_max_ms < self.outbox.backoff_base_ms, "outbox.backoff_max_ms must be at least backoff_base_ms"),
            (self.http.header_timeout_ms == 0, "http.header_timeout_ms must be at least 1"),
            (self.http.body_timeout_ms == 0, "http.body_timeout_ms must be at least 1"),
            (self.max_body_bytes < 1024, "max_body_bytes must be at least 1024"),
            (self.events.retention_days == 0, "events.retention_days must be at least 1"),
            (self.webhooks.timeout_ms == 0, "webhooks.timeout_ms must be at least 1"),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err((*msg).into()),
            None => Ok(()),
        }
    }

    pub fn public_origin(&self) -> Result<crate::http::origin::PublicOrigin, String> {
        crate::http::origin::PublicOrigin::new(self.public_url.as_deref(), &self.trusted_proxies)
    }

    fn validate_carriers(&self) -> Result<(), String> {
        let names = || self.carriers.keys().cloned().collect::<Vec<_>>().join(", ");
        match &self.default_carrier {
            Some(name) if !self.carriers.contains_key(name) => {
                return Err(format!("default_carrier: no carrier account named {name:?} (configured: [{}])", names()));
            }
            None if !self.carriers.is_empty() => {
                return Err(format!("default_carrier must name one of the carrier accounts ({})", names()));
            }
            _ => {}
        }
        for (name, account) in &self.carriers {
            let (secrets, base_url, max) = match account {
                CarrierAccountConfig::Twilio { account_sid, auth_token, base_url, max_concurrent_requests } => {
                    (vec![("account_sid", account_sid.as_str()), ("auth_token", auth_token.expose())], base_url, max_concurrent_requests)
                }
                CarrierAccountConfig::Telnyx { api_key, base_url, max_concurrent_requests } => {
                    (vec![("api_key", api_key.expose())], base_url, max_concurrent_requests)
                }
            };
            if let Some((key, _)) = secrets.iter().find(|(_, value)| value.trim().is_empty()) {
                return Err(format!("carriers.{name}.{key} must be set"));
            }
            if !matches!(url::Url::parse(base_url), Ok(u) if u.scheme() == "http" || u.scheme() == "https") {
                return Err(format!("carriers.{name}.base_url must be an http(s) URL, not {base_url:?}"));
            }
            if *max == 0 {
                return Err(format!("carriers.{name}.max_concurrent_requests must be at least 1"));
            }
        }
        Ok(())
    }

    pub fn carrier_timeout(&self) -> Duration {
        Duration::from_millis(self.carrier.timeout_ms)
    }
}

/// The URL with any password replaced, for logs and error messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("********"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        let r = redact_url("postgres://numberd:hunter2@db.internal:5432/numberd");
        assert!(!r.contains("hunter2"));
        assert!(r.contains("db.internal"));
    }

    #[test]
    fn carrier_secrets_never_reach_debug_or_dumps() {
        let mut config = Config { default_carrier: Some("us".into()), ..Config::default() };
        let us = CarrierAccountConfig::Twilio {
            account_sid: "AC0123".into(),
            auth_token: Secret::new("twilio-token-42"),
            base_url: twilio_base_url(),
            max_concurrent_requests: 4,
        };
        let eu =
            CarrierAccountConfig::Telnyx { api_key: Secret::new("KEYtelnyx42"), base_url: telnyx_base_url(), max_concurrent_requests: 2 };
        config.carriers.extend([("us".to_owned(), us), ("eu".to_owned(), eu)]);
        assert_eq!(config.validate(), Ok(()));
        for shown in [format!("{config:?}"), format!("{config:#?}"), serde_json::to_string(&config).unwrap()] {
            assert!(!shown.contains("twilio-token-42") && !shown.contains("KEYtelnyx42"), "{shown}");
            assert!(shown.contains("AC0123") && shown.contains("********"), "{shown}");
        }
    }
}
