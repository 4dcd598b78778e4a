//! The admin listener: HTTP on loopback, HTTPS beyond it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::Tokens;
use crate::listener::TlsListener;
use crate::routes::router_stopping;
use crate::{Driver, MetricsAccess, ServerInfo, StartError};

/// How long a stop waits for requests in progress.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where and how the API listens.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `IP:PORT` (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The server's certificate: required when `addr` is not loopback.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What `/status` says besides the counts.
    pub info: ServerInfo,
}

/// The running API, stopped by [`AdminServer::shutdown`].
#[derive(Debug)]
pub struct AdminServer {
    local_addr: SocketAddr,
    https: bool,
    stop: oneshot::Sender<()>,
    /// Ends the dashboards' event streams, which would hold the stop.
    stopping: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// [`StartError::NeedsTls`] for an address beyond loopback without a
    /// certificate; [`StartError::Bind`] when the address cannot be bound
    /// (the caller decides whether the server goes on without the API).
    pub async fn start(
        config: AdminConfig,
        driver: Driver,
        tokens: Arc<Tokens>,
    ) -> Result<Self, StartError> {
        let addr = config.addr;
        if !addr.ip().is_loopback() && config.tls.is_none() {
            return Err(StartError::NeedsTls { addr });
        }
        let bind_err = |source| StartError::Bind { addr, source };
        let tcp = TcpListener::bind(addr).await.map_err(bind_err)?;
        let local_addr = tcp.local_addr().map_err(bind_err)?;
        // A scraper on the host reads /metrics without a token; beyond
        // loopback it needs one like the API.
        let metrics_access = if addr.ip().is_loopback() {
            MetricsAccess::Open
        } else {
            MetricsAccess::Token
        };
        let stopping = Arc::new(watch::channel(false).0);
        let app = router_stopping(
            driver,
            config.info,
            tokens,
            metrics_access,
            Arc::clone(&stopping),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
        let https = config.tls.is_some();
        let task = match &config.tls {
            Some(tls) => {
                let listener = TlsListener::new(tcp, tls).map_err(bind_err)?;
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(signal)
                        .await;
                })
            }
            None => tokio::spawn(async move {
                let _ = axum::serve(tcp, app).with_graceful_shutdown(signal).await;
            }),
        };
        Ok(Self {
            local_addr,
            https,
            stop,
            stopping,
            task,
        })
    }

    /// The address bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The API's base URL (`http://127.0.0.1:8089`).
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Stops accepting and waits (a few seconds at most) for requests in
    /// progress.
    pub async fn shutdown(self) {
        self.stopping.send_replace(true);
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}
