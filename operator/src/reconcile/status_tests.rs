//! Unit tests of `compute_status` (kstatus semantics, phases, transitions).

use super::*;
use crate::api::conditions::find_condition;
use crate::api::{ComponentName, ComponentState as S, RedcapEnvironment};
use crate::aws::AwsError;
use crate::fixtures::{all, component, report, time};
use crate::reconcile::ComponentError;

fn cond<'a>(
    status: &'a RedcapEnvironmentStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    find_condition(&status.conditions, type_)
        .unwrap_or_else(|| panic!("condition {type_} missing in {status:#?}"))
}

/// (status, reason) of a condition.
fn sr(status: &RedcapEnvironmentStatus, type_: &str) -> (String, String) {
    let c = cond(status, type_);
    (c.status.clone(), c.reason.clone())
}

fn pair(s: &str, r: &str) -> (String, String) {
    (s.to_string(), r.to_string())
}

fn terminal_error() -> Error {
    Error::Component {
        source: ComponentError::Aws {
            component: ComponentName::FileStorage,
            source: AwsError {
                service: "s3",
                operation: "CreateBucket",
                code: "BucketAlreadyExists".into(),
                message: "The requested bucket name is not available".into(),
                class: ErrorClass::Terminal,
                not_found: false,
            },
        },
    }
}

fn throttled() -> Error {
    Error::Component {
        source: ComponentError::Aws {
            component: ComponentName::EncryptionKey,
            source: AwsError {
                service: "kms",
                operation: "DescribeKey",
                code: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
                class: ErrorClass::Recoverable,
                not_found: false,
            },
        },
    }
}

/// Status of an environment that reached Ready at t=100.
fn ready_status(env: &RedcapEnvironment) -> RedcapEnvironmentStatus {
    compute_status(None, env, Outcome::Applied(&all(S::Ready)), &time(100))
}

#[test]
fn first_reconcile_publishes_every_kstatus_condition() {
    let env = RedcapEnvironment::test().with_generation(2);
    let status = compute_status(None, &env, Outcome::Started, &time(10));
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(status.phase, Some(Phase::Pending));
    assert_eq!(sr(&status, "Ready"), pair("False", "Progressing"));
    assert_eq!(sr(&status, "Reconciling"), pair("True", "Progressing"));
    assert_eq!(sr(&status, "Stalled"), pair("False", "NoProblem"));
    assert!(status.conditions.iter().all(|c| c.observed_generation == Some(2)));
    // Nothing completed yet.
    assert_eq!(status.last_reconcile_time, None);
}

#[test]
fn ready_only_when_every_component_is_ready_and_nothing_waits() {
    let env = RedcapEnvironment::test();
    let status = ready_status(&env);
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(sr(&status, "Ready"), pair("True", "Reconciled"));
    assert_eq!(sr(&status, "Reconciling"), pair("False", "Idle"));
    assert_eq!(sr(&status, "Stalled"), pair("False", "NoProblem"));
    assert_eq!(sr(&status, "EncryptionKeyReady"), pair("True", "Reconciled"));
    assert_eq!(sr(&status, "FileStorageReady"), pair("True", "Reconciled"));

    // Every component Ready but AWS still settling (e.g. propagation): not Ready yet.
    let waiting =
        compute_status(None, &env, Outcome::Applied(&all(S::Ready).waiting(10)), &time(100));
    assert_eq!(sr(&waiting, "Ready"), pair("False", "WaitingForAws"));
    assert_eq!(sr(&waiting, "Reconciling"), pair("True", "WaitingForAws"));
    assert_eq!(waiting.phase, Some(Phase::Provisioning));

    // One component still being created.
    let creating = report(vec![
        component(ComponentName::EncryptionKey, S::Ready),
        component(ComponentName::FileStorage, S::Creating).with_message("creating bucket"),
    ])
    .waiting(5);
    let status = compute_status(None, &env, Outcome::Applied(&creating), &time(100));
    assert_eq!(status.phase, Some(Phase::Provisioning));
    assert_eq!(sr(&status, "Ready").0, "False");
    assert_eq!(sr(&status, "FileStorageReady"), pair("False", "WaitingForAws"));
    assert_eq!(cond(&status, "FileStorageReady").message, "creating bucket");
    assert!(status.phase_reason.as_deref().unwrap().contains("fileStorage (creating bucket)"));
    assert!(!status.phase_reason.as_deref().unwrap().contains("encryptionKey"));
}

#[test]
fn steady_state_is_a_fixed_point() {
    let env = RedcapEnvironment::test();
    let first = ready_status(&env);
    assert_eq!(first.last_reconcile_time, Some(time(100)));
    let again = compute_status(Some(&first), &env, Outcome::Applied(&all(S::Ready)), &time(400));
    // Equal means the writer skips the API call.
    assert_eq!(again, first);
}

#[test]
fn component_transition_time_moves_only_when_its_state_changes() {
    let env = RedcapEnvironment::test();
    let creating = report(vec![
        component(ComponentName::EncryptionKey, S::Creating),
        component(ComponentName::FileStorage, S::Pending),
    ])
    .waiting(5);
    let t1 = compute_status(None, &env, Outcome::Applied(&creating), &time(10));
    let still = report(vec![
        component(ComponentName::EncryptionKey, S::Ready)
            .with_arn("arn:aws:kms:us-east-1:123456789012:key/k"),
        component(ComponentName::FileStorage, S::Pending),
    ])
    .waiting(5);
    let t2 = compute_status(Some(&t1), &env, Outcome::Applied(&still), &time(20));
    let key = |s: &RedcapEnvironmentStatus, n: ComponentName| {
        s.components.iter().find(|c| c.name == n).cloned().unwrap()
    };
    assert_eq!(key(&t2, ComponentName::EncryptionKey).last_transition_time, Some(time(20)));
    assert_eq!(key(&t2, ComponentName::FileStorage).last_transition_time, Some(time(10)));
    assert_eq!(
        key(&t2, ComponentName::EncryptionKey).arn.as_deref(),
        Some("arn:aws:kms:us-east-1:123456789012:key/k")
    );
    // The condition of the unchanged component keeps its transition time too.
    assert_eq!(cond(&t2, "FileStorageReady").last_transition_time, time(10));
    assert_eq!(cond(&t2, "EncryptionKeyReady").last_transition_time, time(20));
    // Components are listed in dependency order whatever the report order.
    let reversed = report(vec![
        component(ComponentName::FileStorage, S::Creating),
        component(ComponentName::EncryptionKey, S::Ready),
    ]);
    let t3 = compute_status(None, &env, Outcome::Applied(&reversed), &time(30));
    assert_eq!(t3.components[0].name, ComponentName::EncryptionKey);
}

#[test]
fn changes_after_ready_are_updates() {
    let env = RedcapEnvironment::test();
    let ready = ready_status(&env);
    // The user edits the spec: generation 2 is acknowledged before any AWS work.
    let env2 = RedcapEnvironment::test().with_generation(2);
    let started = compute_status(Some(&ready), &env2, Outcome::Started, &time(200));
    assert_eq!(started.observed_generation, Some(2));
    assert_eq!(started.phase, Some(Phase::Updating));
    assert_eq!(sr(&started, "Reconciling"), pair("True", "Progressing"));
    assert_eq!(sr(&started, "Ready").0, "False");

    let updating = report(vec![
        component(ComponentName::EncryptionKey, S::Ready),
        component(ComponentName::FileStorage, S::Updating).with_message("lifecycle rules differ"),
    ])
    .waiting(5);
    let status = compute_status(Some(&started), &env2, Outcome::Applied(&updating), &time(210));
    assert_eq!(status.phase, Some(Phase::Updating));
    let back = compute_status(Some(&status), &env2, Outcome::Applied(&all(S::Ready)), &time(220));
    assert_eq!(back.phase, Some(Phase::Ready));
    assert_eq!(sr(&back, "Ready"), pair("True", "Reconciled"));
}

#[test]
fn terminal_errors_stall_with_the_error_text() {
    let env = RedcapEnvironment::test();
    // As the finalizer helper returns it.
    let err =
        Error::Finalizer(Box::new(kube::runtime::finalizer::Error::ApplyFailed(terminal_error())));
    let status = compute_status(None, &env, Outcome::Failed(&err), &time(10));
    assert_eq!(status.phase, Some(Phase::Stalled));
    assert_eq!(sr(&status, "Stalled"), pair("True", "AwsRejected"));
    assert_eq!(sr(&status, "Ready"), pair("False", "AwsRejected"));
    assert_eq!(sr(&status, "Reconciling").0, "False");
    assert!(cond(&status, "Stalled").message.contains("BucketAlreadyExists"));
    let storage = status.components.iter().find(|c| c.name == ComponentName::FileStorage).unwrap();
    assert_eq!(storage.state, S::Failed);
    // The wrapper and the component prefix are noise in status.
    assert!(!cond(&status, "Stalled").message.contains("failed to apply object"));
    assert!(cond(&status, "Stalled").message.starts_with("fileStorage: s3.CreateBucket"));
    assert!(
        storage
            .message
            .as_deref()
            .unwrap()
            .starts_with("s3.CreateBucket failed (BucketAlreadyExists)")
    );
    assert_eq!(sr(&status, "FileStorageReady"), pair("False", "AwsRejected"));
    // A failure is not a completed reconcile.
    assert_eq!(status.last_reconcile_time, None);

    // Fixing the cause clears Stalled.
    let fixed = compute_status(Some(&status), &env, Outcome::Applied(&all(S::Ready)), &time(20));
    assert_eq!(sr(&fixed, "Stalled"), pair("False", "NoProblem"));
    assert_eq!(fixed.phase, Some(Phase::Ready));
}

#[test]
fn a_component_reported_failed_stalls_too() {
    let env = RedcapEnvironment::test();
    let failed = report(vec![
        component(ComponentName::EncryptionKey, S::Failed).with_message("key is pending deletion"),
    ]);
    let status = compute_status(None, &env, Outcome::Applied(&failed), &time(10));
    assert_eq!(status.phase, Some(Phase::Stalled));
    assert_eq!(sr(&status, "Stalled").0, "True");
    assert!(cond(&status, "Stalled").message.contains("encryptionKey: key is pending deletion"));
}

#[test]
fn recoverable_errors_keep_ready_and_mark_reconciling() {
    let env = RedcapEnvironment::test();
    let ready = ready_status(&env);
    let err = throttled();
    let status = compute_status(Some(&ready), &env, Outcome::Failed(&err), &time(200));
    assert_eq!(sr(&status, "Reconciling"), pair("True", "RetryingAfterError"));
    assert_eq!(sr(&status, "Ready"), pair("True", "Reconciled"));
    assert_eq!(sr(&status, "Stalled"), pair("False", "NoProblem"));
    assert_eq!(status.phase, Some(Phase::Ready));
    assert!(status.phase_reason.as_deref().unwrap().contains("ThrottlingException"));
    // Components are left as they were.
    assert_eq!(status.components, ready.components);

    // Before ever being Ready, the error makes Ready False.
    let fresh = compute_status(None, &env, Outcome::Failed(&err), &time(10));
    assert_eq!(sr(&fresh, "Ready"), pair("False", "RetryingAfterError"));
    assert_eq!(fresh.phase, Some(Phase::Provisioning));

    // For a newer generation, the old Ready says nothing.
    let env2 = RedcapEnvironment::test().with_generation(2);
    let newer = compute_status(Some(&ready), &env2, Outcome::Failed(&err), &time(200));
    assert_eq!(sr(&newer, "Ready"), pair("False", "RetryingAfterError"));
}

#[test]
fn suspended_reports_without_reconciling() {
    let env = RedcapEnvironment::test().suspended();
    let ready = ready_status(&RedcapEnvironment::test());
    let status = compute_status(Some(&ready), &env, Outcome::Applied(&all(S::Ready)), &time(200));
    assert_eq!(status.phase, Some(Phase::Suspended));
    assert_eq!(sr(&status, "Ready"), pair("True", "Suspended"));
    assert_eq!(sr(&status, "Reconciling"), pair("False", "Suspended"));
    assert_eq!(sr(&status, "Stalled"), pair("False", "Suspended"));
    // Ready stayed True: no transition.
    assert_eq!(cond(&status, "Ready").last_transition_time, time(100));

    let drift = report(vec![
        component(ComponentName::EncryptionKey, S::Ready),
        component(ComponentName::FileStorage, S::Updating).with_message("versioning differs"),
    ]);
    let drifted = compute_status(Some(&status), &env, Outcome::Applied(&drift), &time(300));
    assert_eq!(drifted.phase, Some(Phase::Suspended));
    assert_eq!(sr(&drifted, "Ready"), pair("False", "Suspended"));
    assert!(cond(&drifted, "Ready").message.contains("versioning differs"));

    // Suspended from the start: acknowledged as Suspended, not Pending.
    let started = compute_status(None, &env, Outcome::Started, &time(5));
    assert_eq!(started.phase, Some(Phase::Suspended));
    assert_eq!(sr(&started, "Reconciling").0, "False");
}

#[test]
fn deletion_while_suspended_is_held() {
    let env = RedcapEnvironment::test().suspended().deleting().with_generation(2);
    let ready = ready_status(&RedcapEnvironment::test());
    let status = compute_status(Some(&ready), &env, Outcome::DeletionHeld, &time(200));
    assert_eq!(status.phase, Some(Phase::Deleting));
    assert_eq!(status.phase_reason.as_deref(), Some("suspended: deletion held"));
    assert_eq!(sr(&status, "Ready"), pair("False", "Deleting"));
    assert_eq!(sr(&status, "Reconciling"), pair("False", "Suspended"));
    assert_eq!(status.components, ready.components);
    assert_eq!(status.observed_generation, Some(2));
}

#[test]
fn cleanup_reports_deleting_until_every_component_is_handled() {
    let env = RedcapEnvironment::test().deleting().with_generation(2);
    let ready = ready_status(&RedcapEnvironment::test());
    let in_progress = report(vec![
        component(ComponentName::EncryptionKey, S::Ready),
        component(ComponentName::FileStorage, S::Deleting).with_message("emptying bucket"),
    ])
    .waiting(10);
    let status = compute_status(Some(&ready), &env, Outcome::CleaningUp(&in_progress), &time(200));
    assert_eq!(status.phase, Some(Phase::Deleting));
    assert_eq!(sr(&status, "Reconciling"), pair("True", "Deleting"));
    assert_eq!(sr(&status, "Ready"), pair("False", "Deleting"));
    assert!(status.phase_reason.as_deref().unwrap().contains("fileStorage (emptying bucket)"));

    let mut done = report(vec![component(ComponentName::EncryptionKey, S::Retained)]);
    done.components.extend(ComponentName::all().skip(1).map(|n| component(n, S::Deleted)));
    let status = compute_status(Some(&status), &env, Outcome::CleaningUp(&done), &time(300));
    assert_eq!(status.phase, Some(Phase::Deleting));
    assert_eq!(sr(&status, "Reconciling"), pair("False", "Deleting"));
    assert_eq!(sr(&status, "EncryptionKeyReady"), pair("False", "Deleting"));
    let states: Vec<_> = status.components.iter().map(|c| c.state).collect();
    let mut expected = vec![S::Retained];
    expected.extend(ComponentName::all().skip(1).map(|_| S::Deleted));
    assert_eq!(states, expected);
}

#[test]
fn long_messages_are_truncated_on_a_char_boundary() {
    let env = RedcapEnvironment::test();
    let long = "é".repeat(2 * MAX_MESSAGE);
    let r = report(vec![component(ComponentName::FileStorage, S::Creating).with_message(&long)])
        .waiting(1);
    let status = compute_status(None, &env, Outcome::Applied(&r), &time(1));
    let message = &cond(&status, "FileStorageReady").message;
    assert!(message.len() <= MAX_MESSAGE + '…'.len_utf8());
    assert!(message.ends_with('…'));
}

#[test]
fn now_has_whole_second_precision() {
    assert_eq!(now().0.subsec_nanosecond(), 0);
}

#[test]
fn environment_id_is_derived_from_the_object_and_stable() {
    let env = RedcapEnvironment::test();
    let first = compute_status(None, &env, Outcome::Started, &time(1));
    let id = first.environment_id.clone().expect("environmentId from the first reconcile");
    assert!(id.starts_with("rc-"), "{id}");
    let later = compute_status(Some(&first), &env, Outcome::Applied(&all(S::Ready)), &time(2));
    assert_eq!(later.environment_id.as_deref(), Some(id.as_str()));
}

#[test]
fn a_missing_secret_reference_is_the_reason_on_stalled_and_on_the_component() {
    let env = RedcapEnvironment::test();
    let err = Error::Component {
        source: ComponentError::SecretReference {
            component: ComponentName::Secrets,
            message: "spec.cron.secretRef: Secret default/x does not exist".into(),
            class: crate::aws::ErrorClass::Terminal,
        },
    };
    let status = compute_status(None, &env, Outcome::Failed(&err), &time(10));
    assert_eq!(status.phase, Some(Phase::Stalled));
    assert_eq!(sr(&status, "Stalled"), pair("True", "SecretReferenceMissing"));
    assert_eq!(sr(&status, "SecretsReady"), pair("False", "SecretReferenceMissing"));
    assert!(status.phase_reason.as_deref().is_some_and(|r| r.contains("default/x")));
}

#[test]
fn the_image_block_follows_the_pass_and_survives_passes_that_do_not_report_it() {
    let env = RedcapEnvironment::test();
    let image = crate::api::ImageStatus {
        version: "15.8.0".into(),
        tag: "15.8.0-abc".into(),
        container_revision: "0123456789ab".into(),
        reference: Some("r@sha256:1".into()),
        ..Default::default()
    };
    let mut with_image = all(S::Ready);
    with_image.image = Some(image.clone());
    let first = compute_status(None, &env, Outcome::Applied(&with_image), &time(1));
    assert_eq!(first.image.as_ref(), Some(&image));
    // A pass that stopped before the image component (`None`) keeps what status knows.
    let second = compute_status(Some(&first), &env, Outcome::Applied(&all(S::Ready)), &time(2));
    assert_eq!(second.image.as_ref(), Some(&image));
    // A terminal error keeps it too: the last build and the image to run stay visible.
    let stalled = compute_status(Some(&second), &env, Outcome::Failed(&terminal_error()), &time(3));
    assert_eq!(stalled.image.as_ref(), Some(&image));
}

#[test]
fn a_failed_image_build_stalls_the_environment_with_its_message() {
    let env = RedcapEnvironment::test();
    let mut r = all(S::Ready);
    for c in &mut r.components {
        if c.name == ComponentName::Image {
            c.state = S::Failed;
            c.message = Some("build p:1 failed in phase BUILD (log: https://x)".into());
        }
    }
    let status = compute_status(None, &env, Outcome::Applied(&r), &time(1));
    assert_eq!(status.phase, Some(Phase::Stalled));
    assert_eq!(sr(&status, "Stalled").0, "True");
    assert!(
        cond(&status, "Stalled").message.contains("image: build p:1 failed in phase BUILD"),
        "{status:#?}"
    );
    assert_eq!(sr(&status, "ImageReady").0, "False");
}
