//! `cargo bench --bench numbers` — numberd against the raw database doing the same work, measured
//! in one run on one machine, on SQLite and PostgreSQL. Sizes: `BENCH_REGISTER` (default 2000)
//! numbers registered one by one, `BENCH_ROWS` (default 200000) numbers in the listed workspace.
//!
//! 1. Registering through the HTTP API against the same writes (number + first billing period in
//!    one transaction) issued straight to the store: the API's cost over its floor.
//! 2. Listing a page at the start and deep inside a large workspace: keyset pagination keeps the
//!    deep page as cheap as the first; plus the same query straight to the store.
//!
//! Under `cargo test` (no `--bench` argument) it runs tiny sizes as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use numberd::app;
use numberd::carrier::local::LocalCarrier;
use numberd::config::Config;
use numberd::domain::clock::SystemClock;
use numberd::domain::ids::{NumberId, SubscriptionId};
use numberd::domain::number::{Capabilities, NumberConfigurations, NumberKind, NumberStatus, NumberType, SubscriptionStatus};
use numberd::domain::period::period;
use numberd::domain::record::{NumberFilter, NumberRecord, SubscriptionRecord};
use numberd::service::{Actor, Tenant};
use numberd::store::numbers;
use numberd::store::workspaces;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn record(ws: numberd::domain::ids::WorkspaceId, i: usize, kind: NumberKind) -> NumberRecord {
    let now = numberd::domain::clock::truncate(Utc::now());
    NumberRecord {
        seq: 0,
        id: NumberId::new(),
        workspace_id: ws,
        e164: format!("+1{:010}", 2_000_000_000 + i),
        kind,
        number_type: NumberType::Local,
        country: "US".into(),
        capabilities: Capabilities::default_for(kind),
        price: None,
        configurations: NumberConfigurations::default(),
        nickname: None,
        status: NumberStatus::Active,
        subscription: (kind == NumberKind::Dedicated).then(|| SubscriptionRecord {
            id: SubscriptionId::new(),
            status: SubscriptionStatus::Active,
            anchor: now,
            period_index: 0,
            subscribed_at: now,
            updated_at: now,
            cancelled_at: None,
        }),
        activated_at: Some(now),
        deactivated_at: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
        carrier: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Bench {
    name: &'static str,
    config: Config,
}

async fn run(bench: Bench, register: usize, rows: usize, samples: usize) {
    let Bench { name, config } = bench;
    let db = app::connect(&config).await.expect("database");
    let core = app::core(&config, db.clone(), Arc::new(SystemClock), Arc::new(LocalCarrier)).expect("no carrier accounts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app::start(&config, core.clone(), listener).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    // 1. Registration: API vs the same writes to the store.
    let (api_ws, key) = workspaces::create_workspace(&db, "bench-api", false, Utc::now()).await.unwrap();
    let started = Instant::now();
    for i in 0..register {
        let r = http
            .post(format!("{base}/workspaces/{}/numbers", api_ws.id))
            .header("authorization", format!("AccessKey {}", key.secret))
            .json(&serde_json::json!({ "number": format!("+1415{:07}", 2_000_000 + i), "kind": "dedicated" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let api = started.elapsed();
    let (raw_ws, _) = workspaces::create_workspace(&db, "bench-raw", false, Utc::now()).await.unwrap();
    let started = Instant::now();
    for i in 0..register {
        let rec = record(raw_ws.id, i, NumberKind::Dedicated);
        let mut tx = db.begin_write().await.unwrap();
        let rec = numbers::insert(&mut tx, &rec).await.unwrap();
        numbers::insert_period(&mut tx, &rec, period(rec.created_at, 0), rec.created_at).await.unwrap();
        tx.commit().await.unwrap();
    }
    let raw = started.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / register as f64;
    println!(
        "{name:<10} register x{register}: API {:>8.0} µs/number, store {:>8.0} µs/number, ratio API/store {:.2}",
        per(api),
        per(raw),
        api.as_secs_f64() / raw.as_secs_f64()
    );

    // 2. Listing in a large workspace: seed through the store in big transactions.
    let (big, key) = workspaces::create_workspace(&db, "bench-big", false, Utc::now()).await.unwrap();
    let seed_started = Instant::now();
    let mut last_seq = 0;
    for chunk in (0..rows).collect::<Vec<_>>().chunks(5_000) {
        let mut tx = db.begin_write().await.unwrap();
        for &i in chunk {
            let kind = if i % 10 == 0 { NumberKind::Sip } else { NumberKind::Dedicated };
            last_seq = numbers::insert(&mut tx, &record(big.id, i, kind)).await.unwrap().seq;
        }
        tx.commit().await.unwrap();
    }
    let seeded = seed_started.elapsed();
    let list = |query: String| {
        let (http, base, key) = (http.clone(), base.clone(), key.secret.clone());
        async move {
            let started = Instant::now();
            let r = http
                .get(format!("{base}/workspaces/{}/numbers?{query}", big.id))
                .header("authorization", format!("AccessKey {key}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(!body["results"].as_array().unwrap().is_empty());
            started.elapsed()
        }
    };
    let deep_token = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("k1:{}", last_seq - 150))
    };
    let mut first = Vec::new();
    let mut deep = Vec::new();
    let mut filtered = Vec::new();
    let mut store = Vec::new();
    let tenant = Tenant { id: big.id, test_mode: false, actor: Actor::Worker };
    for _ in 0..samples {
        first.push(list("limit=99".into()).await);
        deep.push(list(format!("limit=99&pageToken={deep_token}")).await);
        filtered.push(list(format!("limit=99&kind=sip&pageToken={deep_token}")).await);
        let started = Instant::now();
        let rows = core.list_numbers(tenant, &NumberFilter::default(), Some(last_seq - 150), 100).await.unwrap();
        assert!(!rows.is_empty());
        store.push(started.elapsed());
    }
    let (first, deep, filtered, store) = (median(first), median(deep), median(filtered), median(store));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<10} list in {rows} numbers (seeded in {:.1} s): first page {:.2} ms, deep page {:.2} ms \
         (deep/first {:.2}), deep filtered {:.2} ms, same deep query via store {:.2} ms (API/store {:.2})",
        seeded.as_secs_f64(),
        ms(first),
        ms(deep),
        deep.as_secs_f64() / first.as_secs_f64(),
        ms(filtered),
        ms(store),
        deep.as_secs_f64() / store.as_secs_f64()
    );
    running.shutdown().await;
}

fn config(database_url: String) -> Config {
    let mut c = Config { database_url, ..Config::default() };
    c.worker.enabled = false;
    c
}

#[tokio::main]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let (register, rows, samples) =
        if benching { (env_usize("BENCH_REGISTER", 2_000), env_usize("BENCH_ROWS", 200_000), 21) } else { (20, 300, 3) };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    run(Bench { name: "sqlite", config: config(sqlite) }, register, rows, samples).await;

    // A fresh schema on the test server (TEST_POSTGRES_URL, as the test suite uses).
    let base = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let pg = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    run(Bench { name: "postgres", config: config(pg) }, register, rows, samples).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
}
