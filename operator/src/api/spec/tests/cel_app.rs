//! CEL rules of `spec.aws`, `spec.redcap` and `spec.compute`.

use serde_json::json;

use super::{accepts, rejects, update_accepts, update_rejects};

#[test]
fn region_is_immutable() {
    update_accepts(json!({}), json!({ "suspend": true }));
    update_rejects(
        json!({}),
        json!({ "aws": { "region": "eu-west-1" } }),
        "spec.aws.region is immutable",
    );
}

#[test]
fn role_is_immutable() {
    let role = |arn: &str| json!({ "aws": { "roleArn": arn } });
    let a = "arn:aws:iam::123456789012:role/redcap-operator-a";
    let b = "arn:aws:iam::210987654321:role/redcap-operator-b";
    update_accepts(role(a), json!({ "aws": { "roleArn": a }, "suspend": true }));
    update_rejects(role(a), role(b), "spec.aws.roleArn is immutable");
    update_rejects(json!({}), role(a), "spec.aws.roleArn is immutable");
    update_rejects(role(a), json!({}), "spec.aws.roleArn is immutable");
}

#[test]
fn external_id_needs_a_role() {
    accepts(
        json!({ "aws": { "roleArn": "arn:aws:iam::123456789012:role/redcap", "externalId": "abc123" } }),
    );
    rejects(
        json!({ "aws": { "externalId": "abc123" } }),
        "spec.aws.externalId needs spec.aws.roleArn",
    );
}

#[test]
fn reserved_tag_keys_are_refused() {
    accepts(json!({ "aws": { "tags": [{ "key": "team", "value": "research" }] } }));
    for key in ["aws:createdBy", "redcap.dev/uid", "deployment"] {
        rejects(
            json!({ "aws": { "tags": [{ "key": key, "value": "x" }] } }),
            "spec.aws.tags[].key",
        );
    }
}

#[test]
fn exactly_one_release_source() {
    accepts(
        json!({ "redcap": { "source": { "s3": null, "url": { "url": "https://files.example.org/redcap15.8.0.zip" } } } }),
    );
    accepts(
        json!({ "redcap": { "source": { "s3": null, "community": { "credentialsSecretRef": { "name": "consortium" } } } } }),
    );
    rejects(
        json!({ "redcap": { "source": { "url": { "url": "https://files.example.org/r.zip" } } } }),
        "exactly one of s3, url or community",
    );
    rejects(
        json!({ "redcap": { "source": { "s3": null } } }),
        "exactly one of s3, url or community",
    );
}

#[test]
fn release_url_must_be_https() {
    let with_url =
        |url: &str| json!({ "redcap": { "source": { "s3": null, "url": { "url": url } } } });
    accepts(with_url("https://files.example.org/redcap15.8.0.zip"));
    rejects(
        with_url("http://files.example.org/redcap15.8.0.zip"),
        "spec.redcap.source.url.url must be an https:// URL",
    );
    rejects(
        with_url("files.example.org/redcap15.8.0.zip"),
        "spec.redcap.source.url.url must be an https:// URL",
    );
}

#[test]
fn the_release_zip_name_carries_the_version() {
    let s3 = |key: &str| json!({ "redcap": { "source": { "s3": { "bucket": "b", "key": key } } } });
    accepts(s3("redcap15.8.0.zip"));
    accepts(s3("releases/redcap15.8.0.zip"));
    for key in ["redcap16.1.5.zip", "redcap.zip", "releases/latest.zip", "redcap15.8.0.zip.bak"] {
        rejects(
            s3(key),
            "spec.redcap.source.s3.key must name the release zip of spec.redcap.version",
        );
    }
    let url = |u: &str| json!({ "redcap": { "source": { "s3": null, "url": { "url": u } } } });
    accepts(url("https://files.example.org/r/redcap15.8.0.zip?signature=abc"));
    for u in [
        "https://files.example.org/redcap16.1.5.zip",
        "https://files.example.org/download?file=redcap15.8.0.zip",
        "https://files.example.org/xredcap15.8.0.zip",
    ] {
        rejects(
            url(u),
            "spec.redcap.source.url.url must end in the release zip of spec.redcap.version",
        );
    }
}

#[test]
fn the_version_is_fourteen_or_later() {
    let version = |v: &str, key: &str| json!({ "redcap": { "version": v, "source": { "s3": { "bucket": "b", "key": key } } } });
    for v in ["14.0.0", "14.1.5", "15.8.0", "16.1.5", "100.0.0"] {
        accepts(version(v, &format!("redcap{v}.zip")));
    }
    for v in ["13.7.5", "9.0.0", "0.0.1"] {
        rejects(
            version(v, &format!("redcap{v}.zip")),
            "spec.redcap.version must be 14.0.0 or later",
        );
    }
}

#[test]
fn languages_need_a_source() {
    accepts(json!({ "redcap": {
        "languages": ["Japanese"],
        "languagesSource": { "bucket": "redcap-binaries", "key": "languages/" }
    } }));
    rejects(
        json!({ "redcap": { "languages": ["Japanese"] } }),
        "spec.redcap.languages needs spec.redcap.languagesSource",
    );
}

#[test]
fn base_url_must_be_https() {
    accepts(json!({ "redcap": { "settings": { "baseUrl": "https://redcap.example.org" } } }));
    rejects(
        json!({ "redcap": { "settings": { "baseUrl": "http://redcap.example.org" } } }),
        "spec.redcap.settings.baseUrl must be an https:// URL",
    );
}

#[test]
fn operator_managed_config_names_are_refused() {
    accepts(
        json!({ "redcap": { "extraConfig": [{ "name": "project_language", "value": "English" }] } }),
    );
    rejects(
        json!({ "redcap": { "extraConfig": [{ "name": "amazon_s3_secret", "value": "x" }] } }),
        "spec.redcap.extraConfig[].name is managed by the operator",
    );
}

#[test]
fn no_login_needs_an_ip_allow_list() {
    accepts(json!({
        "redcap": { "settings": { "authMethod": "None" } },
        "firewall": { "allowedIps": ["192.0.2.0/24"] }
    }));
    rejects(
        json!({ "redcap": { "settings": { "authMethod": "None" } } }),
        "spec.redcap.settings.authMethod None (no login) needs spec.firewall.allowedIps",
    );
}

#[test]
fn kind_specific_blocks_only_with_their_kind() {
    accepts(
        json!({ "compute": { "kind": "EcsExpress", "ecsExpress": { "healthCheckPath": "/index.php" } } }),
    );
    accepts(json!({ "compute": { "kind": "AppRunner", "appRunner": { "maxConcurrency": 20 } } }));
    accepts(
        json!({ "compute": { "kind": "EcsFargate", "ecsFargate": {} }, "domain": { "name": "example.org" } }),
    );
    rejects(
        json!({ "compute": { "kind": "AppRunner", "ecsFargate": {} } }),
        "spec.compute.ecsFargate is only allowed when spec.compute.kind is EcsFargate",
    );
    rejects(
        json!({ "compute": { "appRunner": {} } }),
        "spec.compute.appRunner is only allowed when spec.compute.kind is AppRunner",
    );
    rejects(
        json!({ "compute": { "kind": "AppRunner", "ecsExpress": {} } }),
        "spec.compute.ecsExpress is only allowed when spec.compute.kind is EcsExpress",
    );
}

#[test]
fn fargate_sizes() {
    let size = |cpu: u32, memory: u32| json!({ "compute": { "cpu": cpu, "memory": memory } });
    for (cpu, memory) in [
        (256, 512),
        (256, 2048),
        (512, 4096),
        (1024, 3072),
        (2048, 16384),
        (4096, 30720),
        (8192, 20480),
        (16384, 122880),
    ] {
        accepts(size(cpu, memory));
    }
    for (cpu, memory) in [
        (256, 4096),
        (512, 512),
        (1024, 1536),
        (2048, 2048),
        (4096, 31744),
        (8192, 17408),
        (16384, 36864),
    ] {
        rejects(size(cpu, memory), "not a valid Fargate size");
    }
}

#[test]
fn app_runner_sizes() {
    let size = |cpu: u32, memory: u32| json!({ "compute": { "kind": "AppRunner", "cpu": cpu, "memory": memory } });
    for (cpu, memory) in
        [(256, 512), (512, 1024), (1024, 3072), (2048, 4096), (2048, 6144), (4096, 12288)]
    {
        accepts(size(cpu, memory));
    }
    for (cpu, memory) in [(2048, 8192), (1024, 8192), (4096, 16384)] {
        rejects(size(cpu, memory), "not a valid App Runner size");
    }
    // 8 vCPU exists on Fargate only.
    rejects(size(8192, 16384), "not a valid App Runner size");
}

#[test]
fn scaling_bounds() {
    accepts(json!({ "compute": { "scaling": { "minTasks": 2, "maxTasks": 2 } } }));
    rejects(
        json!({ "compute": { "scaling": { "minTasks": 3, "maxTasks": 2 } } }),
        "spec.compute.scaling.minTasks must be <= spec.compute.scaling.maxTasks",
    );
    accepts(json!({ "compute": { "kind": "EcsExpress", "scaling": { "maxTasks": 50 } } }));
    rejects(
        json!({ "compute": { "kind": "AppRunner", "scaling": { "maxTasks": 50 } } }),
        "spec.compute.scaling.maxTasks must be <= 25",
    );
}

#[test]
fn fargate_needs_a_certificate_source() {
    accepts(json!({ "compute": { "kind": "EcsFargate" }, "domain": { "name": "example.org" } }));
    accepts(json!({ "compute": { "kind": "EcsFargate", "ecsFargate": {
        "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f9a6b1c-1111-2222-3333-444455556666"
    } } }));
    rejects(
        json!({ "compute": { "kind": "EcsFargate" } }),
        "spec.compute.kind EcsFargate needs spec.domain",
    );
}

#[test]
fn certificates_must_be_in_the_region() {
    let arn = |region: &str| {
        format!(
            "arn:aws:acm:{region}:123456789012:certificate/0f9a6b1c-1111-2222-3333-444455556666"
        )
    };
    accepts(json!({ "domain": { "name": "example.org", "certificateArn": arn("us-east-1") } }));
    rejects(
        json!({ "domain": { "name": "example.org", "certificateArn": arn("eu-west-1") } }),
        "spec.domain.certificateArn must be a certificate in spec.aws.region",
    );
    rejects(
        json!({ "compute": { "kind": "EcsFargate", "ecsFargate": { "certificateArn": arn("eu-west-1") } } }),
        "spec.compute.ecsFargate.certificateArn must be a certificate in spec.aws.region",
    );
    rejects(
        json!({
            "domain": { "name": "example.org", "certificateArn": arn("us-east-1") },
            "compute": { "kind": "EcsFargate", "ecsFargate": { "certificateArn": arn("us-east-1") } }
        }),
        "mutually exclusive",
    );
}

#[test]
fn app_runner_custom_domains_only_in_supported_regions() {
    let app_runner = |region: &str, mode: &str| {
        json!({
            "aws": { "region": region },
            "compute": { "kind": "AppRunner" },
            "domain": { "name": "example.org", "hostedZone": { "mode": mode } }
        })
    };
    // The rule and the constant plan/ reads must agree.
    for region in crate::api::APP_RUNNER_CUSTOM_DOMAIN_REGIONS {
        accepts(app_runner(region, "Create"));
    }
    accepts(app_runner("sa-east-1", "None"));
    rejects(app_runner("sa-east-1", "Create"), "App Runner custom domains");
}
