//! The IAM role the CodeBuild project runs as, least privilege (step: plan; pure).
//!
//! Trusted only by CodeBuild, for this project of this account (confused-deputy
//! conditions). Its one inline policy allows exactly what the buildspec does: write the
//! build log, log in to ECR and push to this environment's repository, read the context
//! zip from the build bucket, read the release zip (S3 source) and the language files,
//! use the environment's key, create the build's network interfaces in the private
//! subnets, and read the consortium credentials (community source).

use serde_json::{Value, json};

use crate::plan::naming::bucket_arn;

use super::buildspec::{Languages, ZipSource};

/// Name of the role's inline policy.
pub const POLICY_NAME: &str = "redcap-image-build";

/// What the role needs to know about the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleScope {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub project_name: String,
    pub log_group: String,
    pub repository_arn: String,
    pub build_bucket: String,
    /// Key prefix of the context zips in the build bucket (`contexts/`).
    pub context_prefix: String,
    pub kms_key_arn: String,
    pub zip: ZipSource,
    pub languages: Languages,
    /// Private subnet ids the builds run in.
    pub subnets: Vec<String>,
}

/// Only CodeBuild, building this project of this account, may assume the role.
pub fn trust_policy(scope: &RoleScope) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": scope.account},
                "ArnLike": {"aws:SourceArn": format!(
                    "arn:{}:codebuild:{}:{}:project/{}",
                    scope.partition, scope.region, scope.account, scope.project_name
                )}
            }
        }]
    })
}

/// The role's permissions.
pub fn build_policy(scope: &RoleScope) -> Value {
    let p = &scope.partition;
    let log_group_arn =
        format!("arn:{p}:logs:{}:{}:log-group:{}", scope.region, scope.account, scope.log_group);
    let build_bucket = bucket_arn(p, &scope.build_bucket);
    let mut statements = vec![
        json!({
            "Sid": "WriteBuildLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn.clone(), format!("{log_group_arn}:*")]
        }),
        json!({
            "Sid": "LogInToEcr",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*"
        }),
        json!({
            "Sid": "PushToEnvironmentRepository",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart"
            ],
            "Resource": scope.repository_arn
        }),
        json!({
            "Sid": "ReadBuildBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation"],
            "Resource": build_bucket
        }),
        json!({
            "Sid": "ReadBuildContext",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": format!("{build_bucket}/{}*", scope.context_prefix)
        }),
        json!({
            "Sid": "UseEnvironmentKey",
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*"
            ],
            "Resource": scope.kms_key_arn
        }),
        json!({
            "Sid": "DescribeNetwork",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs"
            ],
            "Resource": "*"
        }),
    ];
    let mut subnets: Vec<String> = scope
        .subnets
        .iter()
        .map(|s| format!("arn:{p}:ec2:{}:{}:subnet/{s}", scope.region, scope.account))
        .collect();
    subnets.sort();
    statements.push(json!({
        "Sid": "AttachNetworkInterfacesInPrivateSubnets",
        "Effect": "Allow",
        "Action": ["ec2:CreateNetworkInterfacePermission"],
        "Resource": format!("arn:{p}:ec2:{}:{}:network-interface/*", scope.region, scope.account),
        "Condition": {
            "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
            "ArnEquals": {"ec2:Subnet": subnets}
        }
    }));
    match &scope.zip {
        ZipSource::S3 { bucket, key } => statements.push(json!({
            "Sid": "ReadReleaseZip",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": format!("{}/{key}", bucket_arn(p, bucket))
        })),
        ZipSource::Community { secret_arn } => statements.push(json!({
            "Sid": "ReadConsortiumCredentials",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_arn
        })),
        ZipSource::Url { .. } => {}
    }
    match &scope.languages {
        Languages::None => {}
        Languages::All { bucket, prefix } | Languages::Named { bucket, prefix, .. } => {
            statements.push(json!({
                "Sid": "ListLanguageFiles",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": bucket_arn(p, bucket),
                "Condition": {"StringLike": {"s3:prefix": format!("{prefix}*")}}
            }));
            statements.push(json!({
                "Sid": "ReadLanguageFiles",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": format!("{}/{prefix}*", bucket_arn(p, bucket))
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(zip: ZipSource, languages: Languages) -> RoleScope {
        RoleScope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            project_name: "rc-x-image".into(),
            log_group: "/redcap/rc-x/image-build".into(),
            repository_arn: "arn:aws:ecr:eu-west-1:123456789012:repository/redcap/rc-x".into(),
            build_bucket: "rc-x-build".into(),
            context_prefix: "contexts/".into(),
            kms_key_arn: "arn:aws:kms:eu-west-1:123456789012:key/k".into(),
            zip,
            languages,
            subnets: vec!["subnet-b".into(), "subnet-a".into()],
        }
    }

    fn statement<'a>(policy: &'a Value, sid: &str) -> Option<&'a Value> {
        policy["Statement"].as_array().expect("statements").iter().find(|s| s["Sid"] == sid)
    }

    #[test]
    fn s3_source_reads_exactly_the_release_zip() {
        let s = scope(
            ZipSource::S3 { bucket: "rel".into(), key: "r/redcap15.8.0.zip".into() },
            Languages::None,
        );
        let p = build_policy(&s);
        assert_eq!(
            statement(&p, "ReadReleaseZip").expect("statement")["Resource"],
            "arn:aws:s3:::rel/r/redcap15.8.0.zip"
        );
        assert!(statement(&p, "ReadConsortiumCredentials").is_none());
        assert!(statement(&p, "ReadLanguageFiles").is_none());
        assert_eq!(
            statement(&p, "PushToEnvironmentRepository").expect("push")["Resource"],
            s.repository_arn
        );
        assert_eq!(
            statement(&p, "ReadBuildContext").expect("context")["Resource"],
            "arn:aws:s3:::rc-x-build/contexts/*"
        );
        let eni = statement(&p, "AttachNetworkInterfacesInPrivateSubnets").expect("eni");
        assert_eq!(
            eni["Condition"]["ArnEquals"]["ec2:Subnet"],
            json!([
                "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-a",
                "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-b"
            ])
        );
        // Only the two actions that cannot be scoped take "*".
        for st in p["Statement"].as_array().expect("statements") {
            if st["Resource"] == "*" {
                assert!(
                    ["LogInToEcr", "DescribeNetwork"].contains(&st["Sid"].as_str().expect("sid")),
                    "{st}"
                );
            }
        }
    }

    #[test]
    fn community_source_reads_only_its_secret_and_languages_their_prefix() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redcap/rc-x/community-credentials-AbCdEf";
        let p = build_policy(&scope(
            ZipSource::Community { secret_arn: arn.into() },
            Languages::All { bucket: "langs".into(), prefix: "lang/".into() },
        ));
        assert_eq!(statement(&p, "ReadConsortiumCredentials").expect("secret")["Resource"], arn);
        assert!(statement(&p, "ReadReleaseZip").is_none());
        assert_eq!(
            statement(&p, "ReadLanguageFiles").expect("languages")["Resource"],
            "arn:aws:s3:::langs/lang/*"
        );
        assert_eq!(
            statement(&p, "ListLanguageFiles").expect("list")["Condition"]["StringLike"]["s3:prefix"],
            "lang/*"
        );
    }

    #[test]
    fn trust_is_limited_to_the_project() {
        let t =
            trust_policy(&scope(ZipSource::Url { url: "u".into(), sha256: None }, Languages::None));
        let st = &t["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "codebuild.amazonaws.com");
        assert_eq!(
            st["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:codebuild:eu-west-1:123456789012:project/rc-x-image"
        );
        assert_eq!(
            crate::plan::iam::role_arn("aws", "123456789012", "rc-x-image-build"),
            "arn:aws:iam::123456789012:role/redcap/rc-x-image-build"
        );
    }
}
