use super::*;
use crate::api::{CommunitySource, CredentialsSecretRef, RedcapSource, S3Location, UrlSource};
use crate::plan::network::{NetworkOutputs, SecurityGroups};

fn identity() -> EnvIdentity {
    EnvIdentity::test()
}

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k-1";

fn spec() -> RedcapSpec {
    RedcapSpec::new("15.8.0", RedcapSource::s3("releases", "redcap15.8.0.zip"))
}

fn network() -> NetworkOutputs {
    NetworkOutputs {
        vpc_id: "vpc-1".into(),
        private_subnets: vec!["subnet-b".into(), "subnet-a".into()],
        security_groups: SecurityGroups { build: "sg-build".into(), ..SecurityGroups::default() },
        ..NetworkOutputs::default()
    }
}

#[test]
fn names_are_derived_from_the_environment_id_and_fit_aws_limits() {
    let env_id = identity().environment_id();
    assert_eq!(repository_name(&env_id), format!("redcap/{env_id}"));
    assert_eq!(project_name(&env_id), format!("{env_id}-image"));
    assert_eq!(log_group_name(&env_id), format!("/redcap/{env_id}/image-build"));
    let long = crate::plan::naming::environment_id(&"n".repeat(60), &"m".repeat(60), "u");
    assert!(role_name(&long).len() <= 64);
    crate::plan::naming::validate_bucket_name(&build_bucket_name(&long)).expect("valid bucket");
    assert_eq!(context_key("abc"), "contexts/abc.zip");
    assert_eq!(
        repository_uri("aws", "123456789012", "eu-west-1", "redcap/x"),
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redcap/x"
    );
    assert_eq!(
        repository_uri("aws-cn", "123456789012", "cn-north-1", "redcap/x"),
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/redcap/x"
    );
    assert_eq!(image_reference("u/r", "sha256:ab"), "u/r@sha256:ab", "always by digest");
}

#[test]
fn the_request_names_the_image_after_checking_the_inputs() {
    let r = image_request(&spec(), "rev", None).expect("valid");
    assert_eq!(r.version.to_string(), "15.8.0");
    assert!(r.tag.starts_with("15.8.0-"));
    assert_eq!(r.languages, Languages::None);
    assert_ne!(
        image_request(&spec(), "rev", Some("now")).expect("valid").tag,
        r.tag,
        "the rebuild annotation asks for a new image"
    );

    let mut old = spec();
    old.version = "13.7.5".into();
    old.source = RedcapSource::s3("releases", "redcap13.7.5.zip");
    let err = image_request(&old, "rev", None).expect_err("unsupported");
    assert!(err.to_string().starts_with("spec.redcap.version:"), "{err}");

    let mut other = spec();
    other.source = RedcapSource::s3("releases", "redcap16.1.5.zip");
    let err = image_request(&other, "rev", None).expect_err("other version");
    assert!(err.to_string().contains("is REDCap 16.1.5"), "{err}");

    let mut langs = spec();
    langs.languages = vec!["Japanese".into()];
    assert!(image_request(&langs, "rev", None).is_err(), "needs a source");
    langs.languages_source = Some(S3Location { bucket: "l".into(), key: "lang".into() });
    assert!(image_request(&langs, "rev", None).is_ok());
    langs.languages = vec!["$(id)".into()];
    assert!(image_request(&langs, "rev", None).is_err());

    let mut none = spec();
    none.source = RedcapSource::default();
    assert!(image_request(&none, "rev", None).is_err());
}

#[test]
fn zip_sources() {
    assert_eq!(
        zip_source(&spec(), None),
        Some(ZipSource::S3 { bucket: "releases".into(), key: "redcap15.8.0.zip".into() })
    );
    let mut url = spec();
    url.source = RedcapSource {
        url: Some(UrlSource { url: "https://x/redcap15.8.0.zip".into(), sha256: None }),
        ..RedcapSource::default()
    };
    assert!(matches!(zip_source(&url, None), Some(ZipSource::Url { .. })));
    let mut community = spec();
    community.source = RedcapSource {
        community: Some(CommunitySource {
            credentials_secret_ref: CredentialsSecretRef {
                name: "consortium".into(),
                username_key: "username".into(),
                password_key: "password".into(),
            },
        }),
        ..RedcapSource::default()
    };
    assert_eq!(zip_source(&community, None), None, "waits for the secret copy");
    assert_eq!(
        zip_source(&community, Some("arn:s")),
        Some(ZipSource::Community { secret_arn: "arn:s".into() })
    );
}

#[test]
fn the_build_bucket_is_hardened_like_the_file_bucket() {
    let b = desired_build_bucket(&identity(), &[], KEY).expect("bucket");
    assert_eq!(b.name, build_bucket_name(&identity().environment_id()));
    assert_eq!(b.encryption, Encryption::Kms { key_arn: KEY.into() });
    assert_eq!(b.policy["Statement"][0]["Sid"], "DenyInsecureTransport");
    assert_eq!(b.tags.get(crate::api::tags::COMPONENT), Some("image"));
    assert_eq!(b.versioning, None);
}

#[test]
fn log_group_follows_the_retention_and_the_key() {
    let want = desired_log_group(&identity(), &[], 30, KEY).expect("group");
    assert_eq!(want.retention_days, 30);
    assert!(desired_log_group(&identity(), &[], 17, KEY).is_err());
    assert_eq!(
        want.name,
        "/redcap/rc-redcap-prod-uid1/image-build"
            .replace("rc-redcap-prod-uid1", &identity().environment_id())
    );
    assert_eq!(want.tags.get(crate::api::tags::COMPONENT), Some("image"));
}

#[test]
fn the_project_runs_privileged_in_the_private_subnets_with_the_build_group() {
    assert_eq!(project_vpc(&NetworkOutputs::default()), None);
    let vpc = project_vpc(&network()).expect("vpc");
    let request = image_request(&spec(), "0123456789abcdef0123", None).expect("valid");
    let (project, role) = desired_pipeline(&PipelineInput {
        id: &identity(),
        account: "123456789012",
        key_arn: KEY,
        request: &request,
        zip: zip_source(&spec(), None).expect("zip"),
        vpc,
        extra_tags: &[],
    })
    .expect("pipeline");
    let env_id = identity().environment_id();
    assert!(project.definition.privileged);
    assert_eq!(project.definition.name, project_name(&env_id));
    assert_eq!(
        project.definition.source_location,
        format!("{env_id}-build/contexts/0123456789abcdef0123.zip")
    );
    assert_eq!(project.definition.encryption_key, KEY);
    assert_eq!(project.definition.log_group, log_group_name(&env_id));
    let vpc = project.definition.vpc.as_ref().expect("vpc");
    assert_eq!(vpc.subnets, ["subnet-a", "subnet-b"], "normalised");
    assert_eq!(vpc.security_groups, ["sg-build"]);
    assert_eq!(
        project.definition.service_role,
        format!("arn:aws:iam::123456789012:role/redcap/{env_id}-image-build")
    );
    let tag = project
        .definition
        .environment
        .iter()
        .find(|v| v.name == "IMAGE_TAG")
        .expect("tag variable");
    assert_eq!(tag.value, request.tag);
    assert!(project.definition.environment.iter().any(|v| v.name == "ECR_REPOSITORY_URI"
        && v.value == format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redcap/{env_id}")));
    assert!(project.tags.is_owned_by("uid-1"));
    assert_eq!(role.name, role_name(&env_id));
    assert_eq!(role.path, "/redcap/");
    // An unchanged spec renders an unchanged project (no update loop).
    assert_eq!(
        project::project_drift(&project.definition, &project.definition.clone()),
        Vec::<&str>::new()
    );
}
