"""AWS-accurate semantics where moto differs: duplicates, bucket policies, error codes,
managed-password restore, CloudWatch over rpc-v2-cbor, unimplemented operations."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import cbor2
import pytest
from botocore.exceptions import ClientError

from awserror import code, fails_with


def test_duplicate_db_cluster_fails_and_keeps_the_original(aws):
    rds = aws("rds")
    rds.create_db_cluster(DBClusterIdentifier="redcap-db", Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="password123", BackupRetentionPeriod=14)
    with fails_with("DBClusterAlreadyExistsFault"):
        rds.create_db_cluster(DBClusterIdentifier="redcap-db", Engine="aurora-mysql", MasterUsername="other", MasterUserPassword="password456")
    c = rds.describe_db_clusters(DBClusterIdentifier="redcap-db")["DBClusters"][0]
    assert c["MasterUsername"] == "admin" and c["BackupRetentionPeriod"] == 14


def test_duplicate_ecs_service_fails_until_deleted(aws):
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="redcap")
    td = ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=2)
    with fails_with("InvalidParameterException"):
        ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=1)
    assert ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["desiredCount"] == 2
    ecs.delete_service(cluster="redcap", service="web", force=True)
    ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=1)


def test_ecs_service_without_security_groups_uses_the_default(aws):
    ecs, ec2 = aws("ecs"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    ecs.create_cluster(clusterName="redcap")
    td = ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    svc = ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=1, networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}})["service"]
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [default]


TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::redcap-files", "arn:aws:s3:::redcap-files/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "OldTLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::redcap-files/*", "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
    ],
}


def test_tls_only_bucket_policy_evaluated_like_aws(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="redcap-files")
    s3.put_bucket_policy(Bucket="redcap-files", Policy=json.dumps(TLS_ONLY))
    s3.put_object(Bucket="redcap-files", Key="a.txt", Body=b"hello")
    assert s3.get_object(Bucket="redcap-files", Key="a.txt")["Body"].read() == b"hello"

    def plain_http(request, **_):
        request.headers["x-emulator-secure-transport"] = "false"

    s3.meta.events.register("before-sign.s3.*", plain_http)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="redcap-files", Key="a.txt")
    assert code(e) == "AccessDenied" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_deny_with_unmet_condition_and_plain_deny(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="redcap-files")
    policy = {"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::redcap-files/*", "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::redcap-files/*"},
    ]}
    s3.put_bucket_policy(Bucket="redcap-files", Policy=json.dumps(policy))
    with fails_with("AccessDenied"):
        s3.put_object(Bucket="redcap-files", Key="plain", Body=b"x")
    s3.put_object(Bucket="redcap-files", Key="enc", Body=b"x", ServerSideEncryption="aws:kms")
    with fails_with("AccessDenied"):
        s3.delete_object(Bucket="redcap-files", Key="enc")


def test_malformed_bucket_policy_rejected(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="redcap-files")
    with fails_with("MalformedPolicy"):
        s3.put_bucket_policy(Bucket="redcap-files", Policy=json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Resource": "*"}]}))
    s3.put_object(Bucket="redcap-files", Key="a", Body=b"x")  # no 500s afterwards


def test_restore_from_managed_password_snapshot(aws):
    rds = aws("rds")
    rds.create_db_cluster(DBClusterIdentifier="src", Engine="aurora-mysql", MasterUsername="admin", ManageMasterUserPassword=True, BacktrackWindow=3600)
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap", DBClusterIdentifier="src")
    c = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="restored", SnapshotIdentifier="snap", Engine="aurora-mysql")["DBCluster"]
    assert c["DBClusterIdentifier"] == "restored" and "MasterUserSecret" not in c
    with fails_with("DBClusterAlreadyExistsFault"):
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="restored", SnapshotIdentifier="snap", Engine="aurora-mysql")


def _aurora(rds, cid="c", version="8.0.mysql_aurora.3.10.3", **kw):
    return rds.create_db_cluster(DBClusterIdentifier=cid, Engine="aurora-mysql", EngineVersion=version, MasterUsername="admin", MasterUserPassword="password123", **kw)["DBCluster"]


def test_managed_master_secret_is_random_and_names_the_master_user(aws):
    rds, sm = aws("rds"), aws("secretsmanager")
    values = []
    for cid in ("a", "b"):
        c = rds.create_db_cluster(DBClusterIdentifier=cid, Engine="aurora-mysql", MasterUsername="dbadmin", ManageMasterUserPassword=True)["DBCluster"]
        values.append(json.loads(sm.get_secret_value(SecretId=c["MasterUserSecret"]["SecretArn"])["SecretString"]))
    assert [v["username"] for v in values] == ["dbadmin", "dbadmin"]
    assert all(len(v["password"]) == 40 for v in values)
    assert values[0]["password"] != values[1]["password"]


def test_modify_db_cluster_applies_iam_auth_and_log_exports(aws):
    rds = aws("rds")
    _aurora(rds, EnableIAMDatabaseAuthentication=True, EnableCloudwatchLogsExports=["error", "general"])
    r = rds.modify_db_cluster(DBClusterIdentifier="c", ApplyImmediately=True, EnableIAMDatabaseAuthentication=False, CloudwatchLogsExportConfiguration={"EnableLogTypes": ["audit"], "DisableLogTypes": ["general"]})["DBCluster"]
    assert r["IAMDatabaseAuthenticationEnabled"] is False
    c = rds.describe_db_clusters(DBClusterIdentifier="c")["DBClusters"][0]
    assert c["IAMDatabaseAuthenticationEnabled"] is False
    assert sorted(c["EnabledCloudwatchLogsExports"]) == ["audit", "error"]


def test_modify_db_cluster_refuses_what_aurora_refuses(aws):
    rds = aws("rds")
    _aurora(rds)
    for kw in (
        {"EngineVersion": "8.0.mysql_aurora.3.08.0"},  # no downgrade in place
        {"EngineVersion": "8.0.mysql_aurora.4.0.0"},  # major without the flag
        {"BacktrackWindow": 3600},  # backtrack only at creation
    ):
        with pytest.raises(ClientError) as e:
            rds.modify_db_cluster(DBClusterIdentifier="c", ApplyImmediately=True, **kw)
        assert code(e) == "InvalidParameterCombination", kw
    assert rds.describe_db_clusters(DBClusterIdentifier="c")["DBClusters"][0]["EngineVersion"] == "8.0.mysql_aurora.3.10.3"
    # Numeric comparison: 3.10 is newer than 3.9.
    rds.modify_db_cluster(DBClusterIdentifier="c", ApplyImmediately=True, EngineVersion="8.0.mysql_aurora.3.10.4")
    rds.modify_db_cluster(DBClusterIdentifier="c", ApplyImmediately=True, EngineVersion="8.0.mysql_aurora.4.0.0", AllowMajorVersionUpgrade=True)
    assert rds.describe_db_clusters(DBClusterIdentifier="c")["DBClusters"][0]["EngineVersion"] == "8.0.mysql_aurora.4.0.0"


def test_restore_refuses_an_engine_older_than_the_snapshot(aws):
    rds = aws("rds")
    _aurora(rds, version="8.0.mysql_aurora.3.08.2")
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap", DBClusterIdentifier="c")
    with fails_with("InvalidParameterCombination"):
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r", SnapshotIdentifier="snap", Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.08.0")
    r = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r", SnapshotIdentifier="snap", Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.10.3")["DBCluster"]
    assert r["EngineVersion"] == "8.0.mysql_aurora.3.10.3"


def test_groups_in_use_cannot_be_deleted(aws):
    rds, ec2 = aws("rds"), aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in enumerate("ab")]
    rds.create_db_subnet_group(DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="p", DBParameterGroupFamily="aurora-mysql8.0", Description="d")
    _aurora(rds, DBSubnetGroupName="g", DBClusterParameterGroupName="p")
    with fails_with("InvalidDBSubnetGroupStateFault"):
        rds.delete_db_subnet_group(DBSubnetGroupName="g")
    with fails_with("InvalidDBParameterGroupState"):
        rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="p")
    rds.delete_db_cluster(DBClusterIdentifier="c", SkipFinalSnapshot=True)
    rds.delete_db_subnet_group(DBSubnetGroupName="g")
    rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="p")


def test_error_codes_corrected(aws):
    waf = aws("wafv2")
    acl = dict(Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"})
    waf.create_web_acl(Name="redcap", **acl)
    with fails_with("WAFDuplicateItemException"):
        waf.create_web_acl(Name="redcap", **acl)
    rds = aws("rds")
    with fails_with("InvalidSubnet"):
        rds.create_db_subnet_group(DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=["subnet-00000000"])
    r53 = aws("route53")
    zone = r53.create_hosted_zone(Name="example.org", CallerReference="z")["HostedZone"]["Id"]
    with fails_with("InvalidChangeBatch"):
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": {"Name": "x.example.org", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]}}]})


def test_ecr_immutable_tag(aws):
    ecr = aws("ecr")
    ecr.create_repository(repositoryName="redcap", imageTagMutability="IMMUTABLE")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "sha256:" + "a" * 64}, "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": "sha256:" + "b" * 64}]}
    ecr.put_image(repositoryName="redcap", imageManifest=json.dumps(manifest), imageTag="v1")
    manifest["layers"][0]["digest"] = "sha256:" + "c" * 64
    with fails_with("ImageTagAlreadyExistsException"):
        ecr.put_image(repositoryName="redcap", imageManifest=json.dumps(manifest), imageTag="v1")


def cbor_call(endpoint: str, op: str, params: dict) -> tuple[int, dict, dict]:
    auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0"
    req = urllib.request.Request(
        f"{endpoint}/service/GraniteServiceVersion20100801/operation/{op}",
        data=cbor2.dumps(params, datetime_as_timestamp=True),
        method="POST",
        headers={"Content-Type": "application/cbor", "Accept": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "Authorization": auth},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), cbor2.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), cbor2.loads(e.read())


def test_cloudwatch_cbor_round_trip(endpoint, aws):
    alarm = {"AlarmName": "redcap-acu", "MetricName": "ACUUtilization", "Namespace": "AWS/RDS", "Statistic": "Average", "Period": 300, "EvaluationPeriods": 3, "Threshold": 90.0, "ComparisonOperator": "GreaterThanThreshold", "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "redcap-db"}], "Tags": [{"Key": "app", "Value": "redcap"}]}
    status, headers, body = cbor_call(endpoint, "PutMetricAlarm", alarm)
    assert status == 200 and headers["smithy-protocol"] == "rpc-v2-cbor" and headers["Content-Type"] == "application/cbor"
    status, _, body = cbor_call(endpoint, "DescribeAlarms", {"AlarmNames": ["redcap-acu"]})
    got = body["MetricAlarms"][0]
    assert status == 200 and got["AlarmName"] == "redcap-acu" and got["Threshold"] == 90.0
    assert isinstance(got["AlarmConfigurationUpdatedTimestamp"], dt.datetime)  # CBOR tag 1
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"][0]["AlarmName"] == "redcap-acu"  # same moto state
    status, _, body = cbor_call(endpoint, "PutMetricData", {"Namespace": "Redcap", "MetricData": [{"MetricName": "Up", "Value": 1.0, "Timestamp": dt.datetime.now(dt.timezone.utc)}]})
    assert status == 200
    status, headers, body = cbor_call(endpoint, "DescribeAlarms", {"AlarmNames": "not-a-list"})
    assert status == 400 and headers["smithy-protocol"] == "rpc-v2-cbor" and "__type" in body


def test_cloudwatch_cbor_faults_are_cbor(endpoint, control):
    control.faults([{"service": "cloudwatch", "kind": "throttle", "count": 1}])
    status, headers, body = cbor_call(endpoint, "DescribeAlarms", {})
    assert status == 400 and body["__type"] == "ThrottlingException" and headers["smithy-protocol"] == "rpc-v2-cbor"


def test_moto_404s_pass_through(aws):
    s3 = aws("s3")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="missing-bucket")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with fails_with("NoSuchBucket"):
        s3.get_object(Bucket="missing-bucket", Key="k")


def test_unimplemented_operation_is_a_clean_501(aws):
    logs = aws("logs")
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as e:
        logs.disassociate_kms_key(logGroupName="g")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501 and code(e) == "NotImplemented"


def test_iam_denials_use_each_protocols_code(aws, control, endpoint):
    iam = aws("iam")
    iam.create_user(UserName="narrow")
    iam.put_user_policy(UserName="narrow", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="narrow")["AccessKey"]
    import boto3
    from botocore.config import Config

    def client(service):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], config=Config(retries={"total_max_attempts": 1}))

    status, _ = control.request("POST", "/moto-api/reset-auth", 0)
    assert status == 200
    try:
        with fails_with("UnauthorizedOperation"):
            client("ec2").describe_vpcs()
        with pytest.raises(ClientError) as e:
            client("ecs").list_clusters()
        assert code(e) == "AccessDeniedException" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        # moto reads the body with float(): JSON's Infinity, not the string "inf" (which it
        # refuses, leaving authentication on for every later test).
        status, _ = control.request("POST", "/moto-api/reset-auth", float("inf"))
        assert status == 200
