//! AWS App Runner: the service of kind `AppRunner`, its VPC connector and auto scaling
//! configuration (step: observe / create / update / delete; decisions are in
//! `plan::compute::apprunner`).

use super::AwsError;
use super::error::ErrorClass;

/// App Runner answers an account it no longer serves (closed to new customers since
/// 2026-04-30) with a plain `InvalidRequestException`; that one cannot be retried.
pub fn refine(e: &mut AwsError) {
    if e.code == "InvalidRequestException" && closed_to_new_customers(&e.message) {
        e.class = ErrorClass::Terminal;
    }
}

/// Whether App Runner's message says the account is not a customer.
pub fn closed_to_new_customers(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("new customers") || m.contains("no longer available")
}
