//! CEL tests
