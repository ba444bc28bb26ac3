//! AWS errors, classified once at the lowest layer (step: every `aws/` call site).
//!
//! Not-found codes become `Ok(None)` in each component's `observe`; everything else is
//! an [`AwsError`] with a [`ErrorClass`]: `Recoverable` errors are retried with backoff,
//! `Terminal` ones stall the environment until the spec (or the account) changes.
//!
//! The policy is ACK's: a short list of codes is terminal (common ones here, and one list
//! per service in the registry, `services.rs`); everything else retries. A resource that
//! already exists in this account is never terminal: that is what a create whose answer
//! was lost gets on its retry, and the next pass finds and adopts it (S3's
//! `BucketAlreadyExists` is terminal because it means another account holds the name).
//! This module makes no calls.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::Service;

/// `tags` as one SDK's tag type, built with `tag` (for SDKs whose tag builder can fail,
/// a failure is a bug in the request: terminal).
pub fn sdk_tags<T, E: std::error::Error>(
    tags: &crate::plan::TagSet,
    service: &'static str,
    operation: &'static str,
    tag: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<Vec<T>, AwsError> {
    tags.iter()
        .map(|(k, v)| tag(k, v).map_err(|e| AwsError::build(service, operation, e)))
        .collect()
}

/// How the reconciler should treat an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, eventual consistency, "in progress": retry with backoff.
    Recoverable,
    /// Invalid input, quota, access denied, a name owned by someone else: needs a human.
    Terminal,
}

/// A failed AWS call, with the service and operation it came from.
///
/// `message` is AWS's error message (never a secret: the operator never sends secret
/// values in requests whose errors echo them).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{service}.{operation} failed ({code}): {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    /// AWS error code (`NoSuchBucket`, `ThrottlingException`, ...), or a transport label.
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
    /// The code means "it does not exist" (for this service).
    pub not_found: bool,
}

impl AwsError {
    pub fn is_terminal(&self) -> bool {
        self.class == ErrorClass::Terminal
    }

    /// True when the error says the resource (or the sub-resource asked for) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.not_found || NOT_FOUND_CODES.contains(&self.code.as_str())
    }

    /// A terminal error found by the operator itself (not returned by AWS), e.g. a bucket
    /// name that belongs to someone else.
    pub fn terminal(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            service,
            operation,
            code: code.to_string(),
            message: message.into(),
            class: ErrorClass::Terminal,
            not_found: false,
        }
    }

    /// A recoverable error found by the operator itself (a resource not visible yet).
    pub fn recoverable(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self { class: ErrorClass::Recoverable, ..Self::terminal(service, operation, code, message) }
    }

    /// A request the SDK refused to build (a missing required field): a bug, so terminal.
    pub fn build(
        service: &'static str,
        operation: &'static str,
        err: impl std::error::Error,
    ) -> Self {
        Self::terminal(service, operation, "BuildError", err.to_string())
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Recoverable => "recoverable",
            ErrorClass::Terminal => "terminal",
        })
    }
}

/// Codes that mean "it does not exist". `observe` turns them into `Ok(None)` (ACK's
/// `NotFound` sentinel); anywhere else they retry (eventual consistency after a create).
pub const NOT_FOUND_CODES: &[&str] = &[
    "NotFound",
    "NotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "ServerSideEncryptionConfigurationNotFoundError",
    "Http404",
];

/// Codes that retrying cannot fix, for every service. Components add their own lists.
///
/// Deliberately absent: `KMSInvalidStateException` and `DisabledException`. The key
/// states that cause them are either fixed by the operator on the next pass (pending
/// deletion is cancelled, a disabled key re-enabled) or pass by themselves (`Creating`,
/// `Updating`); the states that never pass (`PendingImport`, `Unavailable`) are rejected
/// by the plan with a clear message before any call is made.
pub const TERMINAL_CODES: &[&str] = &[
    // Credentials and permissions.
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccountProblem",
    "OptInRequired",
    // Invalid input.
    "ValidationException",
    "ValidationError",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "InvalidArgument",
    "InvalidRequest",
    "MalformedXML",
    "MalformedPolicy",
    "MalformedPolicyDocumentException",
    // Quotas.
    "LimitExceededException",
    "ServiceQuotaExceededException",
    "QuotaExceededException",
    // Errors the SDK or the operator raise themselves.
    "ConstructionFailure",
    "BuildError",
];

/// Codes that always retry, even where a component lists a broader family as terminal.
pub const RECOVERABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "OperationAborted",
    // This replica stopped leading: retried once it leads again (`leader::fence`).
    "NotLeader",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];

/// Whether a code is a throttling answer (for the throttle metric and logs).
pub fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "SlowDown"
            | "EC2ThrottledException"
    )
}

/// The classification table: explicit recoverable codes first (so a component list cannot
/// make throttling terminal), then the common and component terminal lists, then 5xx and
/// everything else retries.
pub fn class_of(code: &str, component_terminal: &[&str]) -> ErrorClass {
    if RECOVERABLE_CODES.contains(&code) {
        ErrorClass::Recoverable
    } else if TERMINAL_CODES.contains(&code) || component_terminal.contains(&code) {
        ErrorClass::Terminal
    } else {
        ErrorClass::Recoverable
    }
}

/// Longest AWS message kept; messages go to status and events, so they stay short.
const MAX_MESSAGE: usize = 300;

/// Turns an SDK error of `service` into an [`AwsError`], with the service's own terminal
/// and not-found codes.
pub fn classify<E>(
    service: Service,
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    // Refused by the leadership fence before it was sent (an SDK retry or a page after
    // the renew deadline): not a transport problem, and not AWS's answer.
    if crate::leader::fence::is_not_leader(&err) {
        return AwsError::recoverable(
            service.as_str(),
            operation,
            crate::leader::fence::NOT_LEADER_CODE,
            crate::leader::NotLeader.to_string(),
        );
    }
    let (code, message) = match &err {
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_string(), err.to_string()),
        SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
        SdkError::DispatchFailure(d) => {
            let code = if d.is_timeout() { "Timeout" } else { "DispatchFailure" };
            (code.to_string(), source_chain(&err))
        }
        SdkError::ResponseError(_) => {
            let code =
                status.map(|s| format!("Http{s}")).unwrap_or_else(|| "ResponseError".to_string());
            (code, source_chain(&err))
        }
        SdkError::ServiceError(service_err) => {
            let source = service_err.err();
            let code = source
                .code()
                .map(str::to_string)
                .or_else(|| status.map(|s| format!("Http{s}")))
                .unwrap_or_else(|| "Unknown".to_string());
            let message = source.message().map(str::to_string).unwrap_or_default();
            (code, message)
        }
        _ => ("Unknown".to_string(), source_chain(&err)),
    };
    let mut e = AwsError {
        service: service.as_str(),
        operation,
        class: class_of(&code, service.terminal_codes()),
        not_found: service.not_found_codes().contains(&code.as_str()),
        code,
        message: truncate(message),
    };
    service.refine(&mut e);
    e
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &[&str] = &["InvalidBucketName", "BucketAlreadyExists", "ThrottlingException"];

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let cases: &[(&str, ErrorClass)] = &[
            ("ThrottlingException", Recoverable),
            ("Throttling", Recoverable),
            ("RequestLimitExceeded", Recoverable),
            ("SlowDown", Recoverable),
            ("TooManyRequestsException", Recoverable),
            ("InternalError", Recoverable),
            ("ServiceUnavailable", Recoverable),
            ("KMSInternalException", Recoverable),
            ("KMSInvalidStateException", Recoverable),
            ("DisabledException", Recoverable),
            ("Timeout", Recoverable),
            ("DispatchFailure", Recoverable),
            ("Http503", Recoverable),
            ("Http500", Recoverable),
            ("OperationAborted", Recoverable),
            ("ExpiredToken", Recoverable),
            ("NotLeader", Recoverable),
            ("NoSuchBucket", Recoverable),
            ("SomethingNew", Recoverable),
            ("AccessDenied", Terminal),
            ("AccessDeniedException", Terminal),
            ("ValidationException", Terminal),
            ("InvalidArgument", Terminal),
            ("MalformedPolicy", Terminal),
            ("LimitExceededException", Terminal),
            ("ServiceQuotaExceededException", Terminal),
            ("InvalidClientTokenId", Terminal),
            ("ConstructionFailure", Terminal),
            // Component lists.
            ("InvalidBucketName", Terminal),
            ("BucketAlreadyExists", Terminal),
        ];
        for (code, want) in cases {
            assert_eq!(class_of(code, COMPONENT), *want, "code {code}");
        }
    }

    #[test]
    fn a_component_list_cannot_make_throttling_terminal() {
        assert_eq!(class_of("ThrottlingException", COMPONENT), ErrorClass::Recoverable);
    }

    #[test]
    fn component_codes_only_apply_to_their_component() {
        assert_eq!(class_of("InvalidBucketName", &[]), ErrorClass::Recoverable);
    }

    #[test]
    fn throttling_codes_are_recoverable() {
        for code in RECOVERABLE_CODES.iter().filter(|c| is_throttling_code(c)) {
            assert_eq!(class_of(code, &[]), ErrorClass::Recoverable);
        }
        assert!(is_throttling_code("SlowDown"));
        assert!(!is_throttling_code("InternalError"));
    }

    #[test]
    fn lists_do_not_overlap() {
        for code in TERMINAL_CODES {
            assert!(!RECOVERABLE_CODES.contains(code), "{code} is in both lists");
            assert!(!NOT_FOUND_CODES.contains(code), "{code} is terminal and not-found");
        }
    }

    #[test]
    fn not_found_and_constructors() {
        let e = AwsError::terminal("s3", "HeadBucket", "NoSuchBucket", "gone");
        assert!(e.is_not_found());
        assert!(e.is_terminal());
        let e = AwsError::terminal("s3", "HeadBucket", "BucketNameTaken", "x");
        assert!(!e.is_not_found());
        assert_eq!(e.to_string(), "s3.HeadBucket failed (BucketNameTaken): x");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(400);
        let cut = truncate(long);
        assert!(cut.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
