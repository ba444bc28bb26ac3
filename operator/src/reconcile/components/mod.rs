//! The components of an environment, one module each (one directory for the large
//! ones), each implementing [`super::walk::Component`] with `apply` and `cleanup` side
//! by side, and [`WALK`], the order the walk takes them in. What they are is the
//! component table (`api::components`). No status writes here.

pub mod compute;
pub mod credentials;
pub mod cron;
pub mod database;
pub mod domain;
pub mod email;
pub mod firewall;
pub mod guardduty;
pub mod image;
pub mod key;
pub mod network;
pub mod records;
pub mod runtime;
pub mod secrets;
pub mod site_records;
pub mod storage;

pub use compute::Compute;
pub use credentials::{SmtpCredentials, StorageCredentials};
pub use cron::Cron;
pub use database::Database;
pub use domain::Domain;
pub use email::Email;
pub use firewall::Firewall;
pub use guardduty::GuardDuty;
pub use image::Image;
pub use key::EncryptionKey;
pub use network::Network;
pub use secrets::Secrets;
pub use site_records::SiteRecords;
pub use storage::FileStorage;

use super::walk::{Entry, entry};

/// The built components in dependency order: apply runs forwards, cleanup backwards.
pub const WALK: &[Entry] = &[
    entry::<EncryptionKey>(),
    entry::<Network>(),
    entry::<FileStorage>(),
    entry::<Secrets>(),
    entry::<Database>(),
    entry::<StorageCredentials>(),
    // Before email: the SES records go into the zone it creates.
    entry::<Domain>(),
    entry::<Email>(),
    entry::<SmtpCredentials>(),
    entry::<GuardDuty>(),
    // A bad release source stalls the image alone; compute keeps running the last image.
    entry::<Image>(),
    entry::<Compute>(),
    // After compute: the records name its load balancer or service.
    entry::<SiteRecords>(),
    entry::<Firewall>(),
    entry::<Cron>(),
];
