//! The job runner: queues worked independently, old jobs carried over by migration 0004, and a
//! test clock that settles everything before it answers whatever the worker is doing.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use numberd::app;
use numberd::carrier::scripted::{Answer, Op};
use numberd::domain::clock::to_micros;
use numberd::domain::ids::{NumberId, WorkspaceId};
use numberd::jobs::{JobKind, JobStatus, Queue};
use numberd::store::{jobs, numbers};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::common::{test_config, Backend, TestApp, TestDb};

both_backends!(
    a_hanging_carrier_call_does_not_delay_a_period_end,
    test_clock_advance_settles_everything_while_the_worker_runs,
    carrier_jobs_queued_before_migration_0004_are_delivered,
    shutdown_finishes_the_job_in_hand_and_starts_no_other,
);

fn with_worker(c: &mut numberd::config::Config) {
    c.worker.enabled = true;
    c.worker.interval_ms = 10;
}

async fn a_hanging_carrier_call_does_not_delay_a_period_end(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        with_worker(c);
        c.carrier.timeout_ms = 6_000;
    })
    .await;
    let ws = app.workspace(false).await;
    let leaving = ws.register(json!({ "number": "+14155550100", "kind": "dedicated" })).await;
    let staying = ws.register(json!({ "number": "+14155550101", "kind": "dedicated" })).await;
    app.carrier.script(Op::ReleaseNumber, [Answer::Delay(Duration::from_secs(60))]);
    let (status, _) = ws.delete(&format!("./numbers/{}", leaving["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);

    // A month on: the release's carrier call starts and hangs for its whole timeout.
    app.clock.shift(chrono::Duration::days(32));
    let core = &app.running.core;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let claimed = jobs::list(&core.db, Some(JobStatus::Pending)).await.unwrap().iter().any(|j| j.attempts == 1);
        if claimed {
            break;
        }
        assert!(Instant::now() < deadline, "the carrier release was never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Another month on while the carrier still hangs: the other number's period end is settled
    // by the billing queue within a few worker ticks, not after the carrier gives up.
    app.clock.shift(chrono::Duration::days(32));
    let started = Instant::now();
    while !numbers::due_live(&core.db, core.clock.now(), 10).await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(2), "a period end waited for the carrier");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.carrier.calls().is_empty(), "settled while the carrier call was still in flight");
    let (_, periods) = ws.get(&format!("./numbers/{}/periods", staying["id"].as_str().unwrap())).await;
    assert_eq!(periods["results"].as_array().map(Vec::len), Some(3), "{periods}");
}

async fn test_clock_advance_settles_everything_while_the_worker_runs(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        with_worker(c);
        c.worker.interval_ms = 1;
    })
    .await;
    // Two more nodes' workers race the advance too, as in a deployment.
    let _others = [app.another_node().await, app.another_node().await];
    let ws = app.workspace(true).await;
    let count = 2_000;
    futures::stream::iter(0..count)
        .map(|i| {
            let ws = ws.clone();
            async move { ws.register(json!({ "number": format!("+1415555{i:04}"), "kind": "dedicated" })).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let to = ws.clock().await + chrono::Duration::days(40);
    let (status, body) = ws.advance(&to.to_rfc3339()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The moment it answers, nothing is left due at the new time.
    let ws_id: WorkspaceId = ws.id.parse().unwrap();
    let core = &app.running.core;
    let due = numbers::due_in_workspace(&core.db, ws_id, to, 10).await.unwrap();
    assert!(due.is_empty(), "{} numbers still due after the advance returned", due.len());
}

async fn shutdown_finishes_the_job_in_hand_and_starts_no_other(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        with_worker(c);
        c.carrier.timeout_ms = 5_000;
        // One job at a time, so the second is one the stop must keep from starting (with more
        // lanes it would already be in hand, and finished like the first).
        c.worker.carrier_concurrency = 1;
    })
    .await;
    let ws = app.workspace(false).await;
    let mut numbers = Vec::new();
    for e164 in ["+14155550100", "+14155550101"] {
        let n = ws.register(json!({ "number": e164, "kind": "dedicated" })).await;
        ws.delete(&format!("./numbers/{}", n["id"].as_str().unwrap())).await;
        numbers.push(n);
    }
    // The first carrier call takes a while; the stop arrives in the middle of it.
    app.carrier.script(Op::ReleaseNumber, [Answer::Delay(Duration::from_millis(800))]);
    app.clock.shift(chrono::Duration::days(32));
    let core = app.running.core.clone();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !jobs::list(&core.db, Some(JobStatus::Pending)).await.unwrap().iter().any(|j| j.attempts == 1) {
        assert!(Instant::now() < deadline, "no carrier release started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let TestApp { running, carrier, db: _db, .. } = app;
    running.shutdown().await;
    // The job in hand was finished and recorded; the other was left queued, never started.
    let all = jobs::list(&core.db, None).await.unwrap();
    let statuses: Vec<_> = all.iter().map(|j| (j.status, j.attempts)).collect();
    assert_eq!(statuses, vec![(JobStatus::Done, 1), (JobStatus::Pending, 0)], "{all:?}");
    assert_eq!(carrier.calls().len(), 1);
}

async fn carrier_jobs_queued_before_migration_0004_are_delivered(b: Backend) {
    let db = TestDb::new(b).await;
    let old = crate::common::migrated_before(&db, b, 2).await;
    let (ws, pending, parked) = (WorkspaceId::new(), NumberId::new(), NumberId::new());
    let now = to_micros(Utc::now());
    for (number, e164, status, error) in [(pending, "+14155550100", "pending", None), (parked, "+14155550101", "failed", Some("outage"))] {
        sqlx::query(
            "INSERT INTO jobs (kind, workspace_id, number_id, e164, status, attempts, run_at, last_error, created_at, updated_at) \
             VALUES ('carrier_release', $1, $2, $3, $4, 1, $5, $6, $5, $5)",
        )
        .bind(ws.to_string())
        .bind(number.to_string())
        .bind(e164)
        .bind(status)
        .bind(now)
        .bind(error)
        .execute(&old.pool)
        .await
        .unwrap();
    }
    old.pool.close().await;

    // Starting the new version migrates the rest; its carrier queue delivers the old job.
    let app = TestApp::start_on(db, test_config).await;
    let core = &app.running.core;
    assert_eq!(app::sweep_once(core, 100).await.unwrap(), (0, 1));
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550100"), 1);
    let all = jobs::list(&core.db, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let (done, failed) = (&all[0], &all[1]);
    assert_eq!((done.kind, done.queue, done.status, done.attempts), (JobKind::CarrierRelease, Queue::Carrier, JobStatus::Done, 2));
    assert_eq!((done.workspace_id, done.number_id), (Some(ws), Some(pending)));
    // The parked one stays parked, with its error, until an operator retries it.
    assert_eq!((failed.status, failed.last_error.as_deref()), (JobStatus::Failed, Some("outage")));
    assert!(jobs::requeue(&core.db, failed.id, Utc::now()).await.unwrap());
    assert_eq!(app::sweep_once(core, 100).await.unwrap(), (0, 1));
    assert_eq!(app.carrier.successes(Op::ReleaseNumber, "+14155550101"), 1);
}
