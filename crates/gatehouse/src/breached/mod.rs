//! The breached-password lists of the binary (NIST SP 800-63B-4 §3.1.1.2), built from the
//! password options: the common passwords built in, the operator's filter file served memory
//! mapped ([`MappedBlocklist`]), and the k-anonymity range API ([`RangeApi`], in
//! `range_api.rs`). Also `gatehouse blocklist build`, which makes the filter file.

mod range_api;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use clap::Subcommand;
use gatehouse_core::breached::filter::{self, Blocklist};
use gatehouse_core::breached::{BreachCheck, BreachSource, BreachedPasswords, CommonPasswords};
use memmap2::Mmap;
use serde_json::json;

pub(crate) use range_api::{system_roots, Breaker, RangeApi};

use crate::password_config::PasswordOptions;

/// Milliseconds the range API may take when `--breached-password-api-timeout-ms` is not given.
const DEFAULT_API_TIMEOUT_MS: u64 = 1000;

/// `gatehouse blocklist ...`
#[derive(Debug, Subcommand)]
pub(crate) enum BlocklistCommand {
    /// Build a breached-password filter file for --password-blocklist from a list of
    /// passwords (one per line) or Have I Been Pwned's SHA1HASH:COUNT download (detected per
    /// line). Prints the entries, the file's size and its false-positive rate.
    Build {
        /// The list to read (streamed; plain UTF-8 lines or HIBP's SHA-1 lines).
        input: PathBuf,
        /// The filter file to write (replaced by a rename, never rewritten in place).
        #[arg(long, short, value_name = "FILTER")]
        output: PathBuf,
    },
}

/// The breached-password lists of `opts`, cheapest first: the common passwords, the filter file
/// (if given), the range API (if given). A filter file that cannot be read or is damaged is an
/// error (the server refuses to start); an API that does not answer is not.
pub(crate) fn breach_check(opts: &PasswordOptions) -> Result<BreachCheck> {
    CommonPasswords::warm_up();
    let mut lists: Vec<Arc<dyn BreachedPasswords>> = vec![Arc::new(CommonPasswords)];
    if let Some(path) = &opts.password_blocklist {
        let list = MappedBlocklist::open(path)
            .with_context(|| format!("--password-blocklist {}", path.display()))?;
        tracing::info!(file = %path.display(), entries = list.entries, "breached-password filter loaded");
        lists.push(Arc::new(list));
    }
    if let Some(base) = &opts.breached_password_api {
        let timeout = opts
            .breached_password_api_timeout_ms
            .unwrap_or(DEFAULT_API_TIMEOUT_MS);
        if timeout == 0 {
            bail!("--breached-password-api-timeout-ms must be at least 1");
        }
        let api = RangeApi::new(base, Duration::from_millis(timeout))
            .with_context(|| format!("--breached-password-api {base}"))?;
        lists.push(Arc::new(api));
    }
    Ok(BreachCheck::new(lists))
}

/// Runs `gatehouse blocklist ...`.
pub(crate) fn run(cmd: BlocklistCommand) -> Result<()> {
    match cmd {
        BlocklistCommand::Build { input, output } => {
            let report = build_file(&input, &output)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// The operator's filter file, memory mapped (source [`BreachSource::Blocklist`]).
///
/// The file must not be changed while it is served: replace it by a rename (as
/// `blocklist build` does) and restart. Rewriting it in place can crash the server.
pub(crate) struct MappedBlocklist {
    map: Mmap,
    entries: u64,
}

impl MappedBlocklist {
    /// Maps `path` and checks its header and sizes.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).context("opening the filter file")?;
        let map = map_read_only(&file).context("memory-mapping the filter file")?;
        let entries = Blocklist::parse(&map)
            .context("reading the filter file (make it with `gatehouse blocklist build`)")?
            .entries();
        Ok(MappedBlocklist { map, entries })
    }
}

#[async_trait]
impl BreachedPasswords for MappedBlocklist {
    async fn contains(&self, password: &str) -> bool {
        // Parsing again is a few comparisons, and spares a self-referential struct; the map
        // was checked at open, so this fails only if the file was rewritten in place.
        match Blocklist::parse(&self.map) {
            Ok(list) => list.contains_password(password),
            Err(_) => false,
        }
    }

    fn source(&self) -> BreachSource {
        BreachSource::Blocklist
    }
}

/// The one use of `unsafe` in gatehouse.
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the mapping is read-only and only ever read as bytes, which `Blocklist::parse`
    // checks before use. `Mmap::map` is unsafe because another process could change or truncate
    // the file while it is mapped; the operator must not (docs/security.md), and
    // `blocklist build` replaces a file by rename, which leaves this mapping intact.
    unsafe { Mmap::map(file) }
}

/// What `blocklist build` read and wrote.
#[derive(Debug, Default, PartialEq, Eq)]
struct BuildCounts {
    passwords: u64,
    hashes: u64,
}

/// Reads `input` (streaming, line by line), writes the filter to `output` and returns the
/// report printed.
fn build_file(input: &Path, output: &Path) -> Result<serde_json::Value> {
    let file = File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let mut counts = BuildCounts::default();
    let mut keys = Vec::new();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", input.display()))?;
        if read == 0 {
            break;
        }
        if let Some(key) = line_key(&line, &mut counts) {
            keys.push(key);
        }
    }
    let bytes = filter::build(keys).context("building the filter")?;
    let entries = Blocklist::parse(&bytes)
        .context("reading back the filter")?
        .entries();
    write_replacing(output, &bytes)?;
    Ok(json!({
        "output": output.display().to_string(),
        "passwords": counts.passwords,
        "hashes": counts.hashes,
        "entries": entries,
        "bytes": bytes.len(),
        "false_positive_rate": filter::FALSE_POSITIVE_RATE,
        "false_positives": "about 1 in 65536",
    }))
}

/// The key of one input line: a `SHA1HEX:COUNT` line of Have I Been Pwned's download, or else a
/// password (the whole line, without its line ending). Empty lines are skipped.
fn line_key(line: &[u8], counts: &mut BuildCounts) -> Option<u64> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    if let Some(key) = hibp_key(line) {
        counts.hashes += 1;
        return Some(key);
    }
    counts.passwords += 1;
    Some(filter::password_key(line))
}

/// `SHA1HEX:COUNT` (40 hex digits, a colon, decimal digits) → its key.
fn hibp_key(line: &[u8]) -> Option<u64> {
    let (hash, count) = (line.get(..40)?, line.get(40..)?);
    let count = count.strip_prefix(b":")?;
    if count.is_empty() || !count.iter().all(u8::is_ascii_digit) {
        return None;
    }
    filter::hex_sha1_key(std::str::from_utf8(hash).ok()?)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so a server
/// that maps the old file keeps reading the old file.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path
        .file_name()
        .context("--output names no file")?
        .to_owned();
    name.push(".tmp");
    let temp = path.with_file_name(name);
    let mut file = File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_passwords_or_hibp_hashes() {
        let mut counts = BuildCounts::default();
        let password = filter::password_key("password");
        assert_eq!(line_key(b"password\n", &mut counts), Some(password));
        assert_eq!(line_key(b"password\r\n", &mut counts), Some(password));
        let hibp = b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n";
        assert_eq!(line_key(hibp, &mut counts), Some(password));
        assert_eq!(line_key(b"\n", &mut counts), None);
        // Not 40 hex digits and a count: a password that happens to hold a colon.
        let odd = b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:lots";
        assert_eq!(line_key(odd, &mut counts), Some(filter::password_key(odd)));
        assert_eq!(
            counts,
            BuildCounts {
                passwords: 3,
                hashes: 1
            }
        );
    }

    #[tokio::test]
    async fn a_built_file_is_served_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("list.txt");
        std::fs::write(&input, "hunter2\nTr0ub4dor&3\nhunter2\n").unwrap();
        let output = dir.path().join("list.filter");
        let report = build_file(&input, &output).unwrap();
        assert_eq!(report["entries"], 2);
        assert_eq!(report["passwords"], 3);
        let list = MappedBlocklist::open(&output).unwrap();
        assert!(list.contains("hunter2").await);
        assert!(list.contains("Tr0ub4dor&3").await);
        assert!(!list.contains("correct horse battery staple").await);
        assert_eq!(list.source(), BreachSource::Blocklist);
    }

    #[test]
    fn a_damaged_or_missing_file_is_an_error_with_context() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.filter");
        std::fs::write(&bad, "password\n123456\n").unwrap();
        let opts = PasswordOptions {
            password_blocklist: Some(bad.clone()),
            ..PasswordOptions::default()
        };
        let err = format!("{:#}", breach_check(&opts).unwrap_err());
        assert!(
            err.contains("--password-blocklist") && err.contains("bad magic"),
            "{err}"
        );
        let opts = PasswordOptions {
            password_blocklist: Some(dir.path().join("missing")),
            ..PasswordOptions::default()
        };
        assert!(breach_check(&opts).is_err());
    }

    #[test]
    fn the_lists_are_in_order_common_file_api() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("list.txt");
        std::fs::write(&input, "hunter2\n").unwrap();
        let output = dir.path().join("list.filter");
        build_file(&input, &output).unwrap();
        let opts = PasswordOptions {
            password_blocklist: Some(output),
            breached_password_api: Some("http://127.0.0.1:9".into()),
            ..PasswordOptions::default()
        };
        let check = breach_check(&opts).unwrap();
        assert_eq!(
            format!("{check:?}"),
            r#"BreachCheck { lists: ["common", "blocklist", "online"] }"#
        );
        assert_eq!(
            format!("{:?}", breach_check(&PasswordOptions::default()).unwrap()),
            r#"BreachCheck { lists: ["common"] }"#
        );
    }
}
