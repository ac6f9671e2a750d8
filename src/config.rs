//! Layered configuration: built-in defaults, then an optional TOML file (`--config` or
//! `NUMBERD_CONFIG`), then `NUMBERD_*` environment variables (`__` separates sections, e.g.
//! `NUMBERD_WORKER__INTERVAL_MS`). Unknown keys and bad values stop the start with a clear error.

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
    pub worker: WorkerConfig,
    pub carrier: CarrierConfig,
    pub outbox: OutboxConfig,
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
    pub max_connections: u32,
    /// How long a SQLite writer waits for the lock before giving up.
    pub busy_timeout_ms: u64,
}

/// Limits on slow or idle clients, and how long a stop may take.
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
            worker: WorkerConfig::default(),
            carrier: CarrierConfig::default(),
            outbox: OutboxConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { max_connections: 10, busy_timeout_ms: 10_000 }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { header_timeout_ms: 10_000, body_timeout_ms: 10_000, shutdown_grace_ms: 10_000 }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig { enabled: true, interval_ms: 1_000, batch: 100 }
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
        figment = figment.merge(Env::prefixed("NUMBERD_").ignore(&["config"]).split("__"));
        let config: Config = figment.extract().map_err(|e| {
            e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        crate::store::Backend::of_url(&self.database_url)
            .map_err(|e| format!("database_url ({}): {e}", redact_url(&self.database_url)))?;
        self.public_origin()?;
        let checks = [
            (self.database.max_connections == 0, "database.max_connections must be at least 1"),
            (self.worker.interval_ms == 0, "worker.interval_ms must be at least 1"),
            (self.worker.batch < 1, "worker.batch must be at least 1"),
            (self.carrier.timeout_ms == 0, "carrier.timeout_ms must be at least 1"),
            (self.outbox.max_attempts < 1, "outbox.max_attempts must be at least 1"),
            (self.outbox.backoff_base_ms == 0, "outbox.backoff_base_ms must be at least 1"),
            (self.outbox.backoff_max_ms < self.outbox.backoff_base_ms, "outbox.backoff_max_ms must be at least backoff_base_ms"),
            (self.http.header_timeout_ms == 0, "http.header_timeout_ms must be at least 1"),
            (self.http.body_timeout_ms == 0, "http.body_timeout_ms must be at least 1"),
            (self.max_body_bytes < 1024, "max_body_bytes must be at least 1024"),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err((*msg).into()),
            None => Ok(()),
        }
    }

    pub fn public_origin(&self) -> Result<crate::http::origin::PublicOrigin, String> {
        crate::http::origin::PublicOrigin::new(self.public_url.as_deref(), &self.trusted_proxies)
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
}
