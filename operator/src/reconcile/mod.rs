//! The controller.

pub mod components;
pub mod report;
