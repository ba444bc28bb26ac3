//! The machinery of the AWS service registry, whose table (`aws_services! { ... }`) is in
//! `aws/mod.rs`, next to the service modules.
//!
//! Each entry gives the SDK crate, the client's field name, the label used in metrics and
//! errors, the service's terminal error codes (on top of the common list in `error.rs`),
//! the codes that mean "does not exist", and optionally a refinement for ambiguous codes.
//! From it come `Service` (with its call-budget slot), the `Clients` of one environment,
//! and `sdk`, the SDK crates re-exported for the tests. The IAM-policy coverage check
//! reads the crates from `operator/Cargo.toml`. No AWS calls here.

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
            pub fn refine(self, e: &mut crate::aws::AwsError) {
                let _ = &e;
                match self {
                    $($(Service::$variant => $refine(e),)?)*
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }

            /// The service whose SDK crate is `krate` (`aws_sdk_iam`).
            pub fn of_crate(krate: &str) -> Option<Service> {
                match krate {
                    $(stringify!($krate) => Some(Service::$variant),)*
                    _ => None,
                }
            }

            /// The slot of the service's call budget.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        /// One environment's AWS clients (one per service), each with the call-metrics
        /// interceptor and the leadership fence.
        #[derive(Clone, Debug)]
        pub struct Clients {
            $(pub $field: $krate::Client,)*
        }

        impl Clients {
            pub(crate) fn new(
                conf: &aws_types::SdkConfig,
                settings: &crate::aws::AwsSettings,
                metrics: &crate::aws::AwsCallMetrics,
                fence: &crate::leader::Fence,
            ) -> Self {
                let _ = settings;
                Self {
                    $($field: {
                        // The metrics interceptor first: a refused attempt is counted too.
                        let builder = $krate::config::Builder::from(conf)
                            .interceptor(metrics.interceptor())
                            .interceptor(crate::aws::fencing::FenceInterceptor::new(fence.clone()));
                        $(let builder = builder.force_path_style($ps && settings.s3_force_path_style);)?
                        $krate::Client::from_conf(builder.build())
                    },)*
                }
            }
        }

        /// The SDK crates, for code that builds requests the operator does not (tests).
        pub mod sdk {
            $(pub use $krate;)*
        }
    };
}

pub(crate) use aws_services;

#[cfg(test)]
mod tests {
    use crate::aws::Service;

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
