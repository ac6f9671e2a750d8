//! Integer ids (Autocalls `id`, native `autocallsId`) count per workspace: one tenant's ids say
//! nothing about another's activity, and ids handed out before the change stay as they were.

use futures::future::join_all;
use numberd::domain::number::{Capabilities, NumberConfigurations, NumberKind};
use numberd::store::{workspaces, Db};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp, TestDb, Ws};

both_backends!(ids_count_per_workspace, ids_survive_the_migration, concurrent_creates_take_distinct_ids);

/// Creates one of each resource natively and returns their `autocallsId`s
/// (number, assistant, campaign, call).
async fn one_of_each(ws: &Ws, e164: &str) -> [i64; 4] {
    let number = ws.register(json!({ "number": e164, "kind": "sip" })).await;
    let created = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["autocallsId"].as_i64().unwrap_or_else(|| panic!("no autocallsId: {body}"))
    };
    let assistant = created(ws.post("./assistants", json!({ "name": "Reception", "direction": "outbound" })).await);
    let campaign = created(ws.post("./campaigns", json!({ "name": "Spring", "numberIds": [number["id"]] })).await);
    let call = created(
        ws.post(
            "./calls",
            json!({ "direction": "outbound", "from": e164, "to": "+12125550123", "numberId": number["id"],
            "status": "completed" }),
        )
        .await,
    );
    [number["autocallsId"].as_i64().unwrap(), assistant, campaign, call]
}

const NICKNAME: &str = r#"{"nickname": "Front desk"}"#;

/// An Autocalls-dialect request as the workspace.
async fn dialect(app: &TestApp, ws: &Ws, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
    let (status, text) = app.raw(method, path, Some(&format!("Bearer {}", ws.key)), body).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} → {status}: not JSON: {text}")))
}

async fn ids_count_per_workspace(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (quiet, busy) = (app.workspace(false).await, app.workspace(false).await);
    let (mut quiet_ids, mut busy_ids) = (Vec::new(), Vec::new());
    // The busy workspace creates two of everything for each one the quiet workspace creates.
    for i in 0..3 {
        busy_ids.push(one_of_each(&busy, &format!("+1415555020{}", 2 * i)).await);
        quiet_ids.push(one_of_each(&quiet, &format!("+1415555010{i}")).await);
        busy_ids.push(one_of_each(&busy, &format!("+1415555020{}", 2 * i + 1)).await);
    }
    assert_eq!(quiet_ids, (1..=3).map(|i| [i; 4]).collect::<Vec<_>>());
    assert_eq!(busy_ids, (1..=6).map(|i| [i; 4]).collect::<Vec<_>>());

    // The same integer names each workspace's own resource in the dialect; ids only the busy
    // workspace has reached are not found in the quiet one.
    let (status, quiet_3) = dialect(&app, &quiet, Method::PUT, "/api/user/phone-numbers/3", Some(NICKNAME)).await;
    assert_eq!((status, &quiet_3["data"]["phone_number"]), (StatusCode::OK, &json!("+14155550102")));
    let (status, busy_3) = dialect(&app, &busy, Method::PUT, "/api/user/phone-numbers/3", Some(NICKNAME)).await;
    assert_eq!((status, &busy_3["data"]["phone_number"]), (StatusCode::OK, &json!("+14155550202")));
    assert_eq!(dialect(&app, &quiet, Method::PUT, "/api/user/phone-numbers/4", Some(NICKNAME)).await.0, StatusCode::NOT_FOUND);
    let (_, calls) = dialect(&app, &quiet, Method::GET, "/api/user/calls", None).await;
    let mut call_ids: Vec<i64> = calls["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    call_ids.sort();
    assert_eq!(call_ids, [1, 2, 3], "{calls}");

    // Native keyset pages follow the workspace's own ids.
    let (_, page) = quiet.get("./assistants?limit=2").await;
    let (_, rest) = quiet.get(&format!("./assistants?limit=2&pageToken={}", page["nextPageToken"].as_str().unwrap())).await;
    let listed: Vec<&Value> =
        page["results"].as_array().unwrap().iter().chain(rest["results"].as_array().unwrap()).map(|a| &a["autocallsId"]).collect();
    assert_eq!(listed, [&json!(1), &json!(2), &json!(3)]);
}

/// Inserts a row the way numberd did before migration 0003: `seq` from the table's own
/// deployment-wide counter.
async fn old_style_insert(db: &Db, ws: &str, table: &str, n: usize) {
    let id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().timestamp_micros();
    let sql = match table {
        "numbers" => format!(
            "INSERT INTO numbers (id, workspace_id, e164, kind, number_type, country, capabilities, caps_mask, \
             configurations, status, sub_status, activated_at, created_at, updated_at) \
             VALUES ($1, $2, '+1415555030{n}', 'sip', 'local', 'US', '{}', {}, '{}', 'active', 'none', $3, $3, $3)",
            serde_json::to_string(&Capabilities::default_for(NumberKind::Sip)).unwrap(),
            Capabilities::default_for(NumberKind::Sip).mask(),
            serde_json::to_string(&NumberConfigurations::default()).unwrap(),
        ),
        // Rows that reference numbers and campaigns, so the rebuild must keep them joined.
        "assistants" => "INSERT INTO assistants (id, workspace_id, name, direction, number_id, created_at, updated_at) \
             VALUES ($1, $2, 'Old', 'outbound', (SELECT MIN(id) FROM numbers WHERE workspace_id = $2), $3, $3)"
            .into(),
        "campaigns" => "INSERT INTO campaigns (id, workspace_id, name, status, created_at, updated_at) \
             VALUES ($1, $2, 'Old', 'draft', $3, $3)"
            .into(),
        _ => "INSERT INTO calls (id, workspace_id, direction, from_e164, to_e164, number_id, status, started_at, \
             duration_seconds, created_at) \
             VALUES ($1, $2, 'inbound', '+12125550123', '+14155550301', (SELECT MIN(id) FROM numbers WHERE workspace_id = $2), \
             'completed', $3, 0, $3)"
            .into(),
    };
    sqlx::query(&sql).bind(id).bind(ws).bind(now).execute(&db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn ids_survive_the_migration(b: Backend) {
    let test_db = TestDb::new(b).await;
    // The schema as it stood before 0003, with rows numbered across workspaces.
    let db = crate::common::migrated_before(&test_db, b, 3).await;
    let now = chrono::Utc::now();
    // Workspaces as that numberd wrote them (today's also record an event, a later table); their
    // keys are made once the service runs.
    let (a_id, b_id) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    for (id, name) in [(&a_id, "A"), (&b_id, "B")] {
        sqlx::query("INSERT INTO workspaces (id, name, test_mode, created_at) VALUES ($1, $2, 0, $3)")
            .bind(id)
            .bind(name)
            .bind(now.timestamp_micros())
            .execute(&db.pool)
            .await
            .unwrap();
    }
    for table in ["numbers", "assistants", "campaigns", "calls"] {
        // seq 1 and 3 go to A, 2 to B.
        old_style_insert(&db, &a_id, table, 1).await;
        old_style_insert(&db, &b_id, table, 2).await;
        old_style_insert(&db, &a_id, table, 3).await;
    }
    sqlx::query(
        "INSERT INTO campaign_numbers (campaign_id, position, number_id) \
         SELECT c.id, 0, n.id FROM campaigns c JOIN numbers n ON n.workspace_id = c.workspace_id",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db.pool.close().await;

    let app = TestApp::spawn_on(test_db).await;
    let key = |id: &str| workspaces::create_key(&app.running.core.db, id.parse().unwrap(), now);
    let (a_key, b_key) = (key(&a_id).await.unwrap().unwrap(), key(&b_id).await.unwrap().unwrap());
    let (a, b_ws) = (app.as_workspace(a_id, a_key.secret), app.as_workspace(b_id, b_key.secret));
    let autocalls_ids =
        |list: Value| -> Vec<i64> { list["results"].as_array().unwrap().iter().map(|r| r["autocallsId"].as_i64().unwrap()).collect() };
    for path in ["./numbers", "./assistants", "./campaigns", "./calls"] {
        assert_eq!(autocalls_ids(a.get(path).await.1), [1, 3], "{path} of A");
        assert_eq!(autocalls_ids(b_ws.get(path).await.1), [2], "{path} of B");
    }
    let (_, campaigns) = a.get("./campaigns").await;
    assert_eq!(campaigns["results"][0]["numberIds"].as_array().unwrap().len(), 2, "{campaigns}");
    assert!(a.get("./assistants").await.1["results"][1]["numberId"].is_string());
    let (status, old) = dialect(&app, &a, Method::PUT, "/api/user/phone-numbers/3", Some(NICKNAME)).await;
    assert_eq!((status, &old["data"]["phone_number"]), (StatusCode::OK, &json!("+14155550303")));

    // New ids continue after each workspace's largest; a new workspace starts at 1.
    assert_eq!(one_of_each(&a, "+14155550400").await, [4, 4, 4, 4]);
    assert_eq!(one_of_each(&b_ws, "+14155550401").await, [3, 3, 3, 3]);
    let fresh = app.workspace(false).await;
    assert_eq!(one_of_each(&fresh, "+14155550402").await, [1, 1, 1, 1]);
}

async fn concurrent_creates_take_distinct_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let responses = join_all((0..20).map(|i| {
        let ws = ws.clone();
        async move { ws.post("./numbers", json!({ "number": format!("+141555505{i:02}"), "kind": "sip" })).await }
    }))
    .await;
    let mut ids: Vec<i64> = responses
        .iter()
        .map(|(status, n)| {
            assert_eq!(*status, StatusCode::CREATED, "{n}");
            n["autocallsId"].as_i64().unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
}
