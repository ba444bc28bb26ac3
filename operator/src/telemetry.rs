//! Logging setup: `tracing` with an EnvFilter, as JSON lines or human-readable text.
//!
//! Called once from `main`. Nothing here decides what is logged; callers must never pass
//! secret values as fields (only ARNs and Secret references).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber. `filter` uses EnvFilter syntax (`info`,
/// `redcap_operator=debug,kube=info`).
pub fn init(format: LogFormat, filter: &str) -> Result<(), TelemetryError> {
    let env_filter = EnvFilter::try_new(filter)
        .map_err(|source| TelemetryError::Filter { filter: filter.to_string(), source })?;
    let registry = tracing_subscriber::registry().with(env_filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Human => registry.with(fmt::layer().with_target(false)).try_init()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_filter_is_reported_with_its_text() {
        let err = init(LogFormat::Human, "redcap_operator=notalevel").unwrap_err();
        assert!(err.to_string().contains("redcap_operator=notalevel"), "{err}");
    }
}
