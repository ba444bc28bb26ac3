"""Route 53 and ACM as AWS behaves: caller references, CREATE of an existing set,
PENDING changes, DNS validation that needs the records, records that arrive late."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def _zone(r53, name="redcap.example.org", ref="ref-1"):
    return r53.create_hosted_zone(Name=name, CallerReference=ref)["HostedZone"]["Id"]


def _change(r53, zone, action, name, type_, values, ttl=300):
    return r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": {"Name": name, "Type": type_, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}}]},
    )


def test_a_reused_caller_reference_is_refused_even_after_the_zone_is_gone(aws):
    r53 = aws("route53")
    zone = _zone(r53)
    with pytest.raises(ClientError) as e:
        _zone(r53)
    assert e.value.response["Error"]["Code"] == "HostedZoneAlreadyExists"
    assert len(r53.list_hosted_zones_by_name(DNSName="redcap.example.org")["HostedZones"]) == 1
    r53.delete_hosted_zone(Id=zone)
    with pytest.raises(ClientError) as e:
        _zone(r53)
    assert e.value.response["Error"]["Code"] == "HostedZoneAlreadyExists"
    _zone(r53, ref="ref-2")


def test_create_of_an_existing_set_is_an_invalid_change_batch(aws):
    r53 = aws("route53")
    zone = _zone(r53)
    _change(r53, zone, "CREATE", "mail.redcap.example.org", "TXT", ['"a"'])
    with pytest.raises(ClientError) as e:
        _change(r53, zone, "CREATE", "mail.redcap.example.org", "TXT", ['"b"'])
    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert "already exists" in e.value.response["Error"]["Message"]
    # DELETE exactly as read plus CREATE in one batch is the way to rewrite a set.
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}]}},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}, {"Value": '"b"'}]}},
        ]},
    )
    # And back (moto refused a CREATE it had seen before, despite the DELETE before it).
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}, {"Value": '"b"'}]}},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}]}},
        ]},
    )
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}]}},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": "mail.redcap.example.org", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}, {"Value": '"b"'}]}},
        ]},
    )
    # A DELETE that no longer matches fails the whole batch.
    with pytest.raises(ClientError) as e:
        _change(r53, zone, "DELETE", "mail.redcap.example.org", "TXT", ['"a"'])
    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    sets = r53.list_resource_record_sets(HostedZoneId=zone, StartRecordName="mail.redcap.example.org", StartRecordType="TXT", MaxItems="1")
    assert sorted(v["Value"] for v in sets["ResourceRecordSets"][0]["ResourceRecords"]) == ['"a"', '"b"']


def test_changes_are_pending_for_a_while(aws, control):
    control.config(durations={"route53.change": 1})
    r53 = aws("route53")
    zone = _zone(r53)
    info = _change(r53, zone, "CREATE", "x.redcap.example.org", "A", ["192.0.2.1"])["ChangeInfo"]
    assert info["Status"] == "PENDING"
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    time.sleep(1.2)
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_a_certificate_is_issued_only_once_its_records_exist(aws):
    acm, r53 = aws("acm"), aws("route53")
    arn = acm.request_certificate(DomainName="redcap.example.org", ValidationMethod="DNS", IdempotencyToken="tok")["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "PENDING_VALIDATION"
    record = cert["DomainValidationOptions"][0]["ResourceRecord"]
    assert acm.list_certificates()["CertificateSummaryList"][0]["Status"] == "PENDING_VALIDATION"
    zone = _zone(r53)
    _change(r53, zone, "CREATE", record["Name"], "CNAME", [record["Value"]])
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


def test_validation_records_arrive_late(aws, control):
    control.config(durations={"acm.records": 1})
    acm = aws("acm")
    arn = acm.request_certificate(DomainName="redcap.example.org", ValidationMethod="DNS")["CertificateArn"]
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    assert options and all("ResourceRecord" not in o for o in options)
    time.sleep(1.2)
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    assert all("ResourceRecord" in o for o in options)
