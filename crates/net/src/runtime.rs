//! Starting the runtime: the driver with the [`Handle`] API on top of the
//! application.

use rand::SeedableRng;
use rand_core::RngCore;
use tokio::sync::mpsc;

use crate::app::{App, AppReceiver, app_channel};
use crate::driver::spawn;
use crate::handle_app::HandleApp;
use crate::incoming::{ChannelApp, Incoming};
use crate::{Config, Handle, StartError};

/// Starts the runtime: binds every listener, then spawns the driver.
/// Returns the handle and the stream of incoming requests and events.
pub async fn start(config: Config) -> Result<(Handle, mpsc::Receiver<Incoming>), StartError> {
    start_with_rng(config, Box::new(rand::rngs::StdRng::from_os_rng())).await
}

/// [`start`] with the endpoint's source of randomness given (branches, tags,
/// Call-IDs).
pub async fn start_with_rng(
    config: Config,
    rng: Box<dyn RngCore + Send>,
) -> Result<(Handle, mpsc::Receiver<Incoming>), StartError> {
    let (incoming_tx, incoming_rx) = mpsc::channel(config.incoming_queue.max(1));
    let (_, receiver) = app_channel();
    let app = ChannelApp {
        incoming: incoming_tx,
    };
    let handle = start_app(config, rng, app, receiver).await?;
    Ok((handle, incoming_rx))
}

/// Starts the runtime with `app` as the transaction user, called on the
/// driver task (see [`App`]); `receiver` brings it the messages of its
/// [`AppSender`](crate::AppSender)s. The [`Handle`] still sends requests
/// (their responses go to the [`ClientTransaction`](crate::ClientTransaction))
/// and stops the runtime.
pub async fn start_app<A: App>(
    config: Config,
    rng: Box<dyn RngCore + Send>,
    app: A,
    receiver: AppReceiver<A::Message>,
) -> Result<Handle, StartError> {
    let spawned = spawn(config, rng, HandleApp::new(app), receiver).await?;
    Ok(Handle::new(spawned.control, spawned.local))
}
