//! TODO(foundation): metrics
