//! Query plans without table statistics (issue #8 item 5). A workspace of 20,000 numbers loaded
//! in bulk and never analyzed, as after a fresh import before autoanalyze: every hot statement,
//! taken from the store exactly as it runs, must probe its own index and never walk the
//! workspace; the API keeps working there; and a sweep that moves many numbers analyzes.

use numberd::store::numbers::Due;
use numberd::store::{jobs, numbers, RowLock, ANALYZE_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, Row};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(lookups_by_unique_key_stay_inside_their_workspace);

const BIG: i64 = 20_000;

/// A test-mode workspace of [`BIG`] numbers, [`ANALYZE_AFTER`] of them dedicated with a period
/// ending at `period_end` and the rest SIP numbers, each with a stored view, plus a done carrier
/// job per number, all in tables autovacuum leaves alone.
struct BigWorkspace {
    app: TestApp,
    ws: Ws,
    pg: PgConnection,
    period_end: String,
}

async fn big_workspace() -> BigWorkspace {
    let app = TestApp::spawn(Backend::Postgres).await;
    let ws = app.workspace(true).await;
    let dedicated = ws
        .register(json!({ "number": "+14155550100", "kind": "dedicated",
            "monthlyRecurringPrice": { "amount": 200, "exponent": -2, "currencyCode": "USD" } }))
        .await;
    let sip = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let mut pg = PgConnection::connect(&app.db.url).await.expect("connect to the test schema");
    for table in ["numbers", "number_views", "jobs", "billing_periods"] {
        // Autoanalyze must not reach these tables mid-test: the point is that it has not yet.
        sqlx::query(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)")).execute(&mut pg).await.unwrap();
    }
    let dedicated_copies = ANALYZE_AFTER as i64 - 1;
    copy_number(&mut pg, &dedicated, dedicated_copies, 0).await;
    copy_number(&mut pg, &sip, BIG - 2 - dedicated_copies, dedicated_copies).await;
    sqlx::query(
        "INSERT INTO jobs (kind, queue, payload, workspace_id, number_id, status, attempts, run_at, created_at, updated_at) \
         SELECT 'carrier_release', 'carrier', json_build_object('workspace_id', workspace_id, 'number_id', id, 'e164', e164)::text, \
         workspace_id, id, 'done', 1, created_at, created_at, created_at FROM numbers",
    )
    .execute(&mut pg)
    .await
    .unwrap();
    // Each copy keeps a stored view (its template's: no list reads them here).
    sqlx::query(
        "INSERT INTO number_views (number_id, template) SELECT n.id, v.template FROM numbers n \
         JOIN numbers t ON t.kind = n.kind AND t.id IN ($1, $2) JOIN number_views v ON v.number_id = t.id \
         WHERE n.id NOT IN ($1, $2)",
    )
    .bind(dedicated["id"].as_str().unwrap())
    .bind(sip["id"].as_str().unwrap())
    .execute(&mut pg)
    .await
    .unwrap();
    let period_end = dedicated["currentPeriod"]["endAt"].as_str().unwrap().to_owned();
    BigWorkspace { app, ws, pg, period_end }
}

/// Inserts `count` copies of a registered number, each with its own ids and E.164 number.
async fn copy_number(pg: &mut PgConnection, template: &Value, count: i64, offset: i64) {
    // Integer ids count per workspace: the two registered numbers hold 1 and 2.
    sqlx::query(
        "INSERT INTO numbers (seq, id, workspace_id, e164, kind, number_type, country, capabilities, caps_mask, \
         price_amount, price_exponent, price_currency, configurations, nickname, status, sub_id, sub_status, \
         sub_anchor, period_index, period_end, subscribed_at, sub_updated_at, cancelled_at, activated_at, \
         deactivated_at, deleted_at, created_at, updated_at) \
         SELECT 2 + $3 + g, gen_random_uuid()::text, workspace_id, '+1650' || lpad((g + $3)::text, 7, '0'), kind, number_type, \
         country, capabilities, caps_mask, price_amount, price_exponent, price_currency, configurations, nickname, \
         status, CASE WHEN sub_id IS NULL THEN NULL ELSE gen_random_uuid()::text END, sub_status, sub_anchor, \
         period_index, period_end, subscribed_at, sub_updated_at, cancelled_at, activated_at, deactivated_at, \
         deleted_at, created_at, updated_at \
         FROM numbers, generate_series(1, $2) g WHERE id = $1",
    )
    .bind(template["id"].as_str().unwrap())
    .bind(count)
    .bind(offset)
    .execute(&mut *pg)
    .await
    .unwrap();
}

/// What a plan reads: the indexes it uses and the tables it scans whole.
#[derive(Debug, Default)]
struct Reads {
    indexes: Vec<String>,
    seq_scans: Vec<String>,
    /// Gather nodes: the plan starts parallel workers.
    gathers: usize,
    /// Indexes read below a `Limit`: rows they find may be thrown away.
    under_limit: Vec<String>,
}

fn collect_reads(node: &Value, reads: &mut Reads, limited: bool) {
    let field = |k: &str| node[k].as_str().map(str::to_owned);
    let limited = limited || field("Node Type").as_deref() == Some("Limit");
    if let Some(index) = field("Index Name") {
        if limited {
            reads.under_limit.push(index.clone());
        }
        reads.indexes.push(index);
    }
    if field("Node Type").is_some_and(|t| t.starts_with("Gather")) {
        reads.gathers += 1;
    }
    if field("Node Type").as_deref() == Some("Seq Scan") {
        reads.seq_scans.push(field("Relation Name").unwrap());
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        collect_reads(child, reads, limited);
    }
}

/// `EXPLAIN (FORMAT JSON)` of `sql` with the given binds, as PostgreSQL would plan it now.
async fn explain(pg: &mut PgConnection, sql: &str, binds: &[Value]) -> Reads {
    let text = format!("EXPLAIN (FORMAT JSON) {sql}");
    let query = binds.iter().fold(sqlx::query(&text), |q, b| match b {
        Value::String(s) => q.bind(s.clone()),
        Value::Number(n) => q.bind(n.as_i64().unwrap()),
        other => panic!("unsupported bind {other}"),
    });
    let row = query.fetch_one(&mut *pg).await.unwrap_or_else(|e| panic!("explain {sql}: {e}"));
    reads_of(&row)
}

/// Like [`explain`], for the generic plan PostgreSQL may settle on for a statement it has run a
/// few times: planned once for any values of its parameters (of SQL `types`); `args` are SQL
/// literals.
async fn explain_generic(pg: &mut PgConnection, sql: &str, types: &str, args: &str) -> Reads {
    sqlx::raw_sql(&format!("SET plan_cache_mode = force_generic_plan; PREPARE generic ({types}) AS {sql}"))
        .execute(&mut *pg)
        .await
        .unwrap();
    let row = sqlx::raw_sql(&format!("EXPLAIN (FORMAT JSON) EXECUTE generic ({args})")).fetch_one(&mut *pg).await.unwrap();
    sqlx::raw_sql("DEALLOCATE generic; RESET plan_cache_mode").execute(&mut *pg).await.unwrap();
    reads_of(&row)
}

fn reads_of(row: &sqlx::postgres::PgRow) -> Reads {
    // `json` arrives as its text; sqlx is built without its JSON types.
    let plan: Value = serde_json::from_str(&row.try_get_unchecked::<String, _>(0).unwrap()).unwrap();
    let mut reads = Reads::default();
    collect_reads(&plan[0]["Plan"], &mut reads, false);
    reads
}

/// The plan reads the big tables through exactly `expected` and never scans them whole.
fn assert_reads(what: &str, reads: &Reads, expected: &[&str]) {
    let big: Vec<&str> = reads.indexes.iter().map(String::as_str).filter(|i| i.starts_with("numbers_") || i.starts_with("jobs_")).collect();
    assert_eq!(big, expected, "{what} reads the wrong indexes: {reads:?}");
    for table in ["numbers", "jobs"] {
        assert!(!reads.seq_scans.iter().any(|t| t == table), "{what} scans all of {table}: {reads:?}");
    }
}

/// Statistics PostgreSQL holds for `numbers`: how many rows it believes the table has (0 or -1
/// until an ANALYZE has seen rows).
async fn believed_rows(pg: &mut PgConnection) -> f32 {
    sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'numbers'::regclass").fetch_one(pg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_queries_probe_their_own_index_without_statistics() {
    let BigWorkspace { app, ws, mut pg, .. } = big_workspace().await;
    assert!(believed_rows(&mut pg).await <= 0.0, "the test needs a table never analyzed with rows");
    let (id, seq): (String, i64) =
        sqlx::query_as("SELECT id, seq FROM numbers ORDER BY seq DESC LIMIT 1").fetch_one(&mut pg).await.unwrap();
    let (id, seq, ws_id) = (json!(id), json!(seq), json!(ws.id));
    let now = json!(chrono::Utc::now().timestamp_micros());

    // Every form the store issues: locked inside settling, skipping locked rows in the worker,
    // plain reads, deleted numbers included.
    for lock in ["", " FOR UPDATE", " FOR UPDATE SKIP LOCKED"] {
        let get = explain(&mut pg, &numbers::by_id_sql(true, lock), &[id.clone(), ws_id.clone()]).await;
        assert_reads(&format!("get{lock}"), &get, &["numbers_id_key"]);
        let by_seq = explain(&mut pg, &numbers::by_seq_sql(lock), &[seq.clone(), ws_id.clone()]).await;
        assert_reads(&format!("get_by_seq{lock}"), &by_seq, &["numbers_pkey"]);
    }
    let any = explain(&mut pg, &numbers::by_id_sql(false, ""), &[id.clone(), ws_id.clone()]).await;
    assert_reads("get_any", &any, &["numbers_id_key"]);

    // A page of numbers with their stored views: the workspace's range (or, for a prefix, the
    // prefix's), then a key probe per view of the page only, never of rows a sort or the page's
    // limit throws away. Its size is in the text (see `Page::apply`), so the generic plan knows
    // it too.
    let page = |filter: &str| numbers::page_sql(&format!(" WHERE workspace_id = $1 AND deleted_at IS NULL{filter} ORDER BY seq LIMIT 100"));
    let (deep, prefix) = (page(" AND seq > $2"), page(" AND e164 LIKE $2"));
    let pages = [
        ("list", explain(&mut pg, &deep, &[ws_id.clone(), json!(BIG / 2)]).await),
        ("list (generic)", explain_generic(&mut pg, &deep, "text, bigint", &format!("'{}', {}", ws.id, BIG / 2)).await),
        // Without statistics the planner may walk either index for a prefix; either way, only
        // the page's rows are joined.
        ("prefix", explain(&mut pg, &prefix, &[ws_id.clone(), json!("+165000001%")]).await),
    ];
    for (name, reads) in pages {
        if name != "prefix" {
            assert_reads(name, &reads, &["numbers_workspace_seq"]);
        }
        assert!(!reads.seq_scans.iter().any(|t| t == "numbers"), "{name} scans all of numbers: {reads:?}");
        assert!(reads.indexes.contains(&"number_views_pkey".to_owned()), "{name}: a page probes each view by key: {reads:?}");
        assert!(!reads.under_limit.contains(&"number_views_pkey".to_owned()), "{name}: only the page's own views are read: {reads:?}");
        assert_eq!(reads.gathers, 0, "{name}: a page starts no parallel workers: {reads:?}");
    }

    // Found unlocked (a test clock's sweep, SQLite's) and found and locked at once (the worker's); the
    // statement depends only on the kind of `Due`, its binds are given here.
    let (live, in_ws) = (Due::Live(chrono::Utc::now()), Due::InWorkspace(ws.id.parse().unwrap(), chrono::Utc::now()));
    for (select, lock) in [("id", RowLock::None), (numbers::COLUMNS, RowLock::ForUpdateSkipLocked)] {
        let found = explain(&mut pg, &live.sql(select, lock), &[now.clone(), json!(100)]).await;
        assert_reads(&format!("due (live){lock}"), &found, &["numbers_due"]);
        let found = explain(&mut pg, &in_ws.sql(select, lock), &[ws_id.clone(), now.clone(), json!(100)]).await;
        assert_reads(&format!("due (one workspace){lock}"), &found, &["numbers_workspace_due"]);
    }

    // The sweep locks and writes back a whole batch of numbers, each found by its unique id. (A
    // batch is a small part of a real table; 100 of these 20,000 numbers stand for it: at 500,
    // 2.5 % of so small a table, a scan would rightly be cheaper.)
    let batch: Vec<String> = sqlx::query_scalar("SELECT id FROM numbers ORDER BY seq LIMIT 100").fetch_all(&mut pg).await.unwrap();
    let binds: Vec<Value> = batch.iter().map(|id| json!(id)).collect();
    for lock in ["", " FOR UPDATE", " FOR UPDATE SKIP LOCKED"] {
        let locked = explain(&mut pg, &numbers::lock_many_sql(batch.len(), lock), &binds).await;
        assert_reads(&format!("lock_many{lock}"), &locked, &["numbers_id_key"]);
    }
    // Concurrent GETs, read together, in the plan their prepared statement settles on.
    let ids = format!("ARRAY['{}']", batch[..20].join("', '"));
    let coalesced = explain_generic(&mut pg, &numbers::BY_IDS_SQL, "text[]", &ids).await;
    assert_reads("coalesced reads", &coalesced, &["numbers_id_key"]);
    let listed = explain_generic(&mut pg, &numbers::LISTED_BY_IDS_SQL, "text[]", &ids).await;
    assert_reads("coalesced reads with views", &listed, &["numbers_id_key"]);
    assert!(listed.indexes.contains(&"number_views_pkey".to_owned()), "each view is probed by key: {listed:?}");
    let at = chrono::Utc::now().timestamp_micros();
    let tuples: Vec<String> = batch
        .iter()
        .map(|id| {
            format!(
                "('{id}', NULL::text, '{{}}', 'active', 'active', 1::bigint, {at}::bigint, {at}::bigint, NULL::bigint, \
                 {at}::bigint, NULL::bigint, NULL::bigint, {at}::bigint)"
            )
        })
        .collect();
    let update = format!("{} VALUES {}{}", numbers::UPDATE_HEAD, tuples.join(", "), numbers::UPDATE_TAIL);
    assert_reads("update", &explain(&mut pg, &update, &[]).await, &["numbers_id_key"]);
    // What the sweep writes back: renewals, and releases with their status.
    let settled = |extra: &str| -> String {
        let tuples: Vec<String> =
            batch.iter().map(|id| format!("('{id}', 1::bigint, {at}::bigint, {at}::bigint, {at}::bigint{extra})")).collect();
        tuples.join(", ")
    };
    let renewed = format!("{} VALUES {}{}", numbers::RENEWED_HEAD, settled(""), numbers::UPDATE_TAIL);
    assert_reads("update_settled (renewed)", &explain(&mut pg, &renewed, &[]).await, &["numbers_id_key"]);
    let released = format!(
        "{} VALUES {}{}",
        numbers::RELEASED_HEAD,
        settled(&format!(", 'inactive', 'canceled', {at}::bigint")),
        numbers::UPDATE_TAIL
    );
    assert_reads("update_settled (released)", &explain(&mut pg, &released, &[]).await, &["numbers_id_key"]);
    let ids: Vec<String> = batch.iter().map(|id| format!("('{id}')")).collect();
    let gone = format!("{} VALUES {})", numbers::VIEWS_GONE_HEAD, ids.join(", "));
    let gone = explain(&mut pg, &gone, &[]).await;
    assert!(gone.indexes == ["number_views_pkey"] && gone.seq_scans.is_empty(), "released views are found by key: {gone:?}");

    let lease_end = json!(chrono::Utc::now().timestamp_micros() + 60_000_000);
    let claim = explain(&mut pg, &jobs::claim_sql(&app.running.core.db), &[now, lease_end, json!("carrier"), json!(64)]).await;
    assert_reads("claim", &claim, &["jobs_ready", "jobs_pkey"]);
    let latest = explain(&mut pg, &jobs::for_number_sql(), &[id, json!("carrier_release")]).await;
    assert_reads("latest_for_number", &latest, &["jobs_number"]);
}

/// A carrier backlog of bulk releases in an analyzed table: the claim takes its batch from the
/// ready range and the jobs by primary key, both in the plan for the values at hand and in the
/// generic plan PostgreSQL may settle on for a statement run many times (one for any batch size,
/// which would rather scan the whole table than probe a tenth of the backlog by key).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_big_analyzed_backlog_is_claimed_by_index() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut pg = PgConnection::connect(&app.db.url).await.expect("connect to the test schema");
    sqlx::query(
        "INSERT INTO jobs (kind, queue, payload, status, attempts, run_at, created_at, updated_at) \
         SELECT 'carrier_release', 'carrier', '{}', CASE WHEN g % 3 = 0 THEN 'done' ELSE 'pending' END, 0, g, g, g \
         FROM generate_series(1, $1) g",
    )
    .bind(BIG)
    .execute(&mut pg)
    .await
    .unwrap();
    sqlx::query("ANALYZE jobs").execute(&mut pg).await.unwrap();
    let (now, lease_end) = (chrono::Utc::now().timestamp_micros(), chrono::Utc::now().timestamp_micros() + 60_000_000);
    let sql = jobs::claim_sql(&app.running.core.db);
    let custom = explain(&mut pg, &sql, &[json!(now), json!(lease_end), json!("carrier"), json!(64)]).await;
    assert_reads("claim", &custom, &["jobs_ready", "jobs_pkey"]);
    let generic = explain_generic(&mut pg, &sql, "bigint, bigint, text, bigint", &format!("{now}, {lease_end}, 'carrier', 64")).await;
    assert_reads("claim (generic plan)", &generic, &["jobs_ready", "jobs_pkey"]);
}

/// SQLite claims the same way: the batch from the ready range, the jobs by rowid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_claims_from_the_ready_range_by_rowid() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let db = &app.running.core.db;
    let now = chrono::Utc::now().timestamp_micros();
    let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", jobs::claim_sql(db)))
        .bind(now)
        .bind(now + 60_000_000)
        .bind("carrier")
        .bind(64_i64)
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect();
    for expected in ["SEARCH jobs USING INDEX jobs_ready", "SEARCH jobs USING INTEGER PRIMARY KEY"] {
        assert!(plan.iter().any(|d| d.starts_with(expected)), "claim plan lacks {expected:?}: {plan:?}");
    }
    assert!(!plan.iter().any(|d| d.starts_with("SCAN jobs")), "claim scans all of jobs: {plan:?}");
}

/// The newest bulk-loaded number of a kind.
async fn loaded(pg: &mut PgConnection, kind: &str) -> String {
    sqlx::query_scalar("SELECT id FROM numbers WHERE kind = $1 ORDER BY seq DESC LIMIT 1").bind(kind).fetch_one(pg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_big_unanalyzed_workspace_serves_and_its_big_sweep_analyzes() {
    let BigWorkspace { app, ws, mut pg, period_end } = big_workspace().await;
    let (dedicated, sip) = (loaded(&mut pg, "dedicated").await, loaded(&mut pg, "sip").await);

    let (status, n) = ws.get(&format!("./numbers/{dedicated}")).await;
    assert_eq!((status, n["subscription"]["status"].as_str()), (StatusCode::OK, Some("active")), "{n}");
    let (status, n) = ws.post(&format!("./numbers/{dedicated}/cancel-subscription"), json!({})).await;
    assert_eq!((status, n["subscription"]["status"].as_str()), (StatusCode::OK, Some("canceling")), "{n}");
    let (status, r) = ws.delete(&format!("./numbers/{sip}")).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (status, _) = ws.get(&format!("./numbers/{sip}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted number is gone");
    let other = app.workspace(true).await;
    let (status, _) = other.get(&format!("./numbers/{dedicated}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another workspace's number, found by its id alone, stays hidden");

    // A sweep that moves nothing leaves the statistics alone...
    let end: chrono::DateTime<chrono::Utc> = period_end.parse().unwrap();
    let (status, _) = ws.advance(&(end - chrono::Duration::seconds(1)).to_rfc3339()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(believed_rows(&mut pg).await <= 0.0, "no ANALYZE for a sweep that moved nothing");
    // ...one that moves ANALYZE_AFTER numbers (each dedicated one renews or, cancelled, leaves)
    // refreshes them.
    let (status, _) = ws.advance(&period_end).await;
    assert_eq!(status, StatusCode::OK);
    let rows = believed_rows(&mut pg).await;
    assert!((rows - BIG as f32).abs() < 100.0, "after the big sweep PostgreSQL knows the table's size: {rows}");

    let (_, gone) = ws.get(&format!("./numbers/{dedicated}")).await;
    assert_eq!(gone["status"], "inactive", "{gone}");
    let renewed =
        sqlx::query_scalar::<_, String>("SELECT id FROM numbers WHERE kind = 'dedicated' AND status = 'active' ORDER BY seq DESC LIMIT 1")
            .fetch_one(&mut pg)
            .await
            .unwrap();
    let (_, n) = ws.get(&format!("./numbers/{renewed}")).await;
    assert_eq!(n["currentPeriod"]["startAt"].as_str(), Some(period_end.as_str()), "{n}");
}

/// The lookups probe the unique key alone and check the workspace on the row found: another
/// workspace's number, assistant or campaign, by uuid or Autocalls integer id, is not found.
async fn lookups_by_unique_key_stay_inside_their_workspace(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (owner, other) = (app.workspace(false).await, app.workspace(false).await);
    let n = owner.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let (_, assistant) = owner.post("./assistants", json!({ "name": "Desk", "numberId": n["id"] })).await;
    let (_, campaign) = owner.post("./campaigns", json!({ "name": "Spring", "numberIds": [n["id"]] })).await;
    let paths = [
        format!("./numbers/{}", n["id"].as_str().unwrap()),
        format!("./assistants/{}", assistant["id"].as_str().unwrap()),
        format!("./campaigns/{}", campaign["id"].as_str().unwrap()),
    ];
    for path in &paths {
        let (status, found) = owner.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {found}");
        let (status, err) = other.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} from another workspace: {err}");
    }
    let auth = format!("Bearer {}", other.key);
    let phone = format!("/api/user/phone-numbers/{}", n["autocallsId"]);
    for (method, path, body) in [
        (Method::GET, format!("/api/user/assistant/{}", assistant["autocallsId"]), None),
        (Method::PUT, phone.clone(), Some(r#"{"nickname":"Mine"}"#)),
        (Method::DELETE, phone, None),
    ] {
        let (status, err) = app.raw(method.clone(), &path, Some(&auth), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} from another workspace: {err}");
    }
    let (status, _) = owner.get(&paths[0]).await;
    assert_eq!(status, StatusCode::OK, "the number is still there");
}
