//! The control plane: REST API, authentication and metrics, on a thread of
//! its own.
//!
//! [`spawn`] binds `control.listen` (127.0.0.1 by default), then runs the
//! axum server on a tokio current-thread runtime on the thread
//! `floe-control`, and the gateway pump (which applies the engine's
//! statuses and replies, see [`gateway`]) on `floe-control-pump`. It never
//! touches engine state: commands go to the engine through the bounded
//! queue of [`gateway`], and the hot thread drains them with
//! [`gateway::EngineEndpoint::drain`]. [`ControlHandle::shutdown`] (or
//! dropping the handle) stops both threads cleanly.
//!
//! `/healthz` is never signed (liveness probes); `/metrics` is unsigned by
//! default, as Prometheus scrapers expect on a loopback listener, and signed
//! like every other endpoint with `control.metrics_auth = true`.

pub mod api;
pub mod auth;
pub mod gateway;
pub mod metrics;
pub mod model;

use crate::config::Config;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Errors starting the control plane.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// `control.listen` could not be bound.
    #[error("control.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A key could not be loaded.
    #[error(transparent)]
    Key(#[from] auth::KeyError),
    /// The threads could not be started.
    #[error("cannot start the control thread: {0}")]
    Thread(std::io::Error),
}

/// The running control plane.
#[derive(Debug)]
pub struct ControlHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stop_pump: Arc<AtomicBool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    pump: Option<JoinHandle<()>>,
}

impl ControlHandle {
    /// The address the server listens on (the real port when configured as 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in progress finish, and joins both
    /// threads. Returns the server's error, if it failed.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_threads()
    }

    fn stop_threads(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let mut result = Ok(());
        if let Some(t) = self.server.take() {
            result = t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("control thread panicked")));
        }
        self.stop_pump.store(true, Ordering::Release);
        if let Some(p) = self.pump.take() {
            p.thread().unpark();
            let _ = p.join();
        }
        result
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        let _ = self.stop_threads();
    }
}

/// Pump cadence while replies are awaited and while idle.
const PUMP_BUSY: Duration = Duration::from_micros(100);
const PUMP_IDLE: Duration = Duration::from_millis(2);

/// Starts the control plane over a gateway (the control side of
/// [`gateway::channel`]) and the hot threads' counters.
pub fn spawn(
    config: &Config,
    gateway: gateway::Gateway,
    counters: Arc<metrics::HotCounters>,
) -> Result<ControlHandle, ControlError> {
    // Requests signed before this start may have been accepted by a
    // previous process, whose replay cache is gone.
    let auth = auth::Authenticator::from_config(&config.control)?
        .refuse_signed_before(auth::unix_ms_now());
    let bind_err = |source| ControlError::Bind {
        addr: config.control.listen.clone(),
        source,
    };
    let listener = std::net::TcpListener::bind(&config.control.listen).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let state = Arc::new(api::AppInner {
        exporter: metrics::Exporter::new(counters, Some(gateway.stats())),
        gateway: gateway.clone(),
        auth,
        risk: config.risk.clone(),
        symbols: config
            .book
            .only
            .iter()
            .filter_map(|s| crate::types::Symbol::new(s))
            .collect(),
        body_limit: config.control.body_limit_bytes,
        metrics_auth: config.control.metrics_auth,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::Builder::new()
        .name("floe-control".into())
        .spawn(move || -> std::io::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, api::router(state))
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
            })
        })
        .map_err(ControlError::Thread)?;
    let stop_pump = Arc::new(AtomicBool::new(false));
    let stop = stop_pump.clone();
    let pump = std::thread::Builder::new()
        .name("floe-control-pump".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if gateway.pump() > 0 {
                    continue;
                }
                let pause = if gateway.inflight() > 0 {
                    PUMP_BUSY
                } else {
                    PUMP_IDLE
                };
                std::thread::park_timeout(pause);
            }
            gateway.pump();
        })
        .map_err(ControlError::Thread)?;
    tracing::info!(%addr, "control plane listening");
    Ok(ControlHandle {
        addr,
        stop: Some(stop_tx),
        stop_pump,
        server: Some(server),
        pump: Some(pump),
    })
}
