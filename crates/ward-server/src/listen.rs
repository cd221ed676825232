//! The accept loop: HTTP/1.1 connections with a header deadline and a connection cap.
//!
//! The request middleware ([`crate::limits`]) bounds a request once its headers are in. This
//! layer bounds what comes before and between requests, where `axum::serve` sets no limit:
//!
//! - **Header deadline.** A connection must deliver a request's whole header within
//!   [`ServerConfig::header_read_timeout`] of the server starting to wait for it; that covers a
//!   client trickling its headers a byte at a time (slowloris) and an idle keep-alive
//!   connection, both of which are closed when it passes. Without it, a few hundred such
//!   sockets hold a few hundred file descriptors and tasks for as long as their owner likes.
//! - **Connection cap.** At most [`ServerConfig::max_connections`] connections are served at
//!   once; one more is closed at once (the operating system's backlog holds the rest), so
//!   running out of file descriptors cannot stop the server accepting the next one.
//! - **Graceful shutdown.** When `shutdown` resolves the listener closes, idle connections
//!   close, and requests in flight are finished before [`serve`] returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::ServerConfig;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the requests in flight.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was taken:
                    // wait a moment rather than spin, and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                max_connections = config.max_connections,
                "connection refused: at the connection cap"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away or breaks the protocol ends its own connection only.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
