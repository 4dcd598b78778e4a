//! TLS configuration for the TLS and WSS transports (rustls with the `ring`
//! provider).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};

use crate::{ReloadableCertificate, TlsError};

/// The crypto provider every configuration made here uses, so that the
/// process-wide default (which another crate may have installed, or not)
/// does not matter.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// The server side of TLS and WSS listeners: a certificate chain and its key.
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer").finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Loads the certificate chain and private key (PKCS#8, PKCS#1 or SEC1)
    /// from PEM files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        Self::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// Like [`TlsServer::from_pem_files`], from PEM text in memory.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let certs = certificates(cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key)?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Serves the pair in force of `certificate` at each handshake: a
    /// reload reaches new connections without a restart.
    pub fn reloading(certificate: Arc<ReloadableCertificate>) -> Result<Self, TlsError> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certificate);
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// A rustls configuration made elsewhere (client authentication,
    /// certificate resolvers for hot reload, ...).
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    /// The rustls configuration (the admin API serves HTTPS with the same
    /// certificate).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

/// The client side of outgoing TLS and WSS connections: which certificate
/// authorities are trusted.
///
/// Outgoing connections are made to an address; the certificate must be
/// valid for that IP address (see [`TlsClient::ignoring_names`]).
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient").finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Trusts the authorities in `roots`.
    pub fn with_roots(roots: RootCertStore) -> Result<Self, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Trusts the authorities whose certificates are in the PEM text.
    pub fn trusting_pem(ca_certificates: &[u8]) -> Result<Self, TlsError> {
        Self::with_roots(root_store(ca_certificates)?)
    }

    /// INSECURE, for tests and lab set-ups: trusts the authorities in the
    /// PEM text but accepts a certificate that is not valid for the name or
    /// address connected to. The chain, its validity dates and the
    /// handshake signatures are still checked.
    pub fn ignoring_names(ca_certificates: &[u8]) -> Result<Self, TlsError> {
        let roots = Arc::new(root_store(ca_certificates)?);
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(IgnoreNames { inner }))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// A rustls configuration made elsewhere.
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }

    pub(crate) fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

fn root_store(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// Verifies the chain like webpki but ignores the name.
#[derive(Debug)]
struct IgnoreNames {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for IgnoreNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
