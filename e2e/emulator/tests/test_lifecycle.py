"""Lifecycle durations: states moto skips appear for the configured time, then settle."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def cluster_status(rds, cid):
    return rds.describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]["Status"]


def make_cluster(rds, cid="redcap-db", **kw):
    return rds.create_db_cluster(DBClusterIdentifier=cid, Engine="aurora-mysql", MasterUsername="admin", MasterUserPassword="password123", **kw)["DBCluster"]


def test_zero_durations_keep_moto_fast(aws):
    rds = aws("rds")
    assert make_cluster(rds)["Status"] == "creating"
    assert cluster_status(rds, "redcap-db") == "available"


def test_rds_cluster_create_modify_delete(aws, control):
    control.config(durations={"rds.cluster.create": 1.0, "rds.cluster.modify": 1.0, "rds.cluster.delete": 1.0})
    rds = aws("rds")
    make_cluster(rds)
    assert cluster_status(rds, "redcap-db") == "creating"
    assert rds.describe_db_clusters()["DBClusters"][0]["Status"] == "creating"
    time.sleep(1.1)
    assert cluster_status(rds, "redcap-db") == "available"
    assert rds.modify_db_cluster(DBClusterIdentifier="redcap-db", BackupRetentionPeriod=7)["DBCluster"]["Status"] == "modifying"
    assert cluster_status(rds, "redcap-db") == "modifying"
    time.sleep(1.1)
    assert cluster_status(rds, "redcap-db") == "available"
    assert rds.delete_db_cluster(DBClusterIdentifier="redcap-db", SkipFinalSnapshot=True)["DBCluster"]["Status"] == "deleting"
    assert cluster_status(rds, "redcap-db") == "deleting"
    time.sleep(1.1)
    with pytest.raises(ClientError) as e:
        rds.describe_db_clusters(DBClusterIdentifier="redcap-db")
    assert e.value.response["Error"]["Code"] == "DBClusterNotFoundFault"


def test_durations_can_be_narrowed_to_one_resource(aws, control):
    control.config(durations={"rds.cluster.create:slow-db": 1.0})
    rds = aws("rds")
    make_cluster(rds, "slow-db")
    make_cluster(rds, "fast-db")
    assert cluster_status(rds, "slow-db") == "creating"
    assert cluster_status(rds, "fast-db") == "available"
    time.sleep(1.1)
    assert cluster_status(rds, "slow-db") == "available"
    # null removes the override
    status, body = control.request("POST", "/_emulator/config", {"durations": {"rds.cluster.create:slow-db": None}})
    assert status == 200 and "rds.cluster.create:slow-db" not in body["durations"], body
    status, body = control.request("POST", "/_emulator/config", {"durations": {"rds.cluster.create:x": "soon"}})
    assert status == 400, body


def test_rds_instance_and_snapshots(aws, control):
    control.config(durations={"rds.instance.create": 1.0, "rds.snapshot.create": 1.0})
    rds = aws("rds")
    make_cluster(rds)
    r = rds.create_db_instance(DBInstanceIdentifier="redcap-db-1", DBClusterIdentifier="redcap-db", Engine="aurora-mysql", DBInstanceClass="db.serverless")
    assert r["DBInstance"]["DBInstanceStatus"] == "creating"
    assert rds.describe_db_instances(DBInstanceIdentifier="redcap-db-1")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="snap-1", DBClusterIdentifier="redcap-db")
    snap = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="snap-1")["DBClusterSnapshots"][0]
    assert snap["Status"] == "creating"
    time.sleep(1.1)
    assert rds.describe_db_instances(DBInstanceIdentifier="redcap-db-1")["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="snap-1")["DBClusterSnapshots"][0]["Status"] == "available"


def test_nat_gateway_and_interface_endpoint_pending(aws, control):
    control.config(durations={"ec2.natgateway.create": 1.0, "ec2.natgateway.delete": 1.0, "ec2.vpcendpoint.create": 1.0})
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]
    assert nat["State"] == "pending"
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"] == "pending"
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    gw = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rt])["VpcEndpoint"]
    itf = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.logs", VpcEndpointType="Interface", SubnetIds=[subnet])["VpcEndpoint"]
    states = {e["VpcEndpointId"]: e["State"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]}
    assert states[itf["VpcEndpointId"]].lower() == "pending" and states[gw["VpcEndpointId"]].lower() == "available"
    time.sleep(1.1)
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"] == "available"
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[itf["VpcEndpointId"]])["VpcEndpoints"][0]["State"].lower() == "available"
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    assert ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"] == "deleting"


def test_cloudformation_in_progress(aws, control):
    control.config(durations={"cloudformation.create": 1.0})
    cfn = aws("cloudformation")
    body = '{"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.3.0.0/16"}}}}'
    cfn.create_stack(StackName="redcap-net", TemplateBody=body)
    assert cfn.describe_stacks(StackName="redcap-net")["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    time.sleep(1.1)
    assert cfn.describe_stacks(StackName="redcap-net")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    control.config(durations={"cloudformation.update": 30.0, "cloudformation.delete": 1.0})
    cfn.update_stack(StackName="redcap-net", TemplateBody=body.replace("10.3.0.0/16", "10.4.0.0/16"))
    assert cfn.describe_stacks(StackName="redcap-net")["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    cfn.delete_stack(StackName="redcap-net")
    assert cfn.describe_stacks(StackName="redcap-net")["Stacks"][0]["StackStatus"] == "DELETE_IN_PROGRESS"
    time.sleep(1.1)
    with pytest.raises(ClientError) as e:
        cfn.describe_stacks(StackName="redcap-net")
    assert e.value.response["Error"]["Code"] == "ValidationError"


def codebuild_project(cb):
    cb.create_project(name="redcap-image", source={"type": "S3", "location": "bucket/src.zip"}, artifacts={"type": "NO_ARTIFACTS"}, environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"}, serviceRole="arn:aws:iam::123456789012:role/cb")


def test_codebuild_in_progress_then_succeeded(aws, control):
    control.config(durations={"codebuild.build": 1.0})
    cb = aws("codebuild")
    codebuild_project(cb)
    bid = cb.start_build(projectName="redcap-image")["build"]["id"]
    b = cb.batch_get_builds(ids=[bid])["builds"][0]
    assert b["buildStatus"] == "IN_PROGRESS" and not b["buildComplete"]
    time.sleep(1.1)
    for _ in range(3):  # moto repeated the phases on each poll; we must not
        b = cb.batch_get_builds(ids=[bid])["builds"][0]
    assert b["buildStatus"] == "SUCCEEDED" and b["buildComplete"]
    assert [p["phaseType"] for p in b["phases"]][-2:] == ["FINALIZING", "COMPLETED"] and len(b["phases"]) == 11


def test_codebuild_failure_on_demand(aws, control):
    control.config(outcomes={"codebuild:redcap-image": "FAILED", "codebuild.failed_phase": "PRE_BUILD"})
    cb = aws("codebuild")
    codebuild_project(cb)
    bid = cb.start_build(projectName="redcap-image")["build"]["id"]
    b = cb.batch_get_builds(ids=[bid])["builds"][0]
    assert b["buildStatus"] == "FAILED"
    failed = [p for p in b["phases"] if p.get("phaseStatus") == "FAILED"]
    assert [p["phaseType"] for p in failed] == ["PRE_BUILD"] and failed[0]["contexts"][0]["statusCode"] == "COMMAND_EXECUTION_ERROR"


def ecs_service(ecs, desired=4):
    ecs.create_cluster(clusterName="redcap")
    td = ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=desired)
    return td


def test_ecs_deployment_rolls_out(aws, control):
    control.config(durations={"ecs.deployment": 2.0})
    ecs = aws("ecs")
    ecs_service(ecs)
    svc = ecs.describe_services(cluster="redcap", services=["web"])["services"][0]
    dep = svc["deployments"][0]
    assert dep["rolloutState"] == "IN_PROGRESS" and dep["runningCount"] < 4 and dep["pendingCount"] == 4 - dep["runningCount"]
    time.sleep(1.05)
    mid = ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["deployments"][0]
    assert 0 < mid["runningCount"] < 4
    time.sleep(1.0)
    svc = ecs.describe_services(cluster="redcap", services=["web"])["services"][0]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED" and svc["runningCount"] == 4


def test_ecs_update_creates_second_deployment_and_can_fail(aws, control):
    ecs = aws("ecs")
    ecs_service(ecs, desired=2)
    td2 = ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx:2", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    control.config(durations={"ecs.deployment": 30.0})
    ecs.update_service(cluster="redcap", service="web", taskDefinition=td2)
    deps = ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["deployments"]
    assert [(d["status"], d["taskDefinition"]) for d in deps] == [("PRIMARY", td2), ("ACTIVE", deps[1]["taskDefinition"])]
    assert deps[1]["taskDefinition"].endswith(":1") and deps[1]["runningCount"] == 2
    control.config(durations={"ecs.deployment": 0}, outcomes={"ecs.deployment": "FAILED"})
    ecs.update_service(cluster="redcap", service="web", forceNewDeployment=True)
    dep = ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["deployments"][0]
    assert dep["rolloutState"] == "FAILED" and dep["failedTasks"] > 0


def test_ecs_deleted_service_drains(aws, control):
    control.config(durations={"ecs.service.delete": 1.0})
    ecs = aws("ecs")
    ecs_service(ecs, desired=0)
    assert ecs.delete_service(cluster="redcap", service="web")["service"]["status"] == "DRAINING"
    assert ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["status"] == "DRAINING"
    time.sleep(1.1)
    assert ecs.describe_services(cluster="redcap", services=["web"])["services"][0]["status"] == "INACTIVE"


def test_acm_issuance_time(aws, control):
    control.config(durations={"acm.issue": 1}, outcomes={"acm.validation": "auto"})
    acm = aws("acm")
    arn = acm.request_certificate(DomainName="redcap.example.org", ValidationMethod="DNS")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
    time.sleep(2.5)  # moto compares whole seconds
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


def test_config_validation(control):
    for body in ({"durations": {"rds.cluster.explode": 1}}, {"durations": {"rds.cluster.create": -1}}, {"outcomes": {"codebuild": "MAYBE"}}, {"colour": 1}):
        status, answer = control.request("POST", "/_emulator/config", body)
        assert status == 400 and "error" in answer
    assert control.request("GET", "/_emulator/config")[1]["durations"]["rds.cluster.create"] == 0.0
