//! The CodeBuild project: its desired definition and the comparison with what
//! `BatchGetProjects` returns (step: plan; pure, no I/O).
//!
//! The project is privileged (Docker needs it), runs the Linux standard image in the
//! environment's private subnets with the build security group, logs to its own
//! KMS-encrypted log group, encrypts with the environment's key, and takes its source
//! from the uploaded context zip. The whole definition is compared after normalising
//! what AWS reorders or fills in (variable and subnet order, the key given as an id or
//! an ARN, other people's tags), so an in-sync project is never updated.

use super::buildspec::EnvVar;
use crate::plan::naming::key_id_of;
use crate::plan::tags::TagSet;

/// CodeBuild's managed Ubuntu image with Docker (the seed used `STANDARD_7_0`).
pub const BUILD_IMAGE: &str = "aws/codebuild/standard:7.0";
/// 7 GB memory, 4 vCPUs: compiling PHP extensions in the REDCap image takes a while.
pub const COMPUTE_TYPE: &str = "BUILD_GENERAL1_MEDIUM";
/// Longest a build may run.
pub const TIMEOUT_MINUTES: i32 = 60;
/// Longest a build may wait for capacity (AWS's default).
pub const QUEUED_TIMEOUT_MINUTES: i32 = 480;

/// Where the project's builds run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectVpc {
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// A project definition: what the operator writes, and what it reads back (normalised).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectDefinition {
    pub name: String,
    pub description: String,
    /// `bucket/key` of the context zip.
    pub source_location: String,
    pub buildspec: String,
    pub image: String,
    pub compute_type: String,
    pub privileged: bool,
    /// Sorted by name.
    pub environment: Vec<EnvVar>,
    pub service_role: String,
    pub timeout_minutes: i32,
    pub queued_timeout_minutes: i32,
    /// KMS key ARN (AWS may answer with the key id or an alias ARN).
    pub encryption_key: String,
    pub log_group: String,
    pub vpc: Option<ProjectVpc>,
    /// Docker layer cache on the build host.
    pub docker_layer_cache: bool,
}

/// The project as it should be: its definition and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredProject {
    pub definition: ProjectDefinition,
    pub tags: TagSet,
}

/// One correction of the project (written in one `UpdateProject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectChange {
    /// These parts of the definition differ.
    Definition(Vec<&'static str>),
    /// The full tag set to write (CodeBuild replaces all tags).
    Tags(TagSet),
}

impl crate::plan::Describe for ProjectChange {
    fn describe(&self) -> String {
        match self {
            ProjectChange::Definition(parts) => parts.join(", "),
            ProjectChange::Tags(_) => "tags".to_string(),
        }
    }
}

/// The corrections that make the project match (ownership is checked when observing).
pub fn project_changes(want: &DesiredProject, seen: &ObservedProject) -> Vec<ProjectChange> {
    let mut changes = Vec::new();
    let drift = project_drift(&want.definition, &seen.definition);
    if !drift.is_empty() {
        changes.push(ProjectChange::Definition(drift));
    }
    if let Some(tags) = tags_to_write(&want.tags, &seen.tags) {
        changes.push(ProjectChange::Tags(tags));
    }
    changes
}

/// A project as `BatchGetProjects` returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedProject {
    pub arn: String,
    pub definition: ProjectDefinition,
    pub tags: TagSet,
}

/// Sorted variables, subnets and groups: AWS keeps the order it was given, a human in the
/// console may not.
pub fn normalize(mut d: ProjectDefinition) -> ProjectDefinition {
    d.environment.sort();
    if let Some(vpc) = &mut d.vpc {
        vpc.subnets.sort();
        vpc.security_groups.sort();
    }
    d
}

/// The parts of the definition that differ (empty: in sync), for the status message.
pub fn project_drift(want: &ProjectDefinition, seen: &ProjectDefinition) -> Vec<&'static str> {
    let (want, seen) = (normalize(want.clone()), normalize(seen.clone()));
    let mut out = Vec::new();
    let mut check = |differs: bool, what: &'static str| {
        if differs {
            out.push(what);
        }
    };
    check(want.description != seen.description, "description");
    check(
        want.source_location != seen.source_location || want.buildspec != seen.buildspec,
        "source and buildspec",
    );
    check(
        want.image != seen.image
            || want.compute_type != seen.compute_type
            || want.privileged != seen.privileged,
        "build environment",
    );
    check(want.environment != seen.environment, "environment variables");
    check(want.service_role != seen.service_role, "service role");
    check(
        want.timeout_minutes != seen.timeout_minutes
            || want.queued_timeout_minutes != seen.queued_timeout_minutes,
        "timeouts",
    );
    check(key_id_of(&want.encryption_key) != key_id_of(&seen.encryption_key), "encryption key");
    check(want.log_group != seen.log_group, "logs");
    check(want.vpc != seen.vpc, "VPC");
    check(want.docker_layer_cache != seen.docker_layer_cache, "cache");
    out
}

/// Tags to add to the project (CodeBuild replaces the whole set on update, so the update
/// carries `want` laid over what is there).
pub fn tags_to_write(want: &TagSet, seen: &TagSet) -> Option<TagSet> {
    (!want.missing_from(seen).is_empty()).then(|| want.merged_over(seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar { name: name.into(), value: value.into(), secret: false }
    }

    fn definition() -> ProjectDefinition {
        ProjectDefinition {
            name: "rc-x-image".into(),
            description: "d".into(),
            source_location: "rc-x-build/contexts/abc.zip".into(),
            buildspec: "version: 0.2\n".into(),
            image: BUILD_IMAGE.into(),
            compute_type: COMPUTE_TYPE.into(),
            privileged: true,
            environment: vec![var("A", "1"), var("B", "2")],
            service_role: "arn:aws:iam::123456789012:role/redcap/rc-x-image-build".into(),
            timeout_minutes: TIMEOUT_MINUTES,
            queued_timeout_minutes: QUEUED_TIMEOUT_MINUTES,
            encryption_key: "arn:aws:kms:eu-west-1:123456789012:key/k-1".into(),
            log_group: "/redcap/rc-x/image-build".into(),
            vpc: Some(ProjectVpc {
                vpc_id: "vpc-1".into(),
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                security_groups: vec!["sg-1".into()],
            }),
            docker_layer_cache: true,
        }
    }

    #[test]
    fn reordering_and_key_ids_are_not_drift() {
        let want = definition();
        let mut seen = want.clone();
        seen.environment.reverse();
        if let Some(vpc) = &mut seen.vpc {
            vpc.subnets.reverse();
        }
        seen.encryption_key = "k-1".into();
        assert_eq!(project_drift(&want, &seen), Vec::<&str>::new());
    }

    #[test]
    fn every_part_is_compared() {
        let want = definition();
        type Change = fn(&mut ProjectDefinition);
        let cases: Vec<(Change, &str)> = vec![
            (|d| d.description = "x".into(), "description"),
            (|d| d.source_location = "b/contexts/other.zip".into(), "source and buildspec"),
            (|d| d.buildspec.push('#'), "source and buildspec"),
            (|d| d.privileged = false, "build environment"),
            (|d| d.image = "aws/codebuild/standard:5.0".into(), "build environment"),
            (|d| d.environment[0].value = "9".into(), "environment variables"),
            (|d| d.environment[0].secret = true, "environment variables"),
            (|d| d.service_role = "arn:aws:iam::1:role/other".into(), "service role"),
            (|d| d.timeout_minutes = 5, "timeouts"),
            (
                |d| d.encryption_key = "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3".into(),
                "encryption key",
            ),
            (|d| d.log_group = "/aws/codebuild/x".into(), "logs"),
            (|d| d.vpc = None, "VPC"),
            (|d| d.docker_layer_cache = false, "cache"),
        ];
        for (change, what) in cases {
            let mut seen = want.clone();
            change(&mut seen);
            assert_eq!(project_drift(&want, &seen), vec![what]);
        }
    }

    #[test]
    fn tags_are_only_added() {
        let want: TagSet = [("redcap.dev/uid", "u")].into_iter().collect();
        let seen: TagSet = [("redcap.dev/uid", "u"), ("team", "x")].into_iter().collect();
        assert_eq!(tags_to_write(&want, &seen), None);
        let other: TagSet = [("team", "x")].into_iter().collect();
        let written = tags_to_write(&want, &other).expect("missing tag");
        assert_eq!(written.get("team"), Some("x"));
        assert_eq!(written.get("redcap.dev/uid"), Some("u"));
    }
}
