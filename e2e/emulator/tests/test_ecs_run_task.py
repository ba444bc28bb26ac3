"""ECS RunTask: Fargate tasks that run without crashing moto, with a lifecycle, an exit code
from the `ecs.task` outcome, startedBy and clientToken idempotency."""

from __future__ import annotations

import time
import uuid

import pytest

from awserror import fails_with


@pytest.fixture
def job(aws):
    ec2, ecs = aws("ec2"), aws("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]  # DNS hostnames off, like a new VPC
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.3.0/24", AvailabilityZone="us-east-1c")["Subnet"]["SubnetId"]
    ecs.create_cluster(clusterName="redcap")
    # No container memory: a Fargate task sets it for the task (moto crashed on this).
    containers = [{"name": "upgrade", "image": "redcap:15.0.0", "command": ["/upgrade.sh"]}, {"name": "sidecar", "image": "busybox", "essential": False}]
    td = ecs.register_task_definition(family="redcap-upgrade", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024", containerDefinitions=containers)
    net = {"awsvpcConfiguration": {"subnets": [subnet], "assignPublicIp": "DISABLED"}}
    return ec2, ecs, td["taskDefinition"]["taskDefinitionArn"], net, subnet


def run(ecs, td, net, **kw):
    return ecs.run_task(cluster="redcap", taskDefinition=td, launchType="FARGATE", networkConfiguration=net, **kw)


def test_task_lifecycle_and_exit_code(job, control):
    ec2, ecs, td, net, subnet = job
    control.config(durations={"ecs.task:redcap-upgrade": 2.0}, outcomes={"ecs.task:redcap-upgrade": 3})
    task = run(ecs, td, net, startedBy="redcap-upgrade-15.0.0")["tasks"][0]
    assert (task["lastStatus"], task["desiredStatus"], task["startedBy"]) == ("PROVISIONING", "RUNNING", "redcap-upgrade-15.0.0")
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["subnetId"] == subnet and details["privateIPv4Address"].startswith("10.1.3.")
    assert [c["name"] for c in task["containers"]] == ["upgrade", "sidecar"] and task["cpu"] == "512" and task["memory"] == "1024"
    arn = task["taskArn"]
    assert len(ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"]) == 1
    time.sleep(1.1)
    running = ecs.describe_tasks(cluster="redcap", tasks=[arn])["tasks"][0]
    assert running["lastStatus"] == "RUNNING" and "startedAt" in running and "stoppedReason" not in running
    assert ecs.list_tasks(cluster="redcap", startedBy="redcap-upgrade-15.0.0")["taskArns"] == [arn]
    time.sleep(1.0)
    done = ecs.describe_tasks(cluster="redcap", tasks=[arn])["tasks"][0]
    assert (done["lastStatus"], done["desiredStatus"], done["stopCode"], done["stoppedReason"]) == ("STOPPED", "STOPPED", "EssentialContainerExited", "Essential container in task exited")
    assert [(c["name"], c["exitCode"]) for c in done["containers"]] == [("upgrade", 3), ("sidecar", 0)]
    assert ecs.list_tasks(cluster="redcap")["taskArns"] == []
    assert ecs.list_tasks(cluster="redcap", desiredStatus="STOPPED", family="redcap-upgrade")["taskArns"] == [arn]
    # AWS deletes a stopped task's network interface
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"] == []


def test_default_is_an_immediate_clean_exit(job):
    ec2, ecs, td, net, subnet = job
    arn = run(ecs, td, net)["tasks"][0]["taskArn"]
    done = ecs.describe_tasks(cluster="redcap", tasks=[arn, "arn:aws:ecs:us-east-1:123456789012:task/redcap/0123"])
    assert done["tasks"][0]["lastStatus"] == "STOPPED" and done["tasks"][0]["containers"][0]["exitCode"] == 0
    assert done["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/redcap/0123", "reason": "MISSING"}]


def test_client_token_is_idempotent(job, control):
    ec2, ecs, td, net, subnet = job
    control.config(durations={"ecs.task": 30})
    token = str(uuid.uuid4())
    first = run(ecs, td, net, clientToken=token)["tasks"][0]["taskArn"]
    again = run(ecs, td, net, clientToken=token)["tasks"]
    assert [t["taskArn"] for t in again] == [first]
    assert ecs.list_tasks(cluster="redcap")["taskArns"] == [first]
    with fails_with("ConflictException"):
        run(ecs, td, net, clientToken=token, startedBy="someone-else")
    second = run(ecs, td, net)["tasks"][0]["taskArn"]  # botocore fills in a fresh token
    assert second != first and len(ecs.list_tasks(cluster="redcap")["taskArns"]) == 2


def test_stop_task(job, control):
    ec2, ecs, td, net, subnet = job
    control.config(durations={"ecs.task": 30})
    arn = run(ecs, td, net)["tasks"][0]["taskArn"]
    stopped = ecs.stop_task(cluster="redcap", task=arn, reason="upgrade cancelled")["task"]
    assert (stopped["lastStatus"], stopped["stopCode"], stopped["stoppedReason"]) == ("STOPPED", "UserInitiated", "upgrade cancelled")
    assert "exitCode" not in stopped["containers"][0]  # it never started
    with fails_with("ClusterNotFoundException"):
        ecs.list_tasks(cluster="nope")


def test_run_task_errors(job):
    ec2, ecs, td, net, subnet = job
    with fails_with("InvalidParameterException"):
        run(ecs, td, {"awsvpcConfiguration": {"subnets": ["subnet-0000000000000000"]}})
    with fails_with("InvalidParameterException"):
        ecs.run_task(cluster="redcap", taskDefinition=td, launchType="FARGATE")  # awsvpc needs a network configuration
    with fails_with("ClusterNotFoundException"):
        ecs.run_task(cluster="nope", taskDefinition=td, launchType="FARGATE", networkConfiguration=net)
