//! External user stores (issue 22): the `[[user_store]]` tables (`config.rs`), an LDAP /
//! Active Directory directory (`ldap.rs`) and an HTTP credential check (`http.rs`), each an
//! [`ExternalUserStore`] of the core, asked in the order the file lists them for users the
//! database does not hold. See docs/user-stores.md.

pub(crate) mod config;
mod http;
mod ldap;

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatehouse_core::external_users::{
    ExternalUserStore, ExternalUsers, DEFAULT_MAX_EQUALISING_WAIT,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use config::{StoreKind, UserStoreSettings};

/// Where Linux distributions keep the system's root certificates.
const ROOT_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The stores of `settings`, in order, ready for the password grant.
pub(crate) fn build(settings: &[UserStoreSettings]) -> Result<ExternalUsers> {
    let mut stores: Vec<Arc<dyn ExternalUserStore>> = Vec::new();
    for s in settings {
        let store: Arc<dyn ExternalUserStore> = match &s.kind {
            StoreKind::Ldap(ldap) => Arc::new(
                ldap::LdapStore::new(&s.name, s.migrate, s.timeout, ldap.clone())
                    .with_context(|| format!("user_store {}", s.name))?,
            ),
            StoreKind::Http(http) => Arc::new(
                http::HttpStore::new(&s.name, s.migrate, s.timeout, http.clone())
                    .with_context(|| format!("user_store {}", s.name))?,
            ),
        };
        tracing::info!(store = %s.name, migrate = s.migrate, "external user store configured");
        stores.push(store);
    }
    Ok(ExternalUsers::new(stores, DEFAULT_MAX_EQUALISING_WAIT))
}

/// The certificates TLS to a store is verified against: `ca_file`'s, else the system's.
fn tls_roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore> {
    let files: Vec<&Path> = match ca_file {
        Some(path) => vec![path],
        None => ROOT_BUNDLES
            .iter()
            .map(Path::new)
            .filter(|p| p.exists())
            .collect(),
    };
    let mut roots = rustls::RootCertStore::empty();
    for path in files {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading certificates from {}", path.display()))?
        {
            let cert = cert.with_context(|| format!("reading {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a certificate of {}", path.display()))?;
        }
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    bail!("no CA certificate found: set ca_file (or install the ca-certificates package)")
}
