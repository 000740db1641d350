//! Logging through `tracing` to standard error: human-readable lines by default, one JSON
//! object per line with `--log-format json`. The filter comes from `--log-level`, else
//! `RUST_LOG`, else `info`, under a fixed ceiling for dependencies (see [`ceiling`]).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines look.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Lines for people: time, level, the request span (request_id, method, path), message.
    #[default]
    Human,
    /// One JSON object per line; the request span's fields are under "span".
    Json,
}

/// Installs the global subscriber. Does nothing when one is installed already.
pub(crate) fn init(level: Option<&str>, format: LogFormat) {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match format {
        LogFormat::Human => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    // Global filters, not per-layer ones (`fmt.with_filter(..)`): with per-layer filters, a
    // `tracing::enabled!` check that sqlx makes on PostgreSQL connections left the filter state
    // dirty, and later events on that thread were silently dropped.
    let _ = tracing_subscriber::registry()
        .with(ceiling())
        .with(filter)
        .with(fmt)
        .try_init();
}

/// The most any dependency may log, whatever `RUST_LOG` says.
///
/// Why: `RUST_LOG=trace` is a normal debugging step, but at trace and debug level the HTTP
/// stack (hyper, h2, hyper-util) may print raw header blocks and frames, which carry
/// `Authorization: Basic …` and form bodies with passwords; rustls may print handshake
/// material; sqlx prints statements; axum prints extractor rejections that can quote input.
/// gatehouse's own code never logs a header, body, password, secret or token, and its request
/// span holds only the request id, method and path, so capping these targets at `info` keeps
/// every level free of credentials. Anything else is left to the user's filter.
fn ceiling() -> Targets {
    CAPPED_AT_INFO
        .iter()
        .fold(
            Targets::new().with_default(LevelFilter::TRACE),
            |targets, &target| targets.with_target(target, LevelFilter::INFO),
        )
        // tower_http's trace layer is ours and logs only status and latency; other parts
        // (e.g. a future body-logging layer) stay capped.
        .with_target("tower_http::trace", LevelFilter::TRACE)
}

/// The dependencies capped at `info` by [`ceiling`].
const CAPPED_AT_INFO: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "h1",
    "rustls",
    "tokio_rustls",
    "axum_server",
    "axum",
    "sqlx",
    "reqwest",
    "tower",
    "tower_http",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_that_can_print_headers_are_capped_at_info() {
        let ceiling = ceiling();
        for target in [
            "hyper::proto::h1::io",
            "h2::codec",
            "rustls::server",
            "sqlx::query",
        ] {
            assert!(
                !ceiling.would_enable(target, &tracing::Level::DEBUG),
                "{target}"
            );
            assert!(
                ceiling.would_enable(target, &tracing::Level::INFO),
                "{target}"
            );
        }
        assert!(ceiling.would_enable("gatehouse_core::password", &tracing::Level::TRACE));
        assert!(ceiling.would_enable("tower_http::trace::on_response", &tracing::Level::DEBUG));
    }
}
