//! The build state machine: given what ECR and CodeBuild say about the requested tag,
//! what to do (step: plan; pure, no I/O).
//!
//! A build belongs to a tag through its `IMAGE_TAG` environment variable (what the
//! buildspec pushes), not through its status or start time, so a build started by an
//! earlier operator process, by another replica, or by hand from the console with the
//! project's settings is recognised and adopted rather than duplicated. Per tag:
//!
//! | ECR has the tag | builds of the tag | step |
//! |---|---|---|
//! | yes | any | `Ready` (record the digest) |
//! | no | one in progress | `Follow` it (the newest, if several) |
//! | no | none | `Start` |
//! | no | newest finished `FAILED`/`FAULT`/`TIMED_OUT`/`STOPPED` | `Failed`: stall, never restarted for the same inputs |
//! | no | newest `SUCCEEDED`, ended under [`PUSH_GRACE`] ago | `Wait` for ECR to show the push |
//! | no | newest `SUCCEEDED` longer ago (*stale*: the image was deleted or expired) | `Start` once more; if that was already done, `Failed` |
//!
//! A new rebuild token, annotation value or version is a new tag, so it always starts
//! from "none".

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long after a successful build its image may still be missing from ECR's answers.
pub const PUSH_GRACE: Duration = Duration::from_secs(120);

/// CodeBuild's `buildStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BuildStatus {
    InProgress,
    Succeeded,
    Failed,
    Fault,
    TimedOut,
    Stopped,
}

impl BuildStatus {
    pub fn from_aws(s: &str) -> Self {
        match s {
            "SUCCEEDED" => BuildStatus::Succeeded,
            "FAILED" => BuildStatus::Failed,
            "FAULT" => BuildStatus::Fault,
            "TIMED_OUT" => BuildStatus::TimedOut,
            "STOPPED" => BuildStatus::Stopped,
            // IN_PROGRESS, and anything new: keep following it.
            _ => BuildStatus::InProgress,
        }
    }

    pub fn as_aws(self) -> &'static str {
        match self {
            BuildStatus::InProgress => "IN_PROGRESS",
            BuildStatus::Succeeded => "SUCCEEDED",
            BuildStatus::Failed => "FAILED",
            BuildStatus::Fault => "FAULT",
            BuildStatus::TimedOut => "TIMED_OUT",
            BuildStatus::Stopped => "STOPPED",
        }
    }

    pub fn finished(self) -> bool {
        self != BuildStatus::InProgress
    }
}

/// One build as `BatchGetBuilds` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedBuild {
    pub id: String,
    /// The `IMAGE_TAG` variable the build ran with.
    pub tag: Option<String>,
    pub status: BuildStatus,
    /// `currentPhase` (`BUILD`, `COMPLETED`, ...).
    pub current_phase: String,
    /// The first phase whose status is not `SUCCEEDED` (for a finished, failed build),
    /// with the message of its context.
    pub failed_phase: Option<(String, String)>,
    /// Seconds since the epoch.
    pub started: Option<i64>,
    pub ended: Option<i64>,
    /// Console URL of the build's log.
    pub logs_url: Option<String>,
}

/// What to do about the requested image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildStep<'a> {
    /// The image exists.
    Ready,
    /// A build of the tag is running: report its phase and look again.
    Follow(&'a ObservedBuild),
    /// Start a build; `after` is the successful build whose image went missing.
    Start { after: Option<&'a ObservedBuild> },
    /// The build succeeded moments ago; ECR will show the image shortly.
    Wait(&'a ObservedBuild),
    /// The newest build of the tag failed (or the image went missing again after a
    /// rebuild): report it and stop.
    Failed { build: &'a ObservedBuild, reason: String },
}

/// The builds of `tag`, newest first (by start time, then id for a stable order).
pub fn builds_of<'a>(tag: &str, builds: &'a [ObservedBuild]) -> Vec<&'a ObservedBuild> {
    let mut mine: Vec<&ObservedBuild> =
        builds.iter().filter(|b| b.tag.as_deref() == Some(tag)).collect();
    mine.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
    mine
}

/// Decides the step for `tag`. `builds` may hold builds of other tags (they are ignored);
/// `now` is in seconds since the epoch.
pub fn build_step<'a>(
    tag: &str,
    image_exists: bool,
    builds: &'a [ObservedBuild],
    now: i64,
) -> BuildStep<'a> {
    if image_exists {
        return BuildStep::Ready;
    }
    let mine = builds_of(tag, builds);
    if let Some(running) = mine.iter().find(|b| !b.status.finished()) {
        return BuildStep::Follow(running);
    }
    let Some(newest) = mine.first() else {
        return BuildStep::Start { after: None };
    };
    match newest.status {
        BuildStatus::Succeeded => {
            let ended = newest.ended.or(newest.started).unwrap_or(now);
            let grace = i64::try_from(PUSH_GRACE.as_secs()).unwrap_or(i64::MAX);
            if now - ended < grace {
                return BuildStep::Wait(newest);
            }
            let successes = mine.iter().filter(|b| b.status == BuildStatus::Succeeded).count();
            if successes >= 2 {
                BuildStep::Failed {
                    build: newest,
                    reason: format!(
                        "build {} succeeded but image {tag} is not in the repository, also after a rebuild; set a new redcap.dev/rebuild-requested-at value once the cause is found",
                        newest.id
                    ),
                }
            } else {
                BuildStep::Start { after: Some(newest) }
            }
        }
        status => BuildStep::Failed { build: newest, reason: failure_text(newest, status) },
    }
}

fn failure_text(b: &ObservedBuild, status: BuildStatus) -> String {
    let what = match status {
        BuildStatus::Stopped => "was stopped".to_string(),
        BuildStatus::TimedOut => "timed out".to_string(),
        _ => "failed".to_string(),
    };
    let mut s = format!("build {} {what}", b.id);
    if let Some((phase, message)) = &b.failed_phase {
        s.push_str(&format!(" in phase {phase}"));
        if !message.is_empty() {
            s.push_str(&format!(": {message}"));
        }
    }
    if let Some(url) = &b.logs_url {
        s.push_str(&format!(" (log: {url})"));
    }
    s.push_str(
        "; it is not started again for the same inputs: fix the cause, then change spec.redcap.rebuildToken or the redcap.dev/rebuild-requested-at annotation",
    );
    s
}

/// The CloudWatch console page of a build's log (when CodeBuild gives no deep link).
pub fn console_log_url(region: &str, group: &str, stream: &str) -> String {
    // The console's fragment takes names URL-encoded twice, with `$` for `%`.
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("$25{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        encode(group),
        encode(stream)
    )
}

/// The failing phase of a finished build: the first phase (in order) whose status is
/// neither `SUCCEEDED` nor absent, with the message of its first context.
pub fn failed_phase(
    phases: &[(String, Option<String>, Option<String>)],
) -> Option<(String, String)> {
    phases
        .iter()
        .find(|(_, status, _)| status.as_deref().is_some_and(|s| s != "SUCCEEDED"))
        .map(|(phase, _, message)| (phase.clone(), message.clone().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn build(id: &str, tag: &str, status: BuildStatus, started: i64) -> ObservedBuild {
        ObservedBuild {
            id: id.into(),
            tag: Some(tag.into()),
            status,
            current_phase: if status.finished() { "COMPLETED" } else { "BUILD" }.into(),
            failed_phase: None,
            started: Some(started),
            ended: status.finished().then_some(started + 60),
            logs_url: Some(format!("https://console/{id}")),
        }
    }

    #[test]
    fn an_existing_image_is_ready_whatever_the_builds_say() {
        let b = [build("p:1", "t", BuildStatus::Failed, 1)];
        assert_eq!(build_step("t", true, &b, NOW), BuildStep::Ready);
    }

    #[test]
    fn nothing_built_yet_starts_one_and_other_tags_are_ignored() {
        let b = [
            build("p:1", "other", BuildStatus::InProgress, NOW - 10),
            build("p:2", "other", BuildStatus::Failed, NOW - 1000),
        ];
        assert_eq!(build_step("t", false, &b, NOW), BuildStep::Start { after: None });
        let untagged =
            ObservedBuild { tag: None, ..build("p:3", "t", BuildStatus::InProgress, NOW) };
        assert_eq!(build_step("t", false, &[untagged], NOW), BuildStep::Start { after: None });
    }

    #[test]
    fn a_running_build_of_the_tag_is_adopted_even_after_a_failed_one() {
        let b = [
            build("p:1", "t", BuildStatus::Failed, NOW - 1000),
            build("p:2", "t", BuildStatus::InProgress, NOW - 100),
            build("p:3", "other", BuildStatus::InProgress, NOW - 5),
        ];
        assert_eq!(build_step("t", false, &b, NOW), BuildStep::Follow(&b[1]));
        // Two running (a human pressed "Start build" too): follow the newest.
        let two = [
            build("p:4", "t", BuildStatus::InProgress, NOW - 100),
            build("p:5", "t", BuildStatus::InProgress, NOW - 50),
        ];
        assert_eq!(build_step("t", false, &two, NOW), BuildStep::Follow(&two[1]));
    }

    #[test]
    fn a_failed_build_stalls_and_is_never_restarted() {
        for status in
            [BuildStatus::Failed, BuildStatus::Fault, BuildStatus::TimedOut, BuildStatus::Stopped]
        {
            let mut failed = build("p:1", "t", status, NOW - 10_000);
            failed.failed_phase = Some(("BUILD".into(), "exit status 1".into()));
            let b = [failed];
            match build_step("t", false, &b, NOW) {
                BuildStep::Failed { build, reason } => {
                    assert_eq!(build.id, "p:1");
                    assert!(reason.contains("in phase BUILD: exit status 1"), "{reason}");
                    assert!(reason.contains("https://console/p:1"), "{reason}");
                    assert!(reason.contains("rebuild-requested-at"), "{reason}");
                }
                other => panic!("{status:?}: {other:?}"),
            }
        }
        // An older success does not hide a newer failure.
        let b = [
            build("p:1", "t", BuildStatus::Succeeded, NOW - 10_000),
            build("p:2", "t", BuildStatus::Failed, NOW - 5_000),
        ];
        assert!(
            matches!(build_step("t", false, &b, NOW), BuildStep::Failed { build, .. } if build.id == "p:2")
        );
    }

    #[test]
    fn a_fresh_success_waits_for_ecr_and_a_stale_one_is_rebuilt_once() {
        let fresh = [build("p:1", "t", BuildStatus::Succeeded, NOW - 70)];
        assert_eq!(build_step("t", false, &fresh, NOW), BuildStep::Wait(&fresh[0]));
        let stale = [build("p:1", "t", BuildStatus::Succeeded, NOW - 10_000)];
        assert_eq!(
            build_step("t", false, &stale, NOW),
            BuildStep::Start { after: Some(&stale[0]) }
        );
        let again = [
            build("p:1", "t", BuildStatus::Succeeded, NOW - 10_000),
            build("p:2", "t", BuildStatus::Succeeded, NOW - 5_000),
        ];
        assert!(
            matches!(build_step("t", false, &again, NOW), BuildStep::Failed { build, reason } if build.id == "p:2" && reason.contains("also after a rebuild"))
        );
    }

    #[test]
    fn console_links_encode_the_group() {
        assert_eq!(
            console_log_url("eu-west-1", "/redcap/rc-x/image-build", "abc-1"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fredcap$252Frc-x$252Fimage-build/log-events/abc-1"
        );
    }

    #[test]
    fn statuses_and_phases() {
        for s in ["IN_PROGRESS", "SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"] {
            assert_eq!(BuildStatus::from_aws(s).as_aws(), s);
        }
        assert_eq!(BuildStatus::from_aws("SOMETHING_NEW"), BuildStatus::InProgress);
        let phases = vec![
            ("SUBMITTED".to_string(), Some("SUCCEEDED".to_string()), None),
            ("PRE_BUILD".to_string(), Some("SUCCEEDED".to_string()), None),
            ("BUILD".to_string(), Some("FAILED".to_string()), Some("exit 1".to_string())),
            ("POST_BUILD".to_string(), Some("SUCCEEDED".to_string()), None),
            ("COMPLETED".to_string(), None, None),
        ];
        assert_eq!(failed_phase(&phases), Some(("BUILD".into(), "exit 1".into())));
        assert_eq!(failed_phase(&phases[..2]), None);
    }
}
