//! `provisioning-stub serve`: the daemon. The admin port serves `GET /metrics`,
//! `GET /healthz` and `POST /payments` ([`crate::payments`]).
//! [`run`] takes the configuration, an opened
//! store, a bound admin listener and a shutdown future (mini-redis style, so tests
//! bind port 0 and decide when to stop).
//!
//! Shutdown order: stop taking new `deliver_sm` (they get `ESME_RX_T_APPN`, so the
//! SMSC redelivers them later or to another instance), wait up to
//! `shutdown_drain_ms` for messages being stored and pushes being sent, `unbind`,
//! stop the admin server. Every store write was awaited, so nothing acknowledged is
//! pending when [`run`] returns; the SQLite writer thread ends with the last handle.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::StubConfig;
use crate::metrics::{Metrics, serve_admin_with};
use crate::payments::PaymentsApi;
use crate::pipeline::{Handler, Pipeline, SetupError};
use crate::smpp::{self, SessionState};
use crate::store::AnyStore;

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Key files, TLS material or settings.
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// Runs until `shutdown` resolves, then shuts down gracefully. `metrics` is shared so
/// tests can read counters.
pub async fn run(
    config: &StubConfig,
    store: AnyStore,
    admin: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let payments = PaymentsApi {
        store: store.clone(),
        billing: config.billing.clone(),
        metrics: metrics.clone(),
    };
    let pipeline = Arc::new(Pipeline::new(config, store, metrics.clone())?);
    let (esme, esme_task) = smpp::start(config.smsc.esme(), Arc::new(Handler(pipeline.clone())));
    pipeline.set_esme(esme.clone());
    // Download confirmations owed to manufacturers from before a crash or an outage.
    pipeline.resend_owed_confirmations();

    let (stop_tx, stop_rx) = watch::channel(false);
    let admin_task = {
        let mut stop = stop_rx.clone();
        tokio::spawn(serve_admin_with(
            admin,
            metrics.clone(),
            Some(payments),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    };
    let state_task = {
        let esme = esme.clone();
        let metrics = metrics.clone();
        let mut stop = stop_rx;
        tokio::spawn(async move {
            let mut last_binds = 0;
            loop {
                let state = esme.state();
                let (bound, binds) = match state {
                    SessionState::Bound { bind_count } => (1, bind_count),
                    _ => (0, last_binds),
                };
                metrics.set("imeitrack_smpp_bound", bound);
                if binds > last_binds {
                    metrics.add("imeitrack_smpp_binds_total", "", "", binds - last_binds);
                    last_binds = binds;
                }
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = esme.wait_for(Duration::from_millis(500), move |s| *s != state) => {}
                }
            }
        })
    };
    tracing::info!(smsc = %config.smsc.address, "serving");

    shutdown.await;
    tracing::info!("shutting down: draining");
    let bound = Duration::from_millis(config.shutdown_drain_ms);
    if !pipeline.drain(bound).await {
        tracing::warn!(?bound, "work still in progress after the drain bound");
    }
    esme.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), esme_task).await;
    metrics.set("imeitrack_smpp_bound", 0);
    let _ = stop_tx.send(true);
    let _ = admin_task.await;
    let _ = state_task.await;
    tracing::info!("stopped");
    Ok(())
}
