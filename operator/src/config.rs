//! TODO(foundation): config
