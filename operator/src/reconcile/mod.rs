//! The controller.

pub mod report;
