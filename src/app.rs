//! Assembling and running the service: database, core, HTTP server and background worker.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::carrier::{local::LocalCarrier, Carrier};
use crate::config::{CarrierKind, Config};
use crate::domain::clock::{Clock, SystemClock};
use crate::http::{self, AppState};
use crate::service::Core;
use crate::store::{Db, DbOptions};

/// A broadcast "stop now" for the server and the worker.
#[derive(Clone)]
struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&DbOptions {
        url: config.database_url.clone(),
        max_connections: config.database.max_connections,
        busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
        acquire_timeout: Duration::from_millis(config.database.acquire_timeout_ms),
    })
    .await?;
    db.migrate().await?;
    Ok(db)
}

pub fn carrier_for(config: &Config) -> Arc<dyn Carrier> {
    match config.carrier.kind {
        CarrierKind::Local => Arc::new(LocalCarrier),
    }
}

pub fn core(config: &Config, db: Db, clock: Arc<dyn Clock>, carrier: Arc<dyn Carrier>) -> Arc<Core> {
    Arc::new(Core { db, clock, carrier, carrier_timeout: config.carrier_timeout(), outbox: config.outbox.clone() })
}

/// A running numberd: HTTP on `addr` plus, if enabled, the worker. Dropping `stop` ends both.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub core: Arc<Core>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts serving on an already-bound listener (port 0 in tests).
pub async fn start(config: &Config, core: Arc<Core>, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let router = http::router(AppState { core: core.clone() }, config.max_body_bytes);
    let shutdown = Shutdown(rx.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown.wait()).await {
            tracing::error!(error = %e, "http server failed");
        }
    });
    let mut tasks = vec![server];
    if config.worker.enabled {
        tasks.push(tokio::spawn(worker(core.clone(), Duration::from_millis(config.worker.interval_ms), config.worker.batch, Shutdown(rx))));
    }
    Ok(Running { addr, core, stop, tasks })
}

/// The period-end worker and outbox delivery. Each pass settles whatever is due by now, so
/// a worker that was down catches up on its first pass; several workers share the work safely.
async fn worker(core: Arc<Core>, interval: Duration, batch: i64, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sweep_once(&core, batch).await {
            tracing::error!(error = %e, "worker pass failed; retrying next tick");
        }
    }
}

/// One full pass: period ends, then carrier deliveries. Also `numberd sweep`.
pub async fn sweep_once(core: &Core, batch: i64) -> Result<(usize, usize), crate::error::Error> {
    let settled = core.sweep(None, batch).await?;
    let delivered = core.deliver_outbox().await?;
    if settled > 0 || delivered > 0 {
        tracing::info!(settled, delivered, "worker pass");
    }
    Ok((settled, delivered))
}

/// `numberd serve`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = connect(&config).await?;
    tracing::info!(
        database = %crate::config::redact_url(&config.database_url),
        listen = %config.listen,
        worker = config.worker.enabled,
        "numberd starting"
    );
    let core = core(&config, db, Arc::new(SystemClock), carrier_for(&config));
    let listener = TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let running = start(&config, core, listener).await?;
    tracing::info!(addr = %running.addr, "listening");
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
