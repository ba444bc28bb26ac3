//! Walks the components in dependency order (step: reconcile; the only place that
//! sequences `plan` and `aws` calls for one pass).
//!
//! Order: Kubernetes references first (a missing one stalls the pass before any AWS
//! call), the encryption key, the network (its flow-log group is encrypted with the
//! key), file storage (its buckets are encrypted with the key), the secrets (encrypted
//! with the key), the database (in the network's isolated subnets, encrypted with the
//! key; it waits while the network has no outputs), the storage credentials (scoped to
//! the bucket), the email identity, the SMTP credentials (scoped to the identity),
//! GuardDuty (optional, never deleted), and the image (its repository, build project and
//! the build of the requested version; last, so a bad release source stalls nothing else).
//! Components that live in the VPC (database, compute, maintenance server) come after the
//! network and get its outputs as a [`NetworkOutputs`] value, never by reading AWS again.
//! Deletion runs in reverse: the network only after everything that lives in it, and the
//! key only after the buckets and the network are gone (never while a bucket is kept or
//! still being emptied). A component is `Creating`/`Updating` in the pass that wrote to it and
//! `Ready` once a pass finds it in sync without writing, so convergence is verified by a
//! quick second pass. In `ObserveOnly` mode nothing is written; drift is only reported.
//! This module holds no AWS client code and writes no status.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{ComponentName, ComponentState, Outputs, RedcapEnvironment};
use crate::aws::storage::BucketPresence;
use crate::aws::{AwsCtx, AwsError, ErrorClass, kms, storage};
use crate::plan::kms::{KeyPlan, desired_key, key_plan};
use crate::plan::naming::{account_of_arn, bucket_arn, file_bucket_name};
use crate::plan::storage::{
    DesiredBucket, ObservedBucket, bucket_changes, describe_changes, desired_storage,
};
use crate::plan::{EnvIdentity, PlanError};

use super::report::{ComponentReport, PassReport};

mod access;
mod cleanup;
mod cleanup_credentials;
mod cleanup_database;
pub mod credentials;
pub mod database;
pub mod email;
mod guardduty;
pub mod image;
mod image_cleanup;
mod network;
pub mod references;
mod secrets;
mod steps;

pub use cleanup::cleanup_components;
pub use network::NetworkStep;
pub use references::{KubeSecrets, MemorySecrets, SecretStore};

use crate::plan::network::NetworkOutputs;

/// Look again this soon after a pass that wrote, to confirm the writes stuck.
const VERIFY_AFTER_WRITE: Duration = Duration::from_secs(5);
/// Look again this soon while AWS is busy with a key.
const KEY_BUSY_REQUEUE: Duration = Duration::from_secs(15);

/// Whether a pass may write to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Create, update and correct drift.
    Apply,
    /// Observe and report only (`spec.suspend: true`).
    ObserveOnly,
}

/// A component step that failed, with the component it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// An AWS call failed.
    #[error("{component}: {source}")]
    Aws {
        component: crate::api::ComponentName,
        #[source]
        source: AwsError,
    },
    /// The spec asks for something impossible for this component (terminal).
    #[error("{component}: {message}")]
    Invalid {
        component: crate::api::ComponentName,
        message: String,
    },
    /// A Kubernetes Secret the spec refers to is missing or lacks the key (terminal,
    /// reason `SecretReferenceMissing`), or could not be read (recoverable).
    #[error("{component}: {message}")]
    SecretReference {
        component: crate::api::ComponentName,
        message: String,
        class: ErrorClass,
    },
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

fn aws_err(component: ComponentName) -> impl Fn(AwsError) -> ComponentError {
    move |source| ComponentError::Aws { component, source }
}

fn invalid(component: ComponentName) -> impl Fn(PlanError) -> ComponentError {
    move |e| ComponentError::Invalid {
        component,
        message: e.to_string(),
    }
}

fn report(
    name: ComponentName,
    state: ComponentState,
    message: impl Into<String>,
) -> ComponentReport {
    let message = message.into();
    ComponentReport {
        name,
        state,
        id: None,
        arn: None,
        message: (!message.is_empty()).then_some(message),
        wrote: false,
    }
}

/// Observes every component and, in `Apply` mode, creates/updates/corrects it.
pub async fn apply_components(
    aws: &AwsCtx,
    store: &impl SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
) -> Result<PassReport, ComponentError> {
    apply_components_at(aws, store, env, mode, Timestamp::now()).await
}

/// [`apply_components`] as if the time were `now` (rotation schedules; tests).
pub async fn apply_components_at(
    aws: &AwsCtx,
    store: &impl SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
    now: Timestamp,
) -> Result<PassReport, ComponentError> {
    let id = EnvIdentity::from_env(env).map_err(invalid(ComponentName::EncryptionKey))?;
    let mut pass = PassReport::default();

    let cron = references::resolve_cron(store, env, &id.namespace, &id.name, &id.uid, mode).await?;
    pass.runtime.cron_token = cron.token.clone();

    let (key, key_arn, key_requeue) = apply_key(aws, env, &id, mode).await?;
    if key_arn.is_some() {
        pass.outputs.kms_key_arn = key_arn.clone();
        pass.outputs.kms_key_alias = Some(
            desired_key(&id, &[])
                .map_err(invalid(ComponentName::EncryptionKey))?
                .alias,
        );
    }
    let key_for_network = network::KeyForNetwork {
        arn: key_arn.as_deref(),
        // The key's policy (CloudWatch Logs may use it) takes a moment to apply: a stack
        // written in the same pass could fail to create its encrypted log group.
        just_changed: key.wrote,
    };
    let network =
        network::apply_network(aws, env, &id, mode, key_for_network, &mut pass.outputs).await?;
    // The components that live in the VPC (image builds, database, compute, maintenance
    // server) take `network_outputs.as_ref()` and wait while it is `None`.
    let network_outputs: Option<NetworkOutputs> = network.outputs;
    let storage = apply_storage(aws, env, &id, mode, key_arn.as_deref(), &mut pass.outputs).await?;
    let secrets = secrets::apply_secrets(
        aws,
        env,
        &id,
        mode,
        key_arn.as_deref(),
        &cron,
        &mut pass.outputs,
    )
    .await?;
    // Boxed: the database step is the largest future of the walk, and an unboxed one
    // makes the whole pass too big for a thread's stack in debug builds.
    let database = Box::pin(database::apply_database(
        aws,
        env,
        &id,
        mode,
        key_arn.as_deref(),
        network_outputs.as_ref(),
        &mut pass.outputs,
    ))
    .await?;
    pass.database = database.status;
    pass.runtime.database = database.handoff;
    pass.runtime.database_cutover_pending = database.cutover_pending;
    let access =
        access::apply_access(aws, env, &id, mode, key_arn.as_deref(), now, &mut pass).await?;
    let guard_duty = guardduty::apply_guardduty(aws, env, &id, mode).await?;
    // Last: a bad release source stalls the image alone, after everything else converged.
    // Boxed: the image step is a large future, and the walk runs on worker threads
    // with the default stack size.
    let image = Box::pin(image::apply_image(
        aws,
        store,
        env,
        &id,
        mode,
        key_arn.as_deref(),
        network_outputs.as_ref(),
        &mut pass.outputs,
    ))
    .await?;

    pass.components = vec![key, network.report, storage, secrets, database.report];
    pass.components.extend(access);
    pass.components.push(guard_duty);
    pass.components.push(image.report);
    pass.image = image.status;
    pass.runtime.image = image.reference;
    let wrote = pass.components.iter().any(|c| c.wrote);
    access::runtime_handoff(&id, key_arn.as_deref(), &mut pass);
    pass.requeue_after = [
        key_requeue,
        network.requeue,
        database.requeue,
        image.requeue,
        wrote.then_some(VERIFY_AFTER_WRITE),
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(pass)
}

/// The key: observe by alias; create (or adopt an orphan) when missing; correct drift.
/// Returns the report, the key ARN when the key exists, and a requeue while AWS is busy.
async fn apply_key(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
) -> Result<(ComponentReport, Option<String>, Option<Duration>), ComponentError> {
    const C: ComponentName = ComponentName::EncryptionKey;
    let want = desired_key(id, &env.spec.aws.tags).map_err(invalid(C))?;
    let mut done = Vec::new();
    let seen = match kms::observe(aws, &want.alias).await.map_err(aws_err(C))? {
        Some(seen) => seen,
        None if mode == WriteMode::ObserveOnly => {
            return Ok((
                report(C, ComponentState::Pending, "not created yet (suspended)"),
                None,
                None,
            ));
        }
        None => {
            // A key tagged with our UID but without the alias is ours from an interrupted
            // create: adopt it rather than making a second key.
            let key_id = match kms::find_orphan(aws, &id.uid).await.map_err(aws_err(C))? {
                Some(orphan) => {
                    done.push(format!(
                        "adopted key {} left without its alias",
                        orphan.key_id
                    ));
                    orphan.key_id
                }
                None => {
                    let key_id = kms::create(aws, &want).await.map_err(aws_err(C))?;
                    done.push(format!("created key {key_id}"));
                    key_id
                }
            };
            kms::create_alias(aws, &want.alias, &key_id)
                .await
                .map_err(aws_err(C))?;
            kms::observe(aws, &key_id)
                .await
                .map_err(aws_err(C))?
                .ok_or_else(|| ComponentError::Aws {
                    component: C,
                    source: AwsError {
                        service: "kms",
                        operation: "DescribeKey",
                        code: "NotYetVisible".into(),
                        message: format!("key {key_id} is not visible yet"),
                        class: ErrorClass::Recoverable,
                    },
                })?
        }
    };
    let created = !done.is_empty();
    let mut wrote = created;
    let busy_state = if created {
        ComponentState::Creating
    } else {
        ComponentState::Updating
    };
    let (state, requeue) = match key_plan(&want, &seen, &id.uid) {
        KeyPlan::Blocked(message) => {
            let source = AwsError::terminal("kms", "DescribeKey", "KeyNotOwned", message);
            return Err(ComponentError::Aws {
                component: C,
                source,
            });
        }
        KeyPlan::Wait(reason) => {
            done.push(reason);
            (busy_state, Some(KEY_BUSY_REQUEUE))
        }
        KeyPlan::Changes(changes) if changes.is_empty() => (busy_state_if(created), None),
        KeyPlan::Changes(changes) => {
            let what = changes
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(", ");
            if mode == WriteMode::ObserveOnly {
                done.push(format!("drifted, not corrected while suspended: {what}"));
            } else {
                kms::apply(aws, &seen.key_id, &changes)
                    .await
                    .map_err(aws_err(C))?;
                wrote = true;
                if !created {
                    done.push(format!("corrected drift: {what}"));
                }
            }
            (busy_state, None)
        }
    };
    let mut r = report(C, state, done.join("; "));
    r.id = Some(seen.key_id.clone());
    r.arn = Some(seen.arn.clone());
    r.wrote = wrote;
    Ok((r, Some(seen.arn), requeue))
}

/// `Creating` in the pass that created the resource, `Ready` once a pass finds it in sync.
fn busy_state_if(created: bool) -> ComponentState {
    if created {
        ComponentState::Creating
    } else {
        ComponentState::Ready
    }
}

/// What converging one bucket did.
struct BucketOutcome {
    state: ComponentState,
    message: Option<String>,
    wrote: bool,
    exists: bool,
}

/// The buckets: the log bucket first (the file bucket's logging needs its target).
async fn apply_storage(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
    key_arn: Option<&str>,
    outputs: &mut Outputs,
) -> Result<ComponentReport, ComponentError> {
    const C: ComponentName = ComponentName::FileStorage;
    let Some(key_arn) = key_arn else {
        return Ok(report(
            C,
            ComponentState::Pending,
            "waiting for the encryption key",
        ));
    };
    let account = account_of_arn(key_arn).ok_or_else(|| ComponentError::Aws {
        component: C,
        source: AwsError::terminal(
            "kms",
            "DescribeKey",
            "UnexpectedArn",
            format!("no account id in key ARN {key_arn}"),
        ),
    })?;
    let want = desired_storage(id, &env.spec.storage, &env.spec.aws.tags, key_arn, account)
        .map_err(invalid(C))?;
    let previous = env
        .status
        .as_ref()
        .and_then(|s| s.outputs.file_bucket.as_deref());
    if let Some(previous) = previous.filter(|p| *p != want.files.name) {
        return Err(ComponentError::Invalid {
            component: C,
            message: format!(
                "spec.storage.bucketName: the file bucket is {previous} and cannot be renamed to {}",
                want.files.name
            ),
        });
    }
    let derived = want.files.name == file_bucket_name(&id.environment_id());
    let mut outcomes = Vec::new();
    if let Some(logs) = &want.logs {
        let outcome = converge_bucket(aws, logs, &id.uid, mode, true, C).await?;
        if outcome.exists {
            outputs.access_log_bucket = Some(logs.name.clone());
        }
        outcomes.push(outcome);
    }
    let files = converge_bucket(aws, &want.files, &id.uid, mode, derived, C).await?;
    if files.exists {
        outputs.file_bucket = Some(want.files.name.clone());
    }
    outcomes.push(files);

    // The component is as far as its least advanced bucket.
    let rank = |s: ComponentState| match s {
        ComponentState::Pending => 0,
        ComponentState::Creating => 1,
        ComponentState::Updating => 2,
        _ => 3,
    };
    let state = outcomes
        .iter()
        .map(|o| o.state)
        .min_by_key(|s| rank(*s))
        .unwrap_or(ComponentState::Ready);
    let message = outcomes
        .iter()
        .filter_map(|o| o.message.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let mut r = report(C, state, message);
    r.id = Some(want.files.name.clone());
    r.arn = Some(bucket_arn(id.partition(), &want.files.name));
    r.wrote = outcomes.iter().any(|o| o.wrote);
    Ok(r)
}

/// One bucket of component `C`: create when absent, refuse a name someone else holds,
/// correct drift. `adoptable`: an untagged, empty bucket under this (derived) name is
/// ours from an interrupted create and may be tagged and adopted.
async fn converge_bucket(
    aws: &AwsCtx,
    want: &DesiredBucket,
    uid: &str,
    mode: WriteMode,
    adoptable: bool,
    component: ComponentName,
) -> Result<BucketOutcome, ComponentError> {
    let name = &want.name;
    let apply = mode == WriteMode::Apply;
    let (seen, mut done) = match storage::observe(aws, name, uid)
        .await
        .map_err(aws_err(component))?
    {
        BucketPresence::Owned(seen) => (*seen, Vec::new()),
        BucketPresence::Absent if !apply => {
            let message = Some(format!("bucket {name} not created yet (suspended)"));
            return Ok(BucketOutcome {
                state: ComponentState::Pending,
                message,
                wrote: false,
                exists: false,
            });
        }
        BucketPresence::Absent => {
            storage::create(aws, name, &want.tags)
                .await
                .map_err(aws_err(component))?;
            let fresh = ObservedBucket {
                name: name.clone(),
                tags: want.tags.clone(),
                ..ObservedBucket::default()
            };
            (fresh, vec![format!("created bucket {name}")])
        }
        BucketPresence::NotOurs {
            tags: Some(tags), ..
        } if apply
            && adoptable
            && tags.is_empty()
            && storage::is_empty(aws, name)
                .await
                .map_err(aws_err(component))? =>
        {
            storage::put_tags(aws, name, &want.tags)
                .await
                .map_err(aws_err(component))?;
            let fresh = ObservedBucket {
                name: name.clone(),
                tags: want.tags.clone(),
                ..ObservedBucket::default()
            };
            (
                fresh,
                vec![format!(
                    "adopted empty untagged bucket {name} left by an interrupted create"
                )],
            )
        }
        BucketPresence::NotOurs { reason, .. } => {
            return Err(ComponentError::Aws {
                component,
                source: AwsError::terminal("s3", "HeadBucket", "BucketNameTaken", reason),
            });
        }
    };
    let created = !done.is_empty();
    let changes = bucket_changes(want, &seen);
    if !changes.is_empty() {
        let what = describe_changes(&changes);
        if apply {
            storage::apply(aws, want, &changes)
                .await
                .map_err(aws_err(component))?;
            if !created {
                done.push(format!("bucket {name}: corrected drift: {what}"));
            }
        } else {
            done.push(format!(
                "bucket {name} drifted, not corrected while suspended: {what}"
            ));
        }
    }
    let state = match (created, changes.is_empty()) {
        (true, _) => ComponentState::Creating,
        (false, true) => ComponentState::Ready,
        (false, false) => ComponentState::Updating,
    };
    let message = (!done.is_empty()).then(|| done.join("; "));
    Ok(BucketOutcome {
        state,
        message,
        wrote: apply && (created || !changes.is_empty()),
        exists: true,
    })
}
