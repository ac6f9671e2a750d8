//! The job runner: queues worked independently, old jobs carried over by migration 0004, a test
//! clock that settles everything before it answers whatever the worker is doing, and jobs claimed
//! and recorded in batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use numberd::app;
use numberd::carrier::scripted::{Answer, Op};
use numberd::domain::clock::to_micros;
use numberd::domain::ids::{NumberId, WorkspaceId};
use numberd::jobs::{JobKind, JobStatus, Queue};
use numberd::store::numbers::Due;
use numberd::store::{jobs, numbers};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::common::{test_config, Backend, TestApp, TestDb, Ws};
use crate::events::all_events;

both_backends!(
    a_hanging_carrier_call_does_not_delay_a_period_end,
    test_clock_advance_settles_everything_while_the_worker_runs,
    carrier_jobs_queued_before_migration_0004_are_delivered,
    shutdown_finishes_the_job_in_hand_and_starts_no_other,
    a_stop_mid_batch_gives_back_the_jobs_it_did_not_start,
    two_nodes_deliver_a_shared_backlog_exactly_once,
    a_job_left_waiting_half_its_lease_is_not_started,
    a_job_whose_outcome_cannot_be_recorded_holds_back_no_other,
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
    while !numbers::due(&core.db, Due::Live(core.clock.now()), 10).await.unwrap().is_empty() {
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
    let due = numbers::due(&core.db, Due::InWorkspace(ws_id, to), 10).await.unwrap();
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

/// `count` dedicated numbers of a live workspace, released, their periods over and settled: each
/// has a carrier release queued, none delivered yet.
async fn released(app: &TestApp, ws: &Ws, count: usize) -> Vec<Value> {
    let mut numbers = Vec::new();
    for i in 0..count {
        let n = ws.register(json!({ "number": format!("+1415555{i:04}"), "kind": "dedicated" })).await;
        let (status, body) = ws.delete(&format!("./numbers/{}", n["id"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        numbers.push(n);
    }
    app.clock.shift(chrono::Duration::days(32));
    assert_eq!(app.running.core.sweep(None, 100).await.unwrap(), count);
    numbers
}

/// The number's carrier release as the API shows it: status and attempts.
async fn release_of(ws: &Ws, n: &Value) -> (String, i64) {
    let (_, got) = ws.get(&format!("./numbers/{}", n["id"].as_str().unwrap())).await;
    let release = &got["carrierRelease"];
    (release["status"].as_str().unwrap_or_else(|| panic!("no carrier release: {got}")).to_owned(), release["attempts"].as_i64().unwrap())
}

/// Waits until `count` pending jobs have been claimed once.
async fn until_claimed(core: &numberd::service::Core, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let pending = jobs::list(&core.db, Some(JobStatus::Pending)).await.unwrap();
        if pending.iter().filter(|j| j.attempts == 1).count() == count {
            return;
        }
        assert!(Instant::now() < deadline, "never claimed {count} jobs at once: {pending:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_stop_mid_batch_gives_back_the_jobs_it_did_not_start(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.worker.carrier_concurrency = 2;
        c.carrier.timeout_ms = 5_000;
    })
    .await;
    let ws = app.workspace(false).await;
    let numbers = released(&app, &ws, 5).await;
    // The first two carrier calls take a while: the stop arrives while they are in flight.
    app.carrier.script(Op::ReleaseNumber, [Answer::Delay(Duration::from_millis(1_000)), Answer::Delay(Duration::from_millis(1_000))]);
    let core = app.running.core.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let pass = tokio::spawn({
        let (core, stop) = (core.clone(), stop.clone());
        async move { core.run_jobs(Queue::Carrier, &|| stop.load(Ordering::SeqCst)).await }
    });
    // One statement claims the whole batch: every job has counted its attempt before any ran.
    until_claimed(&core, 5).await;
    stop.store(true, Ordering::SeqCst);
    assert_eq!(pass.await.unwrap().unwrap(), 2, "the jobs in hand are finished");
    let mut releases = Vec::new();
    for n in &numbers {
        releases.push(release_of(&ws, n).await);
    }
    releases.sort();
    // The three never started are back in the queue as they were: no attempt counted, no lease.
    let expected = [("done", 1), ("done", 1), ("pending", 0), ("pending", 0), ("pending", 0)].map(|(s, a)| (s.to_owned(), a));
    assert_eq!(releases, expected);
    assert_eq!(app.carrier.calls().len(), 2);

    // So the next pass delivers them at once, without waiting out a lease.
    assert_eq!(core.run_jobs(Queue::Carrier, &|| false).await.unwrap(), 3);
    for n in &numbers {
        assert_eq!(release_of(&ws, n).await, ("done".to_owned(), 1));
        assert_eq!(app.carrier.successes(Op::ReleaseNumber, n["number"].as_str().unwrap()), 1);
    }
}

async fn two_nodes_deliver_a_shared_backlog_exactly_once(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.worker.job_batch = 8;
        c.worker.carrier_concurrency = 4;
    })
    .await;
    let other = app.another_node().await;
    let ws = app.workspace(false).await;
    let count = 60;
    let numbers = released(&app, &ws, count).await;
    // Each carrier call takes a moment, so both nodes are at the backlog together.
    app.carrier.script(Op::ReleaseNumber, (0..count).map(|_| Answer::Delay(Duration::from_millis(5))));
    let (here, there) =
        tokio::join!(app.running.core.run_jobs(Queue::Carrier, &|| false), other.running.core.run_jobs(Queue::Carrier, &|| false));
    let (here, there) = (here.unwrap(), there.unwrap());
    assert_eq!(here + there, count);
    assert!(here > 0 && there > 0, "both nodes took part: {here} and {there}");
    assert_eq!(app.carrier.calls().len(), count);
    for n in &numbers {
        assert_eq!(app.carrier.successes(Op::ReleaseNumber, n["number"].as_str().unwrap()), 1);
        assert_eq!(release_of(&ws, n).await, ("done".to_owned(), 1));
    }
    assert_eq!(all_events(&ws, "type=number.carrier_release_confirmed").await.len(), count);
}

async fn a_job_left_waiting_half_its_lease_is_not_started(b: Backend) {
    let app = TestApp::spawn_with(b, |c| {
        c.worker.carrier_concurrency = 1;
        c.carrier.timeout_ms = 5_000;
    })
    .await;
    let other = app.another_node().await;
    let ws = app.workspace(false).await;
    let numbers = released(&app, &ws, 3).await;
    // The first node's first carrier call hangs while the lease of its batch of three runs out;
    // the other node then takes all three over, and its own first call is slower still.
    let calls = [Answer::Delay(Duration::from_millis(1_500)), Answer::Delay(Duration::from_millis(3_000))];
    app.carrier.script(Op::ReleaseNumber, calls);
    let first = tokio::spawn({
        let core = app.running.core.clone();
        async move { core.run_jobs(Queue::Carrier, &|| false).await }
    });
    until_claimed(&app.running.core, 3).await;
    app.clock.shift(chrono::Duration::milliseconds(app.config.outbox.lease_ms as i64 + 1_000));
    let second = tokio::spawn({
        let core = other.running.core.clone();
        async move { core.run_jobs(Queue::Carrier, &|| false).await }
    });
    // The first node finishes the call in hand, but neither starts the two jobs that waited behind
    // it nor takes them back from the node now holding them.
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(second.await.unwrap().unwrap(), 3);
    let mut successes: Vec<usize> =
        numbers.iter().map(|n| app.carrier.successes(Op::ReleaseNumber, n["number"].as_str().unwrap())).collect();
    successes.sort();
    assert_eq!(successes, [1, 1, 2], "only the job in hand when its lease lapsed ran twice");
    for n in &numbers {
        assert_eq!(release_of(&ws, n).await, ("done".to_owned(), 2));
    }
}

/// Makes writing any event of `number` fail, as a `finished` hook the job's data breaks would.
async fn poison_events_of(app: &TestApp, b: Backend, number: &Value) {
    let pool = &app.running.core.db.pool;
    let id = number["id"].as_str().unwrap();
    let statements = match b {
        Backend::Sqlite => {
            vec![format!(
                "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.number_id = '{id}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            )]
        }
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.number_id = '{id}' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$"
            ),
            "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()".to_owned(),
        ],
    };
    for sql in statements {
        sqlx::query(&sql).execute(pool).await.unwrap();
    }
}

async fn a_job_whose_outcome_cannot_be_recorded_holds_back_no_other(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ws = app.workspace(false).await;
    let numbers = released(&app, &ws, 3).await;
    poison_events_of(&app, b, &numbers[1]).await;
    let core = &app.running.core;
    assert!(core.run_jobs(Queue::Carrier, &|| false).await.is_err(), "the pass reports the failure");
    // The other two are recorded, with their events; the third is left to its lease.
    let releases = [release_of(&ws, &numbers[0]).await, release_of(&ws, &numbers[1]).await, release_of(&ws, &numbers[2]).await];
    assert_eq!(releases, [("done", 1), ("pending", 1), ("done", 1)].map(|(s, a)| (s.to_owned(), a)));
    let confirmed = all_events(&ws, "type=number.carrier_release_confirmed").await;
    let mut confirmed: Vec<&str> = confirmed.iter().map(|e| e["data"]["id"].as_str().unwrap()).collect();
    confirmed.sort();
    let mut expected = vec![numbers[0]["id"].as_str().unwrap(), numbers[2]["id"].as_str().unwrap()];
    expected.sort();
    assert_eq!(confirmed, expected);

    // Once the fault is gone and the lease has lapsed, the third is delivered too.
    let drop = match b {
        Backend::Sqlite => "DROP TRIGGER poison",
        Backend::Postgres => "DROP TRIGGER poison ON events",
    };
    sqlx::query(drop).execute(&core.db.pool).await.unwrap();
    app.clock.shift(chrono::Duration::milliseconds(app.config.outbox.lease_ms as i64 + 1_000));
    assert_eq!(core.run_jobs(Queue::Carrier, &|| false).await.unwrap(), 1);
    assert_eq!(release_of(&ws, &numbers[1]).await, ("done".to_owned(), 2));
    assert_eq!(all_events(&ws, "type=number.carrier_release_confirmed").await.len(), 3);
}
