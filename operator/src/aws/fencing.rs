//! The SDK interceptor that holds every attempt of every AWS call to the leadership
//! fence (`leader::Fence`), on every client the [`super::AwsFactory`] builds.
//!
//! `AwsCtx::call` checks the fence before a call; this interceptor checks it again
//! before each attempt, so an SDK retry (or a paginator's next page) that comes after
//! the renew deadline is not sent either. It runs before the request is signed, so a
//! refused attempt does not even fetch `AssumeRole` credentials. The refusal reaches the
//! caller as a dispatch failure caused by [`crate::leader::NotLeader`], which
//! `aws::error::classify` turns into the recoverable `NotLeader` code; the SDK's retry
//! classifiers do not retry it. No I/O here.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::leader::Fence;

/// Refuses an attempt while the fence is closed.
#[derive(Clone, Debug)]
pub struct FenceInterceptor {
    fence: Fence,
}

impl FenceInterceptor {
    pub fn new(fence: Fence) -> Self {
        Self { fence }
    }
}

impl Intercept for FenceInterceptor {
    fn name(&self) -> &'static str {
        "RedcapLeadershipFence"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.fence.check().map_err(BoxError::from)
    }
}
