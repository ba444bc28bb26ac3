//! CEL rules of `spec.domain`, `spec.email`, `spec.firewall` and the day-2 sections.

use serde_json::json;

use super::{accepts, rejects};

#[test]
fn ses_needs_a_domain_or_a_sender() {
    accepts(json!({ "email": null, "domain": { "name": "example.org" } }));
    accepts(json!({ "email": { "fromAddress": "redcap@example.org" } }));
    rejects(json!({ "email": null }), "spec.domain or spec.email.fromAddress must be set");
    rejects(
        json!({ "email": { "fromAddress": null, "bounceNotificationAddress": "ops@example.org" } }),
        "spec.domain or spec.email.fromAddress must be set",
    );
}

#[test]
fn delegation_needs_a_subdomain_and_a_new_zone() {
    accepts(
        json!({ "domain": { "name": "example.org", "subdomain": "redcap", "delegateFromParent": true } }),
    );
    rejects(
        json!({ "domain": { "name": "example.org", "delegateFromParent": true } }),
        "spec.domain.delegateFromParent needs spec.domain.subdomain",
    );
    rejects(
        json!({ "domain": {
            "name": "example.org", "subdomain": "redcap", "delegateFromParent": true,
            "hostedZone": { "mode": "Existing", "zoneName": "example.org" }
        } }),
        "spec.domain.delegateFromParent needs spec.domain.subdomain",
    );
}

#[test]
fn existing_zone_name_rules() {
    let zone = |subdomain: Option<&str>, zone: serde_json::Value| json!({ "domain": { "name": "example.org", "subdomain": subdomain, "hostedZone": zone } });
    accepts(zone(None, json!({ "mode": "Existing", "zoneName": "example.org" })));
    accepts(zone(Some("redcap"), json!({ "mode": "Existing", "zoneName": "example.org" })));
    accepts(zone(Some("redcap"), json!({ "mode": "Existing", "zoneName": "redcap.example.org" })));
    rejects(zone(None, json!({ "mode": "Existing" })), "zoneName is required with mode Existing");
    rejects(
        zone(None, json!({ "mode": "Create", "zoneName": "example.org" })),
        "not allowed otherwise",
    );
    rejects(
        zone(Some("redcap"), json!({ "mode": "Existing", "zoneName": "other.org" })),
        "must be the site's name or a parent of it",
    );
    // A suffix that is not a whole label is not a parent.
    rejects(
        zone(None, json!({ "mode": "Existing", "zoneName": "ple.org" })),
        "must be the site's name or a parent of it",
    );
}

#[test]
fn full_site_name_fits_dns() {
    let long = "a".repeat(63);
    let name = format!("{long}.{long}.{long}.org");
    accepts(json!({ "domain": { "name": name } }));
    rejects(
        json!({ "domain": { "name": name, "subdomain": format!("{long}.{long}") } }),
        "must be shorter than 253 characters",
    );
}

#[test]
fn allowed_ips_are_ipv4_or_ipv6_cidrs() {
    accepts(
        json!({ "firewall": { "allowedIps": ["192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32", "2001:db8::10/128"] } }),
    );
    for bad in
        ["192.0.2.7", "192.0.2.0/33", "2001:db8::/129", "2001:db8::1", "300.0.0.0/8", "example.org"]
    {
        rejects(
            json!({ "firewall": { "allowedIps": [bad] } }),
            "spec.firewall.allowedIps entries must be IPv4 or IPv6 CIDRs",
        );
    }
}

#[test]
fn allowed_countries_are_iso_codes() {
    accepts(json!({ "firewall": { "allowedCountries": ["JP", "GB", "US", "XK"] } }));
    for bad in ["UK", "jp", "J", "XX", "A F"] {
        rejects(
            json!({ "firewall": { "allowedCountries": [bad] } }),
            "spec.firewall.allowedCountries entries must be ISO 3166-1 alpha-2 codes",
        );
    }
}

#[test]
fn external_web_acl_excludes_generated_rules() {
    let arn = |region: &str| {
        format!(
            "arn:aws:wafv2:{region}:123456789012:regional/webacl/redcap/0f9a6b1c-1111-2222-3333-444455556666"
        )
    };
    accepts(json!({ "firewall": { "externalWebAclArn": arn("us-east-1") } }));
    rejects(
        json!({ "firewall": { "externalWebAclArn": arn("us-east-1"), "allowedIps": ["192.0.2.0/24"] } }),
        "spec.firewall.externalWebAclArn replaces the generated web ACL",
    );
    rejects(
        json!({ "firewall": { "externalWebAclArn": arn("us-east-1"), "allowedCountries": ["JP"] } }),
        "spec.firewall.externalWebAclArn replaces the generated web ACL",
    );
    rejects(
        json!({ "firewall": { "externalWebAclArn": arn("eu-west-1") } }),
        "spec.firewall.externalWebAclArn must be a regional Web ACL in spec.aws.region",
    );
}

#[test]
fn maintenance_server_ttl() {
    let ttl = |t: &str| json!({ "maintenanceServer": { "ttl": t } });
    for ok in ["3h", "15m", "24h", "1h30m", "90m"] {
        accepts(ttl(ok));
    }
    for bad in ["10m", "25h", "1d", "3 hours", "h", "-3h", "24h1m"] {
        rejects(ttl(bad), "spec.maintenanceServer.ttl must be a duration between 15m and 24h");
    }
}
