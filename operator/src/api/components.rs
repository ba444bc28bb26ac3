//! The component table: the one place that says which components an environment has,
//! in which order, what each holds, and whether this operator version acts on it yet.
//!
//! Everything else derives from it: [`ComponentName`] (status, tags, logs), the
//! `<Component>Ready` condition types, the Event reasons, the walk-order test of
//! `reconcile::walk`, the cleanup rules (what lives in the network, what is encrypted
//! with the key) and the generated `docs/components.md`. Adding a component is one entry
//! here (see docs/contributing/adding-a-component.md). No I/O.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether this operator version acts on a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maturity {
    /// Reconciled: created, corrected and deleted by the operator.
    Built,
    /// Its spec section is validated, but the operator does not act on it yet: status
    /// lists it as `Planned` and `Ready` names it as not managed.
    Planned,
}

/// What the table says about one component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentInfo {
    pub name: ComponentName,
    /// The spec section that configures it (`spec.database`).
    pub section: &'static str,
    pub maturity: Maturity,
    /// It keeps data users care about, so `deletionPolicy` decides its fate.
    pub holds_data: bool,
    /// Its resources sit in the VPC: the network is deleted only after it is gone, and
    /// kept while it is kept.
    pub lives_in_network: bool,
    /// Its resources are encrypted with the environment's key: the key is deleted only
    /// after it is gone.
    pub uses_key: bool,
    /// The AWS resources it owns, for people (docs/components.md).
    pub resources: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
}

macro_rules! components {
    ($(
        $variant:ident {
            name: $name:literal,
            section: $section:literal,
            maturity: $maturity:ident,
            holds_data: $holds:literal,
            lives_in_network: $net:literal,
            uses_key: $key:literal,
            resources: $resources:literal,
            summary: $summary:literal $(,)?
        }
    ),* $(,)?) => {
        /// The components of an environment, in dependency order (creation order;
        /// deletion runs in reverse). The same noun is used in `plan/`, `aws/`,
        /// `status.components[].name`, the `<Component>Ready` condition and the
        /// `redcap.dev/component` tag.
        #[derive(
            Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            JsonSchema,
        )]
        #[serde(rename_all = "camelCase")]
        pub enum ComponentName {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        /// Every component's entry, in dependency order.
        pub const COMPONENTS: &[ComponentInfo] = &[
            $(ComponentInfo {
                name: ComponentName::$variant,
                section: $section,
                maturity: Maturity::$maturity,
                holds_data: $holds,
                lives_in_network: $net,
                uses_key: $key,
                resources: $resources,
                summary: $summary,
            },)*
        ];

        impl ComponentName {
            /// Name as written in status and tags (`encryptionKey`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ComponentName::$variant => $name,)*
                }
            }

            /// Condition type for this component (`EncryptionKeyReady`).
            pub fn condition_type(self) -> &'static str {
                match self {
                    $(ComponentName::$variant => concat!(stringify!($variant), "Ready"),)*
                }
            }

            /// The PascalCase noun that prefixes its Events (`FileStorageReady`).
            pub fn event_prefix(self) -> &'static str {
                match self {
                    $(ComponentName::$variant => stringify!($variant),)*
                }
            }
        }
    };
}

components! {
    EncryptionKey {
        name: "encryptionKey",
        section: "spec.aws",
        maturity: Built,
        holds_data: true,
        lives_in_network: false,
        uses_key: false,
        resources: "KMS customer-managed key (rotation on) and its alias",
        summary: "Customer-managed KMS key (with rotation) and its alias.",
    },
    Network {
        name: "network",
        section: "spec.network",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: true,
        resources: "CloudFormation stack: VPC, public/private/isolated subnets, internet and NAT gateways, route tables, S3 and Secrets Manager endpoints, flow logs, security groups",
        summary: "The VPC, subnets, NAT and internet gateways, endpoints, flow logs and security groups (one CloudFormation stack).",
    },
    FileStorage {
        name: "fileStorage",
        section: "spec.storage",
        maturity: Built,
        holds_data: true,
        lives_in_network: false,
        uses_key: true,
        resources: "S3 file bucket and its access-log bucket",
        summary: "The REDCap file bucket and its server-access-log bucket.",
    },
    Secrets {
        name: "secrets",
        section: "spec.cron.secretRef",
        maturity: Built,
        holds_data: true,
        lives_in_network: false,
        uses_key: false,
        resources: "Secrets Manager salt secret; the cron Kubernetes Secret",
        summary: "The database salt (Secrets Manager) and the shared secret of `cron.php` (a Kubernetes Secret).",
    },
    Database {
        name: "database",
        section: "spec.database",
        maturity: Built,
        holds_data: true,
        lives_in_network: true,
        uses_key: false,
        resources: "Aurora Serverless v2 MySQL cluster and instances, DB subnet group, cluster parameter group, snapshots, log groups",
        summary: "The Aurora Serverless v2 MySQL cluster, its instances, subnet group, parameter group, snapshots and restores.",
    },
    StorageCredentials {
        name: "storageCredentials",
        section: "spec.storage.accessKeyRotationDays",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "IAM user with the file-bucket policy; its access key in Secrets Manager",
        summary: "The IAM user REDCap uses for the file bucket, its access key in Secrets Manager, and the key's rotation.",
    },
    Domain {
        name: "domain",
        section: "spec.domain",
        maturity: Built,
        holds_data: true,
        lives_in_network: false,
        uses_key: false,
        resources: "Route 53 hosted zone and its delegation (NS records in the parent zone), ACM certificate and its validation records",
        summary: "The site's hosted zone, its delegation and its certificate (before `email`, whose records go into the zone, and before `compute`, whose listener uses the certificate).",
    },
    Email {
        name: "email",
        section: "spec.email",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "SES identity (DKIM, MAIL FROM) and DNS records, configuration set, SNS topic and subscription",
        summary: "The Amazon SES identity (DKIM, MAIL FROM, DNS records), its configuration set and the SNS topic for bounces and complaints.",
    },
    SmtpCredentials {
        name: "smtpCredentials",
        section: "spec.email.credentialRotationDays",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "IAM user allowed to send from the identity; SMTP credentials in Secrets Manager",
        summary: "The IAM user allowed to send from the SES identity, its SMTP credentials in Secrets Manager, and their rotation.",
    },
    GuardDuty {
        name: "guardDuty",
        section: "spec.guardDuty",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "the region's GuardDuty detector and protection plans (adopted, never deleted)",
        summary: "The region's Amazon GuardDuty detector (`spec.guardDuty`; adopted when one exists, never deleted).",
    },
    Image {
        name: "image",
        section: "spec.redcap",
        maturity: Built,
        holds_data: false,
        lives_in_network: true,
        uses_key: true,
        resources: "ECR repository, CodeBuild project, build role, build bucket, build log group, the image build",
        summary: "The REDCap image: its private ECR repository, the CodeBuild project that builds it (with its role, log group and build bucket), and the build of the requested version (`status.image`).",
    },
    Compute {
        name: "compute",
        section: "spec.compute",
        maturity: Built,
        holds_data: false,
        lives_in_network: true,
        uses_key: true,
        resources: "ECS cluster, task definition, service, load balancer and autoscaling (EcsFargate); ECS Express service (EcsExpress); App Runner service (AppRunner); task roles, log group",
        summary: "The service that runs REDCap (ECS Fargate behind the operator's load balancer, ECS Express, or App Runner) and its roles and logs.",
    },
    SiteRecords {
        name: "siteRecords",
        section: "spec.domain",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "the site's alias record to what serves REDCap, App Runner's custom domain association and its validation records",
        summary: "The site's DNS name pointed at the compute kind that serves (after `compute`, whose load balancer or service it names); `status.outputs.url` becomes `https://<domain>` once it resolves there.",
    },
    Firewall {
        name: "firewall",
        section: "spec.firewall",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "WAF web ACL, IP sets, and its association with what serves REDCap",
        summary: "The WAF web ACL in front of REDCap.",
    },
    Cron {
        name: "cron",
        section: "spec.cron",
        maturity: Built,
        holds_data: false,
        lives_in_network: false,
        uses_key: false,
        resources: "EventBridge connection, API destination, rule and target that call cron.php, and the role EventBridge calls with",
        summary: "The schedule that calls REDCap's `cron.php`.",
    },
    MaintenanceServer {
        name: "maintenanceServer",
        section: "spec.maintenanceServer",
        maturity: Planned,
        holds_data: false,
        lives_in_network: true,
        uses_key: true,
        resources: "CloudFormation stack: an SSM-managed instance running the deployed image",
        summary: "The temporary maintenance server reachable through SSM port forwarding.",
    },
}

impl ComponentName {
    /// Every component in dependency order.
    pub fn all() -> impl DoubleEndedIterator<Item = ComponentName> + Clone {
        COMPONENTS.iter().map(|c| c.name)
    }

    /// The components this operator version reconciles, in dependency order.
    pub fn built() -> impl DoubleEndedIterator<Item = ComponentName> + Clone {
        COMPONENTS.iter().filter(|c| c.maturity == Maturity::Built).map(|c| c.name)
    }

    /// The components whose spec section is validated but not acted on yet.
    pub fn planned() -> impl DoubleEndedIterator<Item = ComponentName> + Clone {
        COMPONENTS.iter().filter(|c| c.maturity == Maturity::Planned).map(|c| c.name)
    }

    /// This component's table entry.
    pub fn info(self) -> &'static ComponentInfo {
        COMPONENTS.iter().find(|c| c.name == self).unwrap_or(&COMPONENTS[0])
    }
}

impl std::fmt::Display for ComponentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `docs/components.md`, generated from the table (drift-checked by a unit test).
pub fn components_markdown() -> String {
    let mut out = String::from(
        "# Components\n\n\
         <!-- Generated from operator/src/api/components.rs (UPDATE_GOLDEN=1 cargo test -p redcap-operator --lib components); do not edit. -->\n\n\
         An environment is made of these components, created in this order and deleted in \
         reverse. Each has an entry in `status.components` and a `<Component>Ready` \
         condition. *Planned* components have a validated spec section that this operator \
         version does not act on yet: status lists them as `Planned` and the `Ready` \
         condition names them.\n\n\
         | Component | Spec | State | Holds data | In the VPC | AWS resources |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    let yes = |b: bool| if b { "yes" } else { "" };
    for c in COMPONENTS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} | {} |\n",
            c.name.as_str(),
            c.section,
            match c.maturity {
                Maturity::Built => "built",
                Maturity::Planned => "planned",
            },
            yes(c.holds_data),
            yes(c.lives_in_network),
            c.resources,
        ));
    }
    out.push_str(
        "\n*Holds data*: `spec.deletionPolicy` decides what happens to it when the \
         environment is deleted (see [operations](operations.md#delete-an-environment)). \
         *In the VPC*: the network is deleted only after it, and kept while it is kept.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in COMPONENTS {
            let json = serde_json::to_value(c.name).expect("serialize");
            assert_eq!(json, c.name.as_str(), "{:?}", c.name);
            assert!(seen.insert(c.name.as_str()), "{} twice", c.name);
            assert_eq!(c.name.condition_type(), format!("{}Ready", c.name.event_prefix()));
            assert!(c.section.starts_with("spec."), "{}", c.section);
        }
    }

    #[test]
    fn the_table_is_in_declaration_order() {
        let order: Vec<ComponentName> = ComponentName::all().collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "COMPONENTS follows the enum's order");
    }

    #[test]
    fn the_generated_page_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/components.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(path, components_markdown()).expect("write docs/components.md");
            return;
        }
        assert_eq!(
            on_disk,
            components_markdown(),
            "docs/components.md is stale; regenerate with\n    UPDATE_GOLDEN=1 cargo test -p redcap-operator --lib components"
        );
    }
}
