//! `GET /metrics`, read with a grammar-based OpenMetrics parser (`openmetrics-parser`): counters
//! move with the traffic the test sends; gauges are read from the database at scrape time.

use chrono::Duration;
use numberd::carrier::account::{NumberType, SearchQuery};
use numberd::config::{CarrierAccountConfig, Secret};
use numberd::jobs::Queue;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::carriers::fake_twilio::{FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::carriers::{hex_id, named_client, ForSale};
use crate::common::{Backend, TestApp};

both_backends!(metrics_move_with_traffic);

type Scrape = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

async fn scrape(base: &str) -> Scrape {
    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    openmetrics_parser::openmetrics::parse_openmetrics(&text).unwrap_or_else(|e| panic!("not OpenMetrics text ({e:?}):\n{text}"))
}

/// The value of family `name`'s sample whose labels include `labels` (0 when absent): a
/// counter's or gauge's value, a histogram's count.
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = s.families.get(name) else { return 0.0 };
    let found: Vec<f64> = family
        .iter_samples()
        .filter(|x| {
            let set = x.get_labelset().unwrap();
            labels.iter().all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|x| match &x.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(v) | OpenMetricsValue::Unknown(v) => v.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
    found.first().copied().unwrap_or(0.0)
}

/// Every label value of every sample.
fn label_values(s: &Scrape) -> Vec<String> {
    s.families
        .values()
        .flat_map(|f| f.iter_samples())
        .flat_map(|x| x.get_labelset().unwrap().iter_values().cloned().collect::<Vec<_>>())
        .collect()
}

async fn metrics_move_with_traffic(b: Backend) {
    let app = TestApp::spawn_with(b, |c| c.webhooks.allow_private = true).await;
    let ws = app.workspace(false).await;
    let numbers = "/workspaces/{workspaceId}/numbers";
    let one = "/workspaces/{workspaceId}/numbers/{numberId}";
    // The inventory count is cached between scrapes (30 s): the numbers come first.
    ws.register(json!({ "number": "+14155550100", "kind": "sip" })).await;
    ws.register(json!({ "number": "+14155550101", "kind": "dedicated" })).await;
    let before = scrape(&app.base).await;
    assert_eq!(value(&before, "numberd_numbers", &[("kind", "sip"), ("status", "active")]), 1.0);
    let get = [("route", numbers), ("method", "GET"), ("status", "200")];
    let base_gets = value(&before, "numberd_http_requests", &get);

    for _ in 0..3 {
        assert_eq!(ws.get("./numbers").await.0, StatusCode::OK);
    }
    assert_eq!(ws.get(&format!("./numbers/{}", uuid::Uuid::new_v4())).await.0, StatusCode::NOT_FOUND);
    // A webhook whose receiver is down: one rejected attempt, one job waiting to retry.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let refuse = axum::Router::new().route("/hook", axum::routing::post(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    tokio::spawn(async move { axum::serve(receiver, refuse).await.unwrap() });
    assert_eq!(ws.post("./webhooks", json!({ "url": url, "events": ["number.updated"] })).await.0, StatusCode::CREATED);
    let (_, list) = ws.get("./numbers?kind=sip").await;
    ws.patch(&format!("./numbers/{}", list["results"][0]["id"].as_str().unwrap()), json!({ "nickname": "x" })).await;
    app.running.core.work(Queue::Webhooks, &|| false).await.unwrap();

    // A carrier request, counted by account (its name in the configuration: unique here, as
    // tests in this process share the counters), operation and outcome.
    let fake = FakeTwilio::spawn(vec![ForSale::us("+14155550199", "Local", true)]).await;
    let account = format!("us-{}", hex_id(8));
    let twilio = named_client(
        &account,
        CarrierAccountConfig::Twilio {
            account_sid: ACCOUNT_SID.into(),
            auth_token: Secret::new(AUTH_TOKEN),
            base_url: fake.base_url.clone(),
            max_concurrent_requests: 2,
        },
        5_000,
    );
    let q =
        SearchQuery { country: "US".into(), number_type: NumberType::Local, area_code: None, contains: None, capability: None, limit: 5 };
    assert_eq!(twilio.search(&q).await.unwrap().len(), 1);
    assert!(twilio.release("PN0000000000000000000000000000dead").await.is_err());

    app.clock.shift(Duration::days(40));
    let after = scrape(&app.base).await;
    assert_eq!(value(&after, "numberd_http_requests", &get) - base_gets, 4.0, "three lists and the lookup by kind");
    assert_eq!(value(&after, "numberd_http_requests", &[("route", one), ("method", "GET"), ("status", "404")]), 1.0);
    assert_eq!(value(&after, "numberd_http_requests", &[("route", numbers), ("method", "POST"), ("status", "201")]), 2.0);
    assert!(label_values(&after).iter().all(|v| !v.contains(&ws.id)), "route templates, never raw paths");
    assert_eq!(value(&after, "numberd_http_request_duration_seconds", &[("route", numbers), ("method", "POST")]), 2.0);
    assert_eq!(value(&after, "numberd_webhook_deliveries", &[("outcome", "rejected")]), 1.0);
    assert_eq!(value(&after, "numberd_jobs_finished", &[("queue", "webhooks"), ("status", "retry")]), 1.0);
    assert_eq!(value(&after, "numberd_jobs_pending", &[("queue", "webhooks")]), 1.0);
    assert_eq!(value(&after, "numberd_jobs_pending", &[("queue", "carrier")]), 0.0);
    // The retry fell due 5 s after the attempt; the clock moved 40 days.
    let age = value(&after, "numberd_job_oldest_due_age_seconds", &[("queue", "webhooks")]);
    assert!((39.0 * 86_400.0..41.0 * 86_400.0).contains(&age), "{age}");
    // The dedicated number's period ended ~10 days ago and no worker ran.
    let lag = value(&after, "numberd_period_end_lag_seconds", &[]);
    assert!((8.0 * 86_400.0..12.0 * 86_400.0).contains(&lag), "{lag}");
    assert_eq!(value(&after, "numberd_numbers", &[("kind", "sip"), ("status", "active")]), 1.0);
    assert_eq!(value(&after, "numberd_numbers", &[("kind", "dedicated"), ("status", "active")]), 1.0);
    let carrier = |op: &str, outcome: &str| {
        value(&after, "numberd_carrier_requests", &[("account", account.as_str()), ("operation", op), ("outcome", outcome)])
    };
    assert_eq!(carrier("GET Local", "ok"), 1.0, "{:?}", after.families.get("numberd_carrier_requests"));
    assert_eq!(carrier("DELETE IncomingPhoneNumbers", "refused"), 1.0);
    let latency = value(&after, "numberd_carrier_request_duration_seconds", &[("account", account.as_str()), ("operation", "GET Local")]);
    assert_eq!(latency, 1.0);
    let host = fake.base_url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    assert!(label_values(&after).iter().all(|v| !v.contains(&host)), "the account's name, not its API's address");

    // Settled by a sweep, the lag is gone.
    numberd::app::sweep_once(&app.running.core, 100).await.unwrap();
    let last = scrape(&app.base).await;
    assert_eq!(value(&last, "numberd_period_end_lag_seconds", &[]), 0.0);
}
