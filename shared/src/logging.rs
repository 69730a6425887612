//! Log setup: JSON lines in Lambda (CloudWatch), readable text on a terminal.
//!
//! What is logged is chosen at each call site: ids, routes, statuses and
//! durations; never a password, a token or a document's text.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // Lambda adds its own timestamps and request ids to each line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}
