//! `spec.domain` with the operator as a process under the chart's RBAC against the real
//! kube-apiserver and the emulator, one environment per hosted-zone mode, all EcsFargate
//! with the certificate the operator requests:
//!
//! - `Create` with `delegateFromParent` through `parentZoneRoleArn`: the parent zone lives
//!   in a second emulated account (moto keeps one state per account; the role is assumed
//!   into it). An operator killed while it creates is replaced by one that finds the zone
//!   and the certificate (exactly one of each); the certificate is validated only after
//!   its records exist in the zone (ACM hands them out late here, `acm.records`); the NS
//!   records reach the parent; the Fargate listener serves the certificate; the site's
//!   alias names the load balancer; `status.outputs.url` is the domain; a settled
//!   environment writes nothing, to AWS or to its status; a switch to App Runner moves
//!   the site to App Runner's custom domain and deletes the certificate no kind needs;
//!   deletion (`Delete`) removes the records, the association, the delegation and the
//!   zone.
//! - `Existing`: the records go into a zone someone else owns; a foreign value in the
//!   TXT set the SES records share survives every operation, deletion included, and so
//!   does the zone and a record the environment never wrote.
//! - `None`: the records to create are listed in status; once "someone" creates them (the
//!   test, in a zone of its own), the certificate is issued and the URL is the domain.
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::time::Duration;

use r53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::eventually_despite_errors;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, is_ready};
use redcap_operator::api::{ComponentName, RedcapEnvironment};
use redcap_operator::aws::sdk::aws_sdk_acm as acm;
use redcap_operator::aws::sdk::aws_sdk_elasticloadbalancingv2 as elbv2;
use redcap_operator::aws::sdk::aws_sdk_route53 as r53;
use redcap_operator::aws::sdk::aws_sdk_sts as sts;

const TIMEOUT: Duration = Duration::from_secs(300);
/// The account of the parent zone (moto keeps a separate state per account).
const PARENT_ACCOUNT: &str = "111111111111";

fn fargate() -> &'static str {
    "    kind: EcsFargate\n"
}

fn domain(name: &str, sub: &str, zone: &str) -> String {
    format!("  domain:\n    name: {name}\n    subdomain: {sub}\n{zone}")
}

fn component_message(e: &RedcapEnvironment, name: ComponentName) -> String {
    e.status
        .as_ref()
        .and_then(|s| s.components.iter().find(|c| c.name == name))
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

fn url(e: &RedcapEnvironment) -> Option<String> {
    e.status.as_ref()?.outputs.url.clone()
}

/// A Route 53 client acting in `account` through an assumed role (moto stores what it
/// does in that account).
async fn route53_in(env: &TestEnv, account: &str) -> anyhow::Result<r53::Client> {
    let out = sts::Client::new(&env.aws)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/dns-parent"))
        .role_session_name("e2e")
        .send()
        .await?;
    let c = out.credentials().expect("credentials");
    let creds = r53::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    Ok(r53::Client::from_conf(
        r53::config::Builder::from(&env.aws).credentials_provider(creds).build(),
    ))
}

async fn zones(r: &r53::Client, name: &str) -> Vec<r53::types::HostedZone> {
    let Ok(out) = r.list_hosted_zones_by_name().dns_name(name).send().await else {
        return Vec::new();
    };
    out.hosted_zones().iter().filter(|z| z.name().trim_end_matches('.') == name).cloned().collect()
}

async fn create_zone(r: &r53::Client, name: &str) -> anyhow::Result<String> {
    let out =
        r.create_hosted_zone().name(name).caller_reference(format!("e2e-{name}")).send().await?;
    Ok(out.hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string())
}

async fn record_set(
    r: &r53::Client,
    zone: &str,
    name: &str,
    type_: &str,
) -> Option<ResourceRecordSet> {
    let out = r
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(RrType::from(type_))
        .max_items(1)
        .send()
        .await
        .ok()?;
    out.resource_record_sets()
        .iter()
        .find(|s| s.name().trim_end_matches('.') == name && s.r#type().as_str() == type_)
        .cloned()
}

fn values(set: &Option<ResourceRecordSet>) -> Vec<String> {
    let mut v: Vec<String> = set
        .iter()
        .flat_map(|s| {
            s.resource_records().iter().map(|r| r.value().trim_end_matches('.').to_string())
        })
        .collect();
    v.sort();
    v
}

async fn put(
    r: &r53::Client,
    zone: &str,
    name: &str,
    type_: &str,
    vals: &[&str],
) -> anyhow::Result<()> {
    let mut set = ResourceRecordSet::builder().name(name).r#type(RrType::from(type_)).ttl(300);
    for v in vals {
        set = set.resource_records(ResourceRecord::builder().value(*v).build()?);
    }
    r.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(set.build()?)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

async fn certificates(c: &acm::Client, domain: &str) -> Vec<String> {
    let Ok(out) = c.list_certificates().send().await else {
        return Vec::new();
    };
    out.certificate_summary_list()
        .iter()
        .filter(|s| s.domain_name() == Some(domain))
        .filter_map(|s| s.certificate_arn().map(str::to_string))
        .collect()
}

async fn listener_certificate(elb: &elbv2::Client, name: &str) -> Option<String> {
    let lbs = elb.describe_load_balancers().names(name).send().await.ok()?;
    let arn = lbs.load_balancers().first()?.load_balancer_arn()?.to_string();
    let out = elb.describe_listeners().load_balancer_arn(arn).send().await.ok()?;
    let https = out.listeners().iter().find(|l| l.port() == Some(443))?;
    https.certificates().first()?.certificate_arn().map(str::to_string)
}

fn environment_id(e: &RedcapEnvironment) -> String {
    e.status.as_ref().and_then(|s| s.environment_id.clone()).expect("status.environmentId")
}

#[tokio::test]
async fn each_zone_mode_serves_the_site_on_its_domain_and_leaves_foreign_records_alone()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("dns").await?;
    let control = EmulatorControl::from_env();
    // ACM hands out the validation records some seconds after the request.
    let _late = control.set_duration("acm.records", 4)?;
    let route53 = r53::Client::new(&env.aws);
    let certs = acm::Client::new(&env.aws);
    let elb = elbv2::Client::new(&env.aws);
    let parent_r53 = route53_in(&env, PARENT_ACCOUNT).await?;

    // The names are the namespace's, so that other tests' zones never match.
    let parent = format!("{ns}.example.org");
    let created_site = format!("a.{parent}");
    let existing_site = format!("b.{parent}");
    let manual_site = format!("c.{ns}.example.net");
    let parent_zone = create_zone(&parent_r53, &parent).await?;
    // The `Existing` zone is another one of the same name, in the environment's account.
    let shared_zone = create_zone(&route53, &parent).await?;
    let mail = format!("mail.{existing_site}");
    put(&route53, &shared_zone, &mail, "TXT", &["\"someone-else\""]).await?;
    let untouched = format!("other.{parent}");
    put(&route53, &shared_zone, &untouched, "A", &["192.0.2.7"]).await?;

    let role = format!("arn:aws:iam::{PARENT_ACCOUNT}:role/dns-parent");
    let create = EnvironmentManifest::new("created")
        .from_address(&format!("noreply@{created_site}"))
        .compute(fargate())
        .spec(&format!(
            "{}    delegateFromParent: true\n    parentZoneRoleArn: {role}\n",
            domain(&parent, "a", "")
        ));
    let existing = EnvironmentManifest::new("existing")
        .from_address(&format!("noreply@{existing_site}"))
        .compute(fargate())
        .spec(&domain(
            &parent,
            "b",
            &format!("    hostedZone:\n      mode: Existing\n      zoneName: {parent}\n"),
        ));
    let manual = EnvironmentManifest::new("manual")
        .from_address(&format!("noreply@{manual_site}"))
        .compute(fargate())
        .spec(&domain(&format!("{ns}.example.net"), "c", "    hostedZone:\n      mode: None\n"));
    for m in [&create, &existing, &manual] {
        env.apply_yaml(&ns, &m.yaml()).await?;
    }

    // Killed once the zone exists and while the certificate is being validated; the
    // next operator finds both.
    // The namespace may write into its zone and assume the parent zone's role.
    let policy = format!(
        "default:\n  domains: [example.org, example.net]\n  hostedZones: [{parent}]\n  roles:\n  - arn: {role}\n"
    );
    let opts =
        || OperatorOptions { tenancy_policy: policy.clone(), ..OperatorOptions::scoped(&ns) };
    let mut op = Operator::start(&env, "dns-1", opts()).await?;
    let pending = env
        .wait_env(&ns, "created", TIMEOUT, "its zone created", |e| {
            e.status.as_ref().is_some_and(|s| !s.outputs.name_servers.is_empty())
        })
        .await?;
    op.kill().await?;
    assert_ne!(url(&pending).as_deref(), Some(format!("https://{created_site}").as_str()));
    let mut op = Operator::start(&env, "dns-2", opts()).await?;

    // The certificate waits for its records: seen waiting before Ready.
    let waiting = env
        .wait_env(&ns, "created", TIMEOUT, "the certificate waiting for validation", |e| {
            component_message(e, ComponentName::Domain).contains("waiting for ACM to validate")
                || is_ready(e)
        })
        .await?;
    assert!(!is_ready(&waiting), "Ready before the certificate was validated");

    let ready = env.wait_ready(&ns, "created", TIMEOUT).await?;
    let status = ready.status.clone().expect("status");
    assert_eq!(status.outputs.url.as_deref(), Some(format!("https://{created_site}").as_str()));
    assert_eq!(zones(&route53, &created_site).await.len(), 1, "exactly one zone across the kill");
    let issued = certificates(&certs, &created_site).await;
    assert_eq!(issued.len(), 1, "exactly one certificate across the kill: {issued:?}");
    let cert = certs.describe_certificate().certificate_arn(&issued[0]).send().await?;
    let cert = cert.certificate().expect("certificate");
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    assert_eq!(status.outputs.certificate_arn.as_deref(), Some(issued[0].as_str()));
    let zone_id =
        zones(&route53, &created_site).await[0].id().trim_start_matches("/hostedzone/").to_string();
    for option in cert.domain_validation_options() {
        let rr = option.resource_record().expect("validation record");
        let name = rr.name().trim_end_matches('.');
        assert_eq!(
            values(&record_set(&route53, &zone_id, name, "CNAME").await),
            [rr.value().trim_end_matches('.')],
            "the validation record is in the zone"
        );
    }
    let ns_set = record_set(&parent_r53, &parent_zone, &created_site, "NS").await;
    let mut want_ns = status.outputs.name_servers.clone();
    want_ns.sort();
    assert_eq!(values(&ns_set), want_ns, "the parent account's zone delegates to the zone");
    let env_id = environment_id(&ready);
    assert_eq!(
        listener_certificate(&elb, &env_id).await.as_deref(),
        Some(issued[0].as_str()),
        "the listener serves the requested certificate"
    );
    let alias = record_set(&route53, &zone_id, &created_site, "A").await.expect("site alias");
    let lb_dns = elb.describe_load_balancers().names(&env_id).send().await?.load_balancers()[0]
        .dns_name()
        .expect("dns")
        .to_ascii_lowercase();
    assert_eq!(
        alias.alias_target().map(|a| a.dns_name().trim_end_matches('.').to_ascii_lowercase()),
        Some(lb_dns),
        "the site names the load balancer"
    );

    // Existing: Ready on the domain; the shared TXT set holds both values.
    let ready_b = env.wait_ready(&ns, "existing", TIMEOUT).await?;
    assert_eq!(url(&ready_b).as_deref(), Some(format!("https://{existing_site}").as_str()));
    eventually_despite_errors("the SES SPF value next to the foreign one", TIMEOUT, async || {
        let v = values(&record_set(&route53, &shared_zone, &mail, "TXT").await);
        Ok(v.contains(&"\"someone-else\"".to_string()) && v.iter().any(|x| x.contains("v=spf1")))
    })
    .await?;
    assert!(record_set(&route53, &shared_zone, &existing_site, "A").await.is_some());

    // None: the records are listed; created by "someone", the site comes up.
    let listed = env
        .wait_env(&ns, "manual", TIMEOUT, "its records listed", |e| {
            e.status.as_ref().is_some_and(|s| {
                s.outputs.dns_records.iter().any(|r| {
                    r.purpose.as_deref().is_some_and(|p| p.contains("certificate validation"))
                })
            })
        })
        .await?;
    let their_zone = create_zone(&route53, &format!("{ns}.example.net")).await?;
    for r in &listed.status.as_ref().expect("status").outputs.dns_records {
        if r.type_ == "CNAME" && r.name.starts_with('_') {
            put(&route53, &their_zone, &r.name, "CNAME", &[r.value.as_str()]).await?;
        }
    }
    let ready_c = env
        .wait_env(&ns, "manual", TIMEOUT, "Ready with the site's record listed", |e| {
            is_ready(e)
                && e.status.as_ref().is_some_and(|s| {
                    s.outputs
                        .dns_records
                        .iter()
                        .any(|r| r.name == manual_site && r.type_ == "CNAME")
                })
        })
        .await?;
    assert_eq!(url(&ready_c).as_deref(), Some(format!("https://{manual_site}").as_str()));

    // Steady state: several resyncs, zero AWS writes, no status writes.
    for name in ["created", "existing", "manual"] {
        env.wait_ready(&ns, name, TIMEOUT).await?;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let writes = op.aws_calls("write").await?;
    let versions = async || -> anyhow::Result<Vec<Option<String>>> {
        let mut out = Vec::new();
        for name in ["created", "existing", "manual"] {
            out.push(env.environments(&ns).get(name).await?.metadata.resource_version);
        }
        Ok(out)
    };
    let rv = versions().await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote to AWS");
    assert_eq!(versions().await?, rv, "steady state rewrote status");

    // A switch to App Runner: the site moves to App Runner's custom domain (its
    // validation records in the zone, the alias to App Runner's domain for the service),
    // and the certificate no kind needs any more goes.
    env.patch_spec(
        &ns,
        "created",
        serde_json::json!({"compute": {"kind": "AppRunner", "cpu": 1024, "memory": 2048}}),
    )
    .await?;
    let switched = env
        .wait_env(&ns, "created", TIMEOUT, "Ready on App Runner with the URL on the domain", |e| {
            is_ready(e)
                && e.status.as_ref().and_then(|s| s.compute.as_ref()).is_some_and(|c| {
                    c.kind == redcap_operator::api::ComputeKind::AppRunner && c.retiring.is_none()
                })
                && url(e).as_deref() == Some(format!("https://{created_site}").as_str())
        })
        .await?;
    let service_url = switched
        .status
        .as_ref()
        .and_then(|s| s.outputs.service_url.clone())
        .expect("App Runner's URL");
    let alias = record_set(&route53, &zone_id, &created_site, "A").await.expect("site alias");
    assert_eq!(
        alias.alias_target().map(|a| a.dns_name().trim_end_matches('.').to_ascii_lowercase()),
        Some(service_url.trim_start_matches("https://").to_ascii_lowercase()),
        "the site names App Runner's domain"
    );
    eventually_despite_errors("the unused certificate to be deleted", TIMEOUT, async || {
        Ok(certificates(&certs, &created_site).await.is_empty())
    })
    .await?;

    // Deletion: Delete removes everything of the created zone; the existing zone keeps
    // its foreign value and its other records.
    for name in ["created", "existing", "manual"] {
        env.delete_env(&ns, name).await?;
    }
    for name in ["created", "existing", "manual"] {
        env.wait_gone(&ns, name, TIMEOUT).await?;
    }
    assert!(zones(&route53, &created_site).await.is_empty(), "the created zone is deleted");
    assert!(
        record_set(&parent_r53, &parent_zone, &created_site, "NS").await.is_none(),
        "the delegation is removed"
    );
    assert!(certificates(&certs, &created_site).await.is_empty(), "the certificate is deleted");
    assert!(certificates(&certs, &existing_site).await.is_empty());
    assert_eq!(
        values(&record_set(&route53, &shared_zone, &mail, "TXT").await),
        ["\"someone-else\""],
        "the foreign value survives, the operator's is gone"
    );
    assert!(record_set(&route53, &shared_zone, &existing_site, "A").await.is_none());
    assert!(record_set(&route53, &shared_zone, &untouched, "A").await.is_some());
    assert_eq!(zones(&route53, &parent).await.len(), 1, "the existing zone stays");
    op.stop().await?;
    Ok(())
}
