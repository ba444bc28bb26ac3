//! The database component against the emulator (moto + our RDS fixes): a cluster with
//! readers, scaling and reader changes in place, parameters, log retention, an AWS minor
//! upgrade that writes nothing, a refused downgrade and an upgrade, on-demand snapshots,
//! a restore into a new cluster with its cut-over and the retired cluster's removal,
//! refused restores that touch nothing, deletion under each policy, and a restarted
//! operator adopting a cluster that is still being created.
//!
//! The walk runs component by component (`apply_at`), with the status each
//! pass produced fed back into the object as the status writer would. Needs
//! `AWS_ENDPOINT_URL` pointing at the emulator (`e2e/scripts/moto.sh start`); fails, never
//! skips, without it. Every test has its own environment UID; they run in parallel in
//! their own region so the cluster listings stay short.

use redcap_operator::aws::sdk::*;
use std::time::Duration;

use jiff::Timestamp;
use redcap_e2e::components::{self, Harness, all_ready, apply_at, cleanup_components};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::probe::{self, Limit, cluster_tag as tag, settle_until};
use redcap_operator::api::{
    ANNOTATION_DELETE_RETIRED_CLUSTERS, ANNOTATION_SNAPSHOT_REQUESTED_AT, ComponentName,
    ComponentState, DatabaseStatus, RedcapEnvironment,
};
use redcap_operator::plan::database::names::{
    ACTIVE_SINCE_TAG, ENGINE_VERSION_TAG, RETIRED_AT_TAG, base_cluster_id, final_snapshot_id,
    on_demand_snapshot_id,
};
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::PassReport;
use redcap_operator::reconcile::status::{Outcome, compute_status, now};
use serde_json::{Value, json};

const REGION: &str = "eu-central-1";

async fn harness() -> Harness {
    // The release zip the image component checks, whichever test file ran first.
    Harness::with_release(REGION, "releases").await
}

fn environment(database: Value, extra: Value) -> RedcapEnvironment {
    let spec = components::merged(json!({"database": database}), &extra);
    components::environment(REGION, "releases", Some(1), spec)
}

/// A database spec with the first test's maintenance and backup windows and no minimum
/// capacity, plus `fields`.
fn with_windows(fields: Value) -> Value {
    let windows = json!({
        "minCapacityAcu": 0,
        "preferredMaintenanceWindow": "Sun:23:45-Mon:00:15",
        "preferredBackupWindow": "03:00-03:30",
    });
    components::merged(windows, &fields)
}

fn set_database(env: &mut RedcapEnvironment, database: Value) {
    env.spec.database = serde_json::from_value(database).expect("database spec");
}

fn annotate(env: &mut RedcapEnvironment, key: &str, value: &str) {
    env.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.to_string(), value.to_string());
}

fn cluster_id(env: &RedcapEnvironment) -> String {
    base_cluster_id(&components::environment_id(env))
}

/// `status.database` as the last pass left it.
fn database_status(env: &RedcapEnvironment) -> DatabaseStatus {
    env.status.as_ref().and_then(|s| s.database.clone()).expect("status.database")
}

/// One pass; its status is written back into `env` as the status writer would.
async fn try_pass(h: &Harness, env: &mut RedcapEnvironment) -> Result<PassReport, ComponentError> {
    let pass =
        apply_at(&h.ctx, &h.store, env, WriteMode::Apply, Timestamp::now(), components::walked())
            .await?;
    let status = compute_status(env.status.as_ref(), env, Outcome::Applied(&pass), &now());
    env.status = Some(status);
    Ok(pass)
}

async fn pass(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    try_pass(h, env).await.expect("apply pass")
}

fn state(pass: &PassReport) -> ComponentState {
    components::state(pass, ComponentName::Database)
}

fn message(pass: &PassReport) -> String {
    components::message(pass, ComponentName::Database)
}

/// Asserts the database's message says `needle`.
fn assert_message(pass: &PassReport, needle: &str) {
    let message = message(pass);
    assert!(message.contains(needle), "{message}");
}

/// Passes until every component is Ready and nothing waits.
async fn settle(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    let step = async || pass(h, env).await;
    let settled = |p: &PassReport| all_ready(p) && p.requeue_after.is_none();
    settle_until(Limit::Tries(12), Duration::ZERO, step, settled)
        .await
        .unwrap_or_else(|last| panic!("did not settle: {:#?}", last.components))
}

/// One pass that must find everything Ready and make no AWS write.
async fn assert_steady(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    let (p, calls) = h.counted(pass(h, env)).await;
    components::assert_steady(&calls, &p);
    p
}

async fn cluster(h: &Harness, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    probe::cluster(&h.ctx.rds, id).await
}

/// (identifier, promotion tier, writer) of the cluster's instances, by identifier.
async fn instances(h: &Harness, id: &str) -> Vec<(String, i32, bool)> {
    let c = cluster(h, id).await.expect("cluster");
    let out = h
        .ctx
        .rds
        .describe_db_instances()
        .filters(aws_sdk_rds::types::Filter::builder().name("db-cluster-id").values(id).build())
        .send()
        .await
        .expect("instances");
    let mut v: Vec<(String, i32, bool)> = out
        .db_instances()
        .iter()
        .map(|i| {
            let name = i.db_instance_identifier().unwrap_or_default().to_string();
            let writer = c.db_cluster_members().iter().any(|m| {
                m.db_instance_identifier() == Some(&name) && m.is_cluster_writer() == Some(true)
            });
            assert_eq!(i.db_instance_class(), Some("db.serverless"));
            (name, i.promotion_tier().unwrap_or(-1), writer)
        })
        .collect();
    v.sort();
    v
}

async fn user_parameters(h: &Harness, group: &str) -> Vec<(String, String)> {
    let out = h
        .ctx
        .rds
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(group)
        .source("user")
        .send()
        .await
        .expect("parameters");
    let mut v: Vec<(String, String)> = out
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn snapshot_exists(h: &Harness, id: &str) -> bool {
    probe::cluster_snapshot_exists(&h.ctx.rds, id).await
}

/// Clusters of the region owned by this environment.
async fn owned_clusters(h: &Harness, env: &RedcapEnvironment) -> Vec<String> {
    let uid = env.metadata.uid.clone().expect("uid");
    probe::clusters_owned_by(&h.ctx.rds, &uid).await
}

fn invalid(err: ComponentError) -> String {
    match err {
        ComponentError::Invalid { component, message } => {
            assert_eq!(component, ComponentName::Database);
            message
        }
        other => panic!("expected a terminal spec error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_with_readers_then_scale_change_readers_and_parameters_in_place() {
    let h = harness().await;
    let mut env = environment(
        with_windows(json!({
            "readers": 2, "maxCapacityAcu": 4,
            "parameters": [{"name": "sort_buffer_size", "value": "2097152"}],
        })),
        json!({}),
    );
    let p = settle(&h, &mut env).await;
    let id = cluster_id(&env);
    let key = p.outputs.kms_key_arn.clone().expect("key");

    // What RDS holds matches the spec.
    let c = cluster(&h, &id).await.expect("cluster");
    assert_eq!(c.engine(), Some("aurora-mysql"));
    assert_eq!(c.engine_version(), Some("8.0.mysql_aurora.3.10.3"));
    let scaling = c.serverless_v2_scaling_configuration().expect("scaling");
    assert_eq!((scaling.min_capacity(), scaling.max_capacity()), (Some(0.0), Some(4.0)));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.kms_key_id(), Some(key.as_str()));
    assert_eq!(c.backtrack_window(), Some(86400));
    assert_eq!(c.backup_retention_period(), Some(30));
    assert_eq!(c.iam_database_authentication_enabled(), Some(true));
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(c.copy_tags_to_snapshot(), Some(true));
    assert_eq!(c.database_name(), Some("redcap"));
    assert_eq!(c.master_username(), Some("dbadmin"));
    assert_eq!(c.preferred_backup_window(), Some("03:00-03:30"));
    let mut logs: Vec<&str> =
        c.enabled_cloudwatch_logs_exports().iter().map(String::as_str).collect();
    logs.sort();
    assert_eq!(logs, ["audit", "error", "general", "slowquery"]);
    let secret = c.master_user_secret().expect("managed master password");
    assert_eq!(secret.kms_key_id(), Some(key.as_str()));
    assert_eq!(tag(&c, ENGINE_VERSION_TAG), Some("8.0.mysql_aurora.3.10.3"));
    assert!(tag(&c, ACTIVE_SINCE_TAG).is_some());
    assert_eq!(c.vpc_security_groups().len(), 1, "only the network's database group");
    assert_eq!(c.db_subnet_group(), Some(id.as_str()));
    assert_eq!(
        user_parameters(&h, &id).await,
        [
            ("max_allowed_packet".to_string(), "4194304".to_string()),
            ("sort_buffer_size".to_string(), "2097152".to_string())
        ]
    );
    assert_eq!(
        instances(&h, &id).await,
        [
            (format!("{id}-0"), 0, true),
            (format!("{id}-1"), 1, false),
            (format!("{id}-2"), 2, false)
        ]
    );

    // Outputs, status and the hand-off to compute; never a password.
    assert_eq!(p.outputs.database_endpoint.as_deref(), c.endpoint());
    assert_eq!(p.outputs.database_reader_endpoint.as_deref(), c.reader_endpoint());
    let db = database_status(&env);
    assert_eq!(db.cluster_identifier.as_deref(), Some(id.as_str()));
    assert_eq!(db.readers, Some(2));
    assert_eq!(db.engine_version.as_deref(), Some("8.0.mysql_aurora.3.10.3"));
    assert!(db.latest_restorable_time.is_some());
    let master = db.master_user_secret.expect("master secret");
    assert_eq!(Some(master.arn.as_str()), secret.secret_arn());
    assert_eq!((master.rotation_enabled, master.rotation_days), (Some(true), Some(120)));
    assert!(p.outputs.secrets.iter().any(|s| s.name == "databaseMaster" && s.arn == master.arn));
    let handoff = p.runtime.database.clone().expect("hand-off");
    assert_eq!(Some(handoff.cluster_resource_id.as_str()), c.db_cluster_resource_id());
    assert!(!p.runtime.database_cutover_pending);
    let policy = p.runtime.runtime_policy.clone().expect("runtime policy").to_string();
    assert!(
        policy.contains("rds-db:connect") && policy.contains(&handoff.cluster_resource_id),
        "{policy}"
    );
    assert!(policy.contains(&master.arn), "the runtime reads the master secret: {policy}");
    let status_json = serde_json::to_string(&env.status).expect("json");
    assert!(!status_json.to_lowercase().contains("password\":"), "{status_json}");

    assert_steady(&h, &mut env).await;

    // A log group RDS created meanwhile gets the retention of spec.logs.
    let group = format!("/aws/rds/cluster/{id}/error");
    h.ctx.logs.create_log_group().log_group_name(&group).send().await.expect("log group");
    let p = pass(&h, &mut env).await;
    assert_message(&p, "retention 365 days");
    let groups = probe::log_groups(&h.ctx.logs, &group).await;
    assert_eq!(groups[0].retention_in_days(), Some(365));
    assert_steady(&h, &mut env).await;

    // Scale up, drop both readers: in place, no new cluster.
    set_database(
        &mut env,
        with_windows(json!({
            "readers": 0, "maxCapacityAcu": 8,
            "parameters": [{"name": "sort_buffer_size", "value": "2097152"}],
        })),
    );
    let (p, writes) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(state(&p), ComponentState::Updating);
    assert_eq!(writes.of("rds", "ModifyDBCluster"), 1);
    assert_eq!(writes.of("rds", "DeleteDBInstance"), 2);
    assert_eq!(writes.of("rds", "CreateDBCluster"), 0);
    let p = settle(&h, &mut env).await;
    assert_eq!(instances(&h, &id).await, [(format!("{id}-0"), 0, true)]);
    let c = cluster(&h, &id).await.expect("cluster");
    assert_eq!(c.serverless_v2_scaling_configuration().and_then(|s| s.max_capacity()), Some(8.0));
    assert_eq!(p.outputs.database_reader_endpoint, None, "no readers, no reader endpoint");
    assert_eq!(database_status(&env).readers, Some(0));
    assert_steady(&h, &mut env).await;

    // One reader back; parameters changed (one set, one reset).
    set_database(
        &mut env,
        with_windows(json!({
            "readers": 1, "maxCapacityAcu": 8,
            "maxAllowedPacket": 1073741824,
        })),
    );
    let p = settle(&h, &mut env).await;
    assert_eq!(
        instances(&h, &id).await,
        [(format!("{id}-0"), 0, true), (format!("{id}-1"), 1, false)]
    );
    assert!(p.outputs.database_reader_endpoint.is_some());
    assert_eq!(
        user_parameters(&h, &id).await,
        [("max_allowed_packet".to_string(), "1073741824".to_string())]
    );
    assert_steady(&h, &mut env).await;
    assert_eq!(owned_clusters(&h, &env).await, [id]);
}

#[tokio::test]
async fn an_aws_minor_upgrade_writes_nothing_a_downgrade_is_refused_an_upgrade_is_applied() {
    let h = harness().await;
    let mut env = environment(json!({"readers": 0}), json!({}));
    settle(&h, &mut env).await;
    let id = cluster_id(&env);

    // AWS upgrades the minor version behind the operator's back.
    h.ctx
        .rds
        .modify_db_cluster()
        .db_cluster_identifier(&id)
        .engine_version("8.0.mysql_aurora.3.10.4")
        .apply_immediately(true)
        .send()
        .await
        .expect("aws-side upgrade");
    let p = assert_steady(&h, &mut env).await;
    assert_message(&p, "newer than spec.database.engineVersion");
    let db = database_status(&env);
    assert_eq!(db.engine_version.as_deref(), Some("8.0.mysql_aurora.3.10.4"));

    // Asking for less than before and less than what runs: refused, nothing touched (not
    // even the parameter change of the same edit).
    set_database(
        &mut env,
        json!({"readers": 0, "engineVersion": "8.0.mysql_aurora.3.08.0", "maxAllowedPacket": 8388608}),
    );
    let (err, calls) = h.counted(try_pass(&h, &mut env)).await;
    let err = invalid(err.expect_err("downgrade refused"));
    assert!(err.starts_with("spec.database.engineVersion"), "{err}");
    assert!(err.contains("cannot downgrade"), "{err}");
    assert_eq!(calls.writes(), 0);
    assert_eq!(
        cluster(&h, &id).await.and_then(|c| c.engine_version().map(str::to_string)).as_deref(),
        Some("8.0.mysql_aurora.3.10.4")
    );

    // An upgrade: one ModifyDBCluster with the version, then in sync.
    set_database(&mut env, json!({"readers": 0, "engineVersion": "8.0.mysql_aurora.3.10.5"}));
    let (_, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.of("rds", "ModifyDBCluster"), 1);
    settle(&h, &mut env).await;
    let c = cluster(&h, &id).await.expect("cluster");
    assert_eq!(c.engine_version(), Some("8.0.mysql_aurora.3.10.5"));
    assert_eq!(tag(&c, ENGINE_VERSION_TAG), Some("8.0.mysql_aurora.3.10.5"));
    assert_steady(&h, &mut env).await;
}

#[tokio::test]
async fn snapshots_on_demand_then_restore_into_a_new_cluster_and_cut_over() {
    let h = harness().await;
    let mut env = environment(json!({"readers": 1}), json!({}));
    settle(&h, &mut env).await;
    let old = cluster_id(&env);
    let old_endpoint = cluster(&h, &old).await.and_then(|c| c.endpoint().map(str::to_string));
    let environment_id = components::environment_id(&env);

    // One snapshot per distinct annotation value, under a name derived from it.
    annotate(&mut env, ANNOTATION_SNAPSHOT_REQUESTED_AT, "2026-05-01T10:00:00Z");
    let first = on_demand_snapshot_id(&environment_id, "2026-05-01T10:00:00Z");
    let (_, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.of("rds", "CreateDBClusterSnapshot"), 1);
    assert!(snapshot_exists(&h, &first).await);
    settle(&h, &mut env).await;
    let last = database_status(&env).last_snapshot.expect("last snapshot");
    assert_eq!(
        (last.identifier.as_str(), last.status.as_deref()),
        (first.as_str(), Some("available"))
    );
    assert_steady(&h, &mut env).await;
    // A restarted operator (no status) finds the snapshot instead of taking another.
    let mut restarted = env.clone();
    restarted.status = None;
    let (_, calls) = h.counted(pass(&h, &mut restarted)).await;
    assert_eq!(calls.of("rds", "CreateDBClusterSnapshot"), 0);

    // Restore from it: a new cluster; REDCap stays on the old one until the new is ready.
    set_database(&mut env, json!({"readers": 1, "restoreFrom": {"snapshotIdentifier": first}}));
    let p = pass(&h, &mut env).await;
    assert!(p.runtime.database_cutover_pending, "{p:#?}");
    assert_eq!(p.outputs.database_endpoint, old_endpoint, "outputs stay on the old cluster");
    let restore = database_status(&env).restore.expect("restore status");
    let new = restore.cluster_identifier.clone();
    assert_ne!(new, old);
    assert!(cluster(&h, &new).await.is_some(), "restore started");
    assert!(
        snapshot_exists(&h, &format!("{old}-pre-{}", &new[new.len() - 8..])).await,
        "old cluster snapshotted first"
    );

    let mut cut_over = None;
    for _ in 0..10 {
        let p = pass(&h, &mut env).await;
        if !p.runtime.database_cutover_pending {
            cut_over = Some(p);
            break;
        }
        assert_eq!(p.outputs.database_endpoint, old_endpoint);
    }
    let p = cut_over.expect("cut over");
    let n = cluster(&h, &new).await.expect("restored cluster");
    assert_eq!(p.outputs.database_endpoint.as_deref(), n.endpoint());
    assert!(n.master_user_secret().is_some(), "the restored cluster's password is managed by RDS");
    assert_eq!(n.deletion_protection(), Some(true));
    assert!(tag(&n, ACTIVE_SINCE_TAG).is_some());
    assert_eq!(instances(&h, &new).await.len(), 2);
    let o = cluster(&h, &old).await.expect("the old cluster is kept");
    assert_eq!(o.deletion_protection(), Some(true));
    assert!(tag(&o, RETIRED_AT_TAG).is_some());
    let db = database_status(&env);
    assert_eq!(db.cluster_identifier.as_deref(), Some(new.as_str()));
    assert_eq!(db.restore, None);
    assert_eq!(db.restored_from.as_deref(), Some(format!("snapshot {first}").as_str()));
    assert_eq!(db.retired_clusters.len(), 1);
    assert_eq!(db.retired_clusters[0].identifier, old);
    assert!(db.retired_clusters[0].snapshot_identifier.is_some());
    settle(&h, &mut env).await;
    assert_steady(&h, &mut env).await;

    // Dropping restoreFrom changes nothing: the restored cluster stays in use.
    set_database(&mut env, json!({"readers": 1}));
    let p = assert_steady(&h, &mut env).await;
    assert_eq!(p.outputs.database_endpoint.as_deref(), n.endpoint());

    // The retired cluster goes when named in the annotation, with a final snapshot.
    annotate(&mut env, ANNOTATION_DELETE_RETIRED_CLUSTERS, &old);
    settle(&h, &mut env).await;
    assert!(cluster(&h, &old).await.is_none(), "retired cluster deleted");
    assert!(snapshot_exists(&h, &final_snapshot_id(&old)).await, "with a final snapshot");
    let db = database_status(&env);
    assert!(db.retired_clusters.is_empty());
    assert_eq!(db.final_snapshots, [final_snapshot_id(&old)]);
    assert_eq!(owned_clusters(&h, &env).await, [new]);
    assert_steady(&h, &mut env).await;
}

/// A pass that must fail with a terminal spec error and write nothing.
async fn refused(h: &Harness, env: &RedcapEnvironment) -> String {
    let mut env = env.clone();
    let (err, writes) = h.counted(try_pass(h, &mut env)).await;
    let err = invalid(err.expect_err("refused"));
    assert_eq!(writes.writes(), 0, "{:?}", writes.write_operations());
    err
}

#[tokio::test]
async fn refused_restores_touch_nothing() {
    let h = harness().await;
    let mut env = environment(json!({"readers": 0}), json!({}));
    settle(&h, &mut env).await;
    let id = cluster_id(&env);

    // Unknown snapshot.
    let mut bad = env.clone();
    set_database(
        &mut bad,
        json!({"readers": 0, "restoreFrom": {"snapshotIdentifier": "no-such-snapshot"}}),
    );
    let err = refused(&h, &bad).await;
    assert!(err.starts_with("spec.database.restoreFrom.snapshotIdentifier"), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    // A snapshot newer than spec.database.engineVersion (seed issue 99).
    let other = format!("other-{}", components::unique());
    h.ctx
        .rds
        .create_db_cluster()
        .db_cluster_identifier(&other)
        .engine("aurora-mysql")
        .engine_version("8.0.mysql_aurora.3.10.5")
        .master_username("admin")
        .master_user_password("password123")
        .send()
        .await
        .expect("foreign cluster");
    let newer = format!("{other}-snap");
    h.ctx
        .rds
        .create_db_cluster_snapshot()
        .db_cluster_identifier(&other)
        .db_cluster_snapshot_identifier(&newer)
        .send()
        .await
        .expect("snapshot");
    set_database(&mut bad, json!({"readers": 0, "restoreFrom": {"snapshotIdentifier": newer}}));
    let err = refused(&h, &bad).await;
    assert!(err.contains("newer than spec.database.engineVersion"), "{err}");
    // With the version raised, the same restore is accepted.
    set_database(
        &mut bad,
        json!({"readers": 0, "engineVersion": "8.0.mysql_aurora.3.10.5", "restoreFrom": {"snapshotIdentifier": newer}}),
    );
    let p = pass(&h, &mut bad).await;
    assert!(p.runtime.database_cutover_pending);

    // A point-in-time restore from a cluster that does not exist.
    let mut bad = env.clone();
    set_database(
        &mut bad,
        json!({"readers": 0, "restoreFrom": {"pointInTime": {"sourceClusterIdentifier": "no-such-cluster", "useLatestRestorableTime": true}}}),
    );
    let err = refused(&h, &bad).await;
    assert!(
        err.starts_with("spec.database.restoreFrom.pointInTime.sourceClusterIdentifier"),
        "{err}"
    );

    // The running cluster is as it was.
    let c = cluster(&h, &id).await.expect("cluster");
    assert_eq!(c.status(), Some("available"));
    assert!(tag(&c, RETIRED_AT_TAG).is_none());
}

async fn cleanup(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    env.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()));
    let step = async || {
        let p = Box::pin(cleanup_components(&h.ctx, env)).await.expect("cleanup");
        let status = compute_status(env.status.as_ref(), env, Outcome::CleaningUp(&p), &now());
        env.status = Some(status);
        p
    };
    let done = |p: &PassReport| p.requeue_after.is_none();
    settle_until(Limit::Tries(20), Duration::from_millis(50), step, done)
        .await
        .unwrap_or_else(|_| panic!("cleanup did not finish"))
}

fn component(p: &PassReport, name: ComponentName) -> ComponentState {
    components::state(p, name)
}

/// Asserts the database and the network it lives in are both in `state`.
fn assert_both(p: &PassReport, state: ComponentState) {
    components::assert_states(
        p,
        &[(ComponentName::Database, state), (ComponentName::Network, state)],
    );
}

#[tokio::test]
async fn deletion_follows_the_policy() {
    let h = harness().await;
    let mut snap = environment(json!({"readers": 1}), json!({"deletionPolicy": "Snapshot"}));
    let mut keep = environment(json!({"readers": 1}), json!({"deletionPolicy": "Retain"}));
    let mut gone = environment(json!({"readers": 0}), json!({"deletionPolicy": "Delete"}));
    for env in [&mut snap, &mut keep, &mut gone] {
        settle(&h, env).await;
    }
    // An on-demand snapshot of the Delete environment goes with it.
    annotate(&mut gone, ANNOTATION_SNAPSHOT_REQUESTED_AT, "before-delete");
    settle(&h, &mut gone).await;
    let gone_snapshot = on_demand_snapshot_id(&components::environment_id(&gone), "before-delete");
    assert!(snapshot_exists(&h, &gone_snapshot).await);

    // Snapshot: a final snapshot, then everything gone (the network too).
    let id = cluster_id(&snap);
    let p = cleanup(&h, &mut snap).await;
    assert_both(&p, ComponentState::Deleted);
    assert!(cluster(&h, &id).await.is_none());
    assert!(snapshot_exists(&h, &final_snapshot_id(&id)).await, "final snapshot");
    let db = database_status(&snap);
    assert_eq!(db.final_snapshots, [final_snapshot_id(&id)]);
    let rds = &h.ctx.rds;
    let subnet_group = rds.describe_db_subnet_groups().db_subnet_group_name(&id);
    assert!(subnet_group.send().await.is_err());
    let parameters = rds.describe_db_cluster_parameters().db_cluster_parameter_group_name(&id);
    assert!(parameters.send().await.is_err());

    // Retain: cluster and instances untouched, still protected; the network stays for it.
    let id = cluster_id(&keep);
    let p = cleanup(&h, &mut keep).await;
    assert_both(&p, ComponentState::Retained);
    let c = cluster(&h, &id).await.expect("kept");
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(tag(&c, "redcap.dev/retained"), Some("true"));
    assert_eq!(instances(&h, &id).await.len(), 2);
    assert!(!snapshot_exists(&h, &final_snapshot_id(&id)).await);

    // Delete: no final snapshot, the operator's snapshots gone too.
    let id = cluster_id(&gone);
    let p = cleanup(&h, &mut gone).await;
    assert_eq!(component(&p, ComponentName::Database), ComponentState::Deleted);
    assert!(cluster(&h, &id).await.is_none());
    assert!(!snapshot_exists(&h, &final_snapshot_id(&id)).await);
    assert!(!snapshot_exists(&h, &gone_snapshot).await);
}

#[tokio::test]
async fn a_restart_while_the_cluster_is_creating_adopts_it() {
    const CREATING: u64 = 4;
    let h = harness().await;
    let mut env = environment(json!({"readers": 0}), json!({}));
    let id = cluster_id(&env);
    // Only this cluster takes time to create (durations narrowed by name).
    let _reset = EmulatorControl::from_env()
        .set_duration(&format!("rds.cluster.create:{id}"), CREATING)
        .expect("cluster create duration");

    let mut created = false;
    for _ in 0..8 {
        let p = pass(&h, &mut env).await;
        if env
            .status
            .as_ref()
            .and_then(|s| s.database.as_ref())
            .and_then(|d| d.cluster_identifier.clone())
            .is_some()
        {
            assert_eq!(state(&p), ComponentState::Creating, "{p:#?}");
            created = true;
            break;
        }
    }
    assert!(created, "the cluster create was sent");

    // The operator restarts: no status, the cluster still `creating`.
    let mut restarted = env.clone();
    restarted.status = None;
    let (p, calls) = h.counted(pass(&h, &mut restarted)).await;
    assert_eq!(state(&p), ComponentState::Creating, "{}", message(&p));
    assert!(p.requeue_after.is_some());
    assert_eq!(calls.of("rds", "CreateDBCluster"), 0, "{:?}", calls.write_operations());
    assert_eq!(
        calls.of("rds", "CreateDBInstance"),
        0,
        "no instance before the cluster is available"
    );

    tokio::time::sleep(Duration::from_secs(CREATING + 1)).await;
    settle(&h, &mut restarted).await;
    assert_eq!(owned_clusters(&h, &restarted).await, [id]);
    assert_steady(&h, &mut restarted).await;
}
