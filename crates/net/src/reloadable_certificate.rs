//! A server certificate that can be replaced while the listeners run: each
//! handshake reads the pair in force, so new connections get a reloaded
//! one and open connections keep theirs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::TlsError;
use crate::certificate::CertificateInfo;
use crate::tls::{certificates, provider, read};

/// A certificate chain and its key, loaded from PEM files, reloadable.
pub struct ReloadableCertificate {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<LoadedPair>>,
    /// The files as last read, to see a renewal replace them.
    seen: Mutex<(FileStamp, FileStamp)>,
}

/// A pair that passed the checks.
struct LoadedPair {
    key: Arc<CertifiedKey>,
    info: CertificateInfo,
}

/// What changes when a file is rewritten or replaced: its modification
/// time, size and (on Unix) inode, a renamed-in copy keeping its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp(Option<(SystemTime, u64, u64)>);

impl FileStamp {
    fn of(path: &Path) -> Self {
        Self(
            std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len(), inode(&m)))),
        )
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_metadata: &std::fs::Metadata) -> u64 {
    0
}

impl fmt::Debug for ReloadableCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableCertificate")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("info", &self.info())
            .finish_non_exhaustive()
    }
}

impl ReloadableCertificate {
    /// Loads the chain and key (PKCS#8, PKCS#1 or SEC1) from PEM files.
    /// An expired certificate is loaded (the caller warns): refusing it
    /// would stop the plain transports too.
    ///
    /// # Errors
    /// A file unreadable or malformed, or a key that is not the
    /// certificate's.
    pub fn load(
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Result<Self, TlsError> {
        let cert_path = cert_path.into();
        let key_path = key_path.into();
        let seen = (FileStamp::of(&cert_path), FileStamp::of(&key_path));
        let pair = load_pair(&cert_path, &key_path)?;
        Ok(Self {
            cert_path,
            key_path,
            current: RwLock::new(Arc::new(pair)),
            seen: Mutex::new(seen),
        })
    }

    /// The certificate file.
    #[must_use]
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The key file.
    #[must_use]
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The subject and validity of the certificate in force.
    #[must_use]
    pub fn info(&self) -> CertificateInfo {
        self.pair().info.clone()
    }

    fn pair(&self) -> Arc<LoadedPair> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the files again; a pair that parses, matches and has not
    /// expired at `now_unix` replaces the one in force, anything else is
    /// refused and the one in force stays.
    ///
    /// # Errors
    /// Why the new pair was refused ([`TlsError::Expired`] among them).
    pub fn reload(&self, now_unix: u64) -> Result<CertificateInfo, TlsError> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = self.stamps();
        let pair = load_pair(&self.cert_path, &self.key_path)?;
        if pair.info.not_after <= now_unix {
            return Err(TlsError::Expired {
                not_after: pair.info.not_after,
            });
        }
        let info = pair.info.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(info)
    }

    /// Whether either file was rewritten or replaced since last read.
    #[must_use]
    pub fn files_changed(&self) -> bool {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != self.stamps()
    }

    fn stamps(&self) -> (FileStamp, FileStamp) {
        (
            FileStamp::of(&self.cert_path),
            FileStamp::of(&self.key_path),
        )
    }

    /// [`ReloadableCertificate::reload`] with its outcome logged: the new
    /// subject and expiry, or why the pair was refused. `why` says what
    /// asked (`SIGHUP`, `files changed`).
    pub fn reload_logged(&self, why: &str) -> Result<CertificateInfo, TlsError> {
        let now = unix_now();
        let path = self.cert_path.display();
        let outcome = self.reload(now);
        match &outcome {
            Ok(info) => tracing::info!(
                subject = %info.subject,
                not_after = info.not_after,
                days_left = info.days_left(now),
                "tls: {why}: certificate {path} loaded"
            ),
            Err(error) => tracing::error!(
                %error,
                "tls: {why}: certificate {path} refused, the one in force stays"
            ),
        }
        outcome
    }

    /// Polls the files every `every` on the current tokio runtime and
    /// reloads when one changed (automated renewal replaces them). The
    /// task runs until aborted.
    pub fn watch(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if self.files_changed() {
                    let _ = self.reload_logged("files changed");
                }
            }
        })
    }
}

impl ResolvesServerCert for ReloadableCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.pair().key))
    }
}

fn load_pair(cert_path: &Path, key_path: &Path) -> Result<LoadedPair, TlsError> {
    pair_from_pem(&read(cert_path)?, &read(key_path)?)
}

/// Parses the chain and key, checks the key is the certificate's and
/// reads the certificate's dates.
fn pair_from_pem(cert_chain: &[u8], key: &[u8]) -> Result<LoadedPair, TlsError> {
    let certs = certificates(cert_chain)?;
    let info = CertificateInfo::from_der(certs.first().ok_or(TlsError::NoCertificate)?)?;
    let key = PrivateKeyDer::from_pem_slice(key)?;
    let key = CertifiedKey::from_der(certs, key, &provider())?;
    Ok(LoadedPair {
        key: Arc::new(key),
        info,
    })
}

/// Seconds since the epoch by the system clock.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    /// A self-signed pair for `name`, valid until `not_after` (a year):
    /// (certificate PEM, key PEM).
    fn pair(name: &str, not_after: i32) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(vec![name.into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A directory of its own under the system's temporary one.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("switchboard-net-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        fn write(&self, (cert, key): &(String, String)) {
            std::fs::write(self.0.join("cert.pem"), cert).unwrap();
            std::fs::write(self.0.join("key.pem"), key).unwrap();
        }

        fn load(&self) -> ReloadableCertificate {
            ReloadableCertificate::load(self.0.join("cert.pem"), self.0.join("key.pem")).unwrap()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// 2030-01-01, a `now` before every test certificate's expiry.
    const NOW: u64 = 1_893_456_000;

    fn served(cert: &ReloadableCertificate) -> Vec<u8> {
        cert.pair().key.end_entity_cert().unwrap().to_vec()
    }

    #[test]
    fn a_good_new_pair_replaces_the_one_in_force() {
        let dir = Dir::new("reload-good");
        dir.write(&pair("a.example.com", 2040));
        let cert = dir.load();
        assert_eq!(cert.info().subject, "CN=a.example.com");
        let before = served(&cert);
        dir.write(&pair("b.example.com", 2041));
        assert!(cert.files_changed());
        let info = cert.reload(NOW).unwrap();
        assert_eq!(info.subject, "CN=b.example.com");
        assert_eq!(cert.info(), info);
        assert_eq!(info.not_after, 2_240_611_200); // 2041-01-01
        assert_ne!(served(&cert), before);
        assert!(!cert.files_changed());
    }

    #[test]
    fn a_bad_new_pair_is_refused_and_the_old_one_stays() {
        let dir = Dir::new("reload-bad");
        let a = pair("a.example.com", 2040);
        dir.write(&a);
        let cert = dir.load();
        let before = served(&cert);
        let b = pair("b.example.com", 2040);
        let expired = pair("old.example.com", 2020);
        let refusals = [
            // b's certificate with a's key
            (b.0.clone(), a.1.clone()),
            // a truncated file, as a renewal half written
            (b.0[..b.0.len() / 2].to_owned(), b.1.clone()),
            ("not a certificate".to_owned(), b.1.clone()),
            expired,
        ];
        for bad in &refusals {
            dir.write(bad);
            assert!(cert.files_changed());
            assert!(cert.reload(NOW).is_err());
            // the refusal is not retried until the files change again
            assert!(!cert.files_changed());
            assert_eq!(cert.info().subject, "CN=a.example.com");
            assert_eq!(served(&cert), before);
        }
        assert!(matches!(
            cert.reload(NOW),
            Err(TlsError::Expired {
                not_after: 1_577_836_800
            })
        ));
        dir.write(&(b.0.clone(), a.1.clone()));
        assert!(matches!(
            cert.reload(NOW),
            Err(TlsError::Rustls(rustls::Error::InconsistentKeys(_)))
        ));
    }

    #[test]
    fn a_file_replaced_or_removed_is_seen_and_an_unchanged_one_not() {
        let dir = Dir::new("reload-same");
        dir.write(&pair("a.example.com", 2040));
        let cert = dir.load();
        assert!(!cert.files_changed());
        // A copy renamed over the key, same size and time, as a tool
        // keeping times (`cp -p`, `mv`) leaves it.
        let (key, copy) = (dir.0.join("key.pem"), dir.0.join("key.new"));
        std::fs::copy(&key, &copy).unwrap();
        let modified = std::fs::metadata(&key).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        std::fs::rename(&copy, &key).unwrap();
        assert!(cert.files_changed());
        cert.reload(NOW).unwrap();
        assert!(!cert.files_changed());
        std::fs::remove_file(dir.0.join("key.pem")).unwrap();
        assert!(cert.files_changed());
        assert!(matches!(cert.reload(NOW), Err(TlsError::Read { .. })));
        assert_eq!(cert.info().subject, "CN=a.example.com");
    }
}
