//! The reconcile error: one variant per step, each classified once ([`Error::class`]) and
//! labelled with a bounded category ([`Error::category`]) for metrics and Events.
//!
//! Display texts end up in the `Stalled` condition and in logs, so they carry only what
//! the sources carry: AWS error codes and messages, ids and ARNs, never secret values.

use kube::runtime::finalizer;

use crate::api::ComponentName;
use crate::api::ConditionReason;
use crate::aws::{AwsError, ErrorClass};
use crate::plan::PlanError;

/// A component step that failed, with the component it belongs to.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ComponentError {
    /// An AWS call failed (or the operator found a terminal problem in AWS).
    #[error("{component}: {source}")]
    Aws {
        component: ComponentName,
        #[source]
        source: AwsError,
    },
    /// The spec asks for something impossible for this component (terminal).
    #[error("{component}: {message}")]
    Invalid { component: ComponentName, message: String },
    /// A Kubernetes Secret the spec refers to is missing or lacks the key (terminal,
    /// reason `SecretReferenceMissing`), or could not be read (recoverable).
    #[error("{component}: {message}")]
    SecretReference { component: ComponentName, message: String, class: ErrorClass },
}

impl ComponentError {
    pub fn component(&self) -> ComponentName {
        match self {
            ComponentError::Aws { component, .. }
            | ComponentError::Invalid { component, .. }
            | ComponentError::SecretReference { component, .. } => *component,
        }
    }

    /// Recoverable errors retry with backoff; terminal ones stall the environment.
    pub fn class(&self) -> ErrorClass {
        match self {
            ComponentError::Aws { source, .. } => source.class,
            ComponentError::Invalid { .. } => ErrorClass::Terminal,
            ComponentError::SecretReference { class, .. } => *class,
        }
    }

    /// The message without the component prefix (for the component's own entry).
    pub fn detail(&self) -> String {
        match self {
            ComponentError::Aws { source, .. } => source.to_string(),
            ComponentError::Invalid { message, .. }
            | ComponentError::SecretReference { message, .. } => message.clone(),
        }
    }
}

/// Maps an AWS error of `component`.
pub fn aws_err(component: ComponentName) -> impl Fn(AwsError) -> ComponentError {
    move |source| ComponentError::Aws { component, source }
}

/// Maps a plan error of `component` (an invalid spec).
pub fn invalid(component: ComponentName) -> impl Fn(PlanError) -> ComponentError {
    move |e| ComponentError::Invalid { component, message: e.to_string() }
}

/// A terminal problem found in AWS by the operator itself (a name someone else holds, a
/// resource in a state the operator cannot fix).
pub fn refused(
    component: ComponentName,
    service: &'static str,
    operation: &'static str,
    code: &str,
    message: impl Into<String>,
) -> ComponentError {
    ComponentError::Aws { component, source: AwsError::terminal(service, operation, code, message) }
}

/// A reconcile step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The AWS clients for the environment's region or role could not be built.
    #[error("failed to prepare AWS access for region {region}: {source}")]
    Aws {
        region: String,
        #[source]
        source: AwsError,
    },

    /// A component step (observe, apply or delete) failed.
    #[error("{source}")]
    Component {
        #[source]
        source: ComponentError,
    },

    /// A Kubernetes API call other than the status write failed.
    #[error("failed to {action}: {source}")]
    Kube {
        action: &'static str,
        #[source]
        source: kube::Error,
    },

    /// The object lacks metadata every stored object has (namespace, name, UID).
    #[error("object has no metadata.{0}")]
    MissingMetadata(&'static str),

    /// Writing `.status` failed.
    #[error("failed to write status: {source}")]
    Status {
        #[source]
        source: kube::Error,
    },

    /// The tenancy policy does not allow what the spec asks for (terminal until the spec
    /// or the operator's policy changes).
    #[error("not permitted by the operator's tenancy policy: {0}")]
    NotPermitted(#[source] crate::tenancy::Denied),

    /// Adding or removing the finalizer failed (or the step inside it, see
    /// [`Error::root`]).
    #[error("{0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

impl Error {
    /// The error that actually happened: finalizer Apply/Cleanup failures unwrapped.
    pub fn root(&self) -> &Error {
        match self {
            Error::Finalizer(inner) => match inner.as_ref() {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e.root(),
                _ => self,
            },
            other => other,
        }
    }

    /// Retry with backoff, or stall until the spec (or the account) changes.
    pub fn class(&self) -> ErrorClass {
        match self.root() {
            Error::Aws { source, .. } => source.class,
            Error::Component { source } => source.class(),
            // The Kubernetes API failing is about the cluster, not the object: it heals
            // (or a human fixes RBAC) without the spec changing, so keep retrying.
            Error::Kube { .. } | Error::Status { .. } => ErrorClass::Recoverable,
            Error::MissingMetadata(_) | Error::NotPermitted(_) => ErrorClass::Terminal,
            Error::Finalizer(inner) => match inner.as_ref() {
                finalizer::Error::AddFinalizer(_) | finalizer::Error::RemoveFinalizer(_) => {
                    ErrorClass::Recoverable
                }
                // Apply/Cleanup failures were unwrapped by `root`; what is left is a
                // malformed object.
                _ => ErrorClass::Terminal,
            },
        }
    }

    /// Bounded label for metrics and Events (a static set, never the error text).
    pub fn category(&self) -> &'static str {
        match self.root() {
            Error::Aws { .. } => "aws_access",
            Error::Component { source } => match source {
                ComponentError::Aws { .. } => "aws_call",
                ComponentError::Invalid { .. } => "invalid_spec",
                ComponentError::SecretReference { .. } => "secret_reference",
            },
            Error::Kube { .. } => "kube_api",
            Error::MissingMetadata(_) => "invalid_object",
            Error::Status { .. } => "status_write",
            Error::NotPermitted(_) => "not_permitted",
            Error::Finalizer(_) => "finalizer",
        }
    }

    /// Condition reason that describes this error on `Ready`/`Stalled`/`Reconciling`.
    pub fn reason(&self) -> ConditionReason {
        if self.class() == ErrorClass::Recoverable {
            return ConditionReason::RetryingAfterError;
        }
        match self.root() {
            Error::Component { source: ComponentError::SecretReference { .. } } => {
                ConditionReason::SecretReferenceMissing
            }
            Error::NotPermitted(_) => ConditionReason::NotPermitted,
            Error::Component { source: ComponentError::Invalid { .. } }
            | Error::MissingMetadata(_)
            | Error::Finalizer(_) => ConditionReason::InvalidSpec,
            _ => ConditionReason::AwsRejected,
        }
    }

    /// The component the error belongs to, when there is one.
    pub fn component(&self) -> Option<crate::api::ComponentName> {
        match self.root() {
            Error::Component { source } => Some(source.component()),
            _ => None,
        }
    }

    /// Text for conditions and Events: the root cause, without the finalizer's
    /// "failed to apply object" wrapper.
    pub fn message(&self) -> String {
        self.root().to_string()
    }

    /// Text for the failed component's own entry, without the component-name prefix.
    pub fn component_message(&self) -> Option<String> {
        match self.root() {
            Error::Component { source } => Some(source.detail()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ComponentName;

    fn aws(class: ErrorClass) -> AwsError {
        AwsError {
            service: "s3",
            operation: "CreateBucket",
            code: "SomeCode".into(),
            message: "something".into(),
            class,
            not_found: false,
        }
    }

    fn component(class: ErrorClass) -> Error {
        Error::Component {
            source: ComponentError::Aws {
                component: ComponentName::FileStorage,
                source: aws(class),
            },
        }
    }

    fn kube_error() -> kube::Error {
        kube::Error::Api(kube::core::Status::failure("conflict", "Conflict").with_code(409).boxed())
    }

    #[test]
    fn aws_errors_keep_their_class() {
        assert_eq!(component(ErrorClass::Recoverable).class(), ErrorClass::Recoverable);
        assert_eq!(component(ErrorClass::Terminal).class(), ErrorClass::Terminal);
        assert_eq!(component(ErrorClass::Terminal).category(), "aws_call");
        assert_eq!(component(ErrorClass::Terminal).reason(), ConditionReason::AwsRejected);
        assert_eq!(
            component(ErrorClass::Recoverable).reason(),
            ConditionReason::RetryingAfterError
        );
        assert_eq!(component(ErrorClass::Terminal).component(), Some(ComponentName::FileStorage));
        let access = Error::Aws { region: "eu-west-1".into(), source: aws(ErrorClass::Terminal) };
        assert_eq!((access.class(), access.category()), (ErrorClass::Terminal, "aws_access"));
        assert_eq!(access.component(), None);
    }

    #[test]
    fn invalid_spec_is_terminal() {
        let err = Error::Component {
            source: ComponentError::Invalid {
                component: ComponentName::EncryptionKey,
                message: "bad".into(),
            },
        };
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert_eq!(err.reason(), ConditionReason::InvalidSpec);
        assert_eq!(err.category(), "invalid_spec");
    }

    #[test]
    fn a_missing_secret_reference_has_its_own_reason() {
        let err = Error::Component {
            source: ComponentError::SecretReference {
                component: ComponentName::Secrets,
                message: "spec.cron.secretRef: Secret ns/x does not exist".into(),
                class: ErrorClass::Terminal,
            },
        };
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert_eq!(err.reason(), ConditionReason::SecretReferenceMissing);
        assert_eq!(err.category(), "secret_reference");
        assert_eq!(
            err.component_message().as_deref(),
            Some("spec.cron.secretRef: Secret ns/x does not exist")
        );
        let transient = Error::Component {
            source: ComponentError::SecretReference {
                component: ComponentName::Secrets,
                message: "timeout".into(),
                class: ErrorClass::Recoverable,
            },
        };
        assert_eq!(transient.reason(), ConditionReason::RetryingAfterError);
    }

    #[test]
    fn a_tenancy_refusal_is_terminal_with_its_own_reason() {
        let err = Error::NotPermitted(crate::tenancy::Denied {
            field: "spec.aws.roleArn",
            message: "role x is not allowed".into(),
        });
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert_eq!(err.reason(), ConditionReason::NotPermitted);
        assert_eq!(err.category(), "not_permitted");
        assert_eq!(
            err.message(),
            "not permitted by the operator's tenancy policy: spec.aws.roleArn: role x is not allowed"
        );
    }

    #[test]
    fn kubernetes_failures_are_retried() {
        let status = Error::Status { source: kube_error() };
        assert_eq!((status.class(), status.category()), (ErrorClass::Recoverable, "status_write"));
        let add = Error::Finalizer(Box::new(finalizer::Error::AddFinalizer(kube_error())));
        assert_eq!((add.class(), add.category()), (ErrorClass::Recoverable, "finalizer"));
    }

    #[test]
    fn finalizer_failures_flatten_to_the_inner_error() {
        let wrapped = Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(component(
            ErrorClass::Terminal,
        ))));
        assert_eq!(wrapped.class(), ErrorClass::Terminal);
        assert_eq!(wrapped.category(), "aws_call");
        assert_eq!(wrapped.component(), Some(ComponentName::FileStorage));
        assert!(wrapped.to_string().starts_with("failed to apply object: "));
        assert_eq!(wrapped.message(), "fileStorage: s3.CreateBucket failed (SomeCode): something");
        assert_eq!(
            wrapped.component_message().as_deref(),
            Some("s3.CreateBucket failed (SomeCode): something")
        );
        let cleanup = Error::Finalizer(Box::new(finalizer::Error::CleanupFailed(component(
            ErrorClass::Recoverable,
        ))));
        assert_eq!(cleanup.class(), ErrorClass::Recoverable);
        assert!(cleanup.to_string().contains("CreateBucket"), "{cleanup}");
        let unnamed = Error::Finalizer(Box::new(finalizer::Error::UnnamedObject));
        assert_eq!(unnamed.class(), ErrorClass::Terminal);
    }
}
