//! TODO(foundation): telemetry
