"""App Runner extension: model validation, status machine, operations, domains, helpers."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from awserror import code, fails_with

IMAGE = {
    "ImageRepository": {"ImageIdentifier": "123456789012.dkr.ecr.us-east-1.amazonaws.com/redcap:1", "ImageRepositoryType": "ECR", "ImageConfiguration": {"Port": "8080"}},
    "AuthenticationConfiguration": {"AccessRoleArn": "arn:aws:iam::123456789012:role/apprunner-ecr"},
}


def create(ar, name="redcap-app", **kw):
    return ar.create_service(ServiceName=name, SourceConfiguration=IMAGE, **kw)


def test_create_then_running_with_operation(aws):
    ar = aws("apprunner")
    r = create(ar, InstanceConfiguration={"Cpu": "1 vCPU", "Memory": "2 GB"}, Tags=[{"Key": "app", "Value": "redcap"}])
    svc = r["Service"]
    assert svc["Status"] == "OPERATION_IN_PROGRESS"
    assert svc["ServiceArn"] == f"arn:aws:apprunner:us-east-1:123456789012:service/redcap-app/{svc['ServiceId']}"
    assert len(svc["ServiceId"]) == 32 and svc["ServiceUrl"].endswith(".us-east-1.awsapprunner.com")
    assert svc["InstanceConfiguration"] == {"Cpu": "1024", "Memory": "2048"}
    assert svc["AutoScalingConfigurationSummary"]["AutoScalingConfigurationName"] == "DefaultConfiguration"
    assert ar.describe_service(ServiceArn=svc["ServiceArn"])["Service"]["Status"] == "RUNNING"
    ops = ar.list_operations(ServiceArn=svc["ServiceArn"])["OperationSummaryList"]
    assert [(o["Type"], o["Status"], o["Id"]) for o in ops] == [("CREATE_SERVICE", "SUCCEEDED", r["OperationId"])]
    assert ar.list_tags_for_resource(ResourceArn=svc["ServiceArn"])["Tags"] == [{"Key": "app", "Value": "redcap"}]
    assert [s["ServiceName"] for s in ar.list_services()["ServiceSummaryList"]] == ["redcap-app"]


def test_operation_takes_configured_time(aws, control):
    control.config(durations={"apprunner.operation": 1.0})
    ar = aws("apprunner")
    arn = create(ar)["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    assert ar.list_operations(ServiceArn=arn)["OperationSummaryList"][0]["Status"] == "IN_PROGRESS"
    with fails_with("InvalidStateException"):
        ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2048", "Memory": "4096"})
    time.sleep(1.1)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "RUNNING"
    op = ar.list_operations(ServiceArn=arn)["OperationSummaryList"][0]
    assert op["Status"] == "SUCCEEDED" and "EndedAt" in op


def test_create_failed_then_only_delete(aws, control):
    control.config(outcomes={"apprunner": "FAILED"})
    ar = aws("apprunner")
    arn = create(ar)["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "CREATE_FAILED"
    assert ar.list_operations(ServiceArn=arn)["OperationSummaryList"][0]["Status"] == "FAILED"
    with fails_with("InvalidStateException"):
        ar.start_deployment(ServiceArn=arn)
    control.config(outcomes={"apprunner": "SUCCEEDED"})
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"
    assert ar.list_services()["ServiceSummaryList"] == []


def test_failed_update_rolls_back(aws, control):
    ar = aws("apprunner")
    arn = create(ar)["Service"]["ServiceArn"]
    ar.describe_service(ServiceArn=arn)
    control.config(outcomes={"apprunner:redcap-app": "FAILED"})
    r = ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2 vCPU", "Memory": "4 GB"})
    assert r["Service"]["InstanceConfiguration"]["Cpu"] == "2048"
    svc = ar.describe_service(ServiceArn=arn)["Service"]
    assert svc["Status"] == "RUNNING" and svc["InstanceConfiguration"]["Cpu"] == "1024"
    assert ar.list_operations(ServiceArn=arn)["OperationSummaryList"][0]["Status"] == "ROLLBACK_SUCCEEDED"


def test_pause_resume_deploy_delete(aws):
    ar = aws("apprunner")
    arn = create(ar)["Service"]["ServiceArn"]
    ar.describe_service(ServiceArn=arn)
    ar.pause_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "PAUSED"
    with fails_with("InvalidStateException"):
        ar.pause_service(ServiceArn=arn)
    ar.resume_service(ServiceArn=arn)
    ar.start_deployment(ServiceArn=arn)
    ar.describe_service(ServiceArn=arn)
    types = [o["Type"] for o in ar.list_operations(ServiceArn=arn)["OperationSummaryList"]]
    assert types == ["START_DEPLOYMENT", "RESUME_SERVICE", "PAUSE_SERVICE", "CREATE_SERVICE"]
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"
    create(ar)  # the name is free again


def test_duplicate_name_rejected(aws):
    ar = aws("apprunner")
    create(ar)
    with fails_with("InvalidRequestException"):
        create(ar)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"ServiceName": "bad name!", "SourceConfiguration": IMAGE}, "pattern"),
        ({"ServiceName": "redcap-app"}, "SourceConfiguration"),
        ({"ServiceName": "redcap-app", "SourceConfiguration": IMAGE, "InstanceConfiguration": {"Cpu": 3}}, "Cpu"),
        ({"ServiceName": "redcap-app", "SourceConfiguration": IMAGE, "InstanceConfiguration": {"Cpu": "3 vCPU"}}, "pattern"),
        ({"ServiceName": "redcap-app", "SourceConfiguration": {"ImageRepository": {"ImageIdentifier": IMAGE["ImageRepository"]["ImageIdentifier"], "ImageRepositoryType": "ECR"}}}, "AccessRoleArn"),
        ({"ServiceName": "redcap-app", "SourceConfiguration": {}}, "exactly one"),
    ],
)
def test_malformed_requests_get_invalid_request(aws, kwargs, needle):
    ar = aws("apprunner", validate=False)
    with fails_with("InvalidRequestException") as e:
        ar.create_service(**kwargs)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in e.value.response["Error"]["Message"]
    assert ar.list_services()["ServiceSummaryList"] == []


def _raw(endpoint, target, body):
    import urllib.request

    auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/apprunner/aws4_request, SignedHeaders=host, Signature=0"
    req = urllib.request.Request(endpoint + "/", data=body, method="POST", headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target, "Authorization": auth})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    return e.value


def test_not_json_is_serialization_error(endpoint, control):
    e = _raw(endpoint, "AppRunner.ListServices", b"{not json")
    assert e.code == 400 and e.headers["x-amzn-ErrorType"] == "SerializationException"
    assert e.headers["Content-Type"] == "application/x-amz-json-1.0"


def test_unknown_member_and_operation(endpoint, control):
    e = _raw(endpoint, "AppRunner.ListServices", b'{"Bogus": 1}')
    assert e.code == 400 and e.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "Bogus" in e.read().decode()
    e = _raw(endpoint, "AppRunner.StealService", b"{}")
    assert e.code == 400 and e.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_unknown_resource(aws):
    ar = aws("apprunner")
    with fails_with("ResourceNotFoundException"):
        ar.describe_service(ServiceArn="arn:aws:apprunner:us-east-1:123456789012:service/nope/0123456789abcdef0123456789abcdef")


def test_custom_domain_waits_for_route53_records(aws, control):
    ar, r53 = aws("apprunner"), aws("route53")
    control.config(durations={"apprunner.operation": 30})
    arn = create(ar)["Service"]["ServiceArn"]
    control.config(durations={"apprunner.operation": 0})
    with pytest.raises(ClientError) as e:
        ar.associate_custom_domain(ServiceArn=arn, DomainName="redcap.example.org")
    assert code(e) == "InvalidStateException"  # still OPERATION_IN_PROGRESS
    arn = create(ar, name="redcap-app2")["Service"]["ServiceArn"]
    r = ar.associate_custom_domain(ServiceArn=arn, DomainName="redcap.example.org")
    records = r["CustomDomain"]["CertificateValidationRecords"]
    assert len(records) == 2 and all(x["Type"] == "CNAME" and x["Status"] == "PENDING_VALIDATION" for x in records)
    assert r["DNSTarget"].endswith("awsapprunner.com")
    assert ar.describe_custom_domains(ServiceArn=arn)["CustomDomains"][0]["Status"] == "PENDING_CERTIFICATE_DNS_VALIDATION"
    zone = r53.create_hosted_zone(Name="example.org", CallerReference="z1")["HostedZone"]["Id"]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {"Name": x["Name"], "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": x["Value"]}]}} for x in records]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    domain = ar.describe_custom_domains(ServiceArn=arn)["CustomDomains"][0]
    assert domain["Status"] == "ACTIVE" and {x["Status"] for x in domain["CertificateValidationRecords"]} == {"SUCCESS"}
    with fails_with("InvalidRequestException"):
        ar.associate_custom_domain(ServiceArn=arn, DomainName="redcap.example.org")
    ar.disassociate_custom_domain(ServiceArn=arn, DomainName="redcap.example.org")
    assert ar.describe_custom_domains(ServiceArn=arn)["CustomDomains"] == []


def test_auto_scaling_revisions_and_quota(aws):
    ar = aws("apprunner")
    arns = [ar.create_auto_scaling_configuration(AutoScalingConfigurationName="redcap-asc", MinSize=1, MaxSize=i + 2)["AutoScalingConfiguration"] for i in range(5)]
    assert [a["AutoScalingConfigurationRevision"] for a in arns] == [1, 2, 3, 4, 5]
    latest = ar.list_auto_scaling_configurations(AutoScalingConfigurationName="redcap-asc", LatestOnly=True)["AutoScalingConfigurationSummaryList"]
    assert [a["AutoScalingConfigurationRevision"] for a in latest] == [5]
    with fails_with("ServiceQuotaExceededException"):
        ar.create_auto_scaling_configuration(AutoScalingConfigurationName="redcap-asc")
    with fails_with("InvalidRequestException"):
        ar.create_auto_scaling_configuration(AutoScalingConfigurationName="other-asc", MinSize=5, MaxSize=2)
    asc = arns[4]["AutoScalingConfigurationArn"]
    svc = create(ar, AutoScalingConfigurationArn=asc)["Service"]
    assert svc["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"] == asc
    assert ar.list_services_for_auto_scaling_configuration(AutoScalingConfigurationArn=asc)["ServiceArnList"] == [svc["ServiceArn"]]
    with fails_with("InvalidRequestException"):
        ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=asc)
    d = ar.delete_auto_scaling_configuration(AutoScalingConfigurationArn=arns[0]["AutoScalingConfigurationArn"])
    assert d["AutoScalingConfiguration"]["Status"] == "INACTIVE"


def test_vpc_connector_checks_network_and_egress(aws):
    ar, ec2 = aws("apprunner"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="apprunner", Description="x", VpcId=vpc)["GroupId"]
    with fails_with("InvalidRequestException"):
        ar.create_vpc_connector(VpcConnectorName="redcap-vpc", Subnets=["subnet-00000000"])
    conn = ar.create_vpc_connector(VpcConnectorName="redcap-vpc", Subnets=[subnet], SecurityGroups=[sg])["VpcConnector"]
    assert conn["VpcConnectorArn"].startswith("arn:aws:apprunner:us-east-1:123456789012:vpcconnector/redcap-vpc/1/")
    with fails_with("InvalidRequestException"):
        ar.create_vpc_connector(VpcConnectorName="redcap-vpc", Subnets=[subnet])
    net = {"EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": conn["VpcConnectorArn"]}}
    svc = create(ar, NetworkConfiguration=net)["Service"]
    assert svc["NetworkConfiguration"]["EgressConfiguration"]["VpcConnectorArn"] == conn["VpcConnectorArn"]
    with fails_with("InvalidRequestException"):  # in use
        ar.delete_vpc_connector(VpcConnectorArn=conn["VpcConnectorArn"])
    ar.delete_service(ServiceArn=svc["ServiceArn"])
    ar.delete_vpc_connector(VpcConnectorArn=conn["VpcConnectorArn"])
    with fails_with("InvalidRequestException"):
        create(ar, name="second-app", NetworkConfiguration=net)


def test_vpc_connector_is_held_a_while_after_its_service_is_deleted(aws, control):
    ar, ec2 = aws("apprunner"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    conn = ar.create_vpc_connector(VpcConnectorName="held-vpc", Subnets=[subnet])["VpcConnector"]
    control.config(durations={"apprunner.vpcconnector.release:held-vpc": 1.0})
    net = {"EgressConfiguration": {"EgressType": "VPC", "VpcConnectorArn": conn["VpcConnectorArn"]}}
    arn = create(ar, NetworkConfiguration=net)["Service"]["ServiceArn"]
    ar.delete_service(ServiceArn=arn)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "DELETED"
    with fails_with("InvalidRequestException") as e:
        ar.delete_vpc_connector(VpcConnectorArn=conn["VpcConnectorArn"])
    assert "associated with one or more App Runner services" in e.value.response["Error"]["Message"]
    time.sleep(1.1)
    assert ar.delete_vpc_connector(VpcConnectorArn=conn["VpcConnectorArn"])["VpcConnector"]["Status"] == "INACTIVE"


def test_a_service_that_failed_to_create_can_be_updated(aws, control):
    control.config(outcomes={"apprunner:rebuilt-app": "FAILED"}, durations={"apprunner.operation:rebuilt-app": 0.5})
    ar = aws("apprunner")
    arn = create(ar, name="rebuilt-app")["Service"]["ServiceArn"]
    other = create(ar, name="quick-app")["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=other)["Service"]["Status"] == "RUNNING", "the duration is narrowed"
    time.sleep(0.6)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "CREATE_FAILED"
    # Fails again with the same outcome: still CREATE_FAILED, the operation FAILED.
    ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "2048", "Memory": "4096"})
    time.sleep(0.6)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "CREATE_FAILED"
    assert ar.list_operations(ServiceArn=arn)["OperationSummaryList"][0]["Status"] == "FAILED"
    control.config(outcomes={"apprunner:rebuilt-app": None})
    r = ar.update_service(ServiceArn=arn, InstanceConfiguration={"Cpu": "1024", "Memory": "2048"})
    assert r["Service"]["Status"] == "OPERATION_IN_PROGRESS"
    time.sleep(0.6)
    assert ar.describe_service(ServiceArn=arn)["Service"]["Status"] == "RUNNING"
    ops = ar.list_operations(ServiceArn=arn)["OperationSummaryList"]
    assert [(o["Type"], o["Status"]) for o in ops] == [("UPDATE_SERVICE", "SUCCEEDED"), ("UPDATE_SERVICE", "FAILED"), ("CREATE_SERVICE", "FAILED")]


def test_observability_and_tags(aws):
    ar = aws("apprunner")
    oc = ar.create_observability_configuration(ObservabilityConfigurationName="redcap-obs", TraceConfiguration={"Vendor": "AWSXRAY"})["ObservabilityConfiguration"]
    svc = create(ar, ObservabilityConfiguration={"ObservabilityEnabled": True, "ObservabilityConfigurationArn": oc["ObservabilityConfigurationArn"]})["Service"]
    ar.tag_resource(ResourceArn=svc["ServiceArn"], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ar.untag_resource(ResourceArn=svc["ServiceArn"], TagKeys=["a"])
    assert ar.list_tags_for_resource(ResourceArn=svc["ServiceArn"])["Tags"] == [{"Key": "b", "Value": "2"}]
    with fails_with("InvalidRequestException"):
        ar.tag_resource(ResourceArn=svc["ServiceArn"], Tags=[{"Key": "aws:reserved", "Value": "x"}])


def test_waf_accepts_apprunner_arn(aws):
    ar, waf = aws("apprunner"), aws("wafv2")
    arn = create(ar)["Service"]["ServiceArn"]
    acl = waf.create_web_acl(Name="redcap", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"})["Summary"]["ARN"]
    waf.associate_web_acl(WebACLArn=acl, ResourceArn=arn)
    assert waf.get_web_acl_for_resource(ResourceArn=arn)["WebACL"]["ARN"] == acl


def test_output_drift_is_caught():
    from emulator.core import model

    op = model.service_model("apprunner").operation_model("DescribeService")
    with pytest.raises(model.ModelDrift):
        model.build_output(op, {"Service": {"ServiceName": "x"}})  # required members missing
    with pytest.raises(model.ModelDrift):
        model.build_output(op, {"Service": {"NotAMember": 1}})


def test_new_customer_is_refused(aws, control):
    control.config(outcomes={"apprunner.account:redcap-app": "new"})
    ar = aws("apprunner")
    with fails_with("InvalidRequestException") as e:
        create(ar)
    assert "no longer available to new customers" in e.value.response["Error"]["Message"]
    assert ar.list_services()["ServiceSummaryList"] == []
    create(ar, name="other-app")  # the outcome is narrowed to one service name
    control.config(outcomes={"apprunner.account:redcap-app": None})
    create(ar)
