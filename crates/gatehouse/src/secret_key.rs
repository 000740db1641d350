//! The server key that seals private signing keys and HS256 clients' secrets at rest
//! (gatehouse_core::sealing): from `GATEHOUSE_SECRET_KEY`, or a key file. For SQLite the file
//! defaults to `gatehouse.key` next to the database and is generated, mode 0600, when absent;
//! for PostgreSQL, where several instances share the database and must share the key, it is never
//! generated and must be given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatehouse_core::sealing::Sealer;
use secrecy::ExposeSecret;

use crate::config::{Config, SecretKeySource};

/// The sealer under the configured server key.
pub(crate) fn sealer(config: &Config) -> Result<Arc<Sealer>> {
    let sqlite = sqlite_path(config.database.expose());
    let path = match &config.secret_key {
        SecretKeySource::Inline(key) => {
            return Sealer::from_base64(key.expose_secret())
                .map(Arc::new)
                .map_err(|e| anyhow::anyhow!("GATEHOUSE_SECRET_KEY: {e}"));
        }
        SecretKeySource::File(path) => path.clone(),
        SecretKeySource::NextToDatabase => match &sqlite {
            Some(db) => db.with_file_name("gatehouse.key"),
            None => bail!(
                "no server key: with a PostgreSQL database set GATEHOUSE_SECRET_KEY (32 bytes, \
                 base64; e.g. `openssl rand -base64 32`) or --secret-key-file, the same for every \
                 instance"
            ),
        },
    };
    if !path.exists() {
        if sqlite.is_none() {
            bail!(
                "the server key file {} does not exist; with PostgreSQL it is not generated, \
                 since every instance must share it",
                path.display()
            );
        }
        generate(&path)?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the server key file {}", path.display()))?;
    Sealer::from_base64(&text)
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("the server key file {}: {e}", path.display()))
}

/// Writes a new random key to `path`, readable by the owner only; never overwrites. The key is
/// written in full to a private temporary file first and then linked into place, which fails if
/// `path` exists: a process starting at the same moment never reads a half-written key.
fn generate(path: &Path) -> Result<()> {
    let tmp = path.with_file_name(format!(".gatehouse.key.{}", gatehouse_core::random::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        writeln!(file, "{}", Sealer::generate_key_base64())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the server key; back it up with the database");
            Ok(())
        }
        // Another process made it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => {
            Err(err).with_context(|| format!("creating the server key file {}", path.display()))
        }
    }
}

/// The file of a `sqlite:` URL, without its query; `None` for other databases and in-memory
/// SQLite.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://gatehouse.db"),
            Some("gatehouse.db".into())
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/g.db?mode=rwc"),
            Some("/var/lib/g.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://db/auth"), None);
    }
}
