//! Log setup: JSON lines in Lambda (CloudWatch), readable text on a terminal.
//!
//! What is logged is chosen at each call site: ids, routes, statuses and
//! durations; never a password, a token or a document's text. Libraries that
//! would log request headers or bodies at their debug levels (HTTP clients and
//! servers, the AWS SDK) are capped whatever `RUST_LOG` asks for.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, LogSettings};

/// Crates that log wire data (headers such as `Authorization`, bodies) below info.
const WIRE_LOGGERS: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_config",
    "lambda_runtime_api_client",
    "lambda_runtime",
    "lambda_http",
    "tower_http",
];

/// The filter `RUST_LOG` asks for (`level`, `target=level`, comma-separated),
/// with wire-level loggers held at info or above. `Targets` rather than
/// `EnvFilter`: the same syntax without span and field filters, and without
/// the regex engine `EnvFilter` links into every function.
pub fn filter(requested: &str) -> Targets {
    let mut filter: Targets = requested
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    for target in WIRE_LOGGERS {
        let requested_level = requested
            .split(',')
            .filter_map(|directive| directive.split_once('='))
            .find(|(name, _)| name.trim() == *target)
            .map(|(_, level)| level.trim().to_ascii_lowercase());
        // Only quieter levels than info are kept as asked.
        let level = match requested_level.as_deref() {
            Some("warn") => LevelFilter::WARN,
            Some("error") => LevelFilter::ERROR,
            Some("off") => LevelFilter::OFF,
            _ => LevelFilter::INFO,
        };
        filter = filter.with_target(*target, level);
    }
    filter
}

/// The most verbose level `filter` lets through anywhere.
fn most_verbose(filter: &Targets) -> LevelFilter {
    filter
        .iter()
        .map(|(_, level)| level)
        .chain(filter.default_level())
        .max()
        .unwrap_or(LevelFilter::OFF)
}

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter = filter(&settings.filter);
    // The subscriber's own ceiling is the filter's most verbose level: it
    // becomes `log`'s max level too, so a dependency's `log::trace!` in a hot
    // loop (the tokenizer's normaliser, rustls) returns at the macro instead
    // of matching targets on every call (~2% of embedding time at info).
    let builder = tracing_subscriber::fmt()
        .with_max_level(most_verbose(&filter))
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        // Lambda adds its own timestamps; the request span's id goes on every line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .finish()
            .with(filter)
            .try_init(),
        LogFormat::Text => builder.with_target(false).finish().with(filter).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_loggers_stay_at_info_whatever_is_asked() {
        let shown = filter("trace,hyper=trace").to_string();
        assert!(shown.contains("hyper=info"), "{shown}");
        assert!(shown.contains("aws_smithy_runtime=info"), "{shown}");
        assert!(filter("hyper=warn").to_string().contains("hyper=warn"));
        // A level alone is everyone's default; nonsense falls back to info.
        assert!(
            filter("debug").to_string().contains("debug"),
            "{}",
            filter("debug")
        );
        assert!(filter("=-=").to_string().contains("info"));
    }

    #[test]
    fn the_ceiling_is_the_most_verbose_level_asked_for() {
        assert_eq!(most_verbose(&filter("info")), LevelFilter::INFO);
        assert_eq!(
            most_verbose(&filter("warn,askdocs=debug")),
            LevelFilter::DEBUG
        );
        assert_eq!(most_verbose(&filter("trace")), LevelFilter::TRACE);
    }
}
