//! The AWS service registry: one line per service the operator calls.
//!
//! Each line gives the SDK crate, the client's field name, the label used in metrics and
//! errors, the service's terminal error codes (on top of the common list in
//! `error.rs`) and the codes that mean "does not exist". From it come [`Service`]
//! (with its call-budget slot), the [`Clients`] of one environment, and the list of SDK
//! crates the IAM-policy coverage check reads (`operator/Cargo.toml`). Adding a service
//! is one line here and the crate in `Cargo.toml`. No AWS calls here.

use aws_types::SdkConfig;

use super::clients::AwsSettings;
use super::instrument::AwsCallMetrics;

macro_rules! aws_services {
    ($(
        $variant:ident => $field:ident: $krate:ident, $label:literal $(, path_style = $ps:literal)? {
            terminal: [$($terminal:literal),* $(,)?];
            not_found: [$($missing:literal),* $(,)?];
            $(refine: $refine:path;)?
        }
    )*) => {
        /// The AWS services the operator calls. Each has its own call budget.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Service {
            $($variant,)*
        }

        impl Service {
            /// Every service, in registry order (the budget's slots).
            pub const ALL: &[Service] = &[$(Service::$variant,)*];

            /// The label used in metrics and errors (`secretsmanager`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Service::$variant => $label,)*
                }
            }

            /// Codes of this service that retrying cannot fix.
            pub fn terminal_codes(self) -> &'static [&'static str] {
                match self {
                    $(Service::$variant => &[$($terminal),*],)*
                }
            }

            /// Codes of this service that mean "it does not exist".
            pub fn not_found_codes(self) -> &'static [&'static str] {
                match self {
                    $(Service::$variant => &[$($missing),*],)*
                }
            }

            /// Adjusts a classified error where the service's codes are ambiguous (one
            /// code for several conditions, told apart by the message).
            pub fn refine(self, e: &mut super::AwsError) {
                let _ = &e;
                match self {
                    $($(Service::$variant => $refine(e),)?)*
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }

            /// The slot of the service's call budget.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        /// One environment's AWS clients (one per service), each with the call-metrics
        /// interceptor.
        #[derive(Clone, Debug)]
        pub struct Clients {
            $(pub $field: $krate::Client,)*
        }

        impl Clients {
            pub(super) fn new(
                conf: &SdkConfig,
                settings: &AwsSettings,
                metrics: &AwsCallMetrics,
            ) -> Self {
                let _ = settings;
                Self {
                    $($field: {
                        let builder = $krate::config::Builder::from(conf)
                            .interceptor(metrics.interceptor());
                        $(let builder = builder.force_path_style($ps && settings.s3_force_path_style);)?
                        $krate::Client::from_conf(builder.build())
                    },)*
                }
            }
        }
    };
}

aws_services! {
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
        terminal: ["InvalidInput", "InvalidChangeBatch", "InvalidDomainName"];
        not_found: ["NoSuchHostedZone"];
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
        refine: super::cloudformation::refine;
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
        refine: super::codebuild::refine;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_slots_are_the_registry_order() {
        for (i, s) in Service::ALL.iter().enumerate() {
            assert_eq!(s.index(), i, "{s:?}");
        }
    }

    #[test]
    fn every_sdk_crate_of_the_manifest_is_registered() {
        // The IAM-policy coverage check reads the `aws-sdk-*` crates of operator/Cargo.toml;
        // a crate without a registry line would have no client, budget or error table.
        let manifest = include_str!("../../Cargo.toml");
        let crates: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.trim().strip_prefix("aws-sdk-"))
            .filter_map(|l| l.split('.').next())
            .collect();
        assert_eq!(crates.len(), Service::ALL.len(), "{crates:?}");
    }

    #[test]
    fn a_code_is_never_both_terminal_and_not_found() {
        for s in Service::ALL {
            for code in s.terminal_codes() {
                assert!(!s.not_found_codes().contains(code), "{s:?} {code}");
            }
        }
    }
}
