//! Test harness: spawns numberd in-process on port 0 against a real database, and talks to it
//! over real HTTP. Every scenario runs on SQLite (a fresh file) and PostgreSQL (a fresh schema).

use std::sync::Arc;

use numberd::app::{self, Running};
use numberd::carrier::scripted::ScriptedCarrier;
use numberd::config::Config;
use numberd::domain::clock::{truncate, Clock};
use numberd::store::workspaces;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `async fn $name(backend: Backend)` once per backend, as tests `$name::sqlite` and
/// `$name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )+};
}

pub fn postgres_base_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database nobody else uses: a temp SQLite file, or a new PostgreSQL schema reached through
/// `search_path`. Under `CI=true` an unreachable PostgreSQL fails the test, never skips it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("numberd.db").display());
                TestDb { url, _dir: Some(dir) }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let base = postgres_base_url();
                let mut conn = match sqlx::PgConnection::connect(&base).await {
                    Ok(c) => c,
                    Err(e) => panic!("PostgreSQL at {base} is unreachable ({e}); start it (see README) or set TEST_POSTGRES_URL"),
                };
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                TestDb { url: format!("{base}{sep}options=-c%20search_path%3D{schema}"), _dir: None }
            }
        }
    }
}

/// A database migrated only up to (not including) migration `version`: the schema an older
/// numberd left, for upgrade tests.
pub async fn migrated_before(db: &TestDb, backend: Backend, version: i64) -> numberd::store::Db {
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut migrator = sqlx::migrate::Migrator::new(std::path::Path::new(&path)).await.unwrap();
    migrator.migrations = migrator.migrations.iter().filter(|m| m.version < version).cloned().collect();
    let opts = numberd::store::DbOptions {
        url: db.url.clone(),
        max_connections: 2,
        busy_timeout: std::time::Duration::from_secs(5),
        acquire_timeout: std::time::Duration::from_secs(5),
        sqlite_mmap_bytes: 0,
    };
    let pool = numberd::store::Db::connect(&opts).await.unwrap();
    migrator.run(&pool.pool).await.unwrap();
    pool
}

pub fn test_config(db_url: &str) -> Config {
    let mut c = Config { database_url: db_url.into(), listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
    // Tests drive period ends through test clocks and explicit sweeps; no background ticks.
    c.worker.enabled = false;
    c.database.max_connections = 8;
    // Revocations take effect at once unless a test measures the cache's bound.
    c.auth.key_cache_ms = 0;
    c.carrier.timeout_ms = 500;
    c.outbox.backoff_base_ms = 1;
    c.outbox.backoff_max_ms = 5;
    c.outbox.max_attempts = 4;
    c
}

/// Real time shifted by an offset tests can move: lets a test jump a live workspace months ahead
/// while time keeps flowing (backoff and leases still see it pass).
#[derive(Default)]
pub struct ShiftedClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    pub fn shift(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let offset = chrono::Duration::milliseconds(self.offset_ms.load(std::sync::atomic::Ordering::SeqCst));
        truncate(chrono::Utc::now() + offset)
    }
}

pub struct TestApp {
    pub base: String,
    pub clock: Arc<ShiftedClock>,
    pub http: reqwest::Client,
    pub carrier: Arc<ScriptedCarrier>,
    pub running: Running,
    pub db: TestDb,
    pub config: Config,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new(backend).await;
        Self::start_on(db, |url| {
            let mut config = test_config(url);
            tweak(&mut config);
            config
        })
        .await
    }

    /// Starts on a database a test has prepared, with the configuration `config` gives for it.
    pub async fn start_on(db: TestDb, config: impl FnOnce(&str) -> Config) -> TestApp {
        let config = config(&db.url);
        Self::start(db, config, Arc::new(ScriptedCarrier::new()), Arc::new(ShiftedClock::default())).await
    }

    /// numberd started on a database a test prepared (e.g. left at an older migration).
    pub async fn spawn_on(db: TestDb) -> TestApp {
        let config = test_config(&db.url);
        Self::start(db, config, Arc::new(ScriptedCarrier::new()), Arc::new(ShiftedClock::default())).await
    }

    /// Another node on the same database (and the same scripted carrier).
    pub async fn another_node(&self) -> TestApp {
        self.another_node_with(|_| {}).await
    }

    /// Another node on the same database, configured differently.
    pub async fn another_node_with(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb { url: self.db.url.clone(), _dir: None };
        let mut config = self.config.clone();
        tweak(&mut config);
        Self::start(db, config, self.carrier.clone(), self.clock.clone()).await
    }

    async fn start(db: TestDb, config: Config, carrier: Arc<ScriptedCarrier>, clock: Arc<ShiftedClock>) -> TestApp {
        let pool = app::connect(&config).await.expect("connect and migrate");
        let core = app::core(&config, pool, clock.clone(), carrier.clone()).expect("carrier accounts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = app::start(&config, core, listener).await.expect("start");
        TestApp { base: format!("http://{}", running.addr), clock, http: reqwest::Client::new(), carrier, running, db, config }
    }

    /// A new workspace with one access key, created the way `numberd workspace create` does.
    pub async fn workspace(&self, test_mode: bool) -> Ws {
        let (ws, key) =
            workspaces::create_workspace(&self.running.core.db, "Test", test_mode, chrono::Utc::now()).await.expect("create workspace");
        self.as_workspace(ws.id.to_string(), key.secret)
    }

    /// Calls the API as an existing workspace with one of its keys.
    pub fn as_workspace(&self, id: String, key: String) -> Ws {
        Ws { id, key, app: self.base.clone(), http: self.http.clone() }
    }

    pub async fn raw(&self, method: Method, path: &str, auth: Option<&str>, body: Option<&str>) -> (StatusCode, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }
}

/// A workspace and its key, with helpers that call the API as that workspace.
#[derive(Clone)]
pub struct Ws {
    pub id: String,
    pub key: String,
    app: String,
    http: reqwest::Client,
}

impl Ws {
    /// `path` is relative to `/workspaces/{id}` when it starts with `./`, absolute otherwise.
    fn url(&self, path: &str) -> String {
        match path.strip_prefix("./") {
            Some(rest) => format!("{}/workspaces/{}/{rest}", self.app, self.id),
            None => format!("{}{path}", self.app),
        }
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.app
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).header("authorization", format!("AccessKey {}", self.key));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: body is not JSON: {text}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Registers a number and returns it; panics unless 201.
    pub async fn register(&self, body: Value) -> Value {
        let (status, n) = self.post("./numbers", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "register {body}: {n}");
        n
    }

    pub async fn advance(&self, to: &str) -> (StatusCode, Value) {
        self.post("./test-clock/advance", serde_json::json!({ "to": to })).await
    }

    pub async fn clock(&self) -> chrono::DateTime<chrono::Utc> {
        let (_, c) = self.get("./test-clock").await;
        c["now"].as_str().unwrap().parse().unwrap()
    }
}

/// Bird's `Number` schema (OpenAPI 3.0) as a JSON Schema validator: `nullable` becomes a `null`
/// alternative, and `$ref`s resolve inside the Bird document.
pub fn bird_number_validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/bird/numbers-cancel-subscription.openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    openapi30_to_json_schema(&mut doc);
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/Number",
        "components": doc["components"].clone(),
    });
    jsonschema::options().should_validate_formats(true).build(&schema).expect("Bird's Number schema compiles")
}

/// Rewrites an OpenAPI 3.0 schema (or a whole document) in place into JSON Schema 2020-12:
/// `nullable` becomes a `null` alternative; `discriminator` and `example` (annotations 3.0 knows
/// and JSON Schema does not) are dropped.
pub fn openapi30_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), serde_json::json!([inner, { "type": "null" }]));
                    return;
                }
            }
            map.remove("discriminator");
            map.remove("example");
            for (_, child) in map.iter_mut() {
                openapi30_to_json_schema(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(openapi30_to_json_schema),
        _ => {}
    }
}

pub fn assert_bird_number(validator: &jsonschema::Validator, n: &Value) {
    let errors: Vec<String> = validator.iter_errors(n).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "not a valid Bird Number: {errors:#?}\n{n:#}");
}
