//! Database faults as an operator meets them: a pool with no free connection, a lock held by
//! another process, a full disk, clients that hang up mid-write. Each answers a coded 503 with
//! `Retry-After` (never a 500), `/readyz` says so, and the service recovers by itself.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(no_free_connection_is_503_in_both_dialects, dropped_writes_leave_no_transaction_open);

/// Status, `Retry-After` and JSON body of one request as `ws`.
async fn send(app: &TestApp, ws: &Ws, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Option<String>, Value) {
    let path = path.replace("./", &format!("/workspaces/{}/", ws.id));
    let mut req = app.http.request(method, format!("{}{path}", app.base)).bearer_auth(&ws.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

async fn try_register(app: &TestApp, ws: &Ws, number: &str) -> (StatusCode, Option<String>, Value) {
    send(app, ws, Method::POST, "./numbers", Some(json!({ "number": number }))).await
}

fn assert_unavailable((status, retry, body): &(StatusCode, Option<String>, Value)) {
    assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "database_unavailable", "{body}");
    assert_eq!(retry.as_deref(), Some("2"), "503 says when to retry");
}

async fn readyz(app: &TestApp) -> StatusCode {
    app.raw(Method::GET, "/readyz", None, None).await.0
}

/// `/readyz` is 200 again within a few seconds of the fault going away.
async fn recovers(app: &TestApp) {
    for _ in 0..50 {
        if readyz(app).await == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not recover");
}

async fn no_free_connection_is_503_in_both_dialects(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.database.max_connections = 1;
        c.database.acquire_timeout_ms = 1000;
    })
    .await;
    let ws = app.workspace(false).await;
    let held = app.running.core.db.pool.acquire().await.unwrap();

    let started = std::time::Instant::now();
    assert_unavailable(&try_register(&app, &ws, "+14155550100").await);
    assert!(started.elapsed() < Duration::from_secs(5), "gave up after database.acquire_timeout_ms");
    let (status, retry, body) = send(&app, &ws, Method::GET, "/api/user/phone-numbers/all", None).await;
    assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("2")), "{body}");
    assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()), "Autocalls' shape: {body}");
    assert_eq!(readyz(&app).await, StatusCode::SERVICE_UNAVAILABLE);

    drop(held);
    recovers(&app).await;
    ws.register(json!({ "number": "+14155550100" })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_lock_held_past_busy_timeout_is_503() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database.busy_timeout_ms = 200).await;
    let ws = app.workspace(false).await;
    let held = ws.register(json!({ "number": "+14155550199" })).await;
    let one = format!("./numbers/{}", held["id"].as_str().unwrap());
    let mut other_process = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
    other_process.execute("BEGIN IMMEDIATE").await.unwrap();

    assert_unavailable(&try_register(&app, &ws, "+14155550100").await);
    assert_eq!(readyz(&app).await, StatusCode::SERVICE_UNAVAILABLE);
    // Reads go on beside the held write lock, and show what was committed.
    let started = std::time::Instant::now();
    assert_eq!(ws.get(&one).await, (StatusCode::OK, held.clone()));
    let (status, page) = ws.get("./numbers").await;
    assert_eq!((status, page["results"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{page}");
    assert!(started.elapsed() < Duration::from_millis(200), "reads did not wait for the lock");

    other_process.execute("ROLLBACK").await.unwrap();
    ws.register(json!({ "number": "+14155550100" })).await;
    recovers(&app).await;
}

/// Answered reads hold no snapshot of the file: another process can then checkpoint the whole
/// write-ahead log and truncate it, so the log does not grow while the service only reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reads_leave_the_log_free_to_checkpoint() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.workspace(false).await;
    let n = ws.register(json!({ "number": "+14155550100" })).await;
    let one = format!("./numbers/{}", n["id"].as_str().unwrap());
    for _ in 0..20 {
        assert_eq!(ws.get(&one).await.0, StatusCode::OK);
        assert_eq!(ws.get("./numbers?limit=5").await.0, StatusCode::OK);
    }
    let mut other_process = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
    other_process.execute("PRAGMA busy_timeout = 2000").await.unwrap();
    // The node's own background checkpoint may be running just then (it answers busy too), but a
    // snapshot held by a read would fail every try.
    let mut busy = 1;
    for _ in 0..10 {
        (busy, _, _) = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut other_process).await.unwrap();
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(busy, 0, "a read still holds a snapshot");
    assert_eq!(ws.get(&one).await, (StatusCode::OK, n));
}

/// A write reaches the database file itself within moments, not only its write-ahead log: a
/// copy of the file alone, as a backup that forgets the log would take, holds it. Checkpoints run
/// in the background; a write checkpoints by itself only once the log is far larger than this.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writes_reach_the_database_file_by_themselves() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.workspace(false).await;
    let n = ws.register(json!({ "number": "+14155550100" })).await;
    let file = std::path::PathBuf::from(app.db.url.trim_start_matches("sqlite://"));
    let copies = tempfile::tempdir().unwrap();
    let mut found = None;
    for attempt in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The copy is fresh each time and has no log beside it, so it shows only what was
        // checkpointed (a copy taken mid-checkpoint may be torn: that counts as not yet).
        let copy = copies.path().join(format!("copy{attempt}.db"));
        std::fs::copy(&file, &copy).unwrap();
        let Ok(mut conn) = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display())).await else { continue };
        let Ok(count) = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM numbers WHERE id = $1")
            .bind(n["id"].as_str().unwrap())
            .fetch_one(&mut conn)
            .await
        else {
            continue;
        };
        if count == 1 {
            found = Some(attempt);
            break;
        }
    }
    assert!(found.is_some(), "after 2 s the number was still only in the write-ahead log");
}

/// Sets SQLite's page limit on every pooled connection (it is per connection): `None` caps the
/// file at its current size, so the next write that needs a page fails with SQLITE_FULL, as on a
/// full disk; `Some(n)` sets it.
async fn limit_pages(app: &TestApp, limit: Option<i64>) {
    let pool = &app.running.core.db.pool;
    let mut conns = Vec::new();
    for _ in 0..app.config.database.max_connections {
        let mut c = pool.acquire().await.unwrap();
        let n = match limit {
            Some(n) => n,
            None => sqlx::query_scalar::<_, i64>("PRAGMA page_count").fetch_one(&mut *c).await.unwrap(),
        };
        sqlx::query(&format!("PRAGMA max_page_count = {n}")).execute(&mut *c).await.unwrap();
        conns.push(c);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_sqlite_storage_is_503_and_recovers_without_restart() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database.max_connections = 2).await;
    let ws = app.workspace(false).await;
    limit_pages(&app, None).await;

    let mut failed = None;
    for i in 0..2000 {
        let r = try_register(&app, &ws, &format!("+1415555{i:04}")).await;
        if r.0 != StatusCode::CREATED {
            failed = Some(r);
            break;
        }
    }
    assert_unavailable(&failed.expect("the capped file filled up"));
    assert_eq!(readyz(&app).await, StatusCode::SERVICE_UNAVAILABLE, "readiness is honest while writes fail");

    limit_pages(&app, Some(1_073_741_823)).await;
    for i in 0..10 {
        ws.register(json!({ "number": format!("+1628555{i:04}") })).await;
    }
    recovers(&app).await;
}

/// Clients that hang up while their write waits for the lock, and at every later point of it, as
/// the lock is released under them: afterwards every pooled connection writes, and another
/// process can still take the write lock.
async fn dropped_writes_leave_no_transaction_open(b: Backend) {
    let app = TestApp::spawn_with(b, |c| c.database.max_connections = 4).await;
    let ws = app.workspace(false).await;
    let n = ws.register(json!({ "number": "+14155550100" })).await;
    let path = format!("{}/workspaces/{}/numbers/{}", app.base, ws.id, n["id"].as_str().unwrap());
    let lock = match b {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN; LOCK TABLE numbers IN EXCLUSIVE MODE",
    };
    let mut other_process = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();

    for round in 0..6u64 {
        other_process.execute(lock).await.unwrap();
        let mut clients = Vec::new();
        for i in 0..40u64 {
            let req = app
                .http
                .patch(&path)
                .bearer_auth(&ws.key)
                .json(&json!({ "nickname": format!("r{round} c{i}") }))
                .timeout(Duration::from_millis(5 + i * 2 + round));
            clients.push(tokio::spawn(req.send()));
        }
        // Release while some clients still wait and others are about to hang up.
        tokio::time::sleep(Duration::from_millis(45)).await;
        other_process.execute("ROLLBACK").await.unwrap();
        for c in clients {
            let _ = c.await.unwrap();
        }
    }

    // More writes than connections, so every pooled connection is used.
    for i in 0..12 {
        let (status, body) =
            ws.patch(&format!("./numbers/{}", n["id"].as_str().unwrap()), json!({ "nickname": format!("after {i}") })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let outside = match b {
        Backend::Sqlite => "PRAGMA busy_timeout = 2000; BEGIN IMMEDIATE",
        Backend::Postgres => "SET lock_timeout = '2s'; BEGIN; LOCK TABLE numbers IN EXCLUSIVE MODE",
    };
    other_process.execute(outside).await.expect("no pooled connection still holds the write lock");
    other_process.execute("ROLLBACK").await.unwrap();
}

/// PostgreSQL ends every connection of this node, as a restart or a failover does. Pooled
/// connections find out only when next used, so the first requests after answer 503; once one
/// has found its connection lost, the rest give up the connections opened before and answer again:
/// a few failed requests, all in the first rounds, not one per connection that was idle (11 or 12
/// of these 18 requests failed before, reads, writes and access-key lookups alike).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_requests_recover_at_once_when_the_server_drops_the_connections() {
    let name = format!("numberd_test_{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(Backend::Postgres, |c| c.database_url.push_str(&format!("&application_name={name}"))).await;
    let ws = app.workspace(false).await;
    let n = ws.register(json!({ "number": "+14155550100" })).await;
    let one = format!("./numbers/{}", n["id"].as_str().unwrap());
    // Several requests at once, so each pool keeps several connections.
    let page = || async { ws.get("./numbers?limit=5").await.0 };
    let (app_ref, ws_ref) = (&app, &ws);
    let register = move |i: u32| async move { try_register(app_ref, ws_ref, &format!("+1415555{:04}", 200 + i)).await.0 };
    for round in 0..4 {
        let (a, b, c, d, e, f) = tokio::join!(ws.get(&one), page(), page(), register(round * 2), register(round * 2 + 1), page());
        assert_eq!(
            [a.0, b, c, d, e, f],
            [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::CREATED, StatusCode::CREATED, StatusCode::OK]
        );
    }

    let mut admin = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let ended: i64 =
        sqlx::query_scalar("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(ended >= 6, "the node held connections in both pools ({ended})");

    let mut failed = Vec::new();
    for round in 0..6 {
        let number = json!({ "number": format!("+1415555{:04}", 300 + round) });
        for (method, path, body) in
            [(Method::GET, one.as_str(), None), (Method::GET, "./numbers?limit=5", None), (Method::POST, "./numbers", Some(number))]
        {
            let (status, retry, body) = send(&app, &ws, method, path, body).await;
            if !status.is_success() {
                assert_unavailable(&(status, retry, body));
                failed.push(round);
            }
        }
    }
    assert!(failed.len() <= 5 && failed.iter().all(|&round| round < 2), "requests of rounds {failed:?} failed");
    assert_eq!(ws.get(&one).await, (StatusCode::OK, n));
}
