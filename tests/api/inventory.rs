//! The number inventory: registration, validation, listing, pagination, editing.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{assert_bird_number, bird_number_validator, Backend, TestApp, Ws};

both_backends!(
    concurrent_reads_each_get_their_own_number,
    registers_and_normalises_to_e164,
    rejects_invalid_numbers_naming_the_field,
    same_number_twice_is_409_until_released,
    lists_with_filters,
    pagination_neither_skips_nor_repeats_under_concurrent_inserts,
    patch_changes_only_nickname_and_configurations,
    malformed_requests_are_coded_4xx_never_500,
    every_returned_number_is_a_bird_number,
    a_list_shows_each_number_as_get_does_through_its_changes,
);

async fn registers_and_normalises_to_e164(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let n = ws
        .register(json!({
            "number": "+1 (415) 555-0100",
            "kind": "dedicated",
            "monthlyRecurringPrice": { "amount": 115, "exponent": -2, "currencyCode": "USD" },
            "nickname": "Sales line",
        }))
        .await;
    assert_eq!(n["number"], "+14155550100");
    assert_eq!(n["country"], "US");
    assert_eq!(n["type"], "local");
    assert_eq!(n["kind"], "dedicated");
    assert_eq!(n["status"], "active");
    assert_eq!(n["nickname"], "Sales line");
    assert_eq!(n["subscription"]["status"], "active");
    assert_eq!(n["monthlyRecurringPrice"], json!({ "amount": 115, "exponent": -2, "currencyCode": "USD" }));
    assert_eq!(n["endpointSubscription"]["correlationId"], n["id"]);
    assert_eq!(n["currentPeriod"]["index"], 0);
    assert_eq!(n["currentPeriod"]["startAt"], n["createdAt"]);

    // A national number with a country; type derived (toll-free), capabilities defaulted by kind.
    let uk = ws.register(json!({ "number": "020 7946 0018", "country": "gb", "kind": "sip" })).await;
    assert_eq!(uk["number"], "+442079460018");
    assert_eq!(uk["country"], "GB");
    assert_eq!(uk["subscription"]["status"], "none");
    assert!(uk.get("endpointSubscription").is_none());
    assert_eq!(uk["capabilities"]["voice"], json!({ "inbound": true, "outbound": true }));
    assert_eq!(uk["capabilities"]["sms"], json!({ "inbound": false, "outbound": false }));
    let tollfree = ws.register(json!({ "number": "1-800-555-0199", "country": "US", "kind": "callerId" })).await;
    assert_eq!(tollfree["type"], "tollfree");
    assert_eq!(tollfree["capabilities"]["voice"], json!({ "inbound": false, "outbound": true }));

    // What was returned is what is stored.
    let (status, got) = ws.get(&format!("./numbers/{}", n["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, n);
}

async fn rejects_invalid_numbers_naming_the_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let cases = [
        (json!({ "number": "hello" }), "number"),
        (json!({ "number": "+1 555" }), "number"),
        (json!({ "number": "4155550100" }), "number"),
        (json!({ "number": "+999 123 4567" }), "number"),
        (json!({ "number": "+14155550100", "country": "GB" }), "country"),
        (json!({ "number": "+14155550100", "country": "ZZ" }), "country"),
        (json!({ "number": "+14155550100", "nickname": "x".repeat(51) }), "nickname"),
        (
            json!({ "number": "+14155550100", "monthlyRecurringPrice": { "amount": -1, "exponent": -2, "currencyCode": "USD" } }),
            "monthlyRecurringPrice",
        ),
        (
            json!({ "number": "+14155550100", "monthlyRecurringPrice": { "amount": 1, "exponent": -20, "currencyCode": "USD" } }),
            "monthlyRecurringPrice",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = ws.post("./numbers", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["code"], "invalid_field", "{body}");
        assert_eq!(err["details"]["field"], field, "{body}: {err}");
    }
    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"], json!([]), "nothing was stored");
}

async fn same_number_twice_is_409_until_released(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let other = app.workspace(false).await;
    let first = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    // Another notation of the same number is the same number.
    let (status, err) = ws.post("./numbers", json!({ "number": "(415) 555-0100", "country": "US" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["code"], "number_already_exists");
    // Another workspace may hold it.
    other.register(json!({ "number": "+14155550100" })).await;
    // Once deleted, it can be registered again as a new number.
    let (status, _) = ws.delete(&format!("./numbers/{}", first["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    let again = ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    assert_ne!(again["id"], first["id"]);
}

async fn seed(ws: &Ws) {
    for (number, kind, country) in [
        ("+14155550100", "dedicated", None),
        ("+14155550101", "sip", None),
        ("+14155550102", "callerId", None),
        ("+18005550199", "dedicated", None),
        ("+442079460018", "dedicated", Some("GB")),
        ("+447400123456", "sip", None),
    ] {
        let mut body = json!({ "number": number, "kind": kind });
        if let Some(c) = country {
            body["country"] = json!(c);
        }
        ws.register(body).await;
    }
}

fn numbers_of(list: &Value) -> Vec<String> {
    list["results"].as_array().unwrap().iter().map(|n| n["number"].as_str().unwrap().to_owned()).collect()
}

async fn lists_with_filters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    seed(&ws).await;
    let cases: [(&str, &[&str]); 10] = [
        ("kind=sip", &["+14155550101", "+447400123456"]),
        ("type=tollfree", &["+18005550199"]),
        ("type=mobile", &["+447400123456"]),
        ("country=GB", &["+442079460018", "+447400123456"]),
        ("country=gb&kind=dedicated", &["+442079460018"]),
        ("numberPrefix=%2B1415", &["+14155550100", "+14155550101", "+14155550102"]),
        ("numberPrefix=44", &["+442079460018", "+447400123456"]),
        ("capability=sms", &["+14155550100", "+18005550199", "+442079460018"]),
        ("subscriptionStatus=none&capability=voice", &["+14155550101", "+14155550102", "+447400123456"]),
        ("status=inactive", &[]),
    ];
    for (query, expected) in cases {
        let (status, list) = ws.get(&format!("./numbers?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(numbers_of(&list), expected, "{query}");
        assert!(list.get("nextPageToken").is_none());
    }
    for bad in ["kind=fax", "status=gone", "limit=0", "limit=100", "limit=abc", "pageToken=zzz", "numberPrefix=abc", "colour=red"] {
        let (status, err) = ws.get(&format!("./numbers?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert!(err["code"].as_str().unwrap().starts_with("invalid_"), "{bad}: {err}");
    }
}

async fn pagination_neither_skips_nor_repeats_under_concurrent_inserts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let mut before = HashSet::new();
    for i in 0..45 {
        let n = ws.register(json!({ "number": format!("+1415555{:04}", 1000 + i), "kind": "sip" })).await;
        before.insert(n["id"].as_str().unwrap().to_owned());
    }
    // Insert more while paging through.
    let writer = {
        let ws = ws.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                ws.register(json!({ "number": format!("+1415555{:04}", 2000 + i), "kind": "sip" })).await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("./numbers?limit=7&pageToken={t}"),
            None => "./numbers?limit=7".to_owned(),
        };
        let (status, page) = ws.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        let results = page["results"].as_array().unwrap();
        assert!(results.len() <= 7);
        seen.extend(results.iter().map(|n| n["id"].as_str().unwrap().to_owned()));
        match page.get("nextPageToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a number was listed twice");
    assert!(before.is_subset(&unique), "a number that existed before paging was skipped");
    // Default page size is 10, and the last page has no token.
    let (_, first) = ws.get("./numbers").await;
    assert_eq!(first["results"].as_array().unwrap().len(), 10);
    let (_, all) = ws.get("./numbers?limit=99").await;
    assert_eq!(all["results"].as_array().unwrap().len(), 75);
    assert!(all.get("nextPageToken").is_none());
}

async fn patch_changes_only_nickname_and_configurations(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let n = ws.register(json!({ "number": "+14155550100", "nickname": "old" })).await;
    let path = format!("./numbers/{}", n["id"].as_str().unwrap());
    let connector = "6a0c7a5e-2b2f-4c55-9f6a-2d6f0f6b8a11";
    let (status, p) = ws.patch(&path, json!({ "configurations": { "voice": { "inbound": { "connectorId": connector } } } })).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["nickname"], "old", "absent nickname is left alone");
    assert_eq!(p["configurations"]["voice"]["inbound"]["connectorId"], connector);
    let (_, p) = ws.patch(&path, json!({ "nickname": null })).await;
    assert_eq!(p["nickname"], Value::Null, "null clears it");
    assert_eq!(p["configurations"]["voice"]["inbound"]["connectorId"], connector);
    for bad in [json!({ "number": "+14155550101" }), json!({ "status": "inactive" }), json!({ "nickname": 5 })] {
        let (status, err) = ws.patch(&path, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
    }
    let (_, after) = ws.get(&path).await;
    assert_eq!(after["number"], "+14155550100");
    assert_eq!(after["status"], "active");
}

async fn malformed_requests_are_coded_4xx_never_500(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let auth = format!("AccessKey {}", ws.key);
    let numbers = format!("/workspaces/{}/numbers", ws.id);
    let big = format!("{{\"number\": \"+14155550100\", \"nickname\": \"{}\"}}", "x".repeat(200_000));
    let cases: Vec<(Method, String, Option<String>, u16, &str)> = vec![
        (Method::POST, numbers.clone(), Some("{\"number\":".into()), 400, "malformed_json"),
        (Method::POST, numbers.clone(), Some("[]".into()), 422, "invalid_type"),
        (Method::POST, numbers.clone(), Some("{}".into()), 422, "missing_field"),
        (Method::POST, numbers.clone(), Some("{\"number\": 14155550100}".into()), 422, "invalid_type"),
        (Method::POST, numbers.clone(), Some("{\"number\": \"+14155550100\", \"kind\": \"rented\"}".into()), 422, "invalid_enum_value"),
        (Method::POST, numbers.clone(), Some("{\"number\": \"+14155550100\", \"type\": \"landline\"}".into()), 422, "invalid_enum_value"),
        (Method::POST, numbers.clone(), Some("{\"number\": \"+14155550100\", \"colour\": \"red\"}".into()), 422, "unknown_field"),
        (
            Method::POST,
            numbers.clone(),
            Some(
                "{\"number\": \"+14155550100\", \"monthlyRecurringPrice\": {\"amount\": 1.5, \"exponent\": -2, \"currencyCode\": \"USD\"}}"
                    .into(),
            ),
            422,
            "invalid_type",
        ),
        (
            Method::POST,
            numbers.clone(),
            Some(
                "{\"number\": \"+14155550100\", \"monthlyRecurringPrice\": {\"amount\": 1, \"exponent\": -2, \"currencyCode\": \"BTC\"}}"
                    .into(),
            ),
            422,
            "invalid_enum_value",
        ),
        (Method::POST, numbers.clone(), Some(big), 413, "payload_too_large"),
        (Method::GET, format!("{numbers}/not-a-uuid"), None, 400, "invalid_path_parameter"),
        (Method::GET, "/workspaces/not-a-uuid/numbers".to_string(), None, 400, "invalid_path_parameter"),
        (Method::GET, format!("{numbers}/00000000-0000-0000-0000-000000000000"), None, 404, "number_not_found"),
        (Method::PUT, numbers.clone(), None, 405, "method_not_allowed"),
        (Method::GET, "/workspaces".into(), None, 404, "route_not_found"),
    ];
    for (method, path, body, code, expected) in cases {
        let (status, text) = app.raw(method.clone(), &path, Some(&auth), body.as_deref()).await;
        let err: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        assert_eq!(status.as_u16(), code, "{method} {path}: {err}");
        assert_eq!(err["code"], expected, "{method} {path}: {err}");
        assert!(err["message"].as_str().unwrap().len() >= 5);
    }
    // Without a JSON content type.
    let resp = app.http.post(format!("{}{numbers}", app.base)).header("authorization", &auth).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, list) = ws.get("./numbers").await;
    assert_eq!(list["results"], json!([]), "nothing was stored");
}

async fn every_returned_number_is_a_bird_number(b: Backend) {
    let app = TestApp::spawn(b).await;
    let v = bird_number_validator();
    let ws = app.workspace(true).await;
    seed(&ws).await;
    let with_everything = ws
        .register(json!({
            "number": "+14155550123",
            "kind": "dedicated",
            "capabilities": { "sms": { "inbound": true, "outbound": false }, "voice": { "inbound": true, "outbound": true },
                "mms": { "inbound": false, "outbound": false }, "fax": { "inbound": false, "outbound": false },
                "whatsapp": { "inbound": true, "outbound": true } },
            "monthlyRecurringPrice": { "amount": 1540, "exponent": -2, "currencyCode": "EUR" },
            "configurations": { "sms": { "outbound": { "connectorTemplateRef": "sms-gateway" } },
                "whatsapp": { "connectorId": "6a0c7a5e-2b2f-4c55-9f6a-2d6f0f6b8a11" } },
            "nickname": "everything",
        }))
        .await;
    assert_bird_number(&v, &with_everything);
    let id = with_everything["id"].as_str().unwrap();
    // Every state: active, canceling, released (with carrier release info).
    let (_, canceling) = ws.post(&format!("./numbers/{id}/cancel-subscription"), json!({})).await;
    assert_bird_number(&v, &canceling);
    ws.advance("2031-01-01T00:00:00Z").await;
    let (_, released) = ws.get(&format!("./numbers/{id}")).await;
    assert_eq!(released["status"], "inactive");
    assert_bird_number(&v, &released);
    let (_, list) = ws.get("./numbers?limit=99").await;
    for n in list["results"].as_array().unwrap() {
        assert_bird_number(&v, n);
    }
    // The validator is not vacuous.
    let mut broken = released.clone();
    broken["status"] = json!("gone");
    assert!(!v.is_valid(&broken));
    let mut broken = released.clone();
    broken["monthlyRecurringPrice"]["amount"] = json!(15.4);
    assert!(!v.is_valid(&broken));
}

/// Many GETs at once, in two workspaces, as reads that arrive together are answered together:
/// each gets its own number, a released SIP number is 404, and one workspace asking for the
/// other's number is 404 as well.
async fn concurrent_reads_each_get_their_own_number(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (one, two) = (app.workspace(false).await, app.workspace(false).await);
    let mut numbers = Vec::new();
    for i in 0..12 {
        let ws = if i % 2 == 0 { &one } else { &two };
        let n = ws.register(json!({ "number": format!("+1415555{:04}", 100 + i), "kind": "sip" })).await;
        numbers.push((i % 2, n));
    }
    let (gone_ws, gone) = numbers.pop().unwrap();
    assert_eq!(gone_ws, 1);
    let path = |n: &Value| format!("./numbers/{}", n["id"].as_str().unwrap());
    assert_eq!(two.delete(&path(&gone)).await.0, StatusCode::OK);

    let mut cases = Vec::new();
    for (owner, n) in &numbers {
        let (mine, other) = if *owner == 0 { (&one, &two) } else { (&two, &one) };
        cases.push((mine, path(n), Some(n.clone())));
        cases.push((other, path(n), None));
    }
    cases.push((&two, path(&gone), None));
    for _ in 0..5 {
        let answers = futures::future::join_all(cases.iter().map(|(ws, p, _)| ws.get(p))).await;
        for ((status, body), (_, _, want)) in answers.into_iter().zip(&cases) {
            match want {
                Some(n) => assert_eq!((status, &body), (StatusCode::OK, n)),
                None => assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("number_not_found")), "{body}"),
            }
        }
    }
}

/// A page of `ws`, each of its numbers checked to be as GET shows it and as an empty PATCH
/// answers (a list and GET copy stored views, a PATCH writes the number from its columns).
async fn list_matches_get(ws: &Ws, step: &str) -> Vec<Value> {
    let (status, page) = ws.get("./numbers?limit=99").await;
    assert_eq!(status, StatusCode::OK, "{step}: {page}");
    let results = page["results"].as_array().unwrap().clone();
    for listed in &results {
        let path = format!("./numbers/{}", listed["id"].as_str().unwrap());
        let (status, one) = ws.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{step}");
        assert_eq!(*listed, one, "{step}: the list shows {} otherwise than GET", listed["number"]);
        let (status, whole) = ws.patch(&path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{step}: {whole}");
        assert_eq!(one, whole, "{step}: GET shows {} otherwise than its columns", listed["number"]);
    }
    results
}

/// A page and GET copy each number's stored view (issue #10) and fill in what renewals change,
/// so every other change must rewrite it: after each change, for a row written before views were
/// stored, and for a number whose nickname reads like a timestamp, a list and GET show the number
/// as its columns do.
async fn a_list_shows_each_number_as_get_does_through_its_changes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(true).await;
    let price = json!({ "amount": 115, "exponent": -2, "currencyCode": "USD" });
    let kept = ws.register(json!({ "number": "+14155550100", "kind": "dedicated", "monthlyRecurringPrice": price, "nickname": "a" })).await;
    let leaving = ws.register(json!({ "number": "+14155550101", "kind": "dedicated" })).await;
    let sip = ws.register(json!({ "number": "+14155550102", "kind": "sip" })).await;
    ws.register(json!({ "number": "+14155550103", "kind": "callerId" })).await;
    // Text that reads like what a stored view's holes are cut from.
    let odd = ws.register(json!({ "number": "+14155550105", "kind": "dedicated", "nickname": "1970-01-01T00:00:00.000001Z" })).await;
    let path = |n: &Value| format!("./numbers/{}", n["id"].as_str().unwrap());
    assert_eq!(list_matches_get(&ws, "registered").await.len(), 5);
    let db = &app.running.core.db;
    let views = || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM number_views").fetch_one(&db.pool).await.unwrap() };

    let (status, _) = ws
        .patch(
            &path(&kept),
            json!({ "nickname": "b", "configurations": { "voice": { "inbound": { "connectorId": uuid::Uuid::new_v4() } } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ws.post(&format!("{}/cancel-subscription", path(&leaving)), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ws.delete(&path(&sip)).await;
    assert_eq!(status, StatusCode::OK);
    let page = list_matches_get(&ws, "edited, canceling, SIP released").await;
    assert_eq!(page.len(), 4, "the released SIP number is gone");
    assert_eq!(page[0]["nickname"], "b");
    assert_eq!(page[1]["subscription"]["status"], "canceling");

    // A period end: one number renews, the canceling one leaves and shows its carrier release.
    let end: chrono::DateTime<chrono::Utc> = kept["currentPeriod"]["endAt"].as_str().unwrap().parse().unwrap();
    let (status, _) = ws.advance(&(end + chrono::Duration::days(1)).to_rfc3339()).await;
    assert_eq!(status, StatusCode::OK);
    let page = list_matches_get(&ws, "after the period end").await;
    assert_eq!(page[0]["currentPeriod"]["index"], 1);
    assert_eq!(page[1]["status"], "inactive");
    assert!(page[1]["carrierRelease"].is_object(), "{}", page[1]);
    assert_eq!(page[3]["nickname"], odd["nickname"]);
    assert_eq!(views().await, 2, "the kept number and the caller ID keep views; the released ones and the odd one none");
    let end = end + chrono::Duration::days(40);
    let (status, _) = ws.advance(&end.to_rfc3339()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list_matches_get(&ws, "after a second renewal").await[0]["currentPeriod"]["index"], 2);

    // Rows written before views were stored are read whole, and keep one from their next change.
    sqlx::query("DELETE FROM number_views").execute(&db.pool).await.unwrap();
    list_matches_get(&ws, "without stored views").await;
    let (status, _) = ws.patch(&path(&kept), json!({ "nickname": "c" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list_matches_get(&ws, "edited again").await[0]["nickname"], "c");
    let stored: Option<String> = sqlx::query_scalar("SELECT template FROM number_views WHERE number_id = $1")
        .bind(kept["id"].as_str().unwrap())
        .fetch_optional(&db.pool)
        .await
        .unwrap();
    assert!(stored.is_some(), "a change stores the number's view again");

    // A workspace on real time: the period end falls due between two lists, unsettled until read.
    let live = app.workspace(false).await;
    live.register(json!({ "number": "+14155550104", "kind": "dedicated" })).await;
    app.clock.shift(chrono::Duration::days(32));
    assert_eq!(list_matches_get(&live, "a period end fell due").await[0]["currentPeriod"]["index"], 1);
}
