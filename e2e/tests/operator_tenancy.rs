//! Tenancy with the operator as a process against the real kube-apiserver and the
//! emulator, two tenants (namespaces A and B) and the operator's tenancy policy:
//! - B cannot restore from A's snapshot (Stalled `NotPermitted`, nothing created) until
//!   the policy lets B restore from A; B cannot use a role or a from-address domain bound
//!   only to A;
//! - the API server refuses a change of `spec.aws.roleArn` on a live environment;
//! - `deletionPolicy: Delete` keeps a snapshot a person took of the environment's
//!   cluster, although the cluster copied its ownership tags onto it.

use std::time::Duration;

use anyhow::Context;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::{self, keys_owned_by};
use redcap_e2e::{Operator, OperatorOptions, TestEnv, condition_message, is_stalled};
use redcap_operator::api::{RedcapEnvironment, tags};
use redcap_operator::aws::sdk::*;
use redcap_operator::plan::database::names::base_cluster_id;
use redcap_operator::plan::naming::environment_id;

const TIMEOUT: Duration = Duration::from_secs(120);
const ROLE_A: &str = "arn:aws:iam::123456789012:role/redcap-operator-tenant-a";

/// A's binding: its role and its domain; B gets its own domain only, and, when `allow`,
/// restores from A.
fn policy(a: &str, b: &str, allow: bool) -> String {
    let restore = if allow { format!("    restoreFromNamespaces: [{a}]\n") } else { String::new() };
    format!(
        "namespaces:\n  {a}:\n    roles:\n    - arn: {ROLE_A}\n    domains: [a.example.org]\n  {b}:\n    domains: [b.example.org]\n{restore}"
    )
}

/// The manifest with `spec.aws.roleArn` set.
fn with_role(yaml: &str, role: &str) -> String {
    yaml.replacen(
        "    region: us-east-1\n",
        &format!("    region: us-east-1\n    roleArn: {role}\n"),
        1,
    )
}

fn stalled_not_permitted(e: &RedcapEnvironment) -> bool {
    is_stalled(e)
        && e.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Stalled"))
            .is_some_and(|c| c.reason == "NotPermitted")
}

async fn uid(env: &TestEnv, ns: &str, name: &str) -> anyhow::Result<String> {
    env.environments(ns).get(name).await?.metadata.uid.context("uid")
}

/// A snapshot of a cluster of tenant A, tagged as the operator tags A's resources.
async fn snapshot_of_tenant_a(rds: &aws_sdk_rds::Client, a: &str) -> anyhow::Result<String> {
    let cluster = format!("{a}-prod-db");
    let tag = |k: &str, v: &str| aws_sdk_rds::types::Tag::builder().key(k).value(v).build();
    let owner =
        vec![tag(tags::NAMESPACE, a), tag(tags::NAME, "prod"), tag(tags::UID, "uid-of-a-prod")];
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-mysql")
        .master_username("admin")
        .master_user_password("not-a-real-password-1")
        .set_tags(Some(owner.clone()))
        .send()
        .await
        .context("creating A's cluster")?;
    let snapshot = format!("{a}-prod-nightly");
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier(&cluster)
        .db_cluster_snapshot_identifier(&snapshot)
        .set_tags(Some(owner))
        .send()
        .await
        .context("creating A's snapshot")?;
    Ok(snapshot)
}

#[tokio::test]
async fn tenant_b_cannot_reach_tenant_a_without_the_policy() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let a = env.namespace("tenant-a").await?;
    let b = env.namespace("tenant-b").await?;
    let rds = aws_sdk_rds::Client::new(&env.aws);
    let kms = env.kms();
    let snapshot = snapshot_of_tenant_a(&rds, &a).await?;

    let opts = |allow: bool| OperatorOptions {
        tenancy_policy: policy(&a, &b, allow),
        ..OperatorOptions::scoped(&b)
    };
    let mut op = Operator::start(&env, "tenancy-b", opts(false)).await?;

    let clone = EnvironmentManifest::new("clone")
        .from_address("redcap@b.example.org")
        .spec(&format!("  database:\n    restoreFrom:\n      snapshotIdentifier: {snapshot}"));
    let role_yaml = with_role(
        &EnvironmentManifest::new("role").from_address("redcap@b.example.org").yaml(),
        ROLE_A,
    );
    let mail = EnvironmentManifest::new("mail").from_address("redcap@a.example.org");
    env.apply_yaml(&b, &clone.yaml()).await?;
    env.apply_yaml(&b, &role_yaml).await?;
    env.apply_yaml(&b, &mail.yaml()).await?;

    for (name, needle) in [
        ("clone", format!("belongs to an environment of namespace {a}")),
        ("role", format!("role {ROLE_A} is not allowed for namespace {b}")),
        ("mail", format!("a.example.org is not under a domain allowed for namespace {b}")),
    ] {
        let stalled = env
            .wait_env(&b, name, TIMEOUT, "Stalled by the tenancy policy", stalled_not_permitted)
            .await?;
        let message = condition_message(&stalled, "Stalled");
        assert!(message.contains(&needle), "{name}: {message}");
        let uid = uid(&env, &b, name).await?;
        assert!(keys_owned_by(&kms, &uid).await.is_empty(), "{name} created a key");
        assert!(probe::clusters_owned_by(&rds, &uid).await.is_empty(), "{name} created a cluster");
    }

    // The administrator lets B restore from A: the clone goes ahead (its key is created).
    op.stop().await?;
    let _op = Operator::start(&env, "tenancy-b-allowed", opts(true)).await?;
    let clone_uid = uid(&env, &b, "clone").await?;
    probe::eventually("the allowed clone creates its key", TIMEOUT, async || {
        Ok(!keys_owned_by(&kms, &clone_uid).await.is_empty())
    })
    .await?;
    env.wait_env(&b, "clone", TIMEOUT, "no longer refused", |e| {
        e.status.as_ref().is_some_and(|s| s.observed_generation == e.metadata.generation)
            && !stalled_not_permitted(e)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_api_server_refuses_a_role_change_on_a_live_environment() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("tenancy-role").await?;
    let yaml = with_role(&EnvironmentManifest::new("fixed").yaml(), ROLE_A);
    env.apply_yaml(&ns, &yaml).await?;
    let other = yaml.replace(ROLE_A, "arn:aws:iam::210987654321:role/redcap-operator-other");
    let err = env.apply_yaml(&ns, &other).await.expect_err("the role change was accepted");
    assert!(format!("{err:#}").contains("spec.aws.roleArn is immutable"), "{err:#}");
    let without = EnvironmentManifest::new("fixed").yaml();
    let err = env.apply_yaml(&ns, &without).await.expect_err("removing the role was accepted");
    assert!(format!("{err:#}").contains("spec.aws.roleArn is immutable"), "{err:#}");
    Ok(())
}

#[tokio::test]
async fn delete_keeps_a_snapshot_a_person_took() -> anyhow::Result<()> {
    let (env, ns, _op) = TestEnv::with_scoped_operator("tenancy-snap", "tenancy-snap").await?;
    let rds = aws_sdk_rds::Client::new(&env.aws);
    let manifest = EnvironmentManifest::new("snap").spec("  database:\n    readers: 0");
    env.apply_yaml(&ns, &manifest.yaml()).await?;
    env.wait_ready(&ns, "snap", Duration::from_secs(240)).await?;
    let uid = uid(&env, &ns, "snap").await?;
    let cluster = base_cluster_id(&environment_id(&ns, "snap", &uid));

    // What AWS does with CopyTagsToSnapshot: the person's snapshot gets the cluster's tags.
    let found = rds.describe_db_clusters().db_cluster_identifier(&cluster).send().await?;
    let cluster_tags = found.db_clusters().first().context("the cluster")?.tag_list().to_vec();
    let manual = format!("{ns}-before-upgrade-by-alice");
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier(&cluster)
        .db_cluster_snapshot_identifier(&manual)
        .set_tags(Some(cluster_tags))
        .send()
        .await?;

    env.delete_env(&ns, "snap").await?;
    env.wait_gone(&ns, "snap", Duration::from_secs(240)).await?;
    assert!(
        probe::cluster_snapshot_exists(&rds, &manual).await,
        "deletionPolicy Delete deleted the manual snapshot {manual}"
    );
    Ok(())
}
