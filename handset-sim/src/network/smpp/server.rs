//! The accept loop (mini-redis `server`): one task per ESME connection, graceful
//! shutdown that unbinds every session.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use super::connection;
use crate::network::handle::SmscHandle;

/// Serves SMPP 3.4 on `listener` (already bound, so tests can use port 0) until
/// `shutdown` resolves; then every session gets an `unbind` and the function returns
/// once they have closed (at most one second later).
pub async fn run(
    listener: TcpListener,
    handle: SmscHandle,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (notify, _) = broadcast::channel::<()>(1);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "ESME connected");
                    let h = handle.clone();
                    let rx = notify.subscribe();
                    tasks.spawn(async move {
                        if let Err(e) = connection::serve(stream, h, rx).await {
                            tracing::debug!(%peer, %e, "ESME connection ended with an error");
                        }
                    });
                }
                // Per-connection accept errors (e.g. the peer reset before accept) are
                // not fatal for the listener.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => break Err(e),
            },
            // Reap finished sessions so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = &mut shutdown => break Ok(()),
        }
    };
    let _ = notify.send(());
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    result
}
