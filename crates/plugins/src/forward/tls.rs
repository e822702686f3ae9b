//! DNS-over-TLS (RFC 7858) client settings: the `tls [CERT KEY] [CA]` forms, the server name
//! to verify (`tls_servername`, or `tls://IP%NAME` per upstream), on rustls with the ring
//! provider, the one TLS stack of the project.
//!
//! As in CoreDNS: no argument trusts the system's CAs; `CA` trusts that file only; `CERT KEY`
//! adds a client certificate. TLS 1.2 is the minimum (rustls has nothing older). Without a
//! server name the upstream's IP address is what its certificate must name.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// The files of a `tls` line (already resolved against `root`/the Corefile's directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Client certificate chain and key (`tls CERT KEY [CA]`).
    pub identity: Option<(PathBuf, PathBuf)>,
    /// CA bundle to verify the upstream with (`tls CA`, `tls CERT KEY CA`); the system's
    /// trust store without one.
    pub ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The meaning of 0 to 3 `tls` arguments.
    pub fn from_args(args: Vec<PathBuf>) -> Result<TlsFiles, String> {
        let mut it = args.into_iter();
        Ok(match (it.next(), it.next(), it.next(), it.next()) {
            (None, ..) => TlsFiles::default(),
            (Some(ca), None, ..) => TlsFiles {
                identity: None,
                ca: Some(ca),
            },
            (Some(cert), Some(key), None, _) => TlsFiles {
                identity: Some((cert, key)),
                ca: None,
            },
            (Some(cert), Some(key), Some(ca), None) => TlsFiles {
                identity: Some((cert, key)),
                ca: Some(ca),
            },
            (Some(_), Some(_), Some(_), Some(_)) => {
                return Err("maximum of three arguments allowed for TLS config".to_string())
            }
        })
    }

    /// Reads the files and builds the client configuration.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let roots = match &self.ca {
            Some(ca) => read_roots(ca)?,
            None => system_roots(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_chain(cert)?;
                let key = read_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("could not load TLS cert: {e}"))?
            }
        };
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("error reading {}: {e}", path.display()))
}

fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let pem = read(path)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| format!("could not read root certs in {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("could not read root certs in {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "could not read root certs: no PEM certificate in {}",
            path.display()
        ));
    }
    Ok(roots)
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("could not load TLS cert {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "could not load TLS cert: no PEM certificate in {}",
            path.display()
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("could not load TLS key {}: {e}", path.display()))
}

/// The platform's trust store; certificates it cannot use are skipped, and an empty store
/// only means that no upstream certificate will verify (reported at handshake time, as Go
/// does).
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        cairn_core::warning!(
            "forward",
            "no system CA certificates found; give the CA file to `tls` to verify DoT upstreams"
        );
    }
    roots
}

/// The name an upstream's certificate must carry: the configured server name, else its IP.
pub fn server_name(configured: Option<&str>, ip: IpAddr) -> Result<ServerName<'static>, String> {
    match configured {
        Some(name) => ServerName::try_from(name.to_string())
            .map_err(|_| format!("invalid TLS server name '{name}'")),
        None => Ok(ServerName::IpAddress(ip.into())),
    }
}
