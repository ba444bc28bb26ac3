//! TODO(foundation): http
