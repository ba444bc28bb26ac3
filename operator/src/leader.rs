//! TODO(foundation): leader
