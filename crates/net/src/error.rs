//! Errors of the runtime: starting it, and the handle's commands.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use switchboard_core::{RespondError, SendError, Transport};

use crate::resolver::ResolveError;

/// Why [`crate::start`] could not start the endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A listener could not bind its address.
    #[error("cannot listen on {transport} {addr}: {source}")]
    Bind {
        /// The listener's transport.
        transport: Transport,
        /// The address it was to bind.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A TLS or WSS listener was configured without a server certificate.
    #[error("a {0} listener needs a TLS server configuration")]
    MissingTlsServer(Transport),
}

/// Why a command given through a [`crate::Handle`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint has shut down (or its driver ended).
    #[error("the endpoint has shut down")]
    Closed,
    /// The endpoint refused to send the request.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The endpoint refused the response.
    #[error(transparent)]
    Respond(#[from] RespondError),
    /// The request's next hop could not be resolved (RFC 3263).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// Why TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The PEM text is malformed.
    #[error("invalid PEM: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    /// The PEM text holds no certificate.
    #[error("no certificate found")]
    NoCertificate,
    /// rustls refused the configuration (bad key, bad CA certificate, ...).
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The certificate's DER is not a certificate (subject and validity
    /// could not be read).
    #[error("the certificate is malformed")]
    Malformed,
    /// The certificate expired (a reload refuses it).
    #[error("the certificate expired (not after {not_after}, unix seconds)")]
    Expired {
        /// Its end of validity, unix seconds.
        not_after: u64,
    },
}
