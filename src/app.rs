//! Assembling and running the service: database, core, HTTP server and background worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::carrier::account::{Accounts, CarrierAccount};
use crate::carrier::telnyx::TelnyxClient;
use crate::carrier::twilio::TwilioClient;
use crate::carrier::{local::LocalCarrier, Carrier};
use crate::config::{CarrierAccountConfig, CarrierKind, Config};
use crate::domain::clock::{Clock, SystemClock};
use crate::http::origin::ConnAddrs;
use crate::http::{self, AppState};
use crate::jobs::runner::work_queue;
use crate::jobs::Queue;
use crate::service::{Core, KeyCache};
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
        sqlite_mmap_bytes: config.database.sqlite_mmap_bytes(),
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

/// A client for every configured carrier account, by name (none configured: an empty map).
pub fn carrier_accounts(config: &Config) -> anyhow::Result<BTreeMap<String, Arc<dyn CarrierAccount>>> {
    let timeout = config.carrier_timeout();
    // The name labels the account's carrier_requests_total and latency metrics.
    let client = |name: &str, account: &CarrierAccountConfig| -> Result<Arc<dyn CarrierAccount>, String> {
        Ok(match account {
            CarrierAccountConfig::Twilio { account_sid, auth_token, base_url, max_concurrent_requests } => {
                Arc::new(TwilioClient::new(name, base_url, account_sid, auth_token.clone(), timeout, *max_concurrent_requests)?)
            }
            CarrierAccountConfig::Telnyx { api_key, base_url, max_concurrent_requests } => {
                Arc::new(TelnyxClient::new(name, base_url, api_key.clone(), timeout, *max_concurrent_requests)?)
            }
        })
    };
    config
        .carriers
        .iter()
        .map(|(name, account)| Ok((name.clone(), client(name, account).map_err(|e| anyhow::anyhow!("carriers.{name}: {e}"))?)))
        .collect()
}

/// The core, with a client for every configured carrier account (a bad account fails here, at
/// start, not at the first purchase).
pub fn core(config: &Config, db: Db, clock: Arc<dyn Clock>, carrier: Arc<dyn Carrier>) -> anyhow::Result<Arc<Core>> {
    Ok(Arc::new(Core {
        db,
        clock,
        carrier,
        accounts: Accounts::new(carrier_accounts(config)?, config.default_carrier.clone()),
        carrier_timeout: config.carrier_timeout(),
        outbox: config.outbox.clone(),
        batch: config.worker.batch,
        keys: KeyCache::new(Duration::from_millis(config.auth.key_cache_ms)),
        carrier_concurrency: config.worker.carrier_concurrency,
        job_batch: config.worker.job_batch,
        caller_ids: config.caller_ids.clone(),
        outbound: crate::service::events::Outbound::new(config),
        metrics: Arc::default(),
    }))
}

/// A running numberd: HTTP on `addr` plus, if enabled, the worker. Dropping `stop` ends both.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub core: Arc<Core>,
    stop: tokio::sync::watch::Sender<bool>,
    grace: Duration,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and the worker's current pass finish, and cuts
    /// whatever is still running once the grace period is over.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let aborts: Vec<_> = self.tasks.iter().map(|t| t.abort_handle()).collect();
        let drained = tokio::time::timeout(self.grace, async {
            for t in self.tasks {
                let _ = t.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(grace_ms = self.grace.as_millis() as u64, "grace period over; cutting remaining connections");
            aborts.iter().for_each(|a| a.abort());
        }
    }
}

/// Starts serving on an already-bound listener (port 0 in tests).
pub async fn start(config: &Config, core: Arc<Core>, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let origin = config.public_origin().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let router = http::router(AppState { core: core.clone() }, config.max_body_bytes)
        .layer(RequestBodyTimeoutLayer::new(Duration::from_millis(config.http.body_timeout_ms)))
        .layer(axum::Extension(origin));
    let server = tokio::spawn(serve_http(listener, router, Duration::from_millis(config.http.header_timeout_ms), Shutdown(rx.clone())));
    let mut tasks = vec![server];
    if let Some(metrics_addr) = config.metrics_listen {
        let listener = TcpListener::bind(metrics_addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {metrics_addr}: {e}"))?;
        let metrics = http::observe::metrics_router(AppState { core: core.clone() });
        tasks.push(tokio::spawn(serve_http(listener, metrics, Duration::from_millis(config.http.header_timeout_ms), Shutdown(rx.clone()))));
    }
    if config.worker.enabled {
        let interval = Duration::from_millis(config.worker.interval_ms);
        for &queue in Queue::ALL {
            tasks.push(tokio::spawn(work_queue(core.clone(), queue, interval, rx.clone())));
        }
    }
    Ok(Running { addr, core, stop, grace: Duration::from_millis(config.http.shutdown_grace_ms), tasks })
}

/// The accept loop. Each connection gets a header read timeout (which also ends idle
/// keep-alives); on `shutdown` the listener closes and every connection finishes its current
/// request, then closes. Dropping this future (grace over) drops every connection with it.
async fn serve_http(listener: TcpListener, router: axum::Router, header_timeout: Duration, shutdown: Shutdown) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let mut conns = tokio::task::JoinSet::new();
    let stop = shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(local) = stream.local_addr() else { continue };
        let addrs = ConnAddrs { peer, local };
        let service = router.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(addrs);
            req
        });
        let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let stop = shutdown.clone().wait();
        conns.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// `numberd sweep`: settles due period ends, then runs due carrier work, once.
pub async fn sweep_once(core: &Core, batch: i64) -> Result<(usize, usize), crate::error::Error> {
    let settled = core.sweep(None, batch).await?;
    let delivered = core.run_jobs(Queue::Carrier, &|| false).await?;
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
    let core = core(&config, db, Arc::new(SystemClock), carrier_for(&config))?;
    for (name, account) in &config.carriers {
        tracing::info!(carrier = %name, account = ?account, default = config.default_carrier.as_ref() == Some(name), "carrier account");
    }
    tracing::info!(accounts = config.carriers.len(), "carrier accounts ready");
    let listener = TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let running = start(&config, core, listener).await?;
    tracing::info!(addr = %running.addr, "listening");
    stop_requested().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM as systemd and Kubernetes send it.
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
