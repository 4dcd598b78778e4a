//! The admin API on a thread and runtime of its own. The SIP driver runs
//! on the main thread's runtime; were the API there too, every HTTP
//! request's parsing, token check and JSON would wait in line with the
//! datagrams (the benchmark saw REGISTERs delayed by a loaded API). Only
//! the questions cross to the driver, through its channel.

use std::thread::JoinHandle;

use switchboard_admin::{AdminConfig, AdminServer, Driver, StartError, Tokens};
use tokio::sync::oneshot;

use std::sync::Arc;

/// The running API, stopped by [`AdminThread::shutdown`].
#[derive(Debug)]
pub(crate) struct AdminThread {
    url: String,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// Why the API's thread did not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ThreadError {
    /// The listener's own refusal (address, TLS).
    #[error("{0}")]
    Start(#[from] StartError),
    /// The operating system gave no thread or runtime.
    #[error("no thread for the admin API: {0}")]
    Thread(#[from] std::io::Error),
    /// The thread ended before it said whether it listens.
    #[error("the admin API's thread ended at start")]
    Ended,
}

impl AdminThread {
    /// Starts the API on its own thread and waits until it listens (or
    /// says why not).
    pub(crate) async fn start(
        config: AdminConfig,
        driver: Driver,
        tokens: Arc<Tokens>,
    ) -> Result<Self, ThreadError> {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<String, ThreadError>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("admin-api".to_owned())
            .spawn(move || {
                yield_to_sip();
                runtime.block_on(async move {
                    match AdminServer::start(config, driver, tokens).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.url()));
                            let _ = stopped.await;
                            server.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                        }
                    }
                });
            })?;
        let url = ready_rx.await.map_err(|_| ThreadError::Ended)??;
        Ok(Self { url, stop, thread })
    }

    /// The API's base URL (`http://127.0.0.1:8089`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Stops accepting, lets the requests in progress end (a few seconds
    /// at most) and waits for the thread, off this runtime.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Lowers this thread's scheduling priority (nice 10, Linux: per thread),
/// so that when the API and the SIP driver both want a core, the kernel
/// runs the driver: a script hammering the API (the benchmark's wrk at
/// 80,000 requests a second) delayed REGISTERs by seconds, with
/// retransmissions, before it. Threads this one starts inherit it.
fn yield_to_sip() {
    // SAFETY: setpriority takes plain integers and touches no memory of
    // ours; `who` 0 is the calling thread on Linux.
    let failed = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 10) } != 0;
    if failed {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "admin: the API's thread keeps its priority"
        );
    }
}
