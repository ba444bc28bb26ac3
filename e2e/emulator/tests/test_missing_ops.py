"""Operations moto lacks that the operator needs: RDS backtrack, CodeBuild UpdateProject,
WAF ListResourcesForWebACL, SES v2 DKIM tokens / MAIL FROM / event destinations."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from awserror import code, fails_with


def test_rds_reset_cluster_parameters(aws):
    rds = aws("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="p", DBParameterGroupFamily="aurora-mysql8.0", Description="d")
    params = [{"ParameterName": n, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for n, v in (("max_allowed_packet", "4194304"), ("general_log", "1"), ("sort_buffer_size", "2097152"))]
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="p", Parameters=params)
    r = rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName="p", Parameters=[{"ParameterName": "general_log", "ApplyMethod": "pending-reboot"}])
    assert r["DBClusterParameterGroupName"] == "p"
    left = {p["ParameterName"] for p in rds.describe_db_cluster_parameters(DBClusterParameterGroupName="p", Source="user")["Parameters"]}
    assert left == {"max_allowed_packet", "sort_buffer_size"}
    rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName="p", ResetAllParameters=True)
    assert rds.describe_db_cluster_parameters(DBClusterParameterGroupName="p", Source="user")["Parameters"] == []
    with fails_with("DBParameterGroupNotFound"):
        rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName="nope", ResetAllParameters=True)


def test_rds_backtrack(aws):
    rds = aws("rds")
    rds.create_db_cluster(DBClusterIdentifier="redcap-db", Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="password123", BacktrackWindow=3600)
    to = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    r = rds.backtrack_db_cluster(DBClusterIdentifier="redcap-db", BacktrackTo=to)
    assert r["DBClusterIdentifier"] == "redcap-db" and r["Status"] in ("applying", "completed")
    got = rds.describe_db_cluster_backtracks(DBClusterIdentifier="redcap-db")["DBClusterBacktracks"]
    assert [b["BacktrackIdentifier"] for b in got] == [r["BacktrackIdentifier"]] and got[0]["Status"] == "completed"
    assert abs((got[0]["BacktrackTo"] - to).total_seconds()) < 1
    with fails_with("InvalidParameterValue"):
        rds.backtrack_db_cluster(DBClusterIdentifier="redcap-db", BacktrackTo=to - dt.timedelta(hours=2))
    rds.create_db_cluster(DBClusterIdentifier="no-bt", Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="password123")
    with fails_with("InvalidDBClusterStateFault"):
        rds.backtrack_db_cluster(DBClusterIdentifier="no-bt", BacktrackTo=to)
    with pytest.raises(ClientError) as e:
        rds.describe_db_cluster_backtracks(DBClusterIdentifier="missing")
    assert code(e) == "DBClusterNotFoundFault" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_codebuild_update_project(aws):
    cb = aws("codebuild")
    cb.create_project(name="redcap-image", source={"type": "S3", "location": "bucket/src.zip"}, artifacts={"type": "NO_ARTIFACTS"}, environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"}, serviceRole="arn:aws:iam::123456789012:role/cb")
    p = cb.update_project(name="redcap-image", environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_MEDIUM", "privilegedMode": True}, timeoutInMinutes=30)["project"]
    assert p["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM" and p["timeoutInMinutes"] == 30
    again = cb.batch_get_projects(names=["redcap-image"])["projects"][0]
    assert again["environment"]["privilegedMode"] is True and again["timeoutInMinutes"] == 30
    with fails_with("ResourceNotFoundException"):
        cb.update_project(name="missing", timeoutInMinutes=5)
    with fails_with("InvalidInputException"):
        aws("codebuild", validate=False).update_project(name="redcap-image", timeoutInMinutes="soon")


def test_waf_list_resources_for_web_acl(aws):
    ar, waf = aws("apprunner"), aws("wafv2")
    svc = ar.create_service(ServiceName="redcap-app", SourceConfiguration={"ImageRepository": {"ImageIdentifier": "public.ecr.aws/nginx/nginx:latest", "ImageRepositoryType": "ECR_PUBLIC"}})["Service"]["ServiceArn"]
    acl = waf.create_web_acl(Name="redcap", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"})["Summary"]["ARN"]
    waf.associate_web_acl(WebACLArn=acl, ResourceArn=svc)
    assert waf.list_resources_for_web_acl(WebACLArn=acl, ResourceType="APP_RUNNER_SERVICE")["ResourceArns"] == [svc]
    assert waf.list_resources_for_web_acl(WebACLArn=acl)["ResourceArns"] == []
    with fails_with("WAFNonexistentItemException"):
        waf.associate_web_acl(WebACLArn=acl, ResourceArn=svc.replace("redcap-app", "ghost"))


def test_sesv2_dkim_mail_from_event_destinations(aws, control):
    ses, r53 = aws("sesv2"), aws("route53")
    ses.create_configuration_set(ConfigurationSetName="redcap")
    created = ses.create_email_identity(EmailIdentity="mail.example.org", ConfigurationSetName="redcap")
    toks = created["DkimAttributes"]["Tokens"]
    assert len(toks) == 3 and created["DkimAttributes"]["Status"] == "PENDING" and created["VerifiedForSendingStatus"] is False
    ses.put_email_identity_mail_from_attributes(EmailIdentity="mail.example.org", MailFromDomain="bounce.mail.example.org", BehaviorOnMxFailure="REJECT_MESSAGE")
    got = ses.get_email_identity(EmailIdentity="mail.example.org")
    assert got["DkimAttributes"]["Tokens"] == toks and got["MailFromAttributes"]["MailFromDomainStatus"] == "PENDING"
    zone = r53.create_hosted_zone(Name="example.org", CallerReference="z")["HostedZone"]["Id"]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {"Name": f"{t}._domainkey.mail.example.org", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": f"{t}.dkim.amazonses.com"}]}} for t in toks]
    changes.append({"Action": "CREATE", "ResourceRecordSet": {"Name": "bounce.mail.example.org", "Type": "MX", "TTL": 300, "ResourceRecords": [{"Value": "10 feedback-smtp.us-east-1.amazonses.com"}]}})
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    got = ses.get_email_identity(EmailIdentity="mail.example.org")
    assert got["DkimAttributes"]["Status"] == "SUCCESS" and got["VerifiedForSendingStatus"] is True
    assert got["MailFromAttributes"] == {"MailFromDomain": "bounce.mail.example.org", "MailFromDomainStatus": "SUCCESS", "BehaviorOnMxFailure": "REJECT_MESSAGE"}
    dest = {"Enabled": True, "MatchingEventTypes": ["BOUNCE", "COMPLAINT"], "SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:bounces"}}
    ses.create_configuration_set_event_destination(ConfigurationSetName="redcap", EventDestinationName="bounces", EventDestination=dest)
    with fails_with("AlreadyExistsException"):
        ses.create_configuration_set_event_destination(ConfigurationSetName="redcap", EventDestinationName="bounces", EventDestination=dest)
    got = ses.get_configuration_set_event_destinations(ConfigurationSetName="redcap")["EventDestinations"]
    assert got == [{"Name": "bounces", **dest}]
    ses.delete_configuration_set_event_destination(ConfigurationSetName="redcap", EventDestinationName="bounces")
    assert ses.get_configuration_set_event_destinations(ConfigurationSetName="redcap")["EventDestinations"] == []
    with pytest.raises(ClientError) as e:
        ses.get_configuration_set_event_destinations(ConfigurationSetName="missing")
    assert code(e) == "NotFoundException" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    ses.put_configuration_set_delivery_options(ConfigurationSetName="redcap", TlsPolicy="REQUIRE")
    assert ses.get_configuration_set(ConfigurationSetName="redcap")["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
