//! Test builders.
