//! Table tests of the stack state machine.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::api::tags;
use crate::plan::cfn::HASH_OUTPUT;

const NOW: i64 = 1_800_000_000;

fn want() -> DesiredStack {
    let tags: TagSet = [(tags::UID, "uid-1")].into_iter().collect();
    DesiredStack::new("rc-x-network".into(), json!({"Resources": {}}), tags, "aaaaaaaa")
}

fn stack(status: &str, hash: Option<&str>) -> ObservedStack {
    ObservedStack {
        stack_id: "arn:aws:cloudformation:eu-west-1:1:stack/rc-x-network/1".into(),
        status: status.into(),
        reason: None,
        tags: [(tags::UID, "uid-1")].into_iter().collect(),
        outputs: hash
            .map(|h| [(HASH_OUTPUT.to_string(), h.to_string())].into_iter().collect())
            .unwrap_or_default(),
    }
}

fn ev(
    stack_level: bool,
    id: &str,
    status: &str,
    reason: Option<&str>,
    token: Option<&str>,
    at: i64,
) -> StackEvent {
    StackEvent {
        is_stack: stack_level,
        logical_id: id.into(),
        resource_type: if stack_level {
            "AWS::CloudFormation::Stack".into()
        } else {
            "AWS::EC2::NatGateway".into()
        },
        status: status.into(),
        reason: reason.map(str::to_string),
        token: token.map(str::to_string),
        at,
    }
}

/// A failed create, newest first, as CloudFormation records it.
fn failed_create(token: &str) -> Vec<StackEvent> {
    let t = Some(token);
    vec![
        ev(true, "rc-x-network", "ROLLBACK_COMPLETE", None, t, 9),
        ev(false, "NatGateway1", "DELETE_COMPLETE", None, t, 8),
        ev(
            true,
            "rc-x-network",
            "ROLLBACK_IN_PROGRESS",
            Some(
                "The following resource(s) failed to create: [NatGateway2, NatGateway1]. Rollback requested by user.",
            ),
            t,
            7,
        ),
        ev(false, "NatGateway2", "CREATE_FAILED", Some("Resource creation cancelled"), t, 6),
        ev(
            false,
            "NatGateway1",
            "CREATE_FAILED",
            Some("The maximum number of addresses has been reached."),
            t,
            5,
        ),
        ev(false, "NatGateway1", "CREATE_IN_PROGRESS", None, t, 4),
        ev(true, "rc-x-network", "CREATE_IN_PROGRESS", Some("User Initiated"), t, 1),
    ]
}

#[test]
fn status_kinds() {
    use StatusKind::*;
    let table = [
        ("CREATE_COMPLETE", Stable),
        ("UPDATE_COMPLETE", Stable),
        ("IMPORT_COMPLETE", Stable),
        ("UPDATE_ROLLBACK_COMPLETE", UpdateRolledBack),
        ("CREATE_IN_PROGRESS", Busy),
        ("CREATE_FAILED", Busy),
        ("ROLLBACK_IN_PROGRESS", Busy),
        ("UPDATE_IN_PROGRESS", Busy),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", Busy),
        ("UPDATE_ROLLBACK_IN_PROGRESS", Busy),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", Busy),
        ("DELETE_IN_PROGRESS", Busy),
        ("REVIEW_IN_PROGRESS", Busy),
        ("ROLLBACK_COMPLETE", CreateRolledBack),
        ("ROLLBACK_FAILED", RollbackFailed),
        ("UPDATE_ROLLBACK_FAILED", UpdateRollbackFailed),
        ("UPDATE_FAILED", UpdateRollbackFailed),
        ("DELETE_FAILED", DeleteFailed),
        ("DELETE_COMPLETE", Deleted),
        ("SOMETHING_NEW", Unknown),
    ];
    for (status, kind) in table {
        assert_eq!(StatusKind::of(status), kind, "{status}");
    }
}

#[test]
fn root_cause_skips_cancellations_and_the_previous_operation() {
    let mut events = failed_create("tok");
    // An older, unrelated operation with its own failure.
    events.push(ev(false, "Old", "UPDATE_FAILED", Some("old failure"), Some("older"), 0));
    let h = summarize(&events);
    assert_eq!(h.last_token.as_deref(), Some("tok"));
    let f = h.failure.expect("failure");
    assert_eq!(f.logical_id, "NatGateway1");
    assert_eq!(f.reason, "The maximum number of addresses has been reached.");
    assert_eq!(
        f.to_string(),
        "NatGateway1 (AWS::EC2::NatGateway): The maximum number of addresses has been reached."
    );
    assert_eq!(h.delete_failures, 0);
}

#[test]
fn stack_level_reason_when_no_resource_failed() {
    let events = vec![
        ev(true, "s", "ROLLBACK_COMPLETE", None, None, 3),
        ev(
            true,
            "s",
            "ROLLBACK_IN_PROGRESS",
            Some("Template error: Fn::Select cannot select nonexistent value at index 2"),
            None,
            2,
        ),
        ev(true, "s", "CREATE_IN_PROGRESS", Some("User Initiated"), None, 1),
    ];
    let h = summarize(&events);
    assert_eq!(h.last_token, None);
    assert_eq!(
        h.failure.map(|f| f.to_string()).as_deref(),
        Some("Template error: Fn::Select cannot select nonexistent value at index 2")
    );
}

#[test]
fn apply_table() {
    let w = want();
    let h = |token: Option<&str>| History {
        last_token: token.map(str::to_string),
        ..History::default()
    };
    let mine = Some(w.token.as_str());
    let name = |s: &ApplyStep| {
        format!("{s:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string()
    };
    // (status, deployed hash, last token, expected step name)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (None, None, None, "Create"),
        (Some("DELETE_COMPLETE"), None, None, "Create"),
        (Some("CREATE_COMPLETE"), Some(w.hash.as_str()), None, "InSync"),
        (Some("UPDATE_COMPLETE"), Some(w.hash.as_str()), mine, "InSync"),
        (Some("UPDATE_COMPLETE"), Some("sha256:old"), None, "Update"),
        (Some("CREATE_COMPLETE"), None, None, "Update"),
        (Some("UPDATE_ROLLBACK_COMPLETE"), Some(w.hash.as_str()), mine, "InSync"),
        (Some("UPDATE_ROLLBACK_COMPLETE"), Some("sha256:old"), mine, "Blocked"),
        (Some("UPDATE_ROLLBACK_COMPLETE"), Some("sha256:old"), Some("redcap-other"), "Update"),
        (Some("UPDATE_ROLLBACK_COMPLETE"), Some("sha256:old"), None, "Update"),
        (Some("CREATE_IN_PROGRESS"), None, mine, "Wait"),
        (Some("UPDATE_IN_PROGRESS"), Some("sha256:old"), mine, "Wait"),
        (Some("UPDATE_ROLLBACK_IN_PROGRESS"), Some("sha256:old"), mine, "Wait"),
        (Some("ROLLBACK_COMPLETE"), None, mine, "Blocked"),
        (Some("ROLLBACK_COMPLETE"), None, Some("redcap-other"), "DeleteFailedCreate"),
        (Some("ROLLBACK_COMPLETE"), None, None, "DeleteFailedCreate"),
        (Some("ROLLBACK_FAILED"), None, mine, "Blocked"),
        (Some("UPDATE_ROLLBACK_FAILED"), Some("sha256:old"), mine, "Blocked"),
        (Some("WHAT_IS_THIS"), None, None, "Wait"),
    ];
    for (status, hash, token, expected) in cases {
        let seen = status.map(|s| stack(s, hash));
        let (step, requeue) = apply_step(&w, seen.as_ref(), &h(token), NOW);
        assert_eq!(name(&step), expected, "{status:?} {hash:?} {token:?}: {step:?}");
        let waits = matches!(step, ApplyStep::Wait { .. } | ApplyStep::DeleteFailedCreate { .. });
        assert_eq!(requeue.is_some(), waits, "{status:?}: requeue {requeue:?}");
    }
}

#[test]
fn blocked_messages_name_the_cause_and_the_way_out() {
    let w = want();
    let mut h = summarize(&failed_create(&w.token));
    let (step, _) = apply_step(&w, Some(&stack("ROLLBACK_COMPLETE", None)), &h, NOW);
    let ApplyStep::Blocked { code, message } = step else { panic!("{step:?}") };
    assert_eq!(code, "StackCreateFailed");
    assert!(
        message.contains("NatGateway1") && message.contains("maximum number of addresses"),
        "{message}"
    );
    assert!(message.contains("redcap.dev/reconcile-requested-at"), "{message}");

    h.last_token = Some("redcap-previous-attempt".into());
    let (step, _) = apply_step(&w, Some(&stack("ROLLBACK_COMPLETE", None)), &h, NOW);
    assert!(
        matches!(&step, ApplyStep::DeleteFailedCreate { reason } if reason.contains("NatGateway1")),
        "{step:?}"
    );

    let (step, _) =
        apply_step(&w, Some(&stack("UPDATE_ROLLBACK_FAILED", Some("sha256:old"))), &h, NOW);
    let ApplyStep::Blocked { code, message } = step else { panic!("{step:?}") };
    assert_eq!(code, "StackUpdateRollbackFailed");
    assert!(message.contains("continue-update-rollback --stack-name rc-x-network"), "{message}");
}

#[test]
fn busy_rollbacks_say_why() {
    let w = want();
    let h = summarize(&failed_create(&w.token)[2..]);
    let (step, requeue) = apply_step(&w, Some(&stack("ROLLBACK_IN_PROGRESS", None)), &h, NOW);
    assert_eq!(requeue, Some(BUSY_REQUEUE));
    let ApplyStep::Wait { reason, creating } = step else { panic!("{step:?}") };
    assert!(creating);
    assert!(reason.contains("rollback in progress after a failure: NatGateway1"), "{reason}");
}

#[test]
fn events_are_read_only_in_failure_states() {
    let w = want();
    assert!(!needs_events(&stack("CREATE_COMPLETE", Some(&w.hash)), Some(&w.hash)));
    assert!(!needs_events(&stack("UPDATE_COMPLETE", Some("sha256:old")), Some(&w.hash)));
    assert!(!needs_events(&stack("CREATE_IN_PROGRESS", None), Some(&w.hash)));
    assert!(!needs_events(&stack("UPDATE_ROLLBACK_COMPLETE", Some(&w.hash)), Some(&w.hash)));
    assert!(needs_events(&stack("UPDATE_ROLLBACK_COMPLETE", Some("sha256:old")), Some(&w.hash)));
    assert!(needs_events(&stack("UPDATE_ROLLBACK_IN_PROGRESS", None), Some(&w.hash)));
    for s in ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"] {
        assert!(needs_events(&stack(s, None), Some(&w.hash)), "{s}");
    }
}

fn delete_failures(times: &[i64]) -> Vec<StackEvent> {
    let mut events = Vec::new();
    for &at in times.iter().rev() {
        events.push(ev(
            true,
            "s",
            "DELETE_FAILED",
            Some("The following resource(s) failed to delete: [PrivateSubnet1]."),
            None,
            at,
        ));
        events.push(ev(
            false,
            "PrivateSubnet1",
            "DELETE_FAILED",
            Some("The subnet has dependencies and cannot be deleted."),
            None,
            at - 1,
        ));
        events.push(ev(true, "s", "DELETE_IN_PROGRESS", Some("User Initiated"), None, at - 60));
    }
    events
}

#[test]
fn delete_backoff_doubles_and_is_capped() {
    assert_eq!(delete_backoff(0), Duration::from_secs(60));
    assert_eq!(delete_backoff(1), Duration::from_secs(60));
    assert_eq!(delete_backoff(2), Duration::from_secs(120));
    assert_eq!(delete_backoff(4), Duration::from_secs(480));
    assert_eq!(delete_backoff(10), DELETE_RETRY_MAX);
    assert_eq!(delete_backoff(u32::MAX), DELETE_RETRY_MAX);
}

#[test]
fn failed_deletion_is_retried_after_the_backoff_only() {
    let seen = stack("DELETE_FAILED", None);
    // Two failures, the latest 100 s ago: the backoff is 120 s.
    let h = summarize(&delete_failures(&[NOW - 1000, NOW - 100]));
    assert_eq!(h.delete_failures, 2);
    assert_eq!(h.failure.as_ref().map(|f| f.logical_id.as_str()), Some("PrivateSubnet1"));
    let (step, requeue) = delete_step("s", Some(&seen), "uid-1", &h, NOW);
    assert!(
        matches!(&step, DeleteStep::Wait { reason } if reason.contains("PrivateSubnet1") && reason.contains("20s")),
        "{step:?}"
    );
    assert_eq!(requeue, Some(Duration::from_secs(20)));
    let (step, _) = delete_step("s", Some(&seen), "uid-1", &h, NOW + 20);
    assert_eq!(step, DeleteStep::Delete);
    // The apply path (a failed create's stack being deleted) follows the same backoff.
    let (step, requeue) = apply_step(&want(), Some(&seen), &h, NOW);
    assert!(matches!(step, ApplyStep::Wait { .. }), "{step:?}");
    assert_eq!(requeue, Some(Duration::from_secs(20)));
    let (step, _) = apply_step(&want(), Some(&seen), &h, NOW + 30);
    assert!(matches!(step, ApplyStep::RetryDelete { .. }), "{step:?}");
}

#[test]
fn delete_table() {
    let h = History::default();
    assert_eq!(delete_step("s", None, "uid-1", &h, NOW).0, DeleteStep::Gone);
    assert_eq!(
        delete_step("s", Some(&stack("DELETE_COMPLETE", None)), "uid-1", &h, NOW).0,
        DeleteStep::Gone
    );
    for s in [
        "CREATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "ROLLBACK_FAILED",
    ] {
        assert_eq!(
            delete_step("s", Some(&stack(s, None)), "uid-1", &h, NOW).0,
            DeleteStep::Delete,
            "{s}"
        );
    }
    for s in ["DELETE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS"] {
        let (step, requeue) = delete_step("s", Some(&stack(s, None)), "uid-1", &h, NOW);
        assert!(matches!(step, DeleteStep::Wait { .. }), "{s}");
        assert_eq!(requeue, Some(BUSY_REQUEUE));
    }
    let (step, _) =
        delete_step("s", Some(&stack("CREATE_COMPLETE", None)), "someone-else", &h, NOW);
    assert!(matches!(step, DeleteStep::NotOurs { .. }), "{step:?}");
}
