//! HTTPS with rustls (ring provider): loads the PEM certificate chain and key, and reloads both
//! on SIGHUP (`connections.rs` serves the connections). A reload swaps the configuration for
//! new handshakes only, so open connections keep their session and are not dropped.

use std::path::PathBuf;

use anyhow::{Context, Result};
use axum_server::tls_rustls::RustlsConfig;

/// The certificate chain and private key files.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub(crate) cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub(crate) key: PathBuf,
}

/// Reads the files; fails on a missing or unreadable certificate or key.
pub(crate) async fn load(files: &TlsFiles) -> Result<RustlsConfig> {
    // ring rather than aws-lc-rs: no cmake or nasm is needed to build it. Installing fails only
    // when a provider is installed already, which is then the one used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .with_context(|| {
            format!(
                "loading the TLS certificate {} and key {}",
                files.cert.display(),
                files.key.display()
            )
        })
}

/// Reloads the certificate and key on each SIGHUP, for new handshakes.
#[cfg(unix)]
pub(crate) async fn reload_on_sighup(config: RustlsConfig, files: TlsFiles) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(%err, "cannot listen for SIGHUP; certificates will not reload");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        match config.reload_from_pem_file(&files.cert, &files.key).await {
            Ok(()) => tracing::info!(cert = %files.cert.display(), "reloaded the TLS certificate"),
            // Keep serving the old certificate rather than stop: a half-written file is the
            // usual cause, and the next SIGHUP will retry.
            Err(err) => {
                tracing::error!(%err, "cannot reload the TLS certificate; keeping the old one")
            }
        }
    }
}

#[cfg(not(unix))]
pub(crate) async fn reload_on_sighup(_config: RustlsConfig, _files: TlsFiles) {}
