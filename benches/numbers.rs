//! `cargo bench --bench numbers` — numberd side by side with its limits, in one run on one
//! machine, on SQLite and on PostgreSQL (issue #10's table):
//!
//! - reads against a bare axum handler serving the very bytes numberd returned (the framework's
//!   limit): GET one number, a 99-row page at a random depth;
//! - a page also against numberd's own statement for it, run as raw SQL (the database's limit);
//! - a selective `numberPrefix` page against an unfiltered page;
//! - writes against raw SQL doing the same statements with the same concurrency (the database's
//!   limit; for SQLite one serialised writer): register (POST) and release (DELETE of a SIP number),
//!   each with the event row numberd records and its webhook lookup;
//! - the period-end sweep of due numbers (half renew, half release) and carrier-job delivery, as
//!   rates against the goal of a million period ends in a minute.
//!
//! Each pair runs alternately (A, B, A, B, …) `BENCH_ROUNDS` times; the ratio numberd ÷ limit is
//! printed as its median with the spread (min–max) over the rounds. Sizes: `BENCH_NUMBERS`
//! (default 1,000,000, seeded with SQL, not through the API), `BENCH_SECONDS` per run (default
//! 3), `BENCH_CONNECTIONS` (default 32), `BENCH_SWEEP` due numbers (default 50,000),
//! `BENCH_JOBS` carrier jobs (default 20,000), `BENCH_BACKENDS` (default `sqlite,postgres`),
//! `BENCH_ONLY` (some of get, list, prefix, release, register, sweep, jobs; default all).
//! PostgreSQL: `TEST_POSTGRES_URL` (a fresh schema in it, dropped at the end).
//!
//! Under `cargo test` (no `--bench` argument) it runs tiny sizes as a smoke test, so it never rots.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::Utc;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use numberd::app;
use numberd::carrier::local::LocalCarrier;
use numberd::config::{Config, DatabaseConfig};
use numberd::domain::clock::{to_micros, SystemClock};
use numberd::domain::ids::time_ordered;
use numberd::jobs::{CarrierRelease, Queue};
use numberd::service::Core;
use numberd::store::{numbers, workspaces, Db};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, Row};

/// The allocator the `numberd` binary runs with (both sides of each pair share it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Whether `BENCH_ONLY` (a comma-separated list of get, list, prefix, release, register, sweep,
/// jobs; default all) names this part of the table.
fn part(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == name))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Sizes {
    numbers: usize,
    seconds: f64,
    connections: usize,
    rounds: usize,
    sweep: usize,
    jobs: usize,
}

/// What one timed run did.
#[derive(Clone, Copy, Debug)]
struct Stats {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
    assert!(!latencies.is_empty(), "a run finished no operation");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Stats { per_sec: latencies.len() as f64 / elapsed.as_secs_f64(), p50: at(0.5), p99: at(0.99) }
}

/// One HTTP request of a load: method, path and JSON body; `None` once the load's supply (of
/// numbers to release, say) is used up.
type MakeRequest = Arc<dyn Fn(u64) -> Option<(Method, String, Option<Value>)> + Send + Sync>;

/// Runs one `lane` per connection until `seconds` have passed and merges their latencies. Each
/// lane gets the shared operation counter and the deadline.
async fn drive<F, Fut>(sizes: Sizes, lane: F) -> Stats
where
    F: Fn(Arc<AtomicU64>, Instant) -> Fut,
    Fut: std::future::Future<Output = Vec<Duration>> + Send + 'static,
{
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(sizes.seconds);
    let tasks: Vec<_> = (0..sizes.connections).map(|_| tokio::spawn(lane(counter.clone(), deadline))).collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    stats(all, started.elapsed())
}

/// `connections` keep-alive HTTP/1.1 connections sending requests back to back for `seconds`.
/// Request `i` (counted across connections) is `make(i)`; anything but a 2xx fails the run.
async fn http_load(addr: SocketAddr, key: &str, sizes: Sizes, make: MakeRequest) -> Stats {
    let auth = format!("AccessKey {key}");
    drive(sizes, |counter, deadline| {
        let (make, auth) = (make.clone(), auth.clone());
        async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some((method, path, body)) = make(counter.fetch_add(1, Ordering::Relaxed)) else { break };
                let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
                let request = Request::builder()
                    .method(method)
                    .uri(&path)
                    .header("host", "bench")
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .unwrap();
                let t = Instant::now();
                let response = send.send_request(request).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body));
                latencies.push(t.elapsed());
            }
            latencies
        }
    })
    .await
}

/// An operation of a raw-SQL load, given its index; `None` once the supply is used up.
type MakeOp = Arc<dyn Fn(u64) -> Option<BoxFuture<'static, ()>> + Send + Sync>;

/// `connections` tasks running `op` back to back for `seconds`.
async fn raw_load(sizes: Sizes, op: MakeOp) -> Stats {
    drive(sizes, |counter, deadline| {
        let op = op.clone();
        async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some(op) = op(counter.fetch_add(1, Ordering::Relaxed)) else { break };
                let t = Instant::now();
                op.await;
                latencies.push(t.elapsed());
            }
            latencies
        }
    })
    .await
}

/// A bare axum server answering every request with `bytes`: the framework's limit for a read.
async fn bare_handler(bytes: Bytes) -> SocketAddr {
    let app = axum::Router::new().fallback(move || {
        let bytes = bytes.clone();
        async move { ([("content-type", "application/json")], bytes) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Runs `a` and `b` alternately `rounds` times: the ratio `a ÷ b` (of throughput when `by_rate`,
/// else of p50 latency), as median and spread, with the last run of each.
async fn side_by_side<A, B>(rounds: usize, by_rate: bool, mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> (Stats, Stats, Vec<f64>)
where
    A: std::future::Future<Output = Stats>,
    B: std::future::Future<Output = Stats>,
{
    let mut ratios = Vec::new();
    let (mut last_a, mut last_b) = (None, None);
    for _ in 0..rounds {
        let x = a().await;
        let y = b().await;
        ratios.push(if by_rate { x.per_sec / y.per_sec } else { x.p50.as_secs_f64() / y.p50.as_secs_f64() });
        (last_a, last_b) = (Some(x), Some(y));
    }
    ratios.sort_by(f64::total_cmp);
    (last_a.unwrap(), last_b.unwrap(), ratios)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(backend: &str, work: &str, a: Stats, b: Stats, ratios: &[f64], goal: &str) {
    println!(
        "{backend:<8} | {work:<44} | {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | limit {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms | ratio {:.3} ({:.3}–{:.3}) | goal {goal}",
        a.per_sec,
        ms(a.p50),
        ms(a.p99),
        b.per_sec,
        ms(b.p50),
        ms(b.p99),
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A uuid-shaped id for row `x` of seeding batch `tag`, as SQL.
fn uuid_sql(backend: Backend, tag: u32, x: &str) -> String {
    match backend {
        Backend::Sqlite => format!("printf('%08x-0000-4000-8000-%012x', {tag}, {x})"),
        Backend::Postgres => format!("lpad(to_hex({tag}), 8, '0') || '-0000-4000-8000-' || lpad(to_hex({x}), 12, '0')"),
    }
}

/// Copies the number `template` `count` times into its workspace: fresh ids, integer ids after
/// the workspace's counter, E.164 numbers `+1` followed by `first + x`, and the stored view
/// numberd would keep for each (the template's, with those replaced; the list part checks it
/// against what GET renders).
async fn seed(db: &Db, backend: Backend, template: &str, count: usize, tag: u32, first: u64) {
    let (id, sub_id) = (uuid_sql(backend, tag, "x"), uuid_sql(backend, tag + 1, "x"));
    let seq = "(SELECT number_seq FROM workspaces w WHERE w.id = t.workspace_id) + x";
    let e164 = format!("'+1' || CAST({first} + x AS TEXT)");
    let rows = format!("WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {count})");
    let view = format!(
        "replace(replace(replace(replace(v.template, t.id, {id}), coalesce(t.sub_id, ''), {sub_id}), t.e164, {e164}), \
         '\"autocallsId\":' || CAST(t.seq AS TEXT) || ',', '\"autocallsId\":' || CAST({seq} AS TEXT) || ',')"
    );
    let numbers = format!(
        "INSERT INTO numbers (seq, id, workspace_id, e164, kind, number_type, country, capabilities, caps_mask, \
         price_amount, price_exponent, price_currency, configurations, nickname, status, sub_id, sub_status, \
         sub_anchor, period_index, period_end, subscribed_at, sub_updated_at, cancelled_at, activated_at, \
         deactivated_at, deleted_at, created_at, updated_at, carrier_account, carrier_kind, carrier_ref) {rows} \
         SELECT {seq}, {id}, workspace_id, {e164}, kind, number_type, country, capabilities, caps_mask, price_amount, \
         price_exponent, price_currency, configurations, nickname, status, \
         CASE WHEN sub_id IS NULL THEN NULL ELSE {sub_id} END, sub_status, sub_anchor, period_index, period_end, \
         subscribed_at, sub_updated_at, cancelled_at, activated_at, deactivated_at, deleted_at, created_at, \
         updated_at, carrier_account, carrier_kind, carrier_ref FROM numbers t, g WHERE t.id = '{template}'"
    );
    let views = format!(
        "INSERT INTO number_views (number_id, template) {rows} \
         SELECT {id}, {view} FROM numbers t JOIN number_views v ON v.number_id = t.id, g WHERE t.id = '{template}'"
    );
    let mut tx = db.pool.begin().await.unwrap();
    tx.execute(numbers.as_str()).await.unwrap();
    let viewed = tx.execute(views.as_str()).await.unwrap().rows_affected();
    assert_eq!(viewed, count as u64, "every seeded number keeps a stored view, as its template does");
    tx.execute(
        format!(
            "UPDATE workspaces SET number_seq = number_seq + {count} WHERE id = (SELECT workspace_id FROM numbers WHERE id = '{template}')"
        )
        .as_str(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The raw limit's connection: typed sqlx (no `Any`), for SQLite a single serialised writer.
#[derive(Clone)]
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn connect(backend: Backend, url: &str) -> Raw {
        match backend {
            Backend::Sqlite => {
                let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
                let opts = opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal).synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
                Raw::Sqlite(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.unwrap())
            }
            Backend::Postgres => Raw::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(url).await.unwrap()),
        }
    }

    /// Runs `statements` in one write transaction, each with its binds (text, or integers).
    async fn transaction(&self, statements: &[(&str, Vec<Bind>)]) {
        macro_rules! run {
            ($pool:expr, $begin:expr) => {{
                let mut conn = $pool.acquire().await.unwrap();
                conn.execute($begin).await.unwrap();
                for (sql, binds) in statements {
                    let mut q = sqlx::query(sql);
                    for b in binds {
                        q = match b {
                            Bind::Text(s) => q.bind(s.clone()),
                            Bind::Int(i) => q.bind(*i),
                        };
                    }
                    q.execute(&mut *conn).await.unwrap();
                }
                conn.execute("COMMIT").await.unwrap();
            }};
        }
        match self {
            Raw::Sqlite(pool) => run!(pool, "BEGIN IMMEDIATE"),
            Raw::Postgres(pool) => run!(pool, "BEGIN"),
        }
    }

    /// Reads of keyset pages by `sql` (binds: workspace, the seq a page starts after), at depths
    /// spread as the list load spreads them, each row's columns decoded. SQLite's readers are
    /// read-only connections run in place, as numberd's are.
    fn pages(&self, url: &str, sql: String, ws: String, depths: i64) -> MakeOp {
        let depth = move |i: u64| (i.wrapping_mul(2_654_435_761) % depths as u64) as i64;
        match self {
            Raw::Sqlite(_) => {
                let file = url.trim_start_matches("sqlite://").to_owned();
                let idle = Arc::new(std::sync::Mutex::new(Vec::<rusqlite::Connection>::new()));
                Arc::new(move |i| {
                    let (file, idle, sql, ws) = (file.clone(), idle.clone(), sql.clone(), ws.clone());
                    Some(Box::pin(async move {
                        let taken = idle.lock().unwrap().pop();
                        let conn = taken.unwrap_or_else(|| {
                            let conn = rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
                            // Mapped as numberd's readers are.
                            conn.pragma_update(None, "mmap_size", i64::try_from(DatabaseConfig::default().sqlite_mmap_bytes()).unwrap())
                                .unwrap();
                            conn
                        });
                        {
                            let mut stmt = conn.prepare_cached(&sql).unwrap();
                            let mut rows = stmt.query(rusqlite::params![ws, depth(i)]).unwrap();
                            let mut count = 0;
                            while let Some(row) = rows.next().unwrap() {
                                for c in 0..row.as_ref().column_count() {
                                    let _: rusqlite::types::Value = row.get(c).unwrap();
                                }
                                count += 1;
                            }
                            assert_eq!(count, 100, "a raw page is full");
                        }
                        idle.lock().unwrap().push(conn);
                    }) as BoxFuture<'static, ()>)
                })
            }
            Raw::Postgres(pool) => {
                let pool = pool.clone();
                Arc::new(move |i| {
                    let (pool, sql, ws) = (pool.clone(), sql.clone(), ws.clone());
                    Some(Box::pin(async move {
                        let rows = sqlx::query(&sql).bind(ws).bind(depth(i)).fetch_all(&pool).await.unwrap();
                        for row in &rows {
                            let _: (i64, String, Option<String>) = (row.get("seq"), row.get("id"), row.get("template"));
                            for c in ["period_end", "sub_anchor", "period_index", "updated_at", "sub_updated_at"] {
                                let _: Option<i64> = row.get(c);
                            }
                        }
                        assert_eq!(rows.len(), 100, "a raw page is full");
                    }) as BoxFuture<'static, ()>)
                })
            }
        }
    }
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// The statements numberd adds to every change of a number: its event row (the number as the API
/// shows it, `data`) and the lookup of the workspace's webhooks to fan it out to. The raw limits
/// run them too, so a ratio compares the same statements; their ids are made as numberd makes
/// its own, so the indexes see the same keys.
fn event_statements(ws: &str, number: &str, event_type: &str, data: &str, now: i64) -> [(&'static str, Vec<Bind>); 2] {
    [
        (
            "INSERT INTO events (id, workspace_id, type, number_id, occurred_at, actor_type, actor_id, request_id, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'accessKey', $6, $7, $8, $5)",
            vec![
                Bind::Text(time_ordered().to_string()),
                Bind::Text(ws.to_owned()),
                Bind::Text(event_type.to_owned()),
                Bind::Text(number.to_owned()),
                Bind::Int(now),
                Bind::Text(time_ordered().to_string()),
                Bind::Text(time_ordered().to_string()),
                Bind::Text(data.to_owned()),
            ],
        ),
        ("SELECT * FROM webhooks WHERE workspace_id = $1 AND enabled = 1 ORDER BY seq", vec![Bind::Text(ws.to_owned())]),
    ]
}

struct Service {
    db: Db,
    core: Arc<Core>,
    addr: SocketAddr,
    running: app::Running,
}

async fn start(url: &str) -> Service {
    let mut config = Config { database_url: url.into(), ..Config::default() };
    config.worker.enabled = false;
    let db = app::connect(&config).await.expect("database");
    let core = app::core(&config, db.clone(), Arc::new(SystemClock), Arc::new(LocalCarrier)).expect("no carrier accounts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start(&config, core.clone(), listener).await.unwrap();
    Service { db, core, addr: running.addr, running }
}

/// A workspace with one access key; its id and key.
async fn workspace(db: &Db, name: &str) -> (String, String) {
    let (ws, key) = workspaces::create_workspace(db, name, false, Utc::now()).await.unwrap();
    (ws.id.to_string(), key.secret)
}

async fn api(svc: &Service, key: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Bytes) {
    let mut req =
        reqwest::Client::new().request(method, format!("http://{}{path}", svc.addr)).header("authorization", format!("AccessKey {key}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

async fn ids(db: &Db, ws: &str, kind: &str, limit: usize) -> Vec<String> {
    sqlx::query_scalar(&format!("SELECT id FROM numbers WHERE workspace_id = '{ws}' AND kind = '{kind}' ORDER BY seq LIMIT {limit}"))
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn run(backend: Backend, name: &str, url: &str, sizes: Sizes) {
    let svc = start(url).await;
    let raw = Raw::connect(backend, url).await;
    let db = svc.db.clone();
    let rounds = sizes.rounds;

    // The big workspace: 90 % dedicated, 10 % SIP, as a platform's pool.
    let (ws, key) = workspace(&db, "bench").await;
    let register = |number: &str, kind: &str| json!({ "number": number, "kind": kind });
    let (_, d) = api(&svc, &key, Method::POST, &format!("/workspaces/{ws}/numbers"), Some(register("+14155550100", "dedicated"))).await;
    let (_, s) = api(&svc, &key, Method::POST, &format!("/workspaces/{ws}/numbers"), Some(register("+14155550101", "sip"))).await;
    let template = |b: &Bytes| serde_json::from_slice::<Value>(b).unwrap()["id"].as_str().unwrap().to_owned();
    let seeding = Instant::now();
    let sip_share = sizes.numbers / 10;
    seed(&db, backend, &template(&d), sizes.numbers - sip_share, 10, 2_000_000_000).await;
    seed(&db, backend, &template(&s), sip_share, 20, 3_000_000_000).await;
    if backend == Backend::Postgres {
        db.pool.execute("ANALYZE").await.unwrap();
    }
    println!("{name:<8} | seeded {} numbers in {:.1} s", sizes.numbers, seeding.elapsed().as_secs_f64());

    if part("get") {
        // GET one number against a bare handler serving the same bytes.
        let some = Arc::new(ids(&db, &ws, "dedicated", 1000).await);
        let (status, one) = api(&svc, &key, Method::GET, &format!("/workspaces/{ws}/numbers/{}", some[0]), None).await;
        assert_eq!(status, 200);
        let bare = bare_handler(one).await;
        let get: MakeRequest = {
            let (ws, some) = (ws.clone(), some.clone());
            Arc::new(move |i| Some((Method::GET, format!("/workspaces/{ws}/numbers/{}", some[i as usize % some.len()]), None)))
        };
        let (a, b, r) =
            side_by_side(rounds, true, || http_load(svc.addr, &key, sizes, get.clone()), || http_load(bare, &key, sizes, get.clone()))
                .await;
        report(name, "GET one number vs bare handler", a, b, &r, "≥ 0.5× (PostgreSQL ≥ 0.3×), p99 ≤ 2× the bare handler's");
    }

    if part("list") {
        // A 99-row page at a random depth.
        let max_seq: i64 =
            sqlx::query_scalar(&format!("SELECT MAX(seq) FROM numbers WHERE workspace_id = '{ws}'")).fetch_one(&db.pool).await.unwrap();
        let token = |seq: i64| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("k1:{seq}"))
        };
        let (status, page) =
            api(&svc, &key, Method::GET, &format!("/workspaces/{ws}/numbers?limit=99&pageToken={}", token(max_seq / 2)), None).await;
        assert_eq!(status, 200);
        // Seeded views (see `seed`) are what numberd would have stored: each entry of the page
        // is the number as GET shows it.
        for shown in serde_json::from_slice::<Value>(&page).unwrap()["results"].as_array().unwrap().iter().step_by(7) {
            let (_, one) = api(&svc, &key, Method::GET, &format!("/workspaces/{ws}/numbers/{}", shown["id"].as_str().unwrap()), None).await;
            assert_eq!(*shown, serde_json::from_slice::<Value>(&one).unwrap(), "a seeded view differs from the number GET shows");
        }
        let bare = bare_handler(page).await;
        let list: MakeRequest = {
            let ws = ws.clone();
            let depths = (max_seq - 100).max(1) as u64;
            Arc::new(move |i| {
                let depth = (i.wrapping_mul(2_654_435_761) % depths) as i64;
                Some((Method::GET, format!("/workspaces/{ws}/numbers?limit=99&pageToken={}", token(depth)), None))
            })
        };
        let (a, b, r) =
            side_by_side(rounds, true, || http_load(svc.addr, &key, sizes, list.clone()), || http_load(bare, &key, sizes, list.clone()))
                .await;
        report(name, "list, 99 per page, any depth vs bare handler", a, b, &r, "≥ 0.25×");

        // The same pages against the database alone: numberd's statement for a page, each row
        // read whole by a client that does nothing else.
        let page_sql = numbers::page_sql(" WHERE workspace_id = $1 AND deleted_at IS NULL AND seq > $2 ORDER BY seq LIMIT 100");
        let raw_list = raw.pages(url, page_sql, ws.clone(), (max_seq - 100).max(1));
        let (a, b, r) =
            side_by_side(rounds, true, || http_load(svc.addr, &key, sizes, list.clone()), || raw_load(sizes, raw_list.clone())).await;
        report(name, "list vs raw SQL of its statement", a, b, &r, "(the database's own limit)");
    }

    if part("prefix") {
        // A selective prefix (0.1 % of the workspace) against an unfiltered page, by p50 latency.
        let selective = {
            // `+1` and the leading digits shared by 0.1 % of the dedicated numbers (10^k of them).
            let k = ((sizes.numbers / 1000).max(1) as f64).log10().floor() as usize;
            let middle = (2_000_000_000 + (sizes.numbers - sip_share) as u64 / 2).to_string();
            format!("%2B1{}", &middle[..middle.len() - k])
        };
        let filtered: MakeRequest = {
            let ws = ws.clone();
            Arc::new(move |_| Some((Method::GET, format!("/workspaces/{ws}/numbers?limit=99&numberPrefix={selective}"), None)))
        };
        let first: MakeRequest = {
            let ws = ws.clone();
            Arc::new(move |_| Some((Method::GET, format!("/workspaces/{ws}/numbers?limit=99"), None)))
        };
        let (a, b, r) = side_by_side(
            rounds,
            false,
            || http_load(svc.addr, &key, sizes, filtered.clone()),
            || http_load(svc.addr, &key, sizes, first.clone()),
        )
        .await;
        report(name, "list, numberPrefix 0.1 % vs unfiltered (p50 ratio)", a, b, &r, "≤ 2×");
    }

    if part("release") {
        // Release (DELETE of a SIP number: gone at once, detached) against the same statements, in a
        // workspace of its own with numbers enough for every round of both sides (20,000/s each).
        let (rel_ws, rel_key) = workspace(&db, "bench-release").await;
        let (_, r) =
            api(&svc, &rel_key, Method::POST, &format!("/workspaces/{rel_ws}/numbers"), Some(register("+14155550101", "sip"))).await;
        let supply = (2.0 * rounds as f64 * sizes.seconds * 20_000.0) as usize;
        seed(&db, backend, &template(&r), supply, 40, 6_000_000_000).await;
        let (ws, key) = (rel_ws, rel_key);
        let sips = Arc::new(ids(&db, &ws, "sip", supply + 1).await);
        // Each side releases its own half, across rounds: a number is released once.
        let half = sips.len() / 2;
        let (api_next, raw_next) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(half as u64)));
        let release: MakeRequest = {
            let (ws, sips) = (ws.clone(), sips.clone());
            Arc::new(move |_| {
                let i = api_next.fetch_add(1, Ordering::Relaxed) as usize;
                (i < half).then(|| (Method::DELETE, format!("/workspaces/{ws}/numbers/{}", sips[i]), None))
            })
        };
        // The event a release records carries the number as the API showed it.
        let released = Arc::new(String::from_utf8(r.to_vec()).unwrap());
        let raw_release: MakeOp = {
            let (ws, sips, raw, released) = (ws.clone(), sips.clone(), raw.clone(), released.clone());
            let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
            Arc::new(move |_| {
                let i = raw_next.fetch_add(1, Ordering::Relaxed) as usize;
                let id = sips.get(i)?.clone();
                let (ws, raw, released) = (ws.clone(), raw.clone(), released.clone());
                Some(Box::pin(async move {
                    let now = to_micros(Utc::now());
                    let select = format!("SELECT * FROM numbers WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL{lock}");
                    let event = event_statements(&ws, &id, "number.released", &released, now);
                    let mut statements = vec![
                        (select.as_str(), vec![Bind::Text(id.clone()), Bind::Text(ws)]),
                        (
                            "UPDATE numbers SET status = 'inactive', deactivated_at = $1, deleted_at = $1, updated_at = $1 WHERE id = $2",
                            vec![Bind::Int(now), Bind::Text(id.clone())],
                        ),
                        ("DELETE FROM number_views WHERE number_id = $1", vec![Bind::Text(id.clone())]),
                        (
                            "UPDATE assistants SET number_id = NULL, updated_at = $1 WHERE number_id = $2",
                            vec![Bind::Int(now), Bind::Text(id.clone())],
                        ),
                        (
                            "UPDATE campaigns SET updated_at = $1 WHERE id IN (SELECT campaign_id FROM campaign_numbers WHERE number_id = $2)",
                            vec![Bind::Int(now), Bind::Text(id.clone())],
                        ),
                        ("DELETE FROM campaign_numbers WHERE number_id = $1", vec![Bind::Text(id)]),
                    ];
                    statements.extend(event);
                    raw.transaction(&statements).await
                }))
            })
        };
        let (a, b, r) =
            side_by_side(rounds, true, || http_load(svc.addr, &key, sizes, release.clone()), || raw_load(sizes, raw_release.clone())).await;
        report(name, "release (DELETE) vs raw SQL, same statements", a, b, &r, "≥ 0.6×, p99 < 50 ms");
    }

    if part("register") {
        // Register (POST) against the same inserts: the counter, the number, its first period.
        let next = Arc::new(AtomicU64::new(0));
        let post: MakeRequest = {
            let (ws, next) = (ws.clone(), next.clone());
            Arc::new(move |_| {
                let n = 4_156_000_000_u64 + next.fetch_add(1, Ordering::Relaxed);
                Some((Method::POST, format!("/workspaces/{ws}/numbers"), Some(json!({ "number": format!("+1{n}"), "kind": "dedicated" }))))
            })
        };
        let (raw_ws, _) = workspace(&db, "bench-raw").await;
        let raw_register: MakeOp = {
            // The event a registration records, and the row's stored view, carry the number as the API shows it.
            let registered = Arc::new(String::from_utf8(d.to_vec()).unwrap());
            let (ws, next, raw) = (raw_ws.clone(), next.clone(), raw.clone());
            Arc::new(move |_| {
                let (ws, raw, registered) = (ws.clone(), raw.clone(), registered.clone());
                let n = 4_156_000_000_u64 + next.fetch_add(1, Ordering::Relaxed);
                Some(Box::pin(async move {
                    let now = to_micros(Utc::now());
                    let end = now + 30 * 86_400_000_000;
                    let id = time_ordered().to_string();
                    let caps = r#"{"sms":{"inbound":true,"outbound":true},"voice":{"inbound":true,"outbound":true},"mms":{"inbound":false,"outbound":false},"fax":{"inbound":false,"outbound":false}}"#;
                    let event = event_statements(&ws, &id, "number.registered", &registered, now);
                    let mut statements = vec![
                        ("UPDATE workspaces SET number_seq = number_seq + 1 WHERE id = $1 RETURNING number_seq", vec![Bind::Text(ws.clone())]),
                        (
                            "INSERT INTO numbers (id, workspace_id, e164, kind, number_type, country, capabilities, caps_mask, \
                             configurations, status, sub_id, sub_status, sub_anchor, period_index, period_end, subscribed_at, \
                             sub_updated_at, activated_at, created_at, updated_at, seq) \
                             VALUES ($1, $2, $3, 'dedicated', 'local', 'US', $4, 3, '{}', 'active', $5, 'active', $6, 0, $7, $6, $6, $6, $6, $6, \
                             (SELECT number_seq FROM workspaces WHERE id = $2))",
                            vec![
                                Bind::Text(id.clone()),
                                Bind::Text(ws),
                                Bind::Text(format!("+1{n}")),
                                Bind::Text(caps.into()),
                                Bind::Text(time_ordered().to_string()),
                                Bind::Int(now),
                                Bind::Int(end),
                            ],
                        ),
                        (
                            "INSERT INTO number_views (number_id, template) VALUES ($1, $2)",
                            vec![Bind::Text(id.clone()), Bind::Text(registered.as_str().to_owned())],
                        ),
                        (
                            "INSERT INTO billing_periods (number_id, period_index, start_at, end_at, recorded_at) VALUES ($1, 0, $2, $3, $2)",
                            vec![Bind::Text(id), Bind::Int(now), Bind::Int(end)],
                        ),
                    ];
                    statements.extend(event);
                    raw.transaction(&statements).await
                }))
            })
        };
        let (a, b, r) =
            side_by_side(rounds, true, || http_load(svc.addr, &key, sizes, post.clone()), || raw_load(sizes, raw_register.clone())).await;
        report(name, "register (POST) vs raw SQL, same inserts", a, b, &r, "≥ 0.6×");
    }

    if part("sweep") {
        // The period-end sweep: numbers whose period ended 40 days ago, half cancelled (released),
        // half renewing.
        let (due_ws, due_key) = workspace(&db, "bench-due").await;
        let (_, t) =
            api(&svc, &due_key, Method::POST, &format!("/workspaces/{due_ws}/numbers"), Some(register("+14155550100", "dedicated"))).await;
        let past = to_micros(Utc::now() - chrono::Duration::days(40));
        let month = 30 * 86_400_000_000_i64;
        sqlx::query("UPDATE numbers SET sub_anchor = $1, subscribed_at = $1, period_end = $2 WHERE id = $3")
            .bind(past)
            .bind(past + month)
            .bind(template(&t))
            .execute(&db.pool)
            .await
            .unwrap();
        seed(&db, backend, &template(&t), sizes.sweep - 1, 30, 5_000_000_000).await;
        sqlx::query(&format!(
            "UPDATE numbers SET sub_status = 'canceling', cancelled_at = $1 WHERE workspace_id = '{due_ws}' AND seq % 2 = 0"
        ))
        .bind(past)
        .execute(&db.pool)
        .await
        .unwrap();
        let started = Instant::now();
        let settled = svc.core.sweep(None, svc.core.batch).await.unwrap();
        let took = started.elapsed();
        assert_eq!(settled, sizes.sweep, "every due number settled once");
        println!(
            "{name:<8} | period-end sweep of {} due numbers: {:.1} s, {:.0}/s → 1,000,000 in {:.0} s | goal < 60 s",
            sizes.sweep,
            took.as_secs_f64(),
            settled as f64 / took.as_secs_f64(),
            1e6 * took.as_secs_f64() / settled as f64
        );
    }

    if part("jobs") {
        // Carrier-job delivery (the local carrier answers at once): the released half's jobs are
        // queued; add more until there are `jobs`.
        let queued = if part("sweep") { sizes.sweep / 2 } else { 0 };
        let dedicated = ids(&db, &ws, "dedicated", sizes.jobs.saturating_sub(queued)).await;
        let mut tx = db.pool.begin().await.unwrap();
        for id in &dedicated {
            let job = CarrierRelease {
                workspace_id: ws.parse().unwrap(),
                number_id: id.parse().unwrap(),
                e164: String::new(),
                carrier_account: None,
                carrier_ref: None,
            };
            numberd::jobs::enqueue(&mut tx, &job, Utc::now()).await.unwrap();
        }
        tx.commit().await.unwrap();
        let started = Instant::now();
        let delivered = svc.core.run_jobs(Queue::Carrier, &|| false).await.unwrap();
        let took = started.elapsed();
        println!(
            "{name:<8} | carrier-job delivery: {delivered} jobs in {:.1} s, {:.0}/s | goal: claimed and finished in batches",
            took.as_secs_f64(),
            delivered as f64 / took.as_secs_f64()
        );
    }

    svc.running.shutdown().await;
}

#[tokio::main]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let sizes = if benching {
        Sizes {
            numbers: env_usize("BENCH_NUMBERS", 1_000_000),
            seconds: env_usize("BENCH_SECONDS", 3) as f64,
            connections: env_usize("BENCH_CONNECTIONS", 32),
            rounds: env_usize("BENCH_ROUNDS", 3),
            sweep: env_usize("BENCH_SWEEP", 50_000),
            jobs: env_usize("BENCH_JOBS", 20_000),
        }
    } else {
        Sizes { numbers: 3_000, seconds: 0.2, connections: 4, rounds: 1, sweep: 200, jobs: 300 }
    };
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let dir = tempfile::tempdir().unwrap();
    if backends.contains("sqlite") {
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        run(Backend::Sqlite, "sqlite", &sqlite, sizes).await;
    }
    if !backends.contains("postgres") {
        return;
    }

    // A fresh schema on the test server (TEST_POSTGRES_URL, as the test suite uses).
    let base = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    conn.execute(format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let pg = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    run(Backend::Postgres, "postgres", &pg, sizes).await;
    conn.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await.unwrap();
}
