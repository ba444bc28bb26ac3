//! The IAM roles the compute service runs under, least privilege (step: plan; pure).
//!
//! - The **task role** (ECS) or **instance role** (App Runner) is REDCap's own identity:
//!   the runtime policy the secrets component renders (the environment's secrets and key,
//!   `rds-db:connect` as REDCap's database user), the file bucket's objects, and sending
//!   mail through the SES identity.
//! - The **execution role** (ECS) pulls this environment's image, writes its log group,
//!   and reads exactly the secrets injected into the container.
//! - The **access role** (App Runner) pulls this environment's image.
//! - The **infrastructure role** (ECS Express) lets ECS manage the load balancer, target
//!   group, certificate and scaling of the Express service (AWS's managed policy).
//!
//! Each trust policy names one service and, where the service sends them, this account.

use serde_json::{Value, json};

use crate::plan::iam::{DesiredRole, ROLE_PATH};
use crate::plan::naming::bucket_arn;
use crate::plan::tags::TagSet;

/// AWS's managed policy for the infrastructure role of Express services.
pub const EXPRESS_INFRASTRUCTURE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices";

/// Where the roles are and what they may touch.
#[derive(Clone, Debug)]
pub struct RoleScope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub environment_id: &'a str,
    pub kms_key_arn: &'a str,
    pub repository_arn: String,
    pub log_group: String,
    pub file_bucket: &'a str,
    /// The SES identity REDCap sends from.
    pub email_identity: &'a str,
    pub tags: TagSet,
}

fn statement(sid: &str, actions: &[&str], resource: Value) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource})
}

fn trust(service: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
}

fn role(
    s: &RoleScope<'_>,
    suffix: &str,
    description: &str,
    trust_policy: Value,
    policy: Value,
) -> DesiredRole {
    DesiredRole {
        name: format!("{}-{suffix}", s.environment_id),
        path: ROLE_PATH.to_string(),
        description: format!("{description} (managed by redcap-operator)"),
        trust_policy,
        policy_name: format!("redcap-{suffix}"),
        policy,
        managed_policies: Vec::new(),
        tags: s.tags.clone(),
    }
}

/// REDCap's own permissions: the runtime policy plus the file bucket and SES.
fn runtime_permissions(s: &RoleScope<'_>, runtime_policy: &Value) -> Value {
    let mut statements = runtime_policy["Statement"].as_array().cloned().unwrap_or_default();
    statements.push(statement(
        "FileBucketObjects",
        &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        json!(format!("{}/*", bucket_arn(s.partition, s.file_bucket))),
    ));
    statements.push(statement(
        "FileBucketListing",
        &["s3:ListBucket"],
        json!(bucket_arn(s.partition, s.file_bucket)),
    ));
    statements.push(statement(
        "SendMailAsTheEnvironment",
        &["ses:SendEmail", "ses:SendRawEmail"],
        json!(format!(
            "arn:{}:ses:{}:{}:identity/{}",
            s.partition, s.region, s.account, s.email_identity
        )),
    ));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The ECS task role.
pub fn task_role(s: &RoleScope<'_>, runtime_policy: &Value) -> DesiredRole {
    role(
        s,
        "task",
        "REDCap's runtime identity",
        trust("ecs-tasks.amazonaws.com", s.account),
        runtime_permissions(s, runtime_policy),
    )
}

/// The App Runner instance role.
pub fn instance_role(s: &RoleScope<'_>, runtime_policy: &Value, secrets: &[String]) -> DesiredRole {
    let mut policy = runtime_permissions(s, runtime_policy);
    // App Runner injects the secrets with the instance role (ECS uses the execution role).
    if let Some(list) = policy["Statement"].as_array_mut() {
        list.push(statement(
            "ReadInjectedSecrets",
            &["secretsmanager:GetSecretValue"],
            json!(secrets),
        ));
    }
    role(
        s,
        "instance",
        "REDCap's runtime identity on App Runner",
        trust("tasks.apprunner.amazonaws.com", s.account),
        policy,
    )
}

fn pull_statements(s: &RoleScope<'_>) -> Vec<Value> {
    vec![
        statement("LogInToEcr", &["ecr:GetAuthorizationToken"], json!("*")),
        statement(
            "PullEnvironmentImage",
            &["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            json!(s.repository_arn),
        ),
        json!({
            "Sid": "DecryptEnvironmentImage",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": s.kms_key_arn,
            "Condition": {"StringEquals": {
                "kms:ViaService": format!("ecr.{}.amazonaws.com", s.region)
            }}
        }),
    ]
}

/// The ECS execution role: the image, the log group, the injected secrets.
pub fn execution_role(s: &RoleScope<'_>, secrets: &[String]) -> DesiredRole {
    let log_group =
        format!("arn:{}:logs:{}:{}:log-group:{}", s.partition, s.region, s.account, s.log_group);
    let mut statements = pull_statements(s);
    statements.push(statement(
        "WriteContainerLogs",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        json!([log_group.clone(), format!("{log_group}:*")]),
    ));
    statements.push(statement(
        "ReadInjectedSecrets",
        &["secretsmanager:GetSecretValue"],
        json!(secrets),
    ));
    statements.push(json!({
        "Sid": "DecryptInjectedSecrets",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": s.kms_key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": format!("secretsmanager.{}.amazonaws.com", s.region)
        }}
    }));
    role(
        s,
        "exec",
        "Starts REDCap's tasks: pulls its image, writes its logs, reads its secrets",
        trust("ecs-tasks.amazonaws.com", s.account),
        json!({"Version": "2012-10-17", "Statement": statements}),
    )
}

/// The App Runner access role: pulls the image.
pub fn access_role(s: &RoleScope<'_>) -> DesiredRole {
    role(
        s,
        "apprunner-access",
        "Lets App Runner pull REDCap's image",
        trust("build.apprunner.amazonaws.com", s.account),
        json!({"Version": "2012-10-17", "Statement": pull_statements(s)}),
    )
}

/// The ECS Express infrastructure role (AWS's managed policy; ECS assumes it to manage
/// the service's load balancer, certificate and scaling).
pub fn infrastructure_role(s: &RoleScope<'_>) -> DesiredRole {
    let mut r = role(
        s,
        "infra",
        "Lets ECS Express manage REDCap's load balancer and scaling",
        trust("ecs.amazonaws.com", s.account),
        // Nothing beyond the managed policy; an inline policy must hold a statement.
        json!({"Version": "2012-10-17", "Statement": [statement(
            "DescribeOwnService",
            &["ecs:DescribeServices"],
            json!(format!(
                "arn:{}:ecs:{}:{}:service/{}/*",
                s.partition, s.region, s.account, s.environment_id
            ))
        )]}),
    );
    r.managed_policies =
        vec![EXPRESS_INFRASTRUCTURE_POLICY.replace("arn:aws:", &format!("arn:{}:", s.partition))];
    r
}

/// The role's ARN.
pub fn arn(s: &RoleScope<'_>, role: &DesiredRole) -> String {
    crate::plan::iam::role_arn(s.partition, s.account, &role.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> RoleScope<'static> {
        RoleScope {
            partition: "aws",
            region: "eu-west-1",
            account: "123456789012",
            environment_id: "rc-x",
            kms_key_arn: "arn:aws:kms:eu-west-1:123456789012:key/k",
            repository_arn: "arn:aws:ecr:eu-west-1:123456789012:repository/redcap/rc-x".into(),
            log_group: "/redcap/rc-x/redcap".into(),
            file_bucket: "rc-x-files",
            email_identity: "example.org",
            tags: TagSet::new(),
        }
    }

    fn sids(r: &DesiredRole) -> Vec<String> {
        r.policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn the_execution_role_reads_exactly_the_injected_secrets() {
        let secrets = vec!["arn:a".to_string(), "arn:b".to_string()];
        let r = execution_role(&scope(), &secrets);
        assert_eq!(r.name, "rc-x-exec");
        let read = r.policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .find(|s| s["Sid"] == "ReadInjectedSecrets")
            .expect("statement");
        assert_eq!(read["Resource"], json!(secrets));
        assert_eq!(
            r.trust_policy["Statement"][0]["Principal"]["Service"],
            "ecs-tasks.amazonaws.com"
        );
        assert_eq!(
            r.trust_policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }

    #[test]
    fn the_task_role_adds_the_bucket_and_ses_to_the_runtime_policy() {
        let runtime = json!({"Statement": [{"Sid": "ConnectAsRedcapUser"}]});
        let r = task_role(&scope(), &runtime);
        assert_eq!(
            sids(&r),
            [
                "ConnectAsRedcapUser",
                "FileBucketObjects",
                "FileBucketListing",
                "SendMailAsTheEnvironment"
            ]
        );
    }

    #[test]
    fn express_gets_the_managed_infrastructure_policy() {
        let r = infrastructure_role(&scope());
        assert_eq!(r.managed_policies, [EXPRESS_INFRASTRUCTURE_POLICY]);
        assert_eq!(r.trust_policy["Statement"][0]["Principal"]["Service"], "ecs.amazonaws.com");
    }
}
