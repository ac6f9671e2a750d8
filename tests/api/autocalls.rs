//! The Autocalls dialect under `/api/user`: the same story told through both APIs, the release
//! page byte for byte, Laravel's paginator and validation shapes, and call filters.

use chrono::{DateTime, Utc};
use numberd::carrier::scripted::{Answer, Op};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{Backend, TestApp, Ws};

both_backends!(one_story_through_both_apis, release_page_and_phone_number_errors, laravel_pagination_and_validation, call_filters,);

const RELEASED: &str = "Phone number released successfully. It will be removed at the end of the billing period.";
const DELETED: &str = "Phone number deleted successfully.";

/// An existing Autocalls client: `Bearer` key, absolute `/api/user` paths.
struct Client<'a> {
    app: &'a TestApp,
    auth: String,
}

impl<'a> Client<'a> {
    fn of(app: &'a TestApp, ws: &Ws) -> Self {
        Client { app, auth: format!("Bearer {}", ws.key) }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string());
        let (status, text) = self.app.raw(method.clone(), path, Some(&self.auth), body.as_deref()).await;
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path} → {status}: not JSON: {text}"));
        (status, json)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    async fn release(&self, n: &Value) -> (StatusCode, Value) {
        self.delete(&format!("/api/user/phone-numbers/{}", n["autocallsId"])).await
    }
}

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")).parse().unwrap()
}

fn uuid(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// What `phone-numbers/all` shows for a native number.
fn listed(n: &Value, kind: &str, label: &str, sms: bool, subscribed: bool) -> Value {
    json!({
        "id": n["autocallsId"], "phone_number": n["number"], "country_code": n["country"], "type": kind,
        "type_label": label, "sms_capable": sms, "region": null, "has_active_subscription": subscribed,
        "nickname": n["nickname"], "created_at": ts(&n["createdAt"]).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    })
}

fn picker(n: &Value, label: &str, available: bool) -> Value {
    json!({ "id": n["autocallsId"], "phone_number": n["number"], "country_code": "US", "type_label": label, "is_available": available })
}

async fn one_story_through_both_apis(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let ac = Client::of(&app, &ws);
    let ded = ws.register(json!({ "number": "+14155550100", "kind": "dedicated" })).await;
    let sip = ws.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;
    let spare = ws.register(json!({ "number": "+14155550103", "kind": "dedicated" })).await;

    let (status, all) = ac.get("/api/user/phone-numbers/all").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        all,
        json!({ "data": [
            listed(&ded, "normal", "Dedicated Number", true, true),
            listed(&sip, "sip", "SIP Trunk", false, false),
            listed(&caller, "caller_id", "Caller ID", false, false),
            listed(&spare, "normal", "Dedicated Number", true, true),
        ] })
    );

    // Nicknames set on either side show on the other.
    let (status, updated) = ac.put(&format!("/api/user/phone-numbers/{}", ded["autocallsId"]), json!({ "nickname": "Front desk" })).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated,
        json!({ "message": "Phone number updated successfully.", "data": { "id": ded["autocallsId"], "phone_number": "+14155550100",
            "nickname": "Front desk", "country_code": "US", "type": "normal" } })
    );
    assert_eq!(ws.get(&format!("./numbers/{}", uuid(&ded))).await.1["nickname"], "Front desk");
    ws.patch(&format!("./numbers/{}", uuid(&sip)), json!({ "nickname": "Trunk" })).await;
    assert_eq!(ac.get("/api/user/phone-numbers/all").await.1["data"][1]["nickname"], "Trunk");

    // An inbound assistant on the dedicated number, made here, is the native one.
    let (status, created) = ac
        .post(
            "/api/user/assistant",
            json!({ "name": "Reception", "type": "inbound",
        "phone_number_id": ded["autocallsId"], "voice_id": 8, "system_prompt": "Be kind." }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["message"], "Assistant created successfully");
    let assistant = created["data"].clone();
    assert_eq!(assistant["phone_number_id"], ded["autocallsId"]);
    let (_, native) = ws.get("./assistants").await;
    assert_eq!(native["results"][0]["autocallsId"], assistant["id"]);
    assert_eq!(native["results"][0]["numberId"], ded["id"]);
    assert_eq!(native["results"][0]["direction"], "inbound");

    // The picker hides the taken number and the caller ID for inbound use.
    let (_, inbound) = ac.get("/api/user/assistants/phone-numbers?type=inbound").await;
    assert_eq!(inbound, json!([picker(&sip, "SIP", true), picker(&spare, "Normal", true)]));
    let (_, any) = ac.get("/api/user/assistants/phone-numbers").await;
    assert_eq!(any[0], picker(&ded, "Normal", false));
    assert_eq!(any[2], picker(&caller, "Caller ID", true));

    // A campaign rotating over every number, started here and paused natively.
    let (status, created) = ac
        .post(
            "/api/user/campaign",
            json!({ "name": "Spring", "assistant_id": 1,
            "phone_number_ids": [ded["autocallsId"], sip["autocallsId"], caller["autocallsId"], spare["autocallsId"]] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let campaign = created["data"].clone();
    assert_eq!(campaign["status"], "draft");
    let (status, started) = ac.post("/api/user/campaigns/update-status", json!({ "campaign_id": campaign["id"], "action": "start" })).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(
        started,
        json!({ "message": "Campaign started successfully.", "success": true,
            "data": { "campaign_id": campaign["id"], "status": "in-progress" } })
    );
    let (_, native) = ws.get("./campaigns").await;
    let native_campaign = format!("./campaigns/{}", uuid(&native["results"][0]));
    assert_eq!(native["results"][0]["status"], "in_progress");
    ws.patch(&native_campaign, json!({ "status": "paused" })).await;
    assert_eq!(ac.get("/api/user/campaigns").await.1[0]["status"], "stopped");

    // Calls are recorded natively; the dialect lists them.
    let (status, call) = ws
        .post(
            "./calls",
            json!({ "direction": "outbound", "from": "+14155550101", "to": "+12125550123", "numberId": uuid(&sip),
            "campaignId": uuid(&native["results"][0]), "status": "completed", "durationSeconds": 245 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    ws.post(
        "./calls",
        json!({ "direction": "inbound", "from": "+12125550199", "to": "+14155550100", "numberId": uuid(&ded),
        "assistantId": native_assistant_id(&ws).await, "status": "no_answer" }),
    )
    .await;

    // Release each kind, alternating APIs; each side sees the other's change.
    let (status, body) = ac.release(&ded).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "message": RELEASED })));
    assert_eq!(ws.get(&format!("./numbers/{}", uuid(&ded))).await.1["subscription"]["status"], "canceling");
    assert_eq!(ac.get("/api/user/phone-numbers/all").await.1["data"][0]["has_active_subscription"], false);
    assert_eq!(ws.delete(&format!("./numbers/{}", uuid(&spare))).await.0, StatusCode::OK);
    let (status, body) = ac.release(&spare).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "error": "Phone number is already scheduled for release." })));
    assert_eq!(ws.delete(&format!("./numbers/{}", uuid(&sip))).await.0, StatusCode::OK);
    let (status, body) = ac.release(&sip).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "Phone number not found." })));
    let (status, body) = ac.release(&caller).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "message": DELETED })));
    assert_eq!(ws.get(&format!("./numbers/{}", uuid(&caller))).await.0, StatusCode::NOT_FOUND);
    let ids = |v: &Value| v["data"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&ac.get("/api/user/phone-numbers/all").await.1), [ded["autocallsId"].clone(), spare["autocallsId"].clone()]);
    assert_eq!(ac.get("/api/user/campaigns").await.1[0]["phone_number_ids"], json!([ded["autocallsId"], spare["autocallsId"]]));

    // The period ends: both dedicated numbers leave, the assistant and the rotation let go.
    ws.advance(&ts(&ded["currentPeriod"]["endAt"]).to_rfc3339()).await;
    assert_eq!(ac.get("/api/user/phone-numbers/all").await.1, json!({ "data": [] }));
    let (status, body) = ac.release(&ded).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "Phone number not found." })));
    assert_eq!(ws.delete(&format!("./numbers/{}", uuid(&ded))).await.0, StatusCode::CONFLICT);
    let (_, got) = ac.get(&format!("/api/user/assistant/{}", assistant["id"])).await;
    assert_eq!(got["data"]["phone_number_id"], Value::Null);
    assert_eq!(ac.get("/api/user/campaigns").await.1[0]["phone_number_ids"], json!([]));
    let (status, err) = ac.put(&format!("/api/user/assistant/{}", assistant["id"]), json!({ "phone_number_id": ded["autocallsId"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["errors"]["phone_number_id"], json!(["The phone number id is not a phone number in this workspace."]));

    // Call history keeps the numbers that have gone.
    let (_, calls) = ac.get("/api/user/calls").await;
    assert_eq!(calls["total"], 2);
    let outbound = &calls["data"][0];
    assert_eq!(outbound["id"], call["autocallsId"]);
    assert_eq!(outbound["assistant_phone_number"], "+14155550101");
    assert_eq!(outbound["client_phone_number"], "+12125550123");
    assert_eq!(outbound["campaign_name"], "Spring");
    assert_eq!(outbound["assistant_name"], Value::Null);
    assert_eq!(outbound["type"], "outbound");
    assert_eq!(outbound["status"], "completed");
    assert_eq!(outbound["duration"], 245);
    let started = ts(&call["startedAt"]);
    assert_eq!(outbound["created_at"], started.format("%Y-%m-%d %H:%M:%S").to_string());
    assert_eq!(outbound["updated_at"], (started + chrono::Duration::seconds(245)).format("%Y-%m-%d %H:%M:%S").to_string());
    let inbound = &calls["data"][1];
    assert_eq!(
        (&inbound["assistant_name"], &inbound["assistant_phone_number"], &inbound["client_phone_number"], &inbound["status"]),
        (&json!("Reception"), &json!("+14155550100"), &json!("+12125550199"), &json!("no-answer"))
    );
}

async fn native_assistant_id(ws: &Ws) -> Value {
    ws.get("./assistants").await.1["results"][0]["id"].clone()
}

async fn release_page_and_phone_number_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let other = app.workspace(true).await;
    let ac = Client::of(&app, &ws);
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;
    // Ids count per workspace: the other's second number has an id this workspace has not reached.
    other.register(json!({ "number": "+14155550101", "kind": "sip" })).await;
    let theirs = other.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let not_found = json!({ "error": "Phone number not found." });

    // Ids that are no integer, or no number of this workspace, are the same 404.
    for id in ["abc", "1.5", "-1", "99999999999999999999", "%F0%9F%93%9E", "all", &theirs["autocallsId"].to_string()] {
        let path = format!("/api/user/phone-numbers/{id}");
        assert_eq!(ac.delete(&path).await, (StatusCode::NOT_FOUND, not_found.clone()), "DELETE {path}");
        assert_eq!(ac.put(&path, json!({ "nickname": "x" })).await, (StatusCode::NOT_FOUND, not_found.clone()), "PUT {path}");
    }

    // The carrier refusing a caller ID removal is the release page's 500; nothing changed.
    app.carrier.script(Op::RemoveCallerId, [Answer::Fail("carrier down".into())]);
    let (status, body) = ac.release(&caller).await;
    assert_eq!(
        (status, body),
        (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": "Failed to release phone number. Please try again or contact support." }))
    );
    assert_eq!(ac.get("/api/user/phone-numbers/all").await.1["data"][0]["id"], caller["autocallsId"]);

    // Bodies: the core's nickname rule, in this family's shape.
    let path = format!("/api/user/phone-numbers/{}", caller["autocallsId"]);
    let (status, body) = ac.put(&path, json!({ "nickname": "x".repeat(51) })).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": "The nickname must be at most 50 characters." })));
    let (status, body) = ac.put(&path, json!({ "nickname": 5 })).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": "The nickname field must be a string." })));
    let (status, text) = app.raw(Method::PUT, &path, Some(&ac.auth), Some("{")).await;
    assert_eq!((status, text.as_str()), (StatusCode::BAD_REQUEST, r#"{"error":"The request body is not valid JSON."}"#));
    // `null` clears a nickname.
    ac.put(&path, json!({ "nickname": "Outbound" })).await;
    assert_eq!(ac.put(&path, json!({ "nickname": null })).await.1["data"]["nickname"], Value::Null);

    // Sanctum's 401, whatever is wrong with the key.
    for auth in [None, Some("Bearer nope"), Some("Basic abc")] {
        let (status, text) = app.raw(Method::GET, "/api/user/phone-numbers/all", auth, None).await;
        assert_eq!((status, text.as_str()), (StatusCode::UNAUTHORIZED, r#"{"message":"Unauthenticated."}"#));
    }
    // An AccessKey works as well as a Bearer token.
    let (status, _) = app.raw(Method::GET, "/api/user/phone-numbers/all", Some(&format!("AccessKey {}", ws.key)), None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn laravel_pagination_and_validation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let ac = Client::of(&app, &ws);
    let n = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let caller = ws.register(json!({ "number": "+14155550102", "kind": "callerId" })).await;
    let mut assistants = Vec::new();
    for name in ["One", "Two", "Three"] {
        let (status, a) = ac.post("/api/user/assistant", json!({ "name": name, "type": "outbound" })).await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        assistants.push(a["data"].clone());
    }

    let (status, page) = ac.get("/api/user/assistants/get?per_page=2&page=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let path = format!("{}/api/user/assistants/get", app.base);
    let url = |p: u32| format!("{path}?per_page=2&page={p}");
    assert_eq!(
        page,
        json!({
            "current_page": 2, "data": [assistants[2]], "first_page_url": url(1), "from": 3, "last_page": 2,
            "last_page_url": url(2),
            "links": [
                { "url": url(1), "label": "&laquo; Previous", "active": false },
                { "url": url(1), "label": "1", "active": false },
                { "url": url(2), "label": "2", "active": true },
                { "url": null, "label": "Next &raquo;", "active": false },
            ],
            "next_page_url": null, "path": path, "per_page": 2, "prev_page_url": url(1), "to": 3, "total": 3,
        })
    );
    let (_, beyond) = ac.get("/api/user/assistants/get?page=9").await;
    assert_eq!(
        (&beyond["data"], &beyond["from"], &beyond["per_page"], &beyond["total"]),
        (&json!([]), &Value::Null, &json!(10), &json!(3))
    );

    // Validation errors name the field in the dialect's words.
    let missing = |message: &str| (StatusCode::NOT_FOUND, json!({ "message": message }));
    let invalid =
        |field: &str, message: &str| (StatusCode::UNPROCESSABLE_ENTITY, json!({ "message": message, "errors": { field: [message] } }));
    let cases = [
        (Method::GET, "/api/user/assistants/get?per_page=0", None, invalid("per_page", "The per page field must be between 1 and 100.")),
        (Method::GET, "/api/user/calls?per_page=abc", None, invalid("per_page", "The per page field must be an integer.")),
        (Method::POST, "/api/user/assistant", Some(json!({ "type": "inbound" })), invalid("name", "The name field is required.")),
        (
            Method::POST,
            "/api/user/assistant",
            Some(json!({ "name": "X", "type": "sideways" })),
            invalid("type", "The type must be one of: inbound, outbound."),
        ),
        (
            Method::POST,
            "/api/user/assistant",
            Some(json!({ "name": "X", "type": "inbound", "phone_number_id": "1" })),
            invalid("phone_number_id", "The phone number id field must be an integer."),
        ),
        (
            Method::POST,
            "/api/user/assistant",
            Some(json!({ "name": "X", "type": "inbound", "phone_number_id": caller["autocallsId"] })),
            invalid("phone_number_id", "The phone number id is a verified caller ID, which cannot receive calls."),
        ),
        (
            Method::POST,
            "/api/user/campaign",
            Some(json!({ "name": "C", "phone_number_ids": [n["autocallsId"], n["autocallsId"]] })),
            invalid("phone_number_ids.1", "The phone number ids.1 appears more than once in the rotation."),
        ),
        (
            Method::POST,
            "/api/user/campaign",
            Some(json!({ "name": "C", "phone_number_ids": [424242] })),
            invalid("phone_number_ids.0", "The phone number ids.0 is not a phone number in this workspace."),
        ),
        (
            Method::POST,
            "/api/user/campaign",
            Some(json!([])),
            (StatusCode::UNPROCESSABLE_ENTITY, json!({ "message": "The request body must be a JSON object." })),
        ),
        (
            Method::POST,
            "/api/user/campaigns/update-status",
            Some(json!({ "campaign_id": 1, "action": "pause" })),
            invalid("action", "The action field must be one of: start, stop."),
        ),
        (
            Method::POST,
            "/api/user/campaigns/update-status",
            Some(json!({ "campaign_id": 77, "action": "stop" })),
            missing("Campaign not found."),
        ),
        (
            Method::GET,
            "/api/user/assistants/phone-numbers?type=web",
            None,
            invalid("type", "The type field must be one of: inbound, outbound."),
        ),
        (Method::GET, "/api/user/assistant/abc", None, missing("Assistant not found.")),
        (Method::DELETE, "/api/user/assistant/99", None, missing("Assistant not found.")),
    ];
    for (method, path, body, expected) in cases {
        assert_eq!(ac.call(method.clone(), path, body.clone()).await, expected, "{method} {path} {body:?}");
    }
    let (status, text) = app.raw(Method::POST, "/api/user/assistant", Some(&ac.auth), Some("{")).await;
    assert_eq!((status, text.as_str()), (StatusCode::BAD_REQUEST, r#"{"message":"The request body is not valid JSON."}"#));

    // One inbound assistant per number; `null` unassigns, freeing it for another.
    let first = &assistants[0]["id"];
    let path = format!("/api/user/assistant/{first}");
    let (status, a) = ac.put(&path, json!({ "type": "inbound", "phone_number_id": n["autocallsId"] })).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!((&a["message"], &a["data"]["phone_number_id"]), (&json!("Assistant updated successfully"), &n["autocallsId"]));
    let second = format!("/api/user/assistant/{}", assistants[1]["id"]);
    let (status, err) = ac.put(&second, json!({ "type": "inbound", "phone_number_id": n["autocallsId"] })).await;
    assert_eq!((status, err), invalid("phone_number_id", "This phone number already serves another inbound assistant."));
    ac.put(&path, json!({ "phone_number_id": null })).await;
    assert_eq!(ac.put(&second, json!({ "type": "inbound", "phone_number_id": n["autocallsId"] })).await.0, StatusCode::OK);
    assert_eq!(ac.delete(&path).await, (StatusCode::OK, json!({ "message": "Assistant deleted successfully" })));
    assert_eq!(ac.get("/api/user/assistants/get").await.1["total"], 2);
}

async fn call_filters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let ac = Client::of(&app, &ws);
    let n = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    let (_, a) = ac.post("/api/user/assistant", json!({ "name": "Desk", "type": "inbound", "phone_number_id": n["autocallsId"] })).await;
    let (_, c) = ac.post("/api/user/campaign", json!({ "name": "Dial", "phone_number_ids": [n["autocallsId"]] })).await;
    let native_campaign = ws.get("./campaigns").await.1["results"][0]["id"].clone();
    let native_assistant = native_assistant_id(&ws).await;
    let mut ids = Vec::new();
    for (direction, other, status, day, with_assistant) in [
        ("inbound", "+12125550001", "completed", "2030-01-01T23:59:59Z", true),
        ("outbound", "+12125550002", "no_answer", "2030-01-02T00:00:00Z", false),
        ("outbound", "+12125550003", "in_progress", "2030-01-03T12:00:00Z", false),
    ] {
        let (from, to) = if direction == "inbound" { (other, "+14155550100") } else { ("+14155550100", other) };
        let mut body = json!({ "direction": direction, "from": from, "to": to, "numberId": n["id"], "status": status, "startedAt": day });
        if with_assistant {
            body["assistantId"] = native_assistant.clone();
        } else {
            body["campaignId"] = native_campaign.clone();
        }
        let (s, call) = ws.post("./calls", body).await;
        assert_eq!(s, StatusCode::CREATED, "{call}");
        ids.push(call["autocallsId"].clone());
    }
    let cases = [
        ("", vec![0, 1, 2]),
        ("status=no-answer", vec![1]),
        ("status=in-progress", vec![2]),
        ("status=ended", vec![]),
        ("type=outbound", vec![1, 2]),
        ("type=web", vec![]),
        ("phone_number=%2B12125550003", vec![2]),
        // An unencoded `+` arrives as a space.
        ("phone_number=+12125550001", vec![0]),
        (&format!("assistant_id={}", a["data"]["id"]), vec![0]),
        (&format!("campaign_id={}", c["data"]["id"]), vec![1, 2]),
        ("campaign_id=4242", vec![]),
        ("date_from=2030-01-02", vec![1, 2]),
        ("date_to=2030-01-02", vec![0, 1]),
        ("date_from=2030-01-02&date_to=2030-01-02&type=outbound", vec![1]),
    ];
    for (query, want) in cases {
        let (status, page) = ac.get(&format!("/api/user/calls?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        let got: Vec<Value> = page["data"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
        let want: Vec<Value> = want.iter().map(|i| ids[*i].clone()).collect();
        assert_eq!(got, want, "{query}");
        assert_eq!(page["total"], want.len(), "{query}");
    }
    let (status, err) = ac.get("/api/user/calls?date_from=2030-13-01").await;
    assert_eq!(
        (status, err),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "message": "The date from field must be a date in YYYY-MM-DD format.",
            "errors": { "date_from": ["The date from field must be a date in YYYY-MM-DD format."] } })
        )
    );
    let (status, err) = ac.get("/api/user/calls?assistant_id=x").await;
    let message = json!(["The assistant id field must be an integer."]);
    assert_eq!((status, &err["errors"]["assistant_id"]), (StatusCode::UNPROCESSABLE_ENTITY, &message));
}
