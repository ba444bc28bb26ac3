//! The only code that talks to AWS, organised by AWS service (CAPA's `services/<svc>`):
//! each module observes, creates, updates and deletes the resources of one service, and
//! the service registry (`services`) gives every service its client, call budget and
//! error table. Compositions that span services for one component stay small: `network`
//! (the stack over CloudFormation).
//!
//! The registry below has one entry per AWS service the operator calls (see
//! `services.rs`): adding a service is its module and its entry here, and its crate in
//! `operator/Cargo.toml`.
//!
//! Every call goes through [`AwsCtx::call`] (or `find`, `delete`, `tolerate`, `pages`),
//! which checks the leadership fence, waits for the service's budget, sends and
//! classifies; every attempt of every client passes the fence again (`fencing`). Desired states implement
//! [`resource::Resource`] so the reconcile layer's converge loop can drive them.

pub mod acm;
pub mod apprunner;
pub mod autoscaling;
pub mod budget;
pub mod clients;
pub mod cloudformation;
pub mod codebuild;
pub mod ecr;
pub mod ecs;
pub mod ecs_express;
pub mod elbv2;
pub mod email;
pub mod error;
pub mod events;
pub mod fencing;
pub mod guardduty;
pub mod iam;
pub mod instrument;
pub mod kms;
pub mod logs;
pub mod network;
pub mod rds;
pub mod resource;
pub mod route53;
pub mod s3;
pub mod secrets;
pub mod services;
pub mod waf;

pub use clients::{AwsCtx, AwsFactory, AwsRetryMode, AwsSettings, DEFAULT_PERMISSIONS_BOUNDARY};
pub use error::{AwsError, ErrorClass};
pub use instrument::{AwsCallMetrics, CallCounts, CallResult};

use std::time::Duration;

/// Result of one apply or delete step: done, or waiting on AWS (a typed requeue, not an
/// error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    InProgress { requeue_after: Duration, reason: String },
}

services::aws_services! {
    Kms => kms: aws_sdk_kms, "kms" {
        terminal: [
            "InvalidAliasNameException", "InvalidArnException", "TagException",
            "UnsupportedOperationException", "CustomKeyStoreInvalidStateException",
            "IncorrectKeyException",
        ];
        not_found: [];
    }
    S3 => s3: aws_sdk_s3, "s3", path_style = true {
        terminal: [
            "BucketAlreadyExists", "InvalidBucketName", "TooManyBuckets", "InvalidTag",
            "InvalidLocationConstraint", "IllegalLocationConstraintException",
            "InvalidBucketState", "KMS.NotFoundException", "KMS.DisabledException",
        ];
        not_found: [];
    }
    Sts => sts: aws_sdk_sts, "sts" {
        terminal: ["RegionDisabledException", "PackedPolicyTooLarge"];
        not_found: [];
    }
    Iam => iam: aws_sdk_iam, "iam" {
        terminal: ["InvalidInput", "MalformedPolicyDocument", "LimitExceeded", "PolicyNotAttachable"];
        not_found: ["NoSuchEntity", "NoSuchEntityException"];
    }
    Route53 => route53: aws_sdk_route53, "route53" {
        terminal: [
            "InvalidInput", "InvalidChangeBatch", "InvalidDomainName", "TooManyHostedZones",
            "DelegationSetNotAvailable",
        ];
        not_found: ["NoSuchHostedZone", "NoSuchChange"];
        refine: route53::refine;
    }
    // ResourceInUseException (a listener still uses the certificate) is left to retry.
    Acm => acm: aws_sdk_acm, "acm" {
        terminal: [
            "InvalidDomainValidationOptionsException", "InvalidTagException",
            "TooManyTagsException", "TagPolicyException", "LimitExceededException",
            "InvalidArnException",
        ];
        not_found: ["ResourceNotFoundException"];
    }
    SecretsManager => secretsmanager: aws_sdk_secretsmanager, "secretsmanager" {
        terminal: ["InvalidParameterException", "MalformedPolicyDocumentException", "PreconditionNotMetException"];
        not_found: ["ResourceNotFoundException"];
    }
    Ses => ses: aws_sdk_ses, "ses" {
        terminal: [
            "InvalidParameterValue", "InvalidConfigurationSet", "InvalidSNSDestination",
            "InvalidParameter", "InvalidSecurity",
        ];
        not_found: [
            "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException",
            "EventDestinationDoesNotExist", "ResourceNotFound", "ResourceNotFoundException",
        ];
    }
    Sns => sns: aws_sdk_sns, "sns" {
        terminal: ["InvalidParameter", "AuthorizationError", "TagPolicy", "InvalidSecurity"];
        not_found: ["ResourceNotFound", "ResourceNotFoundException"];
    }
    CloudFormation => cloudformation: aws_sdk_cloudformation, "cloudformation" {
        terminal: ["InsufficientCapabilitiesException"];
        not_found: [];
        refine: cloudformation::refine;
    }
    GuardDuty => guardduty: aws_sdk_guardduty, "guardduty" {
        terminal: ["BadRequestException"];
        not_found: [];
    }
    Rds => rds: aws_sdk_rds, "rds" {
        terminal: [
            "DBClusterQuotaExceededFault", "InstanceQuotaExceeded", "StorageQuotaExceeded",
            "SnapshotQuotaExceeded", "DBParameterGroupQuotaExceeded", "DBSubnetGroupQuotaExceeded",
            "DBSubnetGroupDoesNotCoverEnoughAZs", "InvalidSubnet", "InvalidVPCNetworkStateFault",
            "KMSKeyNotAccessibleFault", "InvalidRestoreFault", "StorageTypeNotSupported",
        ];
        not_found: [
            "DBClusterNotFoundFault", "DBInstanceNotFound", "DBInstanceNotFoundFault",
            "DBSubnetGroupNotFoundFault",
            "DBParameterGroupNotFound", "DBClusterParameterGroupNotFound",
            "DBClusterSnapshotNotFoundFault",
        ];
    }
    CloudWatchLogs => logs: aws_sdk_cloudwatchlogs, "logs" {
        terminal: ["InvalidParameterException"];
        not_found: ["ResourceNotFoundException"];
    }
    CodeBuild => codebuild: aws_sdk_codebuild, "codebuild" {
        terminal: [
            "InvalidInputException", "AccountLimitExceededException",
            "AccountSuspendedException", "OAuthProviderException",
        ];
        not_found: ["ResourceNotFoundException"];
        refine: codebuild::refine;
    }
    // Deliberately few terminal codes: ECS answers IAM propagation delays ("unable to
    // assume the role") and ordering ("the target group does not have an associated load
    // balancer") with InvalidParameterException, which must be retried, not stall.
    Ecs => ecs: aws_sdk_ecs, "ecs" {
        terminal: [
            "PlatformUnknownException", "PlatformTaskDefinitionIncompatibilityException",
            "UnsupportedFeatureException",
        ];
        not_found: ["ClusterNotFoundException", "ServiceNotFoundException", "ResourceNotFoundException"];
    }
    Elbv2 => elbv2: aws_sdk_elasticloadbalancingv2, "elasticloadbalancing" {
        terminal: [
            "TooManyLoadBalancers", "TooManyTargetGroups", "TooManyListeners", "TooManyTags",
            "InvalidScheme", "SSLPolicyNotFound",
        ];
        not_found: ["LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound"];
    }
    ApplicationAutoScaling => autoscaling: aws_sdk_applicationautoscaling, "application-autoscaling" {
        terminal: ["LimitExceededException"];
        not_found: ["ObjectNotFoundException"];
    }
    AppRunner => apprunner: aws_sdk_apprunner, "apprunner" {
        terminal: ["ServiceQuotaExceededException"];
        not_found: ["ResourceNotFoundException"];
        refine: apprunner::refine;
    }
    Ecr => ecr: aws_sdk_ecr, "ecr" {
        terminal: [
            "InvalidParameterException", "InvalidTagParameterException", "TooManyTagsException",
            "KmsException", "LimitExceededException",
        ];
        not_found: [
            "RepositoryNotFoundException", "ImageNotFoundException",
            "LifecyclePolicyNotFoundException",
        ];
    }
    // WAF's optimistic-lock and "unavailable right after create" errors are retried by
    // the firewall component itself (`aws::waf`), so they are neither terminal nor
    // not-found here.
    Wafv2 => wafv2: aws_sdk_wafv2, "wafv2" {
        terminal: [
            "WAFInvalidParameterException", "WAFLimitsExceededException",
            "WAFInvalidResourceException", "WAFSubscriptionNotFoundException",
            "WAFExpiredManagedRuleGroupVersionException",
            "WAFInvalidOperationException", "WAFConfigurationWarningException",
        ];
        not_found: ["WAFNonexistentItemException"];
    }
    EventBridge => events: aws_sdk_eventbridge, "events" {
        terminal: ["InvalidEventPatternException", "LimitExceededException", "ManagedRuleException"];
        not_found: ["ResourceNotFoundException"];
    }
}
